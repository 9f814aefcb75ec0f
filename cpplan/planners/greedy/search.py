"""The greedy planner: builds the plan round by round, fast enough for 300 000 VMs.

Each round admits direct migrations (a VM straight to its target; a VM
with several allowed hosts to one of them with room, see :mod:`.aim`)
whose destination has room during the round, within every limit, preferring
migrations that unblock others (leaving a host that a waiting VM needs),
then those on the busiest hosts (the rounds bound is set by them). When
nothing can move, :mod:`.deadlock` breaks the deadlock at the least
extra cost (a bounce or a displacement), or :mod:`.offline` moves the
waiting VMs offline in one round when that costs no more (or is the only
way). A clean-up pass
(:mod:`.cleanup`) then drops steps aside that turned out unnecessary
and pulls migrations into earlier rounds (merging rounds where limits allow).

Termination: a VM only ever migrates to its target (or an allowed host, where
it is done) or steps aside, and each VM steps aside at most
``MAX_STEPS_ASIDE`` (:mod:`.deadlock`) times, so the number of
migrations, hence of rounds, is bounded; a round with no migration at all
ends the search (retried a few times with other choices, then ``unknown``).

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> p = plan(swap)
>>> p.status, p.cost, p.n_rounds, p.stats["bounces"]
('feasible', 12, 3, 1)
"""

from __future__ import annotations

import numpy as np

from ...bounds import cost_lower_bound, rounds_lower_bound
from ...budget import Budget
from ...constraints.capacity import fits
from ...constraints.page_sharing import shift_load
from ...plan import Plan
from .aim import Aims
from .cleanup import clean_up
from .deadlock import break_deadlocks
from .offline import may_go_offline, offline_break
from .round import RoundBuilder

ATTEMPTS = 4  # searches per plan (the first is unperturbed)
ATTEMPTS_SMALL = 32  # for clouds of at most SMALL VMs, where a search takes milliseconds
SMALL = 1000
CHAIN_OPTIONS = 3  # waiting VMs aiming at a host that a leaver frees, counted up to this (see _priority)


def plan(inst, *, time_limit=None, seed=0, hint=None, progress=None) -> Plan:
    """Plan ``inst`` greedily; ``hint`` is ignored (greedy is the warm start of the others).

    When a search gets stuck, it is retried (up to ``ATTEMPTS`` times, more on
    small clouds, within the time limit) with the deadlock-breaking choices
    perturbed.
    """
    budget = Budget(time_limit)
    rng = np.random.default_rng(seed)
    attempts = ATTEMPTS_SMALL if inst.n_vms <= SMALL else ATTEMPTS
    for attempt in range(attempts):
        jitter = None if attempt == 0 else rng.uniform(0.5, 1.5, inst.n_vms)
        search = _RoundSearch(inst, rng, jitter, budget, progress if attempt == 0 else None)
        if search.run() or search.timed_out:
            break
        if progress is not None and attempt == 0:
            progress(f"greedy: stuck after {len(search.rounds)} rounds; retrying with other choices "
                     f"(up to {attempts - 1} times)")
    if not search.found:
        return Plan("unknown", 0, [], planner="greedy", reason=search.reason,
                    stats={"attempts": attempt + 1, "bounces": search.bounces,
                           "displacements": search.displacements, "offline_breaks": search.offline_breaks})
    rounds, dropped = clean_up(inst, search.rounds)
    result = Plan.from_index_rounds(inst, rounds, "feasible", planner="greedy")
    if result.cost <= cost_lower_bound(inst) and result.n_rounds <= rounds_lower_bound(inst):
        result.status = "optimal"
    result.stats = {"rounds": result.n_rounds, "rounds_before_clean_up": len(search.rounds),
                    "bounces": search.bounces, "displacements": search.displacements,
                    "offline_breaks": search.offline_breaks,
                    "dropped_migrations": dropped, "migrations": result.n_migrations,
                    "attempts": attempt + 1, "seconds": round(budget.elapsed(), 3)}
    return result


