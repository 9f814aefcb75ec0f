"""The estimated schedule of a plan: when each migration starts and ends (SPEC section 7.2-7.4).

Each migration gets a constant bandwidth, chosen as it starts by a *policy*
(:data:`POLICIES`). Let ``best(m)`` be the whole bandwidth of its hop
(:meth:`cpplan.durations.Durations.best_bandwidth`: the least of
``max_bandwidth``, its two hosts' and its crossed links' bandwidths) and
``share(m)`` the least of ``max_bandwidth``, each of its two hosts' bandwidth
divided by the number of migrations that host may run at once (its
``max_migrations``, or the plan's migrations touching it when fewer), and each
crossed link's bandwidth divided likewise by its ``max_migrations`` (or the
migrations crossing it); a live migration that would not converge at that
(``dirty_rate >= 0.8 x share``) has ``share(m) = best(m)`` instead. Then:

- ``share``: ``b(m) = share(m)``, fixed in advance; shares on a host never sum past its bandwidth
  unless a hop needs its whole bandwidth to converge;
- ``free``: what is free on the hop when ``m`` starts at ``t``: ``b(m) = min(best(m), B(x) - F(x, t)``
  for each of its two hosts and crossed links ``x)``, where ``B(x)`` is the bandwidth of ``x`` and
  ``F(x, t)`` the sum of the bandwidths in flight on it at ``t``; a migration alone on its hosts gets
  the whole NIC. When that is less than ``share(m)``, ``m`` waits, as for a limit, until enough ends
  (it never runs below its share, so it converges).

Either way the schedule keeps the sums of bandwidths in flight within every host's and link's
bandwidth, and a migration lasts the duration of SPEC 7.2 at its bandwidth. A fixed share keeps
short migrations side by side (their setups overlap); the free bandwidth ends each migration as
soon as it can, which shortens chains of big migrations that wait for one another. On
``benchmarks/bench_makespan.py``'s 100-host clouds (greedy) dividing what is free among a host's
free slots, or among the migrations ready for it, measured no shorter than the better of these two.

List scheduling, event by event: at time 0 and whenever migrations end, every
*ready* migration (each migration of its ``after`` list has ended; without
``after``, every migration of the earlier rounds: SPEC's barriers) starts, in
the order of a *priority*, when the migrations in flight leave room for it under the
per-host, directional, total, link and group limits (counted in flight, as
SPEC 7.4 and 8 say) and the bandwidths. ``makespan`` is the last end. The
priorities (:data:`PRIORITIES`): plan order; the *critical path* first (the
longest chain of durations through the migrations that wait for it, its own
included: ``tail(m) = duration(m) + max tail`` of those whose ``after`` lists
``m``; with barriers, of the whole next round); the longest migration first.
None changes which migration waits for which, so each schedule respects the
order and the limits; list scheduling has anomalies, so the plan's schedule is
the shortest of them with either policy (:func:`ordered_estimate`; plan order alone on the largest
plans), never longer than by plan order at the shares. A pass tries only the ready migrations that
may start: the newly ready, and those sharing a host, a link or a group (under a total limit: any)
with a migration that ended since their last refusal; the others would be refused again.

:func:`schedule_violations` is SPEC 7.4's last paragraph for a plan that
states ``start``, ``end`` and ``bandwidth``: a migration starts no earlier than
the end of each migration it waits for, the limits and bandwidths hold at
every instant (a migration is in flight from its start to its end, and one
that ends as another starts does not overlap it), ``end - start`` is the
duration of SPEC 7.2 at its ``bandwidth``, within :data:`TIME_TOLERANCE`, no
hop gets more bandwidth than it can, a live one converges at its bandwidth,
and ``makespan`` is the last end.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000}},
...                 vms={"a": {"ram": 5000}, "b": {"ram": 2500}}, initial={"a": "h1", "b": "h1"},
...                 target={"a": "h2", "b": "h3"}, limits={"host": 2})
>>> plan = Plan("feasible", 7500, [[{"vm": "a", "from": "h1", "to": "h2"},
...                                 {"vm": "b", "from": "h1", "to": "h3"}]])
>>> timed = estimate(inst, plan, None)      # h1 runs both at once: 625 MiB/s each
>>> [(m["start"], m["end"], m["bandwidth"]) for m in timed.migrations]
[(0.0, 10.0, 625.0), (0.0, 6.0, 625.0)]
>>> timed.makespan
10.0
>>> timed = estimate(inst, plan, None, policy="free")   # a alone gets h1's NIC, b waits for it
>>> [(m["start"], m["end"], m["bandwidth"]) for m in timed.migrations]
[(0.0, 6.0, 1250.0), (6.0, 10.0, 1250.0)]
"""

