"""Where each waiting VM of the greedy planner aims: its target, or the best-fitting allowed host.

A VM with one fixed target aims at it. A flexible VM (several allowed hosts,
see :mod:`cpplan.allowed`) is done once it is on any allowed host; while it
waits, each pass of a round aims it at the allowed host that has room for it
now (load of the round so far, a free touch) and at the end (the final load
of the VMs whose last host is known: fixed targets, flexible VMs already on
an allowed host, those admitted this round), leaving the least slack at the
end, ties by host index. With no such host it waits on the allowed host that
has room at the end and lacks the least room now, else on its default target.

>>> from cpplan.model import Instance
>>> from cpplan.planners.greedy_round import RoundBuilder
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
...                 vms={"x": {"ram": 4}, "y": {"ram": 8}}, initial={"x": "h1", "y": "h2"},
...                 target={"x": ["h2", "h3"], "y": "h1"})
>>> aims = Aims(inst)
>>> rb = RoundBuilder(inst, inst.initial, inst.load(inst.initial))
>>> aims.offer(rb, np.array([0])).tolist()                  # h2 is full until y leaves; h3 is free
[True]
>>> [inst.host_names[h] for h in rb.moves()[2]]
['h3']
"""

from __future__ import annotations

import numpy as np

from ..constraints.capacity import TOLERANCE, usage
from .greedy_round import group_cumsum

AIM_PASSES = 8  # re-aimings per round of the flexible VMs a pass could not admit
CELLS = 1 << 18  # VMs x hosts compared at once when aiming


