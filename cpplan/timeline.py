"""A plan re-timed: its migrations started as soon as their destinations have room, then its order
and its rounds read off that timeline (SPEC sections 4 and 7.3-7.4).

:func:`cpplan.order.derive_after` keeps the order of a plan's rounds: a migration to ``d`` waits for
every earlier round's migration touching ``d``, even one whose room it does not need, so a plan
cut in rounds by a planner that counts rounds carries their pace into time. Here the rounds are
only a list of each VM's hops. An event-driven list schedule starts a migration ``m`` of VM ``v``
from ``s`` to ``d`` at time ``t`` once ``v``'s previous hop has ended and

- the VMs on ``d`` now (placement A, plus each migration to ``d`` from its start, minus each
  migration from ``d`` from its end) with ``v`` fit ``d`` (every resource, within the capacity
  tolerance), and so does ``U(a) + v`` for every migration ``a`` to ``d`` in flight, where ``U(a)``
  is every VM that has been on ``d`` since ``a`` started: those on it then and those that arrived
  since (it is the use now plus the demands of the migrations from ``d`` that ended since ``a``
  started, largest for the one in flight longest);
- no member of an anti-affinity group of ``v`` is on ``d`` now;
- the per-host, directional, total, link and group limits and the bandwidths allow it
  (:class:`cpplan.schedule.Limits`, at the bandwidth of a policy of :data:`cpplan.schedule.POLICIES`),

trying the ready migrations in the order of a priority (plan order, or the longest first). Then
``after[m]`` is ``v``'s previous hop and the migrations touching ``d`` that had ended when ``m``
started, but those that another of them waits for (the order is the same).

*Safe whatever the durations (SPEC 7.4).* Take a stay on ``d`` possibly on while ``m`` is in flight.
If it ended before ``m`` started in the timeline, it ended with a migration touching ``d`` that
``m`` waits for: not possibly on. If it began with a migration ``q`` that started after ``m`` ended,
``q`` waits for ``m``: not possibly on. So its VM was on ``d`` at some instant while ``m`` was in
flight in the timeline: it is in ``U(m)``, which fits ``d`` (checked as ``m`` started and as each
later arrival joined it). Two anti-affinity members' stays on ``d``: the later arrival started
after the earlier stay ended, so it waits for the migration that ended it. Each hop waits for the
previous one. An offline migration holds its source until it ends, as here every migration does.

*Rounds.* Migrations are numbered by their start in the timeline (each waits only for lower
numbers), and each goes into the first round after those of the migrations it waits for whose
migrations leave room under the per-host, directional, total, link and group limits (SPEC 4, items
3 and 4).
The rounds are then valid by SPEC 4: if ``m`` reaches ``d`` in round ``r``, every VM the round model
counts on ``d`` in round ``r`` (on it as the round starts, leavers included, or arriving in it) has
a stay on ``d`` that neither ends with a migration of an earlier round nor begins with one of a
later round; a migration precedes another only from an earlier round, so that VM is possibly on
while ``m`` is in flight, and those fit. Two anti-affinity members' stays on a host that the order
keeps apart lie in disjoint runs of rounds.

The timeline's own start, end and bandwidth per migration are a schedule of that order: each starts
once those it waits for have ended, within the limits and bandwidths at every instant. A timeline
that stops with migrations waiting and none in flight (a bounce taking room that another needed
first) gives no plan, and neither does page sharing (its use is not a sum): :func:`retimed` then
returns None and the plan keeps the order of its rounds.

Host ``h4`` holds ``c`` and ``d`` (2 GiB each) and receives ``a`` (2 GiB) and ``e`` (6 GiB), one
migration per host at once. The planner's rounds send ``e`` last, so their order has it wait for
``d`` and ``a``; the timeline starts ``e`` as soon as ``c`` has left (all the room it needs), and ``a``
then waits for ``d`` and ``e``:

>>> from cpplan.model import Instance
>>> from cpplan.objective import add_schedule
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={h: {"ram": 8} for h in ("h1", "h2", "h3", "h4")},
...                 vms={"a": {"ram": 2}, "b": {"ram": 6}, "c": {"ram": 2}, "d": {"ram": 2}, "e": {"ram": 6}},
...                 initial={"a": "h1", "b": "h1", "c": "h4", "d": "h4", "e": "h2"},
...                 target={"a": "h4", "b": "h3", "c": "h2", "d": "h1", "e": "h4"}, limits={"host": 1},
...                 migration={"ram_unit": "GiB", "bandwidth": 1000, "setup": 2})
>>> hop = lambda vm, a, b: {"vm": vm, "from": a, "to": b}
>>> found = [[hop("c", "h4", "h2"), hop("b", "h1", "h3")], [hop("d", "h4", "h1")], [hop("a", "h1", "h4")],
...          [hop("e", "h2", "h4")]]
>>> by_rounds = Plan("feasible", 18, found)
>>> add_schedule(inst, by_rounds, "rounds")
>>> [(m["vm"], m["after"], round(m["start"], 1)) for r in by_rounds.rounds for m in r]
[('c', [], 0.0), ('b', [], 0.0), ('d', [1], 8.1), ('a', [0, 2], 12.2), ('e', [0, 2], 16.2)]
>>> round(by_rounds.makespan, 1)
24.4
>>> timed = retimed(inst, Plan("feasible", 18, found))
>>> [(m["vm"], m["after"], round(m["start"], 1)) for r in timed.rounds for m in r]
[('c', [], 0.0), ('b', [], 0.0), ('e', [0], 4.0), ('d', [1], 12.2), ('a', [2, 3], 16.2)]
>>> round(timed.makespan, 1), timed.n_rounds
(20.3, 4)
"""