from __future__ import annotations

import copy
import heapq
from dataclasses import dataclass

import numpy as np

from .order import WAIT_ORDERS, Migrations, derive_after, pruned

SCHEDULE_KEYS = ("start", "end", "bandwidth")  # a migration's estimate (SPEC 7.3)
# the orders the list schedule tries ready migrations in: the plan's, the longest chain of durations
# still to run through them first (critical path), the longest first
PRIORITIES = ("plan", "critical", "largest")
# the bandwidths a migration gets: its share, fixed; what is free on its hop as it starts
POLICIES = ("share", "free")
# past this many migrations the estimate keeps plan order alone: each priority is a list schedule per
# policy and each wait order a pruning (shuffle-1000, greedy's plan: 27 311 migrations, all of them in
# 38 s on a busy 2-core machine, taking its schedule from 1.32 to 1.23 x the makespan bound)
PRIORITY_MAX_MIGRATIONS = 30_000
TIME_TOLERANCE = 1e-6  # relative, on durations and instants (seconds)
BANDWIDTH_TOLERANCE = 1e-9  # relative, on sums of bandwidths
# past this many migrations the plan keeps its barriers (deriving, pruning and checking the order takes
# about 0.3 ms per migration: 80 560 in 25 s on a busy 2-core machine)
MAX_ORDERED_MIGRATIONS = 400_000


@dataclass(frozen=True)
class Timed:
    """The estimate: per migration ``{"start", "end", "bandwidth"}`` in plan order, and the makespan."""

    migrations: list[dict]
    makespan: float


