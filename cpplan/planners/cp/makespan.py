"""cp's makespan objective: CP-SAT schedules a plan's migrations in time, moves and order fixed.

The plan's moves are fixed (its cost and rounds do not change) and so is its ``after`` order (SPEC
7.3), which is safe for *every* execution that starts a migration only once those it waits for have
ended, however long each lasts (SPEC 7.4: capacity with a live migration on both ends, source until
it ends and destination from its start; anti-affinity; each VM's hops in sequence). So any timing
that respects the order and the concurrency limits is safe, and the best one is a scheduling
problem. In ticks of ``1 / TICKS`` s, migration ``m`` is an interval ``[s_m, s_m + d_m)``, where
``d_m = ceil(TICKS x duration_m)`` and ``duration_m`` is SPEC 7.2's duration at the bandwidth the
list schedule gave it (:mod:`cpplan.schedule`: its share, or its hop's whole bandwidth when it would
not converge at the share). Then:

- order: ``s_m >= s_p + d_p`` for each ``p`` in ``after[m]`` (without ``after``, SPEC's barriers:
  every migration of a round after every migration of the previous round);
- in flight: cumulatives of 1 per migration, at most ``max_migrations`` on each host (both ends),
  ``max_outgoing`` leaving and ``max_incoming`` reaching it, ``limits.total`` in the cloud,
  ``max_migrations`` across each link it crosses, ``max_migrating`` per group;
- bandwidth: cumulatives of each migration's MiB/s on each host and crossed link, where the counts
  alone do not already keep the sum within the bandwidth;
- minimise the makespan ``max(s_m + d_m)``, from the list schedule as the hint, within a time limit.

The estimate is then ``start_m = s_m / TICKS`` and ``end_m = start_m + duration_m``: since ``d_m``
rounds up, ``end_p <= start_m`` along the order and every real interval lies inside its model
interval, so the limits hold at every instant. :func:`improve` keeps it only when it is shorter than
the plan's list schedule and :func:`cpplan.schedule.schedule_violations` finds nothing.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> from cpplan.schedule import add_schedule
>>> inst = Instance(hosts={"h0": {"ram": 15000}, "h1": {"ram": 15000}, "h2": {"ram": 20000},
...                        "h3": {"ram": 10000}, "h4": {"ram": 15000}},
...                 vms={"a": {"ram": 2500}, "b": {"ram": 5000}, "c": {"ram": 5000}, "d": {"ram": 2500},
...                      "e": {"ram": 7500}, "f": {"ram": 1250}},
...                 initial={"a": "h0", "b": "h1", "c": "h3", "d": "h4", "e": "h4", "f": "h1"},
...                 target={"a": "h1", "b": "h2", "c": "h0", "d": "h0", "e": "h1", "f": "h1"},
...                 limits={"host": 1})
>>> hop = lambda vm, a, b: {"vm": vm, "from": a, "to": b}
>>> plan = Plan("feasible", 22500, [[hop("b", "h1", "h2"), hop("c", "h3", "h0")], [hop("a", "h0", "h1")],
...                                 [hop("d", "h4", "h0")], [hop("e", "h4", "h1")]])
>>> add_schedule(inst, plan)       # a and e wait for b's room on h1; c holds h0 from the start
>>> [(m["vm"], m["after"], m["start"]) for r in plan.rounds for m in r], plan.makespan
([('b', [], 0.0), ('c', [], 0.0), ('a', [0], 6.0), ('d', [], 10.0), ('e', [0], 14.0)], 22.0)
>>> improve(inst, plan, seconds=5)["status"]
'OPTIMAL'
>>> [(m["vm"], m["start"]) for r in plan.rounds for m in r], plan.makespan   # d first, c after a
([('b', 0.0), ('c', 10.0), ('a', 6.0), ('d', 0.0), ('e', 10.0)], 18.0)
"""

from __future__ import annotations

import math

import numpy as np
from ortools.sat.python import cp_model

from ...cpsat import solve
from ...order import Migrations
from ...schedule import BANDWIDTH_TOLERANCE, TIME_TOLERANCE, Limits, schedule_violations

TICKS = 100  # model time units per second
MAX_MIGRATIONS = 5_000  # larger plans keep the list schedule
BANDWIDTH_UNITS = 1_000  # integer units per MiB/s in the bandwidth cumulatives
MAX_UNITS = 2**40  # past this many ticks in all, or bandwidth units on a host, the list schedule stays


def improve(inst, plan, seconds: float, seed: int = 0) -> dict:
    """Reschedule the timed ``plan`` in place when CP-SAT finds a shorter valid schedule within
    ``seconds``; returns what happened (``status``, ``list_makespan``, ``makespan``)."""
    listed = [m for r in plan.rounds for m in r]
    report = {"list_makespan": plan.makespan, "makespan": plan.makespan}
    serial = sum(float(m["end"]) - float(m["start"]) for m in listed) * TICKS
    if not listed or len(listed) > MAX_MIGRATIONS or seconds <= 0 or not serial <= MAX_UNITS:
        return {**report, "status": "skipped"}
    model = _ScheduleModel(inst, plan, listed)
    solver, status = solve(model.model, seconds, seed=seed)
    report["status"] = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return report
    starts = [solver.value(s) / TICKS for s in model.starts]
    ends = [t + d for t, d in zip(starts, model.seconds, strict=True)]
    makespan = max(ends)
    if not makespan < plan.makespan * (1 - TIME_TOLERANCE):
        return report
    before = (plan.rounds, plan.makespan)
    number, rounds = 0, []
    for moves in plan.rounds:
        rounds.append([])
        for m in moves:
            rounds[-1].append({**m, "start": starts[number], "end": ends[number]})
            number += 1
    plan.rounds, plan.makespan = rounds, makespan
    problems = schedule_violations(inst, plan)
    if problems:  # never expected: the model's intervals hold the real ones
        plan.rounds, plan.makespan = before
        return {**report, "status": "rejected", "violation": problems[0]}
    return {**report, "makespan": makespan}


