"""Fast numpy placement moves shared by the goals' heuristics: where does a VM fit right now?

A :class:`Packer` holds a placement and its load, and answers "which hosts
can take VM v" under the receiving limits and anti-affinity, so heuristics
move VMs one at a time on clouds of thousands of hosts without a solver.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 6}}, initial={"a": "h1", "b": "h2"})
>>> pk = Packer(inst, inst.initial, inst.effective)
>>> pk.fitting(0).tolist()         # a fits nowhere else: h2 holds 6 of 8
[False, False]
>>> pk.fitting(1).tolist()
[False, False]
"""

from __future__ import annotations

import numpy as np

from ..allowed import end_hosts
from ..constraints import anti_affinity_mates
from ..constraints.capacity import fits
from .placement import link_zones, plain_load, receiving_hosts


class Packer:
    """A mutable placement with its load; ``limit`` [hosts x resources] caps receiving hosts."""

    def __init__(self, inst, placement: np.ndarray, limit: np.ndarray):
        self.inst, self.limit = inst, limit
        self.place = np.array(placement, dtype=np.int64)
        self.load = plain_load(inst, self.place)
        self.mates = anti_affinity_mates(inst)
        self.receiving = receiving_hosts(inst)
        self.zones = link_zones(inst)
        cap = inst.effective
        self._limited = np.isfinite(cap) & (cap > 0)
        self._cap = np.where(self._limited, cap, 1.0)

    def fitting(self, v: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Hosts other than its own that can take VM ``v`` now."""
        ok = self.receiving & fits(self.load + self.inst.demand[v], self.limit).all(axis=1)
        ok &= self.zones == self.zones[self.inst.initial[v]]
        if allowed is not None:
            ok &= allowed
        ends = end_hosts(self.inst, v)  # a partial target, fences, among sets
        if ends is not None:
            ok &= ends
        ok[self.place[v]] = False
        mates = self.mates.get(v)
        if mates is not None:
            ok[self.place[mates]] = False
        return ok

    def utilisation_with(self, v: int) -> np.ndarray:
        """Every host's utilisation if VM ``v`` were added to it."""
        after = (self.load + self.inst.demand[v]) / self._cap
        return np.where(self._limited, after, 0.0).max(axis=1)

    def utilisation(self) -> np.ndarray:
        return np.where(self._limited, self.load / self._cap, 0.0).max(axis=1)

    def lift(self, v: int) -> None:
        """Take VM ``v``'s load off its host until :meth:`drop` puts it somewhere."""
        self.load[self.place[v]] -= self.inst.demand[v]

    def drop(self, v: int, h: int) -> None:
        self.load[h] += self.inst.demand[v]
        self.place[v] = h

    def move(self, v: int, h: int) -> None:
        d = self.inst.demand[v]
        self.load[self.place[v]] -= d
        self.load[h] += d
        self.place[v] = h


def size_order(inst, vms: np.ndarray) -> np.ndarray:
    """``vms`` sorted largest first, size being the largest share of a typical host's capacity."""
    cap = np.where(np.isfinite(inst.effective), inst.effective, np.nan)
    typical = np.nan_to_num(np.nanmedian(cap, axis=0), nan=1.0) if cap.size else np.ones(0)
    size = (inst.demand[vms] / np.maximum(typical, 1e-12)).max(axis=1) if vms.size else np.zeros(0)
    return vms[np.argsort(-size, kind="stable")]
