"""One round of the greedy planner: admit migrations in priority order while the round stays valid.

A :class:`RoundBuilder` holds what the round uses so far (touches per host,
arrivals per host, and the budget of each service level, see
:mod:`cpplan.constraints`) and admits offered migrations in vectorised
passes: in each pass a migration is admitted when, counting every
higher-priority migration still on offer, both its hosts have a free touch
(its source an outgoing and its destination an incoming migration left, under
the directional limits of :mod:`cpplan.constraints.concurrency`) and its
destination has room for everything arriving (SPEC section 4: the
start-of-round load, leaving VMs included, plus all arrivals). Counting
migrations that end up refused only over-estimates the use, so what is
admitted is always valid; the next pass retries the rest. The migrations
chosen in a pass then go, in priority order, through the service levels'
budgets, which are asked one migration at a time (links and groups are rare).
With page sharing an arrival counts what
:class:`~cpplan.constraints.page_sharing.SharedPages` leaves of its demand.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 4}},
...                 initial={"a": "h1", "b": "h1", "c": "h2"}, target={"a": "h2"},
...                 limits={"host": 2})
>>> rb = RoundBuilder(inst, inst.initial, inst.load(inst.initial))
>>> rb.offer(np.array([0, 1]), np.array([1, 1])).tolist()   # h2 has room for one
[True, False]
"""

from __future__ import annotations

import numpy as np

from ...arrays import group_cumsum
from ...constraints import allowed_by_service_levels, round_budgets, service_levels, take_if_admitted
from ...constraints.capacity import TOLERANCE, fits
from ...constraints.concurrency import has_directional_limits, within_directions
from ...constraints.page_sharing import SharedPages

MAX_PASSES = 40  # per chunk
CHUNK_PER_HOST = 2  # migrations per host in a chunk of the offer