class Limits:
    """What each migration holds while in flight (hosts, crossed links, groups with a cap), and the
    counts and bandwidths in flight against the instance's limits."""

    def __init__(self, inst, moves: Migrations):
        self.inst, self.moves = inst, moves
        self.links = [_crossed(inst, int(s), int(d)) for s, d in zip(moves.src, moves.dst, strict=True)]
        groups_of: list[list[int]] = [[] for _ in range(inst.n_vms)]
        for g, v in zip(inst.member_group.tolist(), inst.member_vm.tolist(), strict=True):
            if np.isfinite(inst.group_cap[g]):
                groups_of[v].append(g)
        self.groups = [groups_of[v] for v in moves.vm.tolist()]
        self._clear()

    def nothing_in_flight(self) -> Limits:
        """A copy counting nothing in flight (the migrations, links and groups shared)."""
        out = copy.copy(self)
        out._clear()
        return out

    def _clear(self) -> None:
        inst = self.inst
        self.host_count = np.zeros(inst.n_hosts, dtype=np.int64)
        self.sending = np.zeros(inst.n_hosts, dtype=np.int64)  # in flight from each host (SPEC 8)
        self.receiving = np.zeros(inst.n_hosts, dtype=np.int64)  # ... and to it
        self.host_bandwidth = np.zeros(inst.n_hosts)
        self.link_count = np.zeros(len(inst.links), dtype=np.int64)
        self.link_bandwidth = np.zeros(len(inst.links))
        self.group_count = np.zeros(len(inst.groups), dtype=np.int64)
        self.total = 0

    def refusal(self, i: int, bandwidth: float) -> str | None:
        """Why migration ``i`` at ``bandwidth`` cannot start now (None: it can)."""
        inst, d = self.inst, self.inst.durations
        if inst.total_limit is not None and self.total + 1 > inst.total_limit:
            return f"{self.total + 1} migrations in flight, total limit {inst.total_limit}"
        s, t = int(self.moves.src[i]), int(self.moves.dst[i])
        if self.sending[s] + 1 > inst.outgoing_limit[s]:
            return (f"host {inst.host_names[s]} would send {self.sending[s] + 1} migrations at once, "
                    f"outgoing limit {inst.outgoing_limit[s]}")
        if self.receiving[t] + 1 > inst.incoming_limit[t]:
            return (f"host {inst.host_names[t]} would receive {self.receiving[t] + 1} migrations at once, "
                    f"incoming limit {inst.incoming_limit[t]}")
        for h in (int(self.moves.src[i]), int(self.moves.dst[i])):
            if self.host_count[h] + 1 > inst.host_limit[h]:
                return (f"host {inst.host_names[h]} would run {self.host_count[h] + 1} migrations, "
                        f"limit {inst.host_limit[h]}")
            if not _within(self.host_bandwidth[h] + bandwidth, d.host_bandwidth[h]):
                return (f"host {inst.host_names[h]} would carry {self.host_bandwidth[h] + bandwidth:g} "
                        f"MiB/s, bandwidth {d.host_bandwidth[h]:g}")
        for k in self.links[i]:
            link = inst.links[k]
            if self.link_count[k] + 1 > link.max_migrations:
                return (f"link {link.name} would be crossed by {self.link_count[k] + 1} migrations, "
                        f"limit {link.max_migrations}")
            if not _within(self.link_bandwidth[k] + bandwidth, d.link_bandwidth[k]):
                return f"link {link.name} would carry {self.link_bandwidth[k] + bandwidth:g} MiB/s"
        for g in self.groups[i]:
            if self.group_count[g] + 1 > inst.group_cap[g]:
                return (f"group {inst.groups[g].name} would have {self.group_count[g] + 1} members "
                        f"migrating, limit {inst.groups[g].max_migrating}")
        return None

    def busy(self, i: int) -> bool:
        """Whether a host of migration ``i`` already runs as many migrations as it may (a quick first
        test: then :meth:`refusal` refuses it)."""
        count, limit = self.host_count, self.inst.host_limit
        s, t = self.moves.src[i], self.moves.dst[i]
        return bool(count[s] >= limit[s] or count[t] >= limit[t])

    def hold(self, i: int, bandwidth: float, sign: int = 1) -> None:
        """Count migration ``i`` in flight (``sign`` -1: it ended)."""
        self.sending[self.moves.src[i]] += sign
        self.receiving[self.moves.dst[i]] += sign
        for h in (int(self.moves.src[i]), int(self.moves.dst[i])):
            self.host_count[h] += sign
            self.host_bandwidth[h] += sign * bandwidth
        for k in self.links[i]:
            self.link_count[k] += sign
            self.link_bandwidth[k] += sign * bandwidth
        for g in self.groups[i]:
            self.group_count[g] += sign
        self.total += sign


def _within(load: float, capacity: float) -> bool:
    return load <= capacity * (1 + BANDWIDTH_TOLERANCE)


def _crossed(inst, s: int, d: int) -> list[int]:
    return [k for k, link in enumerate(inst.links) if (s in link.hosts) != (d in link.hosts)]


def shares(inst, moves: Migrations, limits: Limits) -> np.ndarray:
    """Each migration's bandwidth, as the module docstring says."""
    d = inst.durations
    touches = np.bincount(moves.src, minlength=inst.n_hosts) + np.bincount(moves.dst, minlength=inst.n_hosts)
    at_once = np.maximum(np.minimum(inst.host_limit, touches), 1)
    per_host = d.host_bandwidth / at_once
    crossing = np.zeros(len(inst.links), dtype=np.int64)
    for links in limits.links:
        crossing[links] += 1
    per_link = d.link_bandwidth / np.maximum(
        np.minimum([link.max_migrations for link in inst.links], crossing), 1) if inst.links else np.zeros(0)
    out = np.minimum(np.minimum(d.max_bandwidth, per_host[moves.src]), per_host[moves.dst])
    for i, links in enumerate(limits.links):
        share = float(min([out[i], *per_link[links].tolist()]))
        v = int(moves.vm[i])
        if not moves.offline[i] and not d.converges(v, share):
            share = d.best_bandwidth(int(moves.src[i]), int(moves.dst[i]), links)
        out[i] = share
    return out


