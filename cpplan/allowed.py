"""Partial targets: a VM may end on any of several allowed hosts.

In an instance, ``target: {web1: [h2, h3]}`` lets web1 end on h2 or h3, and
``drain: [h4]`` sends every VM on h4 anywhere but the drained hosts. Each
distinct set of allowed hosts is a *domain* (a row of a boolean
[domains x hosts] matrix); ``domain_of[v]`` is -1 for a VM with one fixed
target.

Every flexible VM also gets a default target among its allowed hosts, so
that any planner can aim at one host: its current host when allowed (it
need not move), else the allowed host with the most room left once the
fixed targets are placed (largest VMs first, anti-affinity respected;
packing closely instead when spreading leaves a VM without room).
Planners choose better where they can: exact and cp's proving model try
every allowed host, cp's interval models up to 16 per VM (the default and
the roomiest).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 2}}, initial={"a": "h1", "b": "h3"},
...                 drain=["h1"])
>>> [inst.host_names[h] for h in inst.target]     # a leaves h1 for the roomiest host
['h2', 'h3']
"""

from __future__ import annotations

import numpy as np

from .constraints import anti_affinity_mates, service_levels
from .constraints.capacity import fits
from .constraints.concurrency import can_receive
from .constraints.host_rules import HostRule
from .errors import InputError


class Domains:
    """Collects the distinct allowed-host sets of an instance while it is read."""

    def __init__(self, n_hosts: int, n_vms: int):
        self.n_hosts = n_hosts
        self.domain_of = np.full(n_vms, -1, dtype=np.int64)
        self._rows: dict[bytes, int] = {}
        self._masks: list[np.ndarray] = []

    def allow(self, vm: int, mask: np.ndarray) -> np.ndarray:
        """Let ``vm`` end on the hosts of ``mask`` (intersected with what it already allows)."""
        if self.domain_of[vm] >= 0:
            mask = mask & self._masks[self.domain_of[vm]]
        key = np.packbits(mask).tobytes()
        if key not in self._rows:
            self._rows[key] = len(self._masks)
            self._masks.append(mask)
        self.domain_of[vm] = self._rows[key]
        return mask

    def matrix(self) -> np.ndarray:
        if not self._masks:
            return np.zeros((0, self.n_hosts), dtype=bool)
        return np.array(self._masks)


def default_targets(inst, fixed: np.ndarray, src: str) -> np.ndarray:
    """A target host per VM: ``fixed`` where the VM has one, else an allowed host with room.

    Flexible VMs that must move are placed largest first on the roomiest
    allowed host (spreading the load); when that leaves one without room,
    again on the tightest host where each fits (packing closely).
    """
    end = fixed.copy()
    flexible = np.flatnonzero(inst.domain_of >= 0)
    if flexible.size == 0:
        return end
    stays = inst.domains[inst.domain_of[flexible], inst.initial[flexible]]
    end[flexible[stays]] = inst.initial[flexible[stays]]
    must = flexible[~stays]
    for roomiest in (True, False):
        placed = _place(inst, end.copy(), must, roomiest)
        if isinstance(placed, np.ndarray):
            return placed
    raise InputError(src, f"target.{inst.vm_names[placed]}",
                     "no allowed host has room for it once the other targets are placed")


def _place(inst, end: np.ndarray, must: np.ndarray, roomiest: bool) -> np.ndarray | int:
    """``end`` with every VM of ``must`` on an allowed host, or the first VM that fits none."""
    placed = np.ones(inst.n_vms, dtype=bool)
    placed[must] = False
    load = np.zeros((inst.n_hosts, len(inst.resources)))
    np.add.at(load, end[placed], inst.demand[placed])
    scale = np.where(np.isfinite(inst.effective) & (inst.effective > 0), inst.effective, np.inf)
    size = (inst.demand[must] / scale[inst.initial[must]]).max(axis=1, initial=0.0)
    mates, alone = anti_affinity_mates(inst), np.zeros(0, dtype=np.int64)
    receiving = can_receive(inst)
    for v in must[np.argsort(-size, kind="stable")]:
        hosts = np.flatnonzero(inst.domains[inst.domain_of[v]])
        after = load[hosts] + inst.demand[v]
        clash = _clashes(inst, mates.get(int(v), alone), hosts, end, placed)
        ok = fits(after, inst.effective[hosts]).all(axis=1) & ~clash
        if not ok.any():
            return int(v)
        receives = receiving[hosts]
        if (ok & receives).any():  # a host that allows no migration (or no incoming one) cannot receive it
            ok &= receives
        # slack as a share of capacity; a resource without a positive finite capacity does not count
        share = np.divide(inst.effective[hosts] - after, scale[hosts], out=np.full(after.shape, np.inf),
                          where=np.isfinite(scale[hosts]))
        slack = share.min(axis=1, initial=np.inf)
        pick = hosts[ok][np.argmax(slack[ok]) if roomiest else np.argmin(slack[ok])]
        end[v], placed[v] = pick, True
        load[pick] += inst.demand[v]
    return end


def _clashes(inst, partners: np.ndarray, hosts: np.ndarray, end: np.ndarray,
             placed: np.ndarray) -> np.ndarray:
    """Mask of ``hosts`` already holding (in ``end``) one of ``partners`` placed so far."""
    taken = np.zeros(inst.n_hosts, dtype=bool)
    taken[end[partners[placed[partners]]]] = True
    return taken[hosts]


def end_hosts(inst, v: int) -> np.ndarray | None:
    """Mask of the hosts VM ``v`` may end on when B is chosen for it: its allowed hosts (a partial
    target), within every host rule it falls under (fences, among sets); ``None`` when any host.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
    ...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"},
    ...                 groups={"db": {"vms": ["a"], "hosts": ["h1", "h3"]}})
    >>> end_hosts(inst, 0).tolist(), end_hosts(inst, 1)
    ([True, False, True], None)
    """
    mask = inst.domains[inst.domain_of[v]].copy() if inst.domain_of[v] >= 0 else None
    for rule in service_levels():
        if isinstance(rule, HostRule):
            zone_of, rows = rule.zones(inst)
            if zone_of[v] >= 0:
                mask = rows[zone_of[v]].copy() if mask is None else mask & rows[zone_of[v]]
    return mask