class RoundBuilder:
    """The migrations admitted into one round, and what they use."""

    def __init__(self, inst, placement: np.ndarray, load: np.ndarray):
        self.inst, self.placement, self.load = inst, placement, load
        self.slots = inst.host_limit.astype(np.int64)
        self._directional = has_directional_limits(inst)
        self.outgoing = inst.outgoing_limit.astype(np.int64)  # migrations each host may still send
        self.incoming = inst.incoming_limit.astype(np.int64)  # ... and receive
        self.arrivals = np.zeros_like(load)
        self.total_left = np.inf if inst.total_limit is None else inst.total_limit
        self._rules = service_levels()
        self._budgets = round_budgets(inst, placement, self._rules)
        self._vms: list[np.ndarray] = []
        self._dst: list[np.ndarray] = []
        self._pages = SharedPages(inst, placement) if inst.share_ratio.size else None

    def arrival_demand(self, vms: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """What each migration ``vms -> dst`` adds to its destination in this round, at most."""
        demand = self.inst.demand[vms]
        return demand if self._pages is None else self._pages.discount(vms, dst, demand)

    # ------------------------------------------------------------------ queries
    def room(self, hosts: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """Whether each host can still receive the matching demand row in this round."""
        during = self.load[hosts] + self.arrivals[hosts] + demand
        return fits(during, self.inst.effective[hosts]).all(axis=1)

    def free(self) -> np.ndarray:
        """Capacity left per host and resource in this round (``inf`` where unlimited)."""
        return self.inst.effective - self.load - self.arrivals

    def send_slots(self) -> np.ndarray:
        """Migrations each host may still send in this round (its free touches, its outgoing limit)."""
        return np.minimum(self.slots, self.outgoing) if self._directional else self.slots

    def receive_slots(self) -> np.ndarray:
        """Migrations each host may still receive in this round (its free touches, its incoming limit)."""
        return np.minimum(self.slots, self.incoming) if self._directional else self.slots

    @property
    def size(self) -> int:
        return sum(len(v) for v in self._vms)

    def moves(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The admitted migrations as (vm, from, to) index arrays."""
        if not self._vms:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        vms, dst = np.concatenate(self._vms), np.concatenate(self._dst)
        return vms, self.placement[vms], dst

    # ------------------------------------------------------------------ admitting
    def include(self, vms: np.ndarray, dst: np.ndarray) -> None:
        """Record migrations already known to belong to the round, without checking them."""
        src = self.placement[vms]
        if self._budgets:
            for v, s, d in zip(vms.tolist(), src.tolist(), dst.tolist(), strict=True):
                for budget in self._budgets:
                    budget.take(v, s, d)
        self._commit(vms, src, dst, self.inst.demand[vms])

    def offer(self, vms: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Admit what fits of the migrations ``vms -> dst``, given in priority order; mask of admitted.

        The offer is taken in chunks of a few migrations per host, in order: the
        passes over a chunk settle it (few conflicts within a chunk), and later
        chunks only get what the earlier ones left.
        """
        inst = self.inst
        admitted = np.zeros(len(vms), dtype=bool)
        done = np.zeros(len(vms), dtype=bool)
        src = self.placement[vms]
        demand = self.arrival_demand(vms, dst)
        ok = (src != dst) & allowed_by_service_levels(inst, vms, src, dst, self._rules)
        candidates = np.flatnonzero(ok)
        if self._vms:  # a VM migrates at most once per round
            candidates = candidates[~np.isin(vms[candidates], np.concatenate(self._vms))]
        chunk = CHUNK_PER_HOST * inst.n_hosts
        for start in range(0, len(candidates), chunk):
            if self.total_left <= 0:
                break
            self._passes(candidates[start:start + chunk], vms, src, dst, demand, admitted, done)
        return admitted

    def _passes(self, active, vms, src, dst, demand, admitted, done) -> None:
        slack = 2 * TOLERANCE * np.maximum(1.0, np.abs(self.inst.effective))
        for _ in range(MAX_PASSES):
            if active.size == 0 or self.total_left <= 0:
                break
            s, d = src[active], dst[active]
            ok = (self.send_slots()[s] > 0) & (self.receive_slots()[d] > 0)
            active, d = active[ok], d[ok]
            # A quick filter; admission below checks room exactly.
            active = active[(demand[active] <= self.free()[d] + slack[d]).all(axis=1)]
            if active.size == 0:
                break
            within = within_slots(src[active], dst[active], self.slots)
            if self._directional:
                within &= within_directions(src[active], dst[active], self.outgoing, self.incoming)
            chosen = active[within]
            chosen = self._with_room(chosen, dst[chosen], demand[chosen])
            refused = np.zeros(0, dtype=np.int64)
            if self._budgets:
                keep = self._admit(vms[chosen], src[chosen], dst[chosen])
                chosen, refused = chosen[keep], chosen[~keep]
            if np.isfinite(self.total_left):
                chosen = chosen[:int(self.total_left)]
            self._commit(vms[chosen], src[chosen], dst[chosen], demand[chosen])
            admitted[chosen] = True
            if chosen.size == 0 and refused.size == 0:
                break
            done[chosen] = done[refused] = True
            active = active[~done[active]]

    def _admit(self, vms, src, dst) -> np.ndarray:
        """Mask of the migrations (in order) every budget admits; the budgets take them."""
        moves = zip(vms.tolist(), src.tolist(), dst.tolist(), strict=True)
        return np.array([take_if_admitted(self._budgets, v, s, d) for v, s, d in moves], dtype=bool)

    def _with_room(self, chosen, d, demand):
        """The migrations of ``chosen`` (priority order) whose destination has room for all before them."""
        order = np.argsort(d, kind="stable")
        used = group_cumsum(demand[order], d[order])
        dd = d[order]
        ok = fits(self.load[dd] + self.arrivals[dd] + used, self.inst.effective[dd]).all(axis=1)
        return np.sort(chosen[order[ok]])

    def _commit(self, vms, src, dst, demand):
        if vms.size == 0:
            return
        np.subtract.at(self.slots, src, 1)
        np.subtract.at(self.slots, dst, 1)
        if self._directional:
            np.subtract.at(self.outgoing, src, 1)
            np.subtract.at(self.incoming, dst, 1)
        np.add.at(self.arrivals, dst, demand)
        self.total_left -= vms.size
        self._vms.append(vms)
        self._dst.append(dst)


def within_slots(src: np.ndarray, dst: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Mask of the migrations (in the given order) that come within their hosts' free touches.

    A migration is within when fewer than ``slots[h]`` earlier migrations touch
    its source h, and likewise for its destination. Linear time: the k-th pass
    finds, per host, the first event not yet ranked.
    """
    n = len(src)
    hosts = np.empty(2 * n, dtype=np.int64)
    hosts[0::2], hosts[1::2] = src, dst  # event 2i: source of migration i, 2i+1: its destination
    cap = slots[hosts]
    within = np.zeros(2 * n, dtype=bool)
    events = np.flatnonzero(cap > 0)
    first = np.full(len(slots), 2 * n, dtype=np.int64)
    k = 0
    while events.size:
        h = hosts[events]
        first[h] = 2 * n
        np.minimum.at(first, h, events)
        ranked = first[h] == events
        within[events[ranked]] = True
        k += 1
        events = events[~ranked]
        events = events[cap[events] > k]
    return within[0::2] & within[1::2]