def estimate(inst, plan, after: list[list[int]] | None, priority: str = "plan",
             policy: str = "share") -> Timed:
    """List-schedule the migrations of the valid round ``plan`` with the ``after`` order (None: barriers),
    trying the ready migrations in the order of ``priority`` (one of :data:`PRIORITIES`), each given
    its bandwidth by ``policy`` (one of :data:`POLICIES`) as it starts."""
    moves = Migrations.of(inst, plan)
    limits = Limits(inst, moves)
    bandwidths = Bandwidths(inst, moves, limits, policy)
    release = Release(moves, after)
    start, end, bandwidth = [0.0] * len(moves), [0.0] * len(moves), [0.0] * len(moves)
    waiting = Waiting(inst, moves, limits, ranked(moves, after, bandwidths.nominal_durations(), priority))
    waiting.add(release.first())
    flying, now = [], 0.0
    while waiting or flying:
        for i in waiting.to_try():
            b = bandwidths.at_start(i)
            if limits.refusal(i, b) is None:
                limits.hold(i, b)
                waiting.remove(i)
                bandwidth[i], start[i], end[i] = b, now, now + bandwidths.duration(i, b)
                heapq.heappush(flying, (end[i], i))
        if not flying:
            raise RuntimeError(f"migrations {waiting.first(3)} can never start: the round plan is not valid")
        now = flying[0][0]
        while flying and flying[0][0] <= now:
            _, i = heapq.heappop(flying)
            limits.hold(i, bandwidth[i], -1)
            waiting.freed(i)
            waiting.add(release.ended(i))
    timed = [{"start": start[i], "end": end[i], "bandwidth": bandwidth[i]} for i in range(len(moves))]
    return Timed(timed, max(end, default=0.0))


class Bandwidths:
    """The bandwidth each migration gets as it starts, by a policy of :data:`POLICIES` (module docstring)."""

    def __init__(self, inst, moves: Migrations, limits: Limits, policy: str):
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r} (choose from {', '.join(POLICIES)})")
        self.d, self.limits, self.free = inst.durations, limits, policy == "free"
        self.vm, self.offline = moves.vm.tolist(), moves.offline.tolist()
        self.src, self.dst = moves.src.tolist(), moves.dst.tolist()
        self.share = [float(b) for b in shares(inst, moves, limits)]
        self.best = [self.d.best_bandwidth(s, t, links) for s, t, links
                     in zip(self.src, self.dst, limits.links, strict=True)] if self.free else self.share

    def nominal_durations(self) -> list[float]:
        """Each migration's duration at its share (``free``: at its hop's best bandwidth), for priorities."""
        return [self.duration(i, b) for i, b in enumerate(self.best)]

    def duration(self, i: int, bandwidth: float) -> float:
        return self.d.duration(self.vm[i], bandwidth, offline=self.offline[i])

    def at_start(self, i: int) -> float:
        """Migration ``i``'s bandwidth if it starts now: its share, or (``free``) what its hop has free,
        at least its share (when less is free, the bandwidth check refuses it: it waits)."""
        if not self.free:
            return self.share[i]
        d, lim = self.d, self.limits
        s, t = self.src[i], self.dst[i]
        free = min(self.best[i], d.host_bandwidth[s] - lim.host_bandwidth[s],
                   d.host_bandwidth[t] - lim.host_bandwidth[t])
        for k in lim.links[i]:
            free = min(free, d.link_bandwidth[k] - lim.link_bandwidth[k])
        return max(self.share[i], float(free))


