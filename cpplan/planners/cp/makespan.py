"""cp's makespan objective: CP-SAT schedules a plan's migrations in time, moves and order fixed.

The plan's moves are fixed (its cost and rounds do not change) and so is its ``after`` order (SPEC
7.3), which is safe for *every* execution that starts a migration only once those it waits for have
ended, however long each lasts (SPEC 7.4: capacity with a live migration on both ends, source until
it ends and destination from its start; anti-affinity; each VM's hops in sequence). So any timing
that respects the order and the concurrency limits is safe, and the best one is a scheduling
problem, and so is each migration's bandwidth (SPEC 7.2 lets it be any constant within its hop's
and the sums in flight). Migration ``m`` runs at one of its *levels* ``l``, of bandwidth ``b_ml``:
the bandwidth the list schedule gave it (:mod:`cpplan.schedule`), its share and its hop's whole
bandwidth (:func:`bandwidth_levels`; the distinct ones at which it converges, live). In ticks of
``1 / TICKS`` s, level ``l`` lasts ``d_ml = ceil(TICKS x duration_m(b_ml))`` (SPEC 7.2's duration);
``m`` has a start ``s_m``, an end ``e_m``, one literal ``x_ml`` per level with exactly one true, and
per level an optional interval ``[s_m, e_m)`` of size ``d_ml``, present when ``x_ml``. Then:

- order: ``s_m >= e_p`` for each ``p`` in ``after[m]`` (without ``after``, SPEC's barriers:
  every migration of a round after every migration of the previous round);
- in flight: cumulatives of 1 per interval (one present per migration), at most ``max_migrations``
  on each host (both ends), ``max_outgoing`` leaving and ``max_incoming`` reaching it,
  ``limits.total`` in the cloud, ``max_migrations`` across each link it crosses, ``max_migrating``
  per group;
- bandwidth: cumulatives of ``b_ml`` per interval on each host and crossed link, where the counts
  alone do not already keep the sum within the bandwidth (its ``max_migrations`` widest levels fit);
- minimise the makespan ``max(e_m)`` within a time limit.

Two solves share the time: first every migration at its share alone (at most :data:`FIXED_SHARE`
of it), then at every level, hinted with the shorter of the list schedule and the first solve's.
The list schedule's hint maps its instants to ticks in time order (:func:`_list_ticks`), so it is
feasible. (On ``benchmarks/bench_makespan.py``'s evacuate-100, greedy's plan, 6 s: from its list
schedule's 453.6 s, every level at once found 449.8 s; the shares first, then every level, 430.8 s.)

The estimate is then ``start_m = s_m / TICKS``, ``bandwidth_m = b_ml`` of the level chosen and
``end_m = start_m + duration_m(b_ml)``: since ``d_ml`` rounds up, ``end_p <= start_m`` along the
order and every real interval lies inside its model interval, so the limits and bandwidths hold at
every instant. :func:`improve` keeps it only when it is shorter than the plan's list schedule and
:func:`cpplan.schedule.schedule_violations` finds nothing.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> from cpplan.objective import add_schedule
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
>>> add_schedule(inst, plan, "rounds")   # a and e wait for b's room on h1; c holds h0 from the start
>>> [(m["vm"], m["after"], m["start"]) for r in plan.rounds for m in r], plan.makespan
([('b', [], 0.0), ('c', [], 0.0), ('a', [0], 6.0), ('d', [], 10.0), ('e', [0], 14.0)], 22.0)
>>> improve(inst, plan, seconds=5)["status"]
'OPTIMAL'
>>> plan.makespan     # of its optimal schedules (c before a, or after it) CP-SAT returns one
18.0

Choosing bandwidths: h1 may run two migrations at once. At the shares (500 MiB/s each) ``big``
takes 18.4 s beside the small VMs; with the free bandwidth all four run one after the other
(19.3 s). CP-SAT sends ``big`` and one small VM alone at the whole NIC, then two side by side:

>>> vms = {"big": {"ram": 8}, "s1": {"ram": 1}, "s2": {"ram": 1}, "s3": {"ram": 1}}
>>> inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}}, vms=vms,
...                 initial={v: "h1" for v in vms}, target={v: "h2" for v in vms}, limits={"host": 2},
...                 migration={"ram_unit": "GiB", "bandwidth": 1000, "setup": 2})
>>> plan = Plan("feasible", 11, [[hop("big", "h1", "h2"), hop("s1", "h1", "h2")],
...                              [hop("s2", "h1", "h2"), hop("s3", "h1", "h2")]])
>>> add_schedule(inst, plan)
>>> round(plan.makespan, 2), [m["bandwidth"] for r in plan.rounds for m in r]
(18.38, [500.0, 500.0, 500.0, 500.0])
>>> improve(inst, plan, seconds=5)["rebandwidthed"]
2
>>> round(plan.makespan, 1), sorted(m["bandwidth"] for r in plan.rounds for m in r)   # ticks round up
(17.3, [500.0, 500.0, 1000.0, 1000.0])
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.sat.python import cp_model

from ...cpsat import solve
from ...order import Migrations
from ...schedule import BANDWIDTH_TOLERANCE, TIME_TOLERANCE, Limits, schedule_violations, shares

TICKS = 100  # model time units per second
MAX_MIGRATIONS = 5_000  # larger plans keep the list schedule
FIXED_SHARE = 0.5  # of the time, at most, for the first solve (each migration at its share)
BANDWIDTH_UNITS = 1_000  # integer units per MiB/s in the bandwidth cumulatives
MAX_UNITS = 2**40  # past this many ticks in all, or bandwidth units on a host, the list schedule stays


def improve(inst, plan, seconds: float, seed: int = 0) -> dict:
    """Reschedule the timed ``plan`` in place when CP-SAT finds a shorter valid schedule within
    ``seconds``; returns what happened (``status``, ``list_makespan``, ``makespan``, and when it is
    kept ``rebandwidthed``: how many migrations got another bandwidth than the list schedule's)."""
    listed = [m for r in plan.rounds for m in r]
    report = {"list_makespan": plan.makespan, "makespan": plan.makespan}
    if not listed or len(listed) > MAX_MIGRATIONS or seconds <= 0:
        return {**report, "status": "skipped"}
    moves = Migrations.of(inst, plan)
    limits = Limits(inst, moves)
    levels = bandwidth_levels(inst, moves, limits, listed)
    if not sum(max(s for _, s in choices) for choices in levels) * TICKS <= MAX_UNITS:
        return {**report, "status": "skipped"}
    found, report["status"] = _search(inst, moves, limits, listed, levels, seconds, seed)
    starts = [t / TICKS for t in found[0]]
    chosen = [choices[k] for choices, k in zip(levels, found[1], strict=True)]
    ends = [t + d for t, (_, d) in zip(starts, chosen, strict=True)]
    makespan = max(ends)
    if not makespan < plan.makespan * (1 - TIME_TOLERANCE):
        return report
    before = (plan.rounds, plan.makespan)
    number, rounds = 0, []
    for moves in plan.rounds:
        rounds.append([])
        for m in moves:
            b = chosen[number][0]
            rounds[-1].append({**m, "start": starts[number], "end": ends[number], "bandwidth": b})
            number += 1
    plan.rounds, plan.makespan = rounds, makespan
    problems = schedule_violations(inst, plan)
    if problems:  # never expected: the model's intervals hold the real ones
        plan.rounds, plan.makespan = before
        return {**report, "status": "rejected", "violation": problems[0]}
    changed = sum(b != float(m["bandwidth"]) for (b, _), m in zip(chosen, listed, strict=True))
    return {**report, "makespan": makespan, "rebandwidthed": changed}


def _search(inst, moves, limits, listed, levels, seconds: float, seed: int):
    """The two solves of the module docstring: the shortest schedule found (the list schedule when none
    is shorter) as each migration's start in ticks and the index of its level; the status to report."""
    deadline = time.perf_counter() + seconds
    at_share = [[min(range(len(choices)), key=lambda k, c=choices, b=b: abs(c[k][0] - b))]
                for choices, b in zip(levels, shares(inst, moves, limits).tolist(), strict=True)]
    phases = [at_share]
    if any(len(choices) > 1 for choices in levels):
        phases.append([list(range(len(choices))) for choices in levels])
    found = (_list_ticks(listed), [0] * len(listed))
    solved, status = False, "UNKNOWN"
    for number, phase in enumerate(phases):
        left = deadline - time.perf_counter()
        sub = [[choices[k] for k in ks] for choices, ks in zip(levels, phase, strict=True)]
        local = [ks.index(k) if k in ks else 0 for ks, k in zip(phase, found[1], strict=True)]
        model = _ScheduleModel(inst, moves, limits, listed, sub, (found[0], local))
        solver, code = solve(model.model, left * FIXED_SHARE if number + 1 < len(phases) else left, seed=seed)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            picked = [ks[next(k for k, lit in enumerate(lits) if solver.boolean_value(lit))]
                      for ks, lits in zip(phase, model.chosen, strict=True)]
            candidate = ([solver.value(s) for s in model.starts], picked)
            if _span(candidate, levels) < _span(found, levels):
                found = candidate
            solved, status = True, solver.status_name(code) if number + 1 == len(phases) else "FEASIBLE"
        elif not solved:
            status = solver.status_name(code)
    return found, status


def _span(found, levels) -> float:
    """The makespan in seconds of a schedule ``(start ticks, level indices)``."""
    return max(t / TICKS + choices[k][1] for t, k, choices in zip(*found, levels, strict=True))


def _list_ticks(listed: list[dict]) -> list[int]:
    """The list schedule's starts in ticks, a feasible hint: each instant maps to a tick, in time
    order, at least as many ticks after the one before as the seconds between them and, at an end, at
    least its migration's start tick plus its duration rounded up. The map keeps the order of every
    two instants, so the migrations in flight at any tick were in flight together at some instant."""
    starts = [float(x["start"]) for x in listed]
    ends = [float(x["end"]) for x in listed]
    ending: dict[float, list[int]] = {}
    for i, e in enumerate(ends):
        ending.setdefault(e, []).append(i)
    tick: dict[float, int] = {}
    last, last_tick = 0.0, 0
    for instant in sorted({*starts, *ends}):
        last_tick += math.ceil((instant - last) * TICKS - 1e-9)
        for i in ending.get(instant, []):
            last_tick = max(last_tick, tick[starts[i]] + _ticks(ends[i] - starts[i]))
        tick[instant], last = last_tick, instant
    return [tick[t] for t in starts]


def _ticks(seconds: float) -> int:
    return max(1, math.ceil(seconds * TICKS - 1e-9))


def bandwidth_levels(inst, moves: Migrations, limits: Limits, listed: list[dict]) -> list[list[tuple]]:
    """Per migration, the ``(bandwidth, seconds)`` it may run at, the list schedule's first (module
    docstring): that bandwidth, its share and its hop's whole bandwidth, each where it converges."""
    d = inst.durations
    share = shares(inst, moves, limits)
    out = []
    for i, m in enumerate(listed):
        v, offline = int(moves.vm[i]), bool(moves.offline[i])
        listed_bandwidth = float(m["bandwidth"])
        best = d.best_bandwidth(int(moves.src[i]), int(moves.dst[i]), limits.links[i])
        choices = [(listed_bandwidth, float(m["end"]) - float(m["start"]))]
        for b in (float(share[i]), best):
            if (all(abs(b - c) > BANDWIDTH_TOLERANCE * b for c, _ in choices) and b <= best
                    and (offline or d.converges(v, b))):
                choices.append((b, d.duration(v, b, offline=offline)))
        out.append(choices)
    return out


class _ScheduleModel:
    """The CP-SAT model of the module docstring for the timed plan's migrations ``listed``, each at
    one of its ``levels`` (:func:`bandwidth_levels`), from the ``hint`` (start ticks, level indices)."""

    def __init__(self, inst, moves: Migrations, limits: Limits, listed: list[dict],
                 levels: list[list[tuple]], hint: tuple[list[int], list[int]]):
        self.inst, self.model, self.limits = inst, cp_model.CpModel(), limits
        ticks = [[_ticks(s) for _, s in choices] for choices in levels]
        self.horizon = horizon = sum(max(t) for t in ticks)
        m = self.model
        self.starts = [m.new_int_var(0, horizon - min(t), f"s{i}") for i, t in enumerate(ticks)]
        self.ends = [m.new_int_var(min(t), horizon, f"e{i}") for i, t in enumerate(ticks)]
        self.chosen = [[m.new_bool_var(f"b{i}_{k}") for k in range(len(t))] for i, t in enumerate(ticks)]
        self.intervals = [[m.new_optional_interval_var(s, d, e, lit, f"m{i}_{k}")
                           for k, (d, lit) in enumerate(zip(t, lits, strict=True))]
                          for i, (s, e, t, lits) in enumerate(zip(self.starts, self.ends, ticks, self.chosen,
                                                                  strict=True))]
        for lits in self.chosen:
            m.add_exactly_one(lits)
        self._order(moves, listed)
        self._in_flight(moves, [[b for b, _ in choices] for choices in levels])
        makespan = m.new_int_var(0, horizon, "makespan")
        m.add_max_equality(makespan, self.ends)
        m.minimize(makespan)
        self._hint(ticks, *hint)

    def _hint(self, ticks: list[list[int]], starts: list[int], chosen: list[int]) -> None:
        """Hint each migration's start tick and level (an index into its levels)."""
        m = self.model
        for i, (start, level) in enumerate(zip(starts, chosen, strict=True)):
            start = min(self.horizon - ticks[i][level], start)
            m.add_hint(self.starts[i], start)
            m.add_hint(self.ends[i], start + ticks[i][level])
            for k, lit in enumerate(self.chosen[i]):
                m.add_hint(lit, k == level)

    def _order(self, moves: Migrations, listed: list[dict]) -> None:
        m, starts, ends = self.model, self.starts, self.ends
        if any("after" in x for x in listed):
            for i, x in enumerate(listed):
                for p in x.get("after", []):
                    m.add(starts[i] >= ends[p])
            return
        previous = None
        for t in np.unique(moves.round).tolist():
            members = np.flatnonzero(moves.round == t).tolist()
            if previous is not None:
                barrier = m.new_int_var(0, self.horizon, f"barrier{t}")
                for p in previous:
                    m.add(barrier >= ends[p])
                for i in members:
                    m.add(starts[i] >= barrier)
            previous = members

    def _in_flight(self, moves: Migrations, bandwidth: list[list[float]]) -> None:
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

    def _cap(self, users: list[int], count: int, bandwidth: list[list[float]], capacity: float) -> None:
        """At most ``count`` of ``users`` in flight at once, their chosen bandwidths summing to at most
        ``capacity`` (``bandwidth``: per migration, its levels' MiB/s; one interval per level)."""
        m = self.model
        intervals = [x for i in users for x in self.intervals[i]]
        if count < len(users):
            m.add_cumulative(intervals, [1] * len(intervals), max(count, 0))
        widest = sorted((max(bandwidth[i]) for i in users), reverse=True)[:max(count, 1)]
        if capacity * BANDWIDTH_UNITS <= MAX_UNITS and sum(widest) > capacity * (1 + BANDWIDTH_TOLERANCE):
            # the counts alone do not keep the sum within (a hop given its whole bandwidth)
            units = math.floor(capacity * BANDWIDTH_UNITS)
            demands = [min(units, math.ceil(b * BANDWIDTH_UNITS)) for i in users for b in bandwidth[i]]
            m.add_cumulative(intervals, demands, units)