class _ScheduleModel:
    """The CP-SAT model of the module docstring for the timed plan's migrations ``listed``."""

    def __init__(self, inst, plan, listed: list[dict]):
        self.inst, self.model = inst, cp_model.CpModel()
        moves = Migrations.of(inst, plan)
        self.limits = Limits(inst, moves)
        self.seconds = [float(m["end"]) - float(m["start"]) for m in listed]
        ticks = [max(1, math.ceil(d * TICKS - 1e-9)) for d in self.seconds]
        horizon = sum(ticks)
        m = self.model
        self.starts = [m.new_int_var(0, horizon - d, f"s{i}") for i, d in enumerate(ticks)]
        self.intervals = [m.new_fixed_size_interval_var(s, d, f"m{i}")
                          for i, (s, d) in enumerate(zip(self.starts, ticks, strict=True))]
        self._order(moves, listed, ticks)
        self._in_flight(moves, [float(x["bandwidth"]) for x in listed])
        makespan = m.new_int_var(0, horizon, "makespan")
        for s, d in zip(self.starts, ticks, strict=True):
            m.add(makespan >= s + d)
        m.minimize(makespan)
        for s, x in zip(self.starts, listed, strict=True):
            m.add_hint(s, min(horizon, round(float(x["start"]) * TICKS)))

    def _order(self, moves: Migrations, listed: list[dict], ticks: list[int]) -> None:
        m, starts = self.model, self.starts
        if any("after" in x for x in listed):
            for i, x in enumerate(listed):
                for p in x.get("after", []):
                    m.add(starts[i] >= starts[p] + ticks[p])
            return
        previous = None
        for t in np.unique(moves.round).tolist():
            members = np.flatnonzero(moves.round == t).tolist()
            if previous is not None:
                barrier = m.new_int_var(0, sum(ticks), f"barrier{t}")
                for p in previous:
                    m.add(barrier >= starts[p] + ticks[p])
                for i in members:
                    m.add(starts[i] >= barrier)
            previous = members

    def _in_flight(self, moves: Migrations, bandwidth: list[float]) -> None:
        """The counts and bandwidths in flight, per host, direction, link, group and cloud-wide."""
        inst, d = self.inst, self.inst.durations
        touching: dict[int, list[int]] = {}
        for i, (s, t) in enumerate(zip(moves.src.tolist(), moves.dst.tolist(), strict=True)):
            touching.setdefault(s, []).append(i)
            touching.setdefault(t, []).append(i)
        for h, users in touching.items():
            self._cap(users, int(inst.host_limit[h]), bandwidth, float(d.host_bandwidth[h]))
        for limit, ends in ((inst.outgoing_limit, moves.src), (inst.incoming_limit, moves.dst)):
            for h in np.unique(ends).tolist():
                self._cap(np.flatnonzero(ends == h).tolist(), int(limit[h]), bandwidth, math.inf)
        crossing: dict[int, list[int]] = {}
        grouped: dict[int, list[int]] = {}
        for i in range(len(moves)):
            for k in self.limits.links[i]:
                crossing.setdefault(k, []).append(i)
            for g in self.limits.groups[i]:
                grouped.setdefault(g, []).append(i)
        for k, users in crossing.items():
            self._cap(users, int(inst.links[k].max_migrations), bandwidth, float(d.link_bandwidth[k]))
        for g, users in grouped.items():
            self._cap(users, int(inst.group_cap[g]), bandwidth, math.inf)
        if inst.total_limit is not None:
            self._cap(list(range(len(moves))), int(inst.total_limit), bandwidth, math.inf)

    def _cap(self, users: list[int], count: int, bandwidth: list[float], capacity: float) -> None:
        """At most ``count`` of ``users`` in flight at once, their bandwidths summing to ``capacity``."""
        m = self.model
        intervals = [self.intervals[i] for i in users]
        if count < len(users):
            m.add_cumulative(intervals, [1] * len(users), max(count, 0))
        widest = sorted((bandwidth[i] for i in users), reverse=True)[:max(count, 1)]
        if capacity * BANDWIDTH_UNITS <= MAX_UNITS and sum(widest) > capacity * (1 + BANDWIDTH_TOLERANCE):
            # the counts alone do not keep the sum within (a hop given its whole bandwidth)
            units = math.floor(capacity * BANDWIDTH_UNITS)
            demands = [min(units, math.ceil(bandwidth[i] * BANDWIDTH_UNITS)) for i in users]
            m.add_cumulative(intervals, demands, units)