class Waiting:
    """The ready migrations that have not started, and those of them worth trying now: the newly
    ready, and those sharing a host, a link or a group with a migration that ended since they were
    refused (every one under a total limit). The others would be refused again: the loads they
    were refused for have only grown, and a refusal only grows with the loads."""

    def __init__(self, inst, moves: Migrations, limits: Limits, by_rank: np.ndarray):
        self.rank = np.empty(len(moves), dtype=np.int64)
        self.rank[by_rank] = np.arange(len(moves))
        self.rank = self.rank.tolist()
        self.src, self.dst = moves.src.tolist(), moves.dst.tolist()
        self.links, self.groups = limits.links, limits.groups
        self.wake_all = inst.total_limit is not None
        self.on_host: list[set[int]] = [set() for _ in range(inst.n_hosts)]
        self.on_link: list[set[int]] = [set() for _ in inst.links]
        self.on_group: list[set[int]] = [set() for _ in inst.groups]
        self.waiting: set[int] = set()
        self.woken: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def _sets(self, i: int) -> list[set[int]]:
        return [self.on_host[self.src[i]], self.on_host[self.dst[i]],
                *(self.on_link[k] for k in self.links[i]), *(self.on_group[g] for g in self.groups[i])]

    def add(self, ready: list[int]) -> None:
        for i in ready:
            self.waiting.add(i)
            self.woken.add(i)
            for held in self._sets(i):
                held.add(i)

    def remove(self, i: int) -> None:
        self.waiting.discard(i)
        for held in self._sets(i):
            held.discard(i)

    def freed(self, i: int) -> None:
        """Migration ``i`` ended: wake those that wait for what it held."""
        if self.wake_all:
            self.woken = set(self.waiting)
            return
        for held in self._sets(i):
            self.woken |= held

    def to_try(self) -> list[int]:
        """The woken migrations by rank (the pass that tries them starts afresh)."""
        woken, self.woken = sorted(self.woken, key=self.rank.__getitem__), set()
        return woken

    def first(self, n: int) -> list[int]:
        return sorted(self.waiting, key=self.rank.__getitem__)[:n]


def ranked(moves: Migrations, after: list[list[int]] | None, duration: list[float],
            priority: str) -> np.ndarray:
    """The migrations in the order ``priority`` tries them (ties in plan order)."""
    if priority == "plan":
        return np.arange(len(moves))
    if priority == "largest":
        return np.argsort(-np.array(duration), kind="stable")
    if priority != "critical":
        raise ValueError(f"unknown priority {priority!r} (choose from {', '.join(PRIORITIES)})")
    return np.argsort(-_tails(moves, after, duration), kind="stable")


def _tails(moves: Migrations, after: list[list[int]] | None, duration: list[float]) -> np.ndarray:
    """Each migration's duration plus the longest chain of durations that waits for it."""
    tail = np.array(duration, dtype=float)
    if after is None:  # barriers: every migration of a round waits for the whole previous round
        later = 0.0
        for t in np.unique(moves.round)[::-1]:
            members = moves.round == t
            tail[members] += later
            later = float(tail[members].max())
        return tail
    for i in range(len(after) - 1, -1, -1):  # every migration waits only for lower numbers
        for p in after[i]:
            tail[p] = max(tail[p], duration[p] + tail[i])
    return tail


class Release:
    """Which migrations become ready as others end: by ``after``, or round by round (barriers)."""

    def __init__(self, moves: Migrations, after: list[list[int]] | None):
        self.after = after
        if after is None:
            self.rounds = [np.flatnonzero(moves.round == t).tolist() for t in np.unique(moves.round)]
            self.left, self.current = [len(r) for r in self.rounds], 0
            return
        self.pending = [len(set(a)) for a in after]
        self.children: list[list[int]] = [[] for _ in after]
        for i, preds in enumerate(after):
            for p in set(preds):
                self.children[p].append(i)

    def first(self) -> list[int]:
        if self.after is None:
            return list(self.rounds[0]) if self.rounds else []
        return [i for i, n in enumerate(self.pending) if n == 0]

    def ended(self, i: int) -> list[int]:
        if self.after is None:
            self.left[self.current] -= 1
            if self.left[self.current] or self.current + 1 == len(self.rounds):
                return []
            self.current += 1
            return list(self.rounds[self.current])
        out = []
        for j in self.children[i]:
            self.pending[j] -= 1
            if self.pending[j] == 0:
                out.append(j)
        return out


