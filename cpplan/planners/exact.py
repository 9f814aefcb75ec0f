"""Exact planner: A* over placements, one migration at a time, for small clouds.

Any valid round can be replayed one migration at a time in any order (each
step holds less on every host than the round did), so the cheapest
sequence of single migrations costs exactly the minimum plan cost. The
search proves ``optimal`` or, when it exhausts every reachable placement,
``infeasible``; then the sequence is packed into rounds.

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
import time

import numpy as np

from ..constraints import ALL, Round
from ..constraints.capacity import fits
from ..constraints.links import crossing
from ..plan import Plan

MAX_VMS = 40  # beyond this the placement space is hopeless for exhaustive search
MAX_EXPANSIONS = 2_000_000


def plan(inst, *, time_limit=None, seed=0, hint=None, progress=None) -> Plan:
    if inst.n_vms > MAX_VMS:
        return Plan("unknown", 0, [], planner="exact",
                    reason=f"the exact planner handles at most {MAX_VMS} VMs, this cloud has "
                           f"{inst.n_vms}: use --planner greedy or cp")
    search = _Search(inst)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    found = search.run(deadline, progress)
    stats = {"expanded": search.expanded}
    if found is None:
        if search.exhausted:
            return Plan("infeasible", 0, [], planner="exact", stats=stats,
                        reason=search.explain_infeasible())
        return Plan("unknown", 0, [], planner="exact", stats=stats,
                    reason=f"search stopped after {search.expanded} placements "
                           f"({'time limit' if search.timed_out else 'expansion limit'})")
    rounds = pack_rounds(inst, found)
    return Plan.from_index_rounds(inst, rounds, "optimal", planner="exact", stats=stats)


class _Search:
    """A* state: tuple of host index per VM."""

    def __init__(self, inst):
        self.inst = inst
        self.demand = inst.demand.tolist()
        self.effective = inst.effective
        self.cost = inst.cost.tolist()
        self.target = tuple(inst.target.tolist())
        self.allowed = self._static_moves()
        self.anti = [[g.vms.tolist() for g in inst.groups if g.anti_affinity and v in g.vms]
                     for v in range(inst.n_vms)]
        self.expanded, self.exhausted, self.timed_out = 0, False, False
        self.parent: dict[tuple, tuple | None] = {}
        self.best_h: tuple[float, tuple] | None = None

    def _static_moves(self) -> list[list[int]]:
        """Per VM, the destination hosts a single migration could ever use (limits, pins, groups)."""
        inst = self.inst
        frozen = inst.pinned.copy()
        if inst.total_limit == 0:
            frozen[:] = True
        for g in inst.groups:
            if g.max_migrating == 0:
                frozen[g.vms] = True
        open_hosts = np.flatnonzero(inst.host_limit > 0).tolist()
        self.closed_links = [link for link in inst.links if link.max_migrations == 0]
        return [[] if frozen[v] else open_hosts for v in range(inst.n_vms)]

    def h(self, state) -> float:
        return sum(c for s, t, c in zip(state, self.target, self.cost, strict=True) if s != t)

    def run(self, deadline, progress):
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
            if state == self.target:
                return self._path(state)
            closed.add(state)
            self.expanded += 1
            hval = f - g
            if self.best_h is None or hval < self.best_h[0]:
                self.best_h = (hval, state)
            if self.expanded % 20000 == 0:
                if deadline is not None and time.monotonic() > deadline:
                    self.timed_out = True
                    return None
                if progress:
                    progress(f"exact: {self.expanded} placements explored, bound {f:g}")
                if self.expanded >= MAX_EXPANSIONS:
                    return None
            load = inst.load(np.array(state))
            for v, here in enumerate(state):
                for dest in self.allowed[v]:
                    if dest == here or not self._admits(v, here, dest, state, load):
                        continue
                    nxt = state[:v] + (dest,) + state[v + 1:]
                    ng = g + self.cost[v]
                    if nxt in closed or ng >= best_g.get(nxt, float("inf")):
                        continue
                    best_g[nxt] = ng
                    self.parent[nxt] = (state, v, here, dest)
                    heapq.heappush(heap, (ng + self.h(nxt), ng, next(tie), nxt))
        self.exhausted = True
        return None

    def _admits(self, v, here, dest, state, load) -> bool:
        if self.inst.host_limit[here] == 0:
            return False
        if not fits(load[dest] + self.inst.demand[v], self.effective[dest]).all():
            return False
        for link in self.closed_links:
            if crossing(self.inst, link, np.array([here]), np.array([dest]))[0]:
                return False
        return all(state[u] != dest for members in self.anti[v] for u in members if u != v)

    def _path(self, state) -> list[tuple[int, int, int]]:
        moves = []
        while self.parent[state] is not None:
            state, v, src, dst = self.parent[state]
            moves.append((v, src, dst))
        return moves[::-1]

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


def pack_rounds(inst, moves) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Pack a valid serial sequence into rounds: extend the current round while it stays valid.

    Consecutive moves share a round when the round, started from the
    placement before its first move, passes every constraint check.
    """
    rounds: list[list[tuple[int, int, int]]] = []
    placement = inst.initial.copy()
    load = inst.load(placement)
    current: list[tuple[int, int, int]] = []
    for move in moves:
        trial = current + [move]
        if current and (move[0] in {m[0] for m in current} or not _round_ok(inst, placement, load, trial)):
            rounds.append(current)
            for v, src, dst in current:
                placement[v] = dst
                load[src] -= inst.demand[v]
                load[dst] += inst.demand[v]
            trial = [move]
        current = trial
    if current:
        rounds.append(current)
    return [tuple(np.array(col, dtype=np.int64) for col in zip(*r, strict=True)) for r in rounds]


def _round_ok(inst, placement, load, moves) -> bool:
    vms, src, dst = (np.array(col, dtype=np.int64) for col in zip(*moves, strict=True))
    rnd = Round(0, placement, load, vms, src, dst)
    return not any(c.check(inst, rnd) for c in ALL)
