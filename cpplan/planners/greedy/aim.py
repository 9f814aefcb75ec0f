"""Where each waiting VM of the greedy planner aims: its target, or the best-fitting allowed host.

A VM with one fixed target aims at it. A flexible VM (several allowed hosts,
see :mod:`cpplan.allowed`) is done once it is on any allowed host. While it
waits it aims at its default target when that host has room for it now and
at the end; otherwise at the best-fitting allowed host that does: room now
(the load of the round so far, a free touch) and at the end (the final load
of the VMs whose last host is known: fixed targets, flexible VMs already on
an allowed host, those admitted this round; plain sums of demands, an upper
bound with page sharing), leaving the least slack at the end, ties by host
index. With no such host it waits for its default target.

The default targets spread the flexible VMs over their allowed hosts (see
:func:`cpplan.allowed.default_targets`), which keeps many hosts receiving in
each round; best fit alone would send them all to the few tightest hosts,
whose touches per round run out (on an evacuation of 1000 hosts, 2375
flexible VMs: 68 rounds instead of 22).

>>> from cpplan.model import Instance
>>> from cpplan.planners.greedy.round import RoundBuilder
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
...                 vms={"x": {"ram": 4}, "y": {"ram": 8}}, initial={"x": "h1", "y": "h2"},
...                 target={"x": ["h2", "h3"], "y": "h1"})
>>> aims = Aims(inst)
>>> rb = RoundBuilder(inst, inst.initial, inst.load(inst.initial))
>>> aims.offer(rb, np.array([0])).tolist()      # h2, its default, is full until y leaves; h3 is free
[True]
>>> [inst.host_names[h] for h in rb.moves()[2]]
['h3']
"""

from __future__ import annotations

import numpy as np

from ...arrays import group_cumsum, run_starts
from ...constraints import anti_affinity_members
from ...constraints.capacity import TOLERANCE