def schedule_violations(inst, plan) -> list[str]:
    """SPEC 7.4's last paragraph for a valid round ``plan`` whose migrations state ``start``, ``end``
    and ``bandwidth`` (each must, once one does)."""
    moves = Migrations.of(inst, plan)
    listed = [m for r in plan.rounds for m in r]
    out = []
    for i, m in enumerate(listed):
        bad = [k for k in SCHEDULE_KEYS if not _time(m.get(k))]
        if bad:
            out.append(f"schedule: {moves.describe(inst, i)} has no valid {', '.join(bad)}")
    if out:
        return out
    start = [float(m["start"]) for m in listed]
    end = [float(m["end"]) for m in listed]
    bandwidth = [float(m["bandwidth"]) for m in listed]
    limits = Limits(inst, moves)
    out += _durations(inst, moves, limits, start, end, bandwidth)
    out += _waits(inst, moves, listed, start, end)
    out += _in_flight(inst, moves, limits, start, end, bandwidth)
    makespan = getattr(plan, "makespan", None)
    if makespan is not None and not _close(makespan, max(end, default=0.0)):
        out.append(f"schedule: the plan states makespan {makespan:g}, its last migration ends at "
                   f"{max(end, default=0.0):g}")
    return out


def _time(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) and x >= 0


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TIME_TOLERANCE * max(1.0, abs(a), abs(b))


def _durations(inst, moves, limits, start, end, bandwidth) -> list[str]:
    d, out = inst.durations, []
    for i in range(len(moves)):
        v, s, t = int(moves.vm[i]), int(moves.src[i]), int(moves.dst[i])
        best = d.best_bandwidth(s, t, limits.links[i])
        if not bandwidth[i] > 0 or not _within(bandwidth[i], best):
            out.append(f"schedule: {moves.describe(inst, i)} has bandwidth {bandwidth[i]:g} MiB/s, "
                       f"its hop gets at most {best:g}")
            continue
        if not moves.offline[i] and not d.converges(v, bandwidth[i]):
            out.append(f"schedule: {moves.describe(inst, i)} does not converge live at {bandwidth[i]:g} "
                       f"MiB/s: dirty_rate {d.dirty_rate[v]:g} (host {inst.host_names[t]})")
            continue
        want = d.duration(v, bandwidth[i], offline=bool(moves.offline[i]))
        if not _close(end[i] - start[i], want):
            out.append(f"schedule: {moves.describe(inst, i)} lasts {end[i] - start[i]:g} s, its duration "
                       f"at {bandwidth[i]:g} MiB/s is {want:g} s")
    return out


def _waits(inst, moves, listed, start, end) -> list[str]:
    """Each migration starts after those it waits for end (without ``after``: every earlier round)."""
    ordered = any("after" in m for m in listed)
    out, last_end, round_end, current = [], 0.0, 0.0, -1
    for i, m in enumerate(listed):
        if moves.round[i] != current:
            current, last_end = int(moves.round[i]), max(last_end, round_end)
        round_end = max(round_end, end[i])
        preds = m.get("after", []) if ordered else []
        late = [p for p in preds if start[i] < end[p] - TIME_TOLERANCE * max(1.0, end[p])]
        if not ordered and start[i] < last_end - TIME_TOLERANCE * max(1.0, last_end):
            out.append(f"schedule: {moves.describe(inst, i)} starts at {start[i]:g} s, before its "
                       f"earlier rounds end ({last_end:g} s)")
        for p in late[:1]:
            out.append(f"schedule: {moves.describe(inst, i)} starts at {start[i]:g} s, before "
                       f"{moves.describe(inst, p)} ends ({end[p]:g} s)")
    return out


def _in_flight(inst, moves, limits: Limits, start, end, bandwidth) -> list[str]:
    """Sweep the starts and ends in time order (an end first when it is as late as a start)."""
    events = sorted([(end[i] - TIME_TOLERANCE * max(1.0, end[i]), 0, i) for i in range(len(moves))]
                    + [(start[i], 1, i) for i in range(len(moves))])
    out = []
    for _, starting, i in events:
        if not starting:
            limits.hold(i, bandwidth[i], -1)
            continue
        refusal = limits.refusal(i, bandwidth[i])
        if refusal is not None:
            out.append(f"schedule: when {moves.describe(inst, i)} starts at {start[i]:g} s, {refusal}")
        limits.hold(i, bandwidth[i])
    return out