class _RoundSearch:
    """One greedy pass from A towards B, round by round; ``run()`` says whether it reached B."""

    def __init__(self, inst, rng, jitter, budget: Budget, progress):
        self.inst, self.jitter, self.budget, self.progress = inst, jitter, budget, progress
        self.rng = rng
        self.tiebreak = rng.random(inst.n_vms)
        self.rounds: list = []
        self.bounces = self.displacements = self.offline_breaks = 0
        self.may_go_offline = may_go_offline(inst)
        self.found = self.timed_out = False
        self.reason = ""

    def run(self) -> bool:
        inst = self.inst
        placement = inst.initial.copy()
        load = inst.load(placement)
        stepped_aside = np.zeros(inst.n_vms, dtype=np.int64)
        aims = Aims(inst)
        pending = aims.pending(placement)
        held = np.zeros(0, dtype=np.int64)  # VMs that just made room: they stay put for one round
        while pending.size:
            if self.budget.left() < 0:
                self.timed_out = True
                self.reason = (f"time limit reached after {len(self.rounds)} rounds with "
                               f"{pending.size} VMs still to move")
                return False
            rb = RoundBuilder(inst, placement, load)
            aims.aim_waiting(pending, load, placement)
            for returns_wait in (True, False):  # returns take room others aim at only if nothing else moves
                order = _priority(inst, rb, pending, aims.host, self.tiebreak, stepped_aside, returns_wait)
                aims.offer(rb, order[~np.isin(order, held)])
                if rb.size:
                    break
            offline = None
            if rb.size == 0:
                explore = self.jitter is not None and self.rng.random() < 0.5
                waiting = pending[~np.isin(pending, held)]
                offline, held = self._break_deadlock(rb, placement, load, waiting, stepped_aside, aims,
                                                     explore)
                if rb.size == 0 and offline is None:
                    self.reason = _stuck_reason(inst, placement, pending, aims.host)
                    return False
            else:
                held = held[:0]
            if offline is None:
                vms, src, dst = rb.moves()
                self.rounds.append((vms, src, dst, inst.offline[vms]))
            else:
                vms, src, dst = offline.vms, placement[offline.vms], offline.dst
                self.rounds.append((vms, src, dst, offline.offline))
            placement[vms] = dst
            shift_load(inst, load, placement, vms, src, dst)
            aims.moved(vms, src, dst)
            pending = aims.pending(placement)
            if self.progress is not None and len(self.rounds) % 10 == 0:
                self.progress(f"greedy: round {len(self.rounds)}, {pending.size} VMs still to move")
        self.found = True
        return True

    def _break_deadlock(self, rb, placement, load, waiting, stepped_aside, aims, explore):
        """Move waiting VMs offline where that costs no more than a bounce, else step aside into ``rb``;
        offline anyway when no VM can step aside.

        Returns (an :class:`OfflineBreak` or None, VMs to hold in place next round).
        """
        inst = self.inst
        offline_too = bool(self.may_go_offline[waiting].any())
        if offline_too and (found := offline_break(inst, placement, load, waiting, aims.host, inst.cost)):
            self.offline_breaks += 1
            return found, waiting[:0]
        (b, d), held = break_deadlocks(inst, rb, waiting, stepped_aside, aims, self.jitter,
                                       make_room_first=explore)
        self.bounces, self.displacements = self.bounces + b, self.displacements + d
        if rb.size or not offline_too:
            return None, held
        found = offline_break(inst, placement, load, waiting, aims.host)
        self.offline_breaks += found is not None
        return found, held[:0]


def _priority(inst, rb, pending, aim, tiebreak, stepped_aside, returns_wait=False) -> np.ndarray:
    """Waiting VMs in the order the round should try them.

    ``aim`` is the host each VM aims at (its target, or an allowed host). VMs
    that cannot fit their aim this round are left out. VMs that stepped
    aside come last (they made room for others) and do not return to a host
    that another waiting VM cannot enter yet (with ``returns_wait``: that
    another waiting VM aims at at all; the room there can pass on along a
    chain of full hosts, a return ends the chain). First those leaving a host
    that some waiting VM cannot enter yet, then those leaving a host that more
    waiting VMs (not returns) aim at, counted up to ``CHAIN_OPTIONS`` (the room
    freed there has more ways to pass on; where only a return aims, the chain
    ends), then those whose two hosts have the most migrations still to do
    (relative to their limits), then a seeded random order.
    """
    src, dst = rb.placement[pending], aim[pending]
    waits = ~fits(rb.load[dst] + rb.arrival_demand(pending, dst), inst.effective[dst]).all(axis=1)
    blocked = np.zeros(inst.n_hosts, dtype=bool)
    blocked[dst[waits]] = True
    work = (np.bincount(src, minlength=inst.n_hosts) + np.bincount(dst, minlength=inst.n_hosts))
    work = work / np.maximum(inst.host_limit, 1)
    busy = np.maximum(work[src], work[dst])
    returning = stepped_aside[pending] > 0
    # A VM that stepped aside does not take back room that a waiting VM was given.
    aimed_by = np.bincount(dst[~returning], minlength=inst.n_hosts)
    wanted = aimed_by > 0
    if not returns_wait:
        wanted = np.zeros(inst.n_hosts, dtype=bool)
        wanted[dst[waits & ~returning]] = True
    keep = ~waits & ~(returning & wanted[dst])
    options = np.minimum(aimed_by[src], CHAIN_OPTIONS)
    order = np.lexsort((tiebreak[pending], -busy, -options, ~blocked[src], returning))
    return pending[order[keep[order]]]


def _stuck_reason(inst, placement, pending, aim) -> str:
    v = int(pending[0])
    return (f"no migration possible: {pending.size} VMs wait, e.g. {inst.vm_names[v]} on "
            f"{inst.host_names[placement[v]]} for {inst.host_names[aim[v]]}, and no VM can step "
            f"aside to a host with room")