class Aims:
    """The host each VM aims at (``host``, per VM) and which VMs are still to move."""

    def __init__(self, inst):
        self.inst = inst
        self.host = inst.target.copy()
        self.is_flexible = inst.domain_of >= 0
        self.any_flexible = bool(self.is_flexible.any())
        self._tolerance = TOLERANCE * np.maximum(1.0, np.abs(inst.effective))
        finite = np.isfinite(inst.effective) & (inst.effective > 0)
        self._scale = np.where(finite, inst.effective, np.nan)
        self._anti_member = np.zeros(inst.n_vms, dtype=bool)
        self._anti_member[inst.member_vm[inst.group_anti[inst.member_group]]] = True

    def done(self, placement: np.ndarray) -> np.ndarray:
        """Mask of VMs on their target (any allowed host for a flexible VM)."""
        if not self.any_flexible:
            return placement == self.inst.target
        return self.inst.at_target(placement)

    def pending(self, placement: np.ndarray) -> np.ndarray:
        """The VMs still to move, by index."""
        return np.flatnonzero(~self.done(placement))

    def end_free(self, placement: np.ndarray) -> np.ndarray:
        """Room per host and resource at the end, counting the VMs whose last host is known."""
        inst = self.inst
        fixed = ~self.is_flexible
        known = np.flatnonzero(fixed | self.done(placement))
        return inst.effective - usage(inst, known, np.where(fixed, inst.target, placement)[known])

    # ------------------------------------------------------------------ a round
    def offer(self, rb, order: np.ndarray) -> np.ndarray:
        """Offer ``order`` (waiting VMs, priority order) to round ``rb``, aiming flexible ones anew.

        Returns the mask of ``order`` admitted. Fixed targets are offered as
        they are; the flexible VMs left out are re-aimed at the room left and
        offered again, up to ``AIM_PASSES`` times.
        """
        if not self.any_flexible:
            return rb.offer(order, self.host[order])
        end_free = self.end_free(rb.placement)
        flexible = self.is_flexible[order]
        admitted = np.zeros(len(order), dtype=bool)
        offered = np.arange(len(order))
        for again in range(AIM_PASSES + 1):
            if again:
                offered = np.flatnonzero(flexible & ~admitted)
                offered = offered[self.aim(order[offered], rb.placement, rb.free(), rb.slots, end_free)]
            mobile = offered[flexible[offered]]
            mobile = mobile[self._within_end(order[mobile], end_free)]
            offered = np.sort(np.concatenate([offered[~flexible[offered]], mobile]))
            if offered.size == 0:
                break
            newly = offered[rb.offer(order[offered], self.host[order[offered]])]
            admitted[newly] = True
            self._take_end(order[newly[flexible[newly]]], end_free)
            if again and newly.size == 0:
                break
        return admitted

    def aim_waiting(self, pending: np.ndarray, load: np.ndarray, placement: np.ndarray) -> None:
        """Aim the flexible VMs of ``pending`` at the start of a round (``load`` at its start)."""
        if not self.any_flexible:
            return
        flexible = pending[self.is_flexible[pending]]
        if flexible.size:
            slots = self.inst.host_limit.astype(np.int64)
            self.aim(flexible, placement, self.inst.effective - load, slots, self.end_free(placement))

    def aim(self, vms, placement, free_now, slots, end_free) -> np.ndarray:
        """Aim flexible ``vms`` (see the module doc); mask of those aimed at a host with room now."""
        inst = self.inst
        ready = np.zeros(len(vms), dtype=bool)
        domain = inst.domain_of[vms]
        for d in np.unique(domain):
            members = np.flatnonzero(domain == d)
            hosts = np.flatnonzero(inst.domains[d])
            step = max(1, CELLS // len(hosts))
            for start in range(0, len(members), step):
                part = vms[members[start:start + step]]
                host, ok = self._best_hosts(part, hosts, free_now, slots, end_free,
                                            self._taken(part, placement, hosts))
                self.host[part] = host
                ready[members[start:start + step]] = ok
        return ready

    def _best_hosts(self, vms, hosts, free_now, slots, end_free, taken):
        inst = self.inst
        need = inst.demand[vms][:, None, :]
        tol = self._tolerance[hosts]
        lacking = need - free_now[hosts]
        room_now = (lacking <= tol).all(axis=2) & (slots[hosts] > 0)
        left_end = end_free[hosts] - need
        room_end = (left_end >= -tol).all(axis=2) & ~taken
        with np.errstate(invalid="ignore"):
            slack = np.nan_to_num(np.fmin.reduce(left_end / self._scale[hosts], axis=2), nan=np.inf)
            short = np.nansum(np.maximum(lacking, 0) / self._scale[hosts], axis=2)
        good = room_now & room_end
        best = hosts[np.where(good, slack, np.inf).argmin(axis=1)]
        waiting = hosts[np.where(room_end, short, np.inf).argmin(axis=1)]
        fallback = np.where(room_end.any(axis=1), waiting, inst.target[vms])
        ok = good.any(axis=1)
        return np.where(ok, best, fallback), ok

    def _taken(self, vms: np.ndarray, placement: np.ndarray, hosts: np.ndarray) -> np.ndarray:
        """[vms x hosts] mask: where another member of an anti-affinity group of the VM is or aims."""
        inst = self.inst
        taken = np.zeros((len(vms), len(hosts)), dtype=bool)
        rows = np.flatnonzero(self._anti_member[vms])
        if rows.size == 0:
            return taken
        column = np.full(inst.n_hosts, -1, dtype=np.int64)
        column[hosts] = np.arange(len(hosts))
        anti = inst.group_anti[inst.member_group]
        groups, members = inst.member_group[anti], inst.member_vm[anti]
        for i, v in zip(rows.tolist(), vms[rows].tolist(), strict=True):
            for g in groups[members == v].tolist():
                others = members[(groups == g) & (members != v)]
                near = column[np.concatenate([placement[others], self.host[others]])]
                taken[i, near[near >= 0]] = True
        return taken

    def _within_end(self, vms: np.ndarray, end_free: np.ndarray) -> np.ndarray:
        """Mask of ``vms`` (flexible, priority order) that fit their aims at the end together."""
        dst = self.host[vms]
        order = np.argsort(dst, kind="stable")
        used = group_cumsum(self.inst.demand[vms[order]], dst[order])
        ok = np.zeros(len(vms), dtype=bool)
        ok[order] = (used <= end_free[dst[order]] + self._tolerance[dst[order]]).all(axis=1)
        return ok

    def _take_end(self, vms: np.ndarray, end_free: np.ndarray) -> None:
        """Count ``vms`` (just admitted, flexible) at the end of the hosts they aim at."""
        np.subtract.at(end_free, self.host[vms], self.inst.demand[vms])