from __future__ import annotations

import copy
import heapq

import numpy as np

from .constraints.capacity import with_tolerance
from .order import Migrations
from .schedule import POLICIES, PRIORITY_MAX_MIGRATIONS, Bandwidths, Limits, Timed, Waiting, ranked

# the orders in which the timeline tries ready migrations (those of cpplan.schedule.PRIORITIES that
# need no order)
PRIORITIES = ("plan", "largest")


def retimed(inst, plan, priority: str = "plan", policy: str = "share"):
    """A copy of the valid round ``plan`` with the same migrations re-timed, re-ordered and re-cut in
    rounds (module docstring), or None when its timeline stops short or page sharing applies."""
    if not plan.found or inst.share_ratio.size:
        return None
    moves = Migrations.of(inst, plan)
    limits = Limits(inst, moves)  # the holds of each migration, found once for both passes
    run = _timeline(inst, moves, limits, priority, policy)
    if run is None:
        return None
    timed, after = run
    by_start = sorted(range(len(moves)), key=lambda i: (timed.migrations[i]["start"], i))
    started = {i: k for k, i in enumerate(by_start)}
    layer = _layers(limits, by_start, [[started[p] for p in after[i]] for i in by_start])
    listed = [m for r in plan.rounds for m in r]
    by_round = sorted(range(len(moves)), key=lambda i: (layer[started[i]], started[i]))  # SPEC's numbering
    number = {i: k for k, i in enumerate(by_round)}
    rounds: list[list[dict]] = [[] for _ in range(max(layer, default=-1) + 1)]
    for i in by_round:
        rounds[layer[started[i]]].append({**listed[i], "after": sorted(number[p] for p in after[i]),
                                          **timed.migrations[i]})
    out = copy.copy(plan)
    out.rounds, out.makespan, out.stats = rounds, timed.makespan, dict(plan.stats)
    return out


def shortest_retimed(inst, plan):
    """The shortest of :func:`retimed`'s plans by each priority of :data:`PRIORITIES` and each
    bandwidth policy of :data:`cpplan.schedule.POLICIES` (ties: the earlier, the longest first at the
    shares first); past :data:`cpplan.schedule.PRIORITY_MAX_MIGRATIONS` migrations the first of them
    that has a timeline. None when none has one."""
    best = None
    for policy in POLICIES:
        for priority in reversed(PRIORITIES):
            candidate = retimed(inst, plan, priority, policy)
            if candidate is not None and plan.n_migrations > PRIORITY_MAX_MIGRATIONS:
                return candidate
            if candidate is not None and (best is None or candidate.makespan < best.makespan):
                best = candidate
    return best


class Occupancy:
    """Per host: the use now, the demand of the migrations away from it that have ended (summed), and
    the migrations to it in flight with that sum as each started; per host and anti-affinity group,
    the members on it now. Rows of floats: a few resources each, Python is faster than numpy there."""

    def __init__(self, inst, moves: Migrations):
        self.vm, self.src, self.dst = moves.vm.tolist(), moves.src.tolist(), moves.dst.tolist()
        self.demand = inst.demand.tolist()
        self.limit = with_tolerance(inst.effective).tolist()
        self.use = inst.load(inst.initial).tolist()
        self.left = [[0.0] * len(inst.resources) for _ in range(inst.n_hosts)]
        self.arriving: list[dict[int, list[float]]] = [{} for _ in range(inst.n_hosts)]
        groups = [g for g in inst.groups if g.anti_affinity]
        self.groups_of: list[list[int]] = [[] for _ in range(inst.n_vms)]
        for k, g in enumerate(groups):
            for v in np.asarray(g.vms).tolist():
                self.groups_of[v].append(k)
        self.members = [[0] * len(groups) for _ in range(inst.n_hosts)]
        for v, its in enumerate(self.groups_of):
            for k in its:
                self.members[inst.initial[v]][k] += 1

    def fits(self, i: int) -> bool:
        """Whether migration ``i`` may start now (module docstring)."""
        d, v = self.dst[i], self.vm[i]
        use = [u + x for u, x in zip(self.use[d], self.demand[v], strict=True)]
        if self.arriving[d]:  # the one in flight longest has seen the most leave since it started
            oldest = next(iter(self.arriving[d].values()))
            use = [u + x - y for u, x, y in zip(use, self.left[d], oldest, strict=True)]
        if any(u > c for u, c in zip(use, self.limit[d], strict=True)):
            return False
        return not any(self.members[d][k] for k in self.groups_of[v])

    def start(self, i: int) -> None:
        d, v = self.dst[i], self.vm[i]
        self.use[d] = [u + x for u, x in zip(self.use[d], self.demand[v], strict=True)]
        self.arriving[d][i] = list(self.left[d])
        for k in self.groups_of[v]:
            self.members[d][k] += 1

    def end(self, i: int) -> None:
        s, v = self.src[i], self.vm[i]
        self.use[s] = [u - x for u, x in zip(self.use[s], self.demand[v], strict=True)]
        self.left[s] = [u + x for u, x in zip(self.left[s], self.demand[v], strict=True)]
        del self.arriving[self.dst[i]][i]
        for k in self.groups_of[v]:
            self.members[s][k] -= 1