AIM_PASSES = 8  # re-aimings per round of the flexible VMs a pass could not admit
CELLS = 1 << 18  # (VM, allowed host) pairs compared at once when aiming


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
        self._anti_member = anti_affinity_members(inst)
        self._end_load: np.ndarray | None = None  # plain sums, once some flexible VM waits
        domain, host = np.nonzero(inst.domains)  # the allowed hosts of each domain, domain by domain
        self._domain_hosts = host
        self._domain_start = np.r_[0, np.cumsum(np.bincount(domain, minlength=len(inst.domains)))]

    def done(self, placement: np.ndarray) -> np.ndarray:
        """Mask of VMs on their target (any allowed host for a flexible VM)."""
        if not self.any_flexible:
            return placement == self.inst.target
        return self.inst.at_target(placement)

    def pending(self, placement: np.ndarray) -> np.ndarray:
        """The VMs still to move, by index."""
        return np.flatnonzero(~self.done(placement))

    def end_free(self, placement: np.ndarray) -> np.ndarray:
        """Room per host and resource at the end, counting the VMs whose last host is known.

        ``placement`` is read on the first call; :meth:`moved` follows the rounds after it.
        """
        inst = self.inst
        if self._end_load is None:
            fixed = ~self.is_flexible
            known = np.flatnonzero(fixed | self.done(placement))
            self._end_load = np.zeros_like(inst.effective)
            np.add.at(self._end_load, np.where(fixed, inst.target, placement)[known], inst.demand[known])
        return inst.effective - self._end_load

    def moved(self, vms: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
        """Follow a round's migrations: flexible VMs that left or reached an allowed host."""
        if self._end_load is None:
            return
        inst = self.inst
        flexible = self.is_flexible[vms]
        vms, src, dst = vms[flexible], src[flexible], dst[flexible]
        allowed = inst.domains[inst.domain_of[vms]]
        rows = np.arange(len(vms))
        left, reached = allowed[rows, src], allowed[rows, dst]
        np.subtract.at(self._end_load, src[left], inst.demand[vms[left]])
        np.add.at(self._end_load, dst[reached], inst.demand[vms[reached]])

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
                offered = offered[rb.send_slots()[rb.placement[order[offered]]] > 0]
                receiving = rb.receive_slots()
                offered = offered[self.aim(order[offered], rb.placement, rb.free(), receiving, end_free)]
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
        if flexible.size == 0:
            return
        inst = self.inst
        end_free = self.end_free(placement)
        default = inst.target[flexible]
        need = inst.demand[flexible]
        tol = self._tolerance[default]
        roomy = ((need <= inst.effective[default] - load[default] + tol).all(axis=1)
                 & (need <= end_free[default] + tol).all(axis=1))
        self.host[flexible] = default
        slots = np.minimum(inst.host_limit, inst.incoming_limit)  # the migrations a host may receive
        self.aim(flexible[~roomy], placement, inst.effective - load, slots, end_free)

    def aim(self, vms, placement, free_now, slots, end_free) -> np.ndarray:
        """Aim flexible ``vms`` at their best-fitting allowed hosts with room; mask of those that have one.

        The others aim at their default targets. Each VM is compared with each
        of its allowed hosts, ``CELLS`` (VM, host) pairs at a time.
        """
        inst = self.inst
        ready = np.zeros(len(vms), dtype=bool)
        d = inst.domain_of[vms]
        sizes = self._domain_start[d + 1] - self._domain_start[d]
        ends = np.cumsum(sizes)
        cuts = np.unique(np.searchsorted(ends, np.arange(CELLS, ends[-1] if len(ends) else 0, CELLS)))
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(vms)], strict=True):
            part = vms[lo:hi]
            rows, hosts = self._pairs(part)
            best, ok = self._best_hosts(part, rows, hosts, placement, free_now, slots, end_free)
            self.host[part] = np.where(ok, best, inst.target[part])
            ready[lo:hi] = ok
        return ready

    def _pairs(self, vms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row in ``vms``, allowed host) for every allowed host of every VM."""
        d = self.inst.domain_of[vms]
        first = self._domain_start[d]
        sizes = self._domain_start[d + 1] - first
        rows = np.repeat(np.arange(len(vms)), sizes)
        within = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return rows, self._domain_hosts[first[rows] + within]

    def _best_hosts(self, vms, rows, hosts, placement, free_now, slots, end_free):
        """Per VM, the allowed host with room now and at the end leaving least slack (ties: lowest); found?"""
        need = self.inst.demand[vms[rows]]
        tol = self._tolerance[hosts]
        left_end = end_free[hosts] - need
        good = ((need <= free_now[hosts] + tol).all(axis=1) & (left_end >= -tol).all(axis=1)
                & (slots[hosts] > 0) & ~self._taken(vms, rows, hosts, placement))
        rows, hosts, left_end = rows[good], hosts[good], left_end[good]
        with np.errstate(invalid="ignore"):
            slack = np.nan_to_num(np.fmin.reduce(left_end / self._scale[hosts], axis=1, initial=np.inf),
                                  nan=np.inf)
        order = np.lexsort((hosts, slack, rows))
        first = order[run_starts(rows[order])]
        best = np.zeros(len(vms), dtype=np.int64)
        ok = np.zeros(len(vms), dtype=bool)
        best[rows[first]], ok[rows[first]] = hosts[first], True
        return best, ok

    def _taken(self, vms, rows, hosts, placement) -> np.ndarray:
        """Mask of the (VM, host) pairs where another member of an anti-affinity group is or aims."""
        inst = self.inst
        anti = np.flatnonzero(self._anti_member[vms])
        if anti.size == 0:
            return np.zeros(len(rows), dtype=bool)
        is_anti = inst.group_anti[inst.member_group]
        groups, members = inst.member_group[is_anti], inst.member_vm[is_anti]
        codes = [np.zeros(0, dtype=np.int64)]
        for i, v in zip(anti.tolist(), vms[anti].tolist(), strict=True):
            for g in groups[members == v].tolist():
                others = members[(groups == g) & (members != v)]
                codes.append(i * inst.n_hosts + np.concatenate([placement[others], self.host[others]]))
        return np.isin(rows * inst.n_hosts + hosts, np.concatenate(codes))

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
