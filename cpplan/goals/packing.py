"""Fast numpy placement moves shared by the goals' heuristics: where does a VM fit right now?

A :class:`Packer` holds a placement and its load, and answers "which hosts
can take VM v" under the receiving limits and anti-affinity, so heuristics
move VMs one at a time on clouds of thousands of hosts without a solver.

Its load is the page-sharing rule's (:func:`~cpplan.goals.metrics.sharing_load`):
a VM of image ``i`` (shared fraction ``R``, RAM ``x``) arriving on a host whose
largest VM of image ``i`` has RAM ``M`` adds ``(1 - R) x + R max(0, x - M)`` of
the shared resource (:meth:`Packer.added`), and leaving frees what it added
given the VMs that stay. :class:`ImagePeaks` keeps ``M`` per host and image.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 6}}, initial={"a": "h1", "b": "h2"})
>>> pk = Packer(inst, inst.initial, inst.effective)
>>> pk.fitting(0).tolist()         # a fits nowhere else: h2 holds 6 of 8
[False, False]
>>> pk.fitting(1).tolist()
[False, False]
>>> shared = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 12}},
...                   vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
...                   initial={"a": "h1", "b": "h2"}, page_sharing={"ratio": 0.5})
>>> pk = Packer(shared, shared.initial, shared.effective)
>>> pk.added(0)[:, 0].tolist()      # on h2 only a's private half: b's pages are there
[4.0, 4.0]
>>> pk.fitting(0).tolist(), pk.move(0, 1), pk.load.tolist()
([False, True], None, [[0.0], [12.0]])
"""

from __future__ import annotations

import numpy as np

from ..allowed import end_hosts
from ..constraints import anti_affinity_mates
from ..constraints.capacity import fits
from ..constraints.page_sharing import shared_fraction
from .metrics import sharing_load, sharing_on
from .placement import link_zones, receiving_hosts


class ImagePeaks:
    """Per host and image, the RAM of the VMs of that image there (a count per size), and the
    largest of them: what a further VM of the image shares."""

    def __init__(self, inst, placement: np.ndarray):
        self.inst = inst
        self.ratio = shared_fraction(inst)
        self.peak = np.zeros((inst.n_hosts, max(inst.share_ratio.size, 1)))
        self.sizes: dict[tuple[int, int], dict[float, int]] = {}
        for v in np.flatnonzero(inst.image >= 0).tolist():
            self.add(v, int(placement[v]))

    def add(self, v: int, h: int) -> float:
        """Count VM ``v`` on host ``h``; returns the shared resource it adds there."""
        i, x, ratio = int(self.inst.image[v]), self._ram(v), self.ratio[v]
        if i < 0:
            return x
        sizes = self.sizes.setdefault((h, i), {})
        sizes[x] = sizes.get(x, 0) + 1
        old = self.peak[h, i]
        self.peak[h, i] = max(old, x)
        return (1 - ratio) * x + ratio * (self.peak[h, i] - old)

    def remove(self, v: int, h: int) -> float:
        """Take VM ``v`` off host ``h``; returns the shared resource it frees there."""
        i, x, ratio = int(self.inst.image[v]), self._ram(v), self.ratio[v]
        if i < 0:
            return x
        sizes = self.sizes[h, i]
        sizes[x] -= 1
        if not sizes[x]:
            del sizes[x]
        old = self.peak[h, i]
        self.peak[h, i] = max(sizes, default=0.0)
        return (1 - ratio) * x + ratio * (old - self.peak[h, i])

    def added(self, v: int) -> np.ndarray:
        """Per host, the shared resource VM ``v`` would add there."""
        i, x, ratio = int(self.inst.image[v]), self._ram(v), self.ratio[v]
        if i < 0:
            return np.full(self.inst.n_hosts, x)
        return (1 - ratio) * x + ratio * np.maximum(0.0, x - self.peak[:, i])

    def _ram(self, v: int) -> float:
        return float(self.inst.demand[v, self.inst.share_resource])


class Packer:
    """A mutable placement with its load; ``limit`` [hosts x resources] caps receiving hosts."""

    def __init__(self, inst, placement: np.ndarray, limit: np.ndarray):
        self.inst, self.limit = inst, limit
        self.place = np.array(placement, dtype=np.int64)
        self.load = sharing_load(inst, self.place)
        self.peaks = ImagePeaks(inst, self.place) if sharing_on(inst) else None
        self.lifted = np.zeros(inst.n_vms, dtype=bool)  # taken off their host by lift, not yet dropped
        self.mates = anti_affinity_mates(inst)
        self.receiving = receiving_hosts(inst)
        self.zones = link_zones(inst)
        cap = inst.effective
        self._limited = np.isfinite(cap) & (cap > 0)
        self._cap = np.where(self._limited, cap, 1.0)

    def added(self, v: int) -> np.ndarray:
        """What VM ``v`` would add to each host: its demand ([resources]) without page sharing,
        else [hosts x resources] with the shared resource by the sharing rule."""
        if self.peaks is None:
            return self.inst.demand[v]
        out = np.repeat(self.inst.demand[v][None, :], self.inst.n_hosts, axis=0)
        out[:, self.inst.share_resource] = self.peaks.added(v)
        return out

    def added_on(self, v: int, h: int) -> np.ndarray:
        """What VM ``v`` would add to host ``h`` (per resource)."""
        added = self.added(v)
        return added if added.ndim == 1 else added[h]

    def fitting(self, v: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Hosts other than its own that can take VM ``v`` now."""
        ok = self.receiving & fits(self.load + self.added(v), self.limit).all(axis=1)
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
        after = (self.load + self.added(v)) / self._cap
        return np.where(self._limited, after, 0.0).max(axis=1)

    def utilisation(self) -> np.ndarray:
        return np.where(self._limited, self.load / self._cap, 0.0).max(axis=1)

    def lift(self, v: int) -> None:
        """Take VM ``v``'s load off its host until :meth:`drop` puts it somewhere."""
        self.load[self.place[v]] -= self._change(v, self.place[v], self.peaks.remove if self.peaks else None)
        self.lifted[v] = True

    def drop(self, v: int, h: int) -> None:
        self.load[h] += self._change(v, h, self.peaks.add if self.peaks else None)
        self.place[v] = h
        self.lifted[v] = False

    def move(self, v: int, h: int) -> None:
        self.lift(v)
        self.drop(v, h)

    def _change(self, v: int, h: int, count) -> np.ndarray:
        """VM ``v``'s demand, with the shared resource as ``count(v, h)`` (the peaks' add or remove)."""
        if count is None:
            return self.inst.demand[v]
        d = self.inst.demand[v].copy()
        d[self.inst.share_resource] = count(v, int(h))
        return d


def size_order(inst, vms: np.ndarray) -> np.ndarray:
    """``vms`` sorted largest first, size being the largest share of a typical host's capacity."""
    cap = np.where(np.isfinite(inst.effective), inst.effective, np.nan)
    typical = np.nan_to_num(np.nanmedian(cap, axis=0), nan=1.0) if cap.size else np.ones(0)
    size = (inst.demand[vms] / np.maximum(typical, 1e-12)).max(axis=1) if vms.size else np.zeros(0)
    return vms[np.argsort(-size, kind="stable")]