def _timeline(inst, moves: Migrations, limits: Limits, priority: str, policy: str):
    """The timeline of the module docstring: its estimate and each migration's ``after`` (plan
    numbering), or None when it stops with migrations waiting. A migration refused for room waits
    apart until a migration touching its destination ends (nothing else gives room there)."""
    room = Occupancy(inst, moves)
    bandwidths = Bandwidths(inst, moves, limits, policy)
    waiting = Waiting(inst, moves, limits, ranked(moves, None, bandwidths.nominal_durations(), priority))
    previous, following, last = [-1] * len(moves), [-1] * len(moves), {}
    for i, v in enumerate(moves.vm.tolist()):
        if v in last:
            previous[i], following[last[v]] = last[v], i
        last[v] = i
    waiting.add([i for i in range(len(moves)) if previous[i] < 0])
    for_room: list[list[int]] = [[] for _ in range(inst.n_hosts)]
    ended: list[set[int]] = [set() for _ in range(inst.n_hosts)]  # per host, the latest ends touching it
    after: list[list[int]] = [[] for _ in range(len(moves))]
    start, end, bandwidth = [0.0] * len(moves), [0.0] * len(moves), [0.0] * len(moves)
    flying, now, started = [], 0.0, 0
    while started < len(moves):  # the ends of the last migrations to start change nothing
        for i in waiting.to_try():
            if limits.busy(i):
                continue
            if not room.fits(i):
                waiting.remove(i)
                for_room[room.dst[i]].append(i)
                continue
            b = bandwidths.at_start(i)
            if limits.refusal(i, b) is None:
                limits.hold(i, b)
                room.start(i)
                waiting.remove(i)
                own = [previous[i]] if previous[i] >= 0 else []
                after[i] = sorted({*ended[room.dst[i]], *own})
                bandwidth[i], start[i], end[i] = b, now, now + bandwidths.duration(i, b)
                heapq.heappush(flying, (end[i], i))
                started += 1
        if not flying:
            return None
        now = flying[0][0]
        while flying and flying[0][0] <= now:
            _, i = heapq.heappop(flying)
            limits.hold(i, bandwidth[i], -1)
            room.end(i)
            _ended(ended, room, after, i)
            waiting.freed(i)
            for h in (room.src[i], room.dst[i]):
                waiting.add(for_room[h])
                for_room[h] = []
            if following[i] >= 0:
                waiting.add([following[i]])
    timed = [{"start": start[i], "end": end[i], "bandwidth": bandwidth[i]} for i in range(len(moves))]
    return Timed(timed, max(end, default=0.0)), after


def _ended(ended: list[set[int]], room: Occupancy, after: list[list[int]], i: int) -> None:
    """Migration ``i`` ended: it joins the latest ends on both its hosts, and what it waits for
    leaves them (every later migration waiting for ``i`` waits for those through it)."""
    for h in (room.src[i], room.dst[i]):
        ended[h].difference_update(after[i])
        ended[h].add(i)


def _layers(limits: Limits, by_start: list[int], after: list[list[int]]) -> list[int]:
    """The round of each migration in start order (module docstring), ``after`` in that numbering;
    each round counts its migrations against ``limits``'s kind."""
    per_round: list[Limits] = []
    out: list[int] = []
    for k, i in enumerate(by_start):
        r = max((out[p] + 1 for p in after[k]), default=0)
        while True:
            if r == len(per_round):
                per_round.append(limits.nothing_in_flight())
            if per_round[r].refusal(i, 0.0) is None:
                break
            r += 1
        per_round[r].hold(i, 0.0)
        out.append(r)
    return out

