"""Exact planner: A* over placements, one step at a time, for small clouds.

A step is one migration, or a batch of offline migrations made together.
Any valid round can be replayed as its offline migrations in one batch
(each leaves its source at once) followed by its live migrations one by one
in any order, and every step holds no more on any host than the round did.
So the cheapest sequence of steps costs exactly the minimum plan cost: the
search proves ``optimal`` or, when it exhausts every reachable placement,
``infeasible``; then the steps are packed into rounds. (Not so when A breaks an
anti-affinity group on a host where a member may move offline: a round may
bring a member there as another leaves offline, which no step does; such a
cloud gets ``feasible`` or ``unknown``.)

The heuristic (summed cost of VMs off their target) is consistent, so the
first time the target is popped its cost is minimal.

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> p = plan(swap)
>>> p.status, p.cost, p.n_rounds      # one VM bounces through h3
('optimal', 12, 3)
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from ..budget import Budget
from ..constraints import ALL, Round, admits_all, allowed_by_service_levels, round_budgets, service_levels
from ..constraints.capacity import fits
from ..constraints.concurrency import can_receive, can_send
from ..constraints.groups import offline_refill_possible
from ..constraints.page_sharing import usage_on
from ..plan import Move, Plan

MAX_VMS = 40  # beyond this the placement space is hopeless for exhaustive search
MAX_EXPANSIONS = 2_000_000
MAX_OFFLINE_VMS = 4  # offline batches are enumerated only up to this many offline-capable VMs


def plan(inst, *, time_limit=None, seed=0, hint=None, progress=None) -> Plan:
    if inst.n_vms > MAX_VMS:
        return Plan("unknown", 0, [], planner="exact", stats={"ran_out_of_time": False},
                    reason=f"the exact planner handles at most {MAX_VMS} VMs, this cloud has "
                           f"{inst.n_vms}: use --planner greedy or cp")
    search = _PlacementSearch(inst)
    steps = search.run(Budget(time_limit), progress)
    stats = {"expanded": search.expanded}
    if steps is None:
        if search.exhausted and search.complete:
            return Plan("infeasible", 0, [], planner="exact", stats=stats,
                        reason=search.explain_infeasible())
        why = ("time limit" if search.timed_out else "expansion limit" if not search.exhausted
               else "too many VMs may move offline to enumerate their batches" if not search.batches
               else "a member may arrive where A breaks its anti-affinity group as another leaves "
                    "offline, which the search does not try")
        return Plan("unknown", 0, [], planner="exact", stats={**stats, "ran_out_of_time": search.timed_out},
                    reason=f"search stopped after {search.expanded} placements ({why})")
    status = "optimal" if search.complete else "feasible"
    return Plan.from_index_rounds(inst, pack_rounds(inst, steps), status, planner="exact", stats=stats)


class _PlacementSearch:
    """A* over placements (a state is the tuple of host index per VM), from A to B."""

    def __init__(self, inst):
        self.inst = inst
        self.effective = inst.effective
        self.cost = inst.cost.tolist()
        frozen = np.full(inst.n_vms, inst.total_limit == 0)
        self.movable = np.flatnonzero(~frozen).tolist()
        self.open_hosts = np.flatnonzero(can_receive(inst)).tolist()  # the hosts a step may reach
        self.rules = service_levels()
        self.destinations: dict[tuple[int, int], list[int]] = {}
        offline_ok = ~np.isnan(inst.offline_cost) & ~frozen & ~inst.pinned
        self.offline_vms = np.flatnonzero(offline_ok).tolist()
        self.batches = len(self.offline_vms) <= MAX_OFFLINE_VMS
        self.batch_limit = len(self.offline_vms) if self.batches else 0
        # a broken anti-affinity start with an offline member is the one case the steps miss
        # (constraints.groups): then the search proves nothing
        self.refill = offline_refill_possible(inst)
        self.complete = self.batches and not self.refill
        self.expanded, self.exhausted, self.timed_out = 0, False, False
        self.parent: dict[tuple, tuple | None] = {}
        self.best_h: tuple[float, tuple] | None = None

    def h(self, state) -> float:
        """Summed cost of the VMs not on (one of) their target host(s)."""
        return float(self.inst.cost[~self.inst.at_target(np.array(state))].sum())

    def run(self, budget: Budget, progress) -> list[list[Move]] | None:
        inst = self.inst
        start = tuple(inst.initial.tolist())
        tie = itertools.count()
        best_g = {start: 0.0}
        self.parent[start] = None
        heap = [(self.h(start), 0.0, next(tie), start)]
        closed = set()
        while heap:
            f, g, _, state = heapq.heappop(heap)
            if state in closed:
                continue
            if f == g and self.inst.at_target(np.array(state)).all():
                return self._path(state)
            closed.add(state)
            self.expanded += 1
            if self.best_h is None or f - g < self.best_h[0]:
                self.best_h = (f - g, state)
            if budget.left() < 0:
                self.timed_out = True
                return None
            if progress and self.expanded % 20000 == 0:
                progress(f"exact: {self.expanded} placements explored, bound {f:g}")
            if self.expanded >= MAX_EXPANSIONS:
                return None
            for step, step_cost in self._steps(state):
                nxt = list(state)
                for v, _, dst, _ in step:
                    nxt[v] = dst
                nxt = tuple(nxt)
                ng = g + step_cost
                if nxt in closed or ng >= best_g.get(nxt, float("inf")):
                    continue
                best_g[nxt] = ng
                self.parent[nxt] = (state, step)
                heapq.heappush(heap, (ng + self.h(nxt), ng, next(tie), nxt))
        self.exhausted = True
        return None

    def _steps(self, state):
        """Successor steps with their cost: single migrations, then offline batches."""
        load = self.inst.load(np.array(state))
        placement = np.array(state)
        budgets = round_budgets(self.inst, placement, self.rules)
        for v in self.movable:
            here = state[v]
            for dest in self._destinations(v, here):
                if admits_all(budgets, v, here, dest) and self._fits(v, dest, state, load):
                    yield [Move(v, here, dest, bool(self.inst.offline[v]))], self.cost[v]
        for size in range(2, self.batch_limit + 1):
            for vms in itertools.combinations(self.offline_vms, size):
                choices = [[h for h in self.open_hosts if h != state[v]] for v in vms]
                for dests in itertools.product(*choices):
                    step = [Move(v, state[v], d, True) for v, d in zip(vms, dests, strict=True)]
                    if _round_ok(self.inst, np.array(state), load, step):
                        yield step, float(self.inst.offline_cost[list(vms)].sum())

    def _destinations(self, v, here) -> list[int]:
        """Hosts VM ``v`` may migrate to from ``here`` in some round, by limits and service levels.

        It depends on nothing else, so each answer is computed once per search.
        """
        if (v, here) not in self.destinations:
            dests = np.array([h for h in self.open_hosts if h != here], dtype=np.int64)
            ok = np.full(dests.size, can_send(self.inst)[here])
            vms, src = np.full(dests.size, v), np.full(dests.size, here)
            ok &= allowed_by_service_levels(self.inst, vms, src, dests, self.rules)
            self.destinations[(v, here)] = dests[ok].tolist()
        return self.destinations[(v, here)]

    def _fits(self, v, dest, state, load) -> bool:
        return bool(fits(self._use_with(v, dest, state, load), self.effective[dest]).all())

    def _use_with(self, v, dest, state, load) -> np.ndarray:
        """Use of ``dest`` once ``v`` arrives (page sharing applied when the cloud has it)."""
        if not self.inst.share_ratio.size:
            return load[dest] + self.inst.demand[v]
        there = [u for u, h in enumerate(state) if h == dest] + [v]
        return usage_on(self.inst, np.array(there), dest)

    def _path(self, state) -> list[list[Move]]:
        steps = []
        while self.parent[state] is not None:
            state, step = self.parent[state]
            steps.append(step)
        return steps[::-1]

    def explain_infeasible(self) -> str:
        """Why the closest reachable placement cannot finish, host and resource named."""
        inst = self.inst
        _, state = self.best_h
        placement = np.array(state)
        load = inst.load(placement)
        reasons = []
        for v in np.flatnonzero(placement != inst.target)[:3]:
            t = int(inst.target[v])
            free = inst.effective[t] - load[t]
            short = [f"{r} needs {inst.demand[v, i]:g}, free {free[i]:g}"
                     for i, r in enumerate(inst.resources) if inst.demand[v, i] > free[i] + 1e-9]
            why = "; ".join(short) if short else "blocked by the limits or service levels"
            reasons.append(f"{inst.vm_names[v]} -> {inst.host_names[t]} ({why})")
        return (f"no sequence of migrations reaches the target ({self.expanded} reachable "
                f"placements explored); closest: {', '.join(reasons)}")


def pack_rounds(inst, steps: list[list[Move]]):
    """Pack valid steps into rounds: extend the current round while it stays valid.

    Consecutive steps share a round when the round, started from the
    placement before its first step, passes every constraint check and no VM
    moves twice in it.
    """
    rounds: list[list[Move]] = []
    placement = inst.initial.copy()
    load = inst.load(placement)
    current: list[Move] = []
    for step in steps:
        trial = current + step
        moved = {m[0] for m in current}
        if current and (any(m[0] in moved for m in step) or not _round_ok(inst, placement, load, trial)):
            rounds.append(current)
            for v, _, dst, _ in current:
                placement[v] = dst
            load = inst.load(placement)
            trial = list(step)
        current = trial
    if current:
        rounds.append(current)
    return [_arrays(r) for r in rounds]


def _arrays(moves: list[Move]):
    vms, src, dst, offline = zip(*moves, strict=True)
    as_int = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    return as_int(vms), as_int(src), as_int(dst), np.array(offline, dtype=bool)


def _round_ok(inst, placement, load, moves: list[Move]) -> bool:
    vms, src, dst, offline = _arrays(moves)
    rnd = Round(0, placement, load, vms, src, dst, offline)
    return not any(c.check(inst, rnd) for c in ALL)