def ordered_estimate(inst, plan, *, cheap: bool = False) -> tuple[list[list[int]] | None, Timed]:
    """The ``after`` order of the valid round ``plan``'s rounds (as
    :func:`cpplan.objective.add_schedule` gives it by them), and its estimate: the shortest of the
    list schedules by the orders pruned with each of :data:`cpplan.order.WAIT_ORDERS` and the
    unpruned order, each with every priority of :data:`PRIORITIES` and every policy of
    :data:`POLICIES` (past :data:`PRIORITY_MAX_MIGRATIONS` migrations: the order pruned largest VM
    first, by plan order, each policy; ties: the shares, then the plan's priority, then the order
    pruned largest VM first; with ``cheap``, so at any size). The plan states the pruned order its
    schedule respects."""
    full = derive_after(inst, plan, prune=False) if plan.n_migrations <= MAX_ORDERED_MIGRATIONS else None
    small = plan.n_migrations <= PRIORITY_MAX_MIGRATIONS and not cheap
    # (order to schedule by, order the plan then states): the fuller order's schedule respects the
    # lean one too (it waits for more); list scheduling has anomalies, waiting for less can end later
    orders = [(full, full)]
    if full is not None:
        leans = [pruned(inst, plan, full, waits) for waits in (WAIT_ORDERS if small else WAIT_ORDERS[:1])]
        orders = [(lean, lean) for k, lean in enumerate(leans) if lean not in leans[:k]]
        orders += [(full, leans[0])] if full not in leans else []
    timed, after = None, orders[0][1]
    priorities = PRIORITIES if small else PRIORITIES[:1]
    for policy in POLICIES:
        for priority in priorities:
            for order, stated in orders if small else orders[:1]:
                candidate = estimate(inst, plan, order, priority, policy)
                if timed is None or candidate.makespan < timed.makespan:
                    timed, after = candidate, stated
    return after, timed


def scheduled(plan, after: list[list[int]] | None, timed: Timed, *, in_place: bool = False):
    """``plan`` (a copy, or itself with ``in_place``) whose migrations carry ``after`` (None: no
    ``after`` key, the barriers) and the estimate ``timed``, and whose ``makespan`` is the estimate's."""
    number, rounds = 0, []
    for moves in plan.rounds:
        rounds.append([])
        for m in moves:
            order = {"after": after[number]} if after is not None else {}
            rounds[-1].append({**m, **order, **timed.migrations[number]})
            number += 1
    out = plan if in_place else copy.copy(plan)
    out.rounds, out.makespan = rounds, timed.makespan
    return out


def start_ranks(plan) -> list[int]:
    """Each migration's rank among those ready at once, for whatever runs the plan by its order (the
    OpenStack executor, :mod:`cpplan.simulate`): by its estimated ``start`` (a migration without a
    valid one at 0), ties in plan order, so that what runs follows the schedule the plan states.

    >>> from cpplan.plan import Plan
    >>> start_ranks(Plan("feasible", 3, [[{"start": 5.0}, {"start": 0.0}], [{"start": 2.5}]]))
    [2, 0, 1]
    """
    starts = [float(m["start"]) if _time(m.get("start")) else 0.0 for r in plan.rounds for m in r]
    by_start = sorted(range(len(starts)), key=lambda i: (starts[i], i))
    rank = [0] * len(starts)
    for position, i in enumerate(by_start):
        rank[i] = position
    return rank


def stuck_hop(inst, plan) -> str | None:
    """Why ``plan`` cannot be run: its first live migration that does not converge even at the whole
    bandwidth of its hop (a bounce through a slow host, say), in words naming the VM; None when
    every live migration can converge."""
    d = inst.durations
    if not plan.found or not d.dirty_rate.any():
        return None
    moves = Migrations.of(inst, plan)
    for i in np.flatnonzero(~moves.offline & (d.dirty_rate[moves.vm] > 0)).tolist():
        s, t = int(moves.src[i]), int(moves.dst[i])
        best = d.best_bandwidth(s, t, _crossed(inst, s, t))
        if not d.converges(int(moves.vm[i]), best):
            v = int(moves.vm[i])
            return (f"the plan found moves VM {inst.vm_names[v]} live from {inst.host_names[s]} to "
                    f"{inst.host_names[t]}, where it cannot converge (dirty_rate {d.dirty_rate[v]:g} MiB/s "
                    f">= 0.8 x {best:g} MiB/s, the most that hop gets), and no plan without such a move "
                    f"was searched")
    return None
