"""Replaying a plan event by event with the duration model, to see that its order stays safe.

What runs. Migrations are numbered as in SPEC 7.3. Migration ``i`` of VM ``v``
is *ready* once every migration of its ``after`` list has ended (a plan
without ``after``: every migration of the previous non-empty round, SPEC's
barriers). At every event the ready migrations start, in the order of their
estimated ``start`` (:func:`cpplan.schedule.start_ranks`), while the
migrations in flight leave room for them under the per-host (both ends, and the
directional ``max_outgoing`` / ``max_incoming`` of SPEC 8), total, link and
group limits (:class:`cpplan.schedule.Limits`, counting migrations in flight).
A migration first spends ``f_i x setup`` seconds setting up, using no
bandwidth, then copies ``D_i = f_i x ram_MiB(v)``; ``f_i`` is 1, or with
jitter ``j`` drawn uniformly in ``[1 - j, 1 + j]`` (:func:`jitter_factors`).

Bandwidth. The migrations copying at an instant share the network max-min
fairly (progressive filling): every host carries at most its ``bandwidth``
(sending and receiving alike), every link the migrations cross at most its
``bandwidth``, and each migration at most ``max_bandwidth``; all rates rise
together and a migration stops rising when one of these fills. When a
migration starts copying or ends, the others' rates are recomputed, so the
survivors speed up. A migration copying at ``b`` with its remaining work ``W``
(``W = D_i`` when its copy starts) has

    dW/dt = -(b - dirty_rate(v))    (live; ``W`` never above ``D_i``)
    dW/dt = -b                      (offline)

and ends when ``W`` reaches 0: pre-copy sends the RAM, then the pages dirtied
meanwhile. Between events every rate is constant, so the next event is the
earliest of the set-up ends and ``W / (b - dirty_rate)``. A live migration that
gains nothing (``b <= dirty_rate``) while nothing else can change is *stalled*:
it never converges, and the replay stops there.

What is checked, at every instant. A VM is on its host until its migration
away ends and on its destination from the start of its migration there: a
live migration counts on both hosts. An offline one stops the VM, so it counts
on its destination only, from its start, as in the round model of SPEC 4
(SPEC 7.4 orders it more cautiously, as if it held its source to the end).
Hosts only gain VMs when migrations start, and a host's use grows with the set
of VMs on it (page sharing's rule,
:func:`cpplan.constraints.page_sharing.usage_on`, too), so checking each
destination once the migrations starting at an instant have started checks
every instant: the VMs on it must fit its effective capacity in every
resource, and no other member of an anti-affinity group of an arriving VM may
be on it. Each break is an *overload*, named with its instant, host and VMs.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000}},
...                 vms={"a": {"ram": 5000}, "b": {"ram": 2500}}, initial={"a": "h1", "b": "h1"},
...                 target={"a": "h2", "b": "h3"}, limits={"host": 2}, migration={"setup": 0})
>>> plan = Plan("feasible", 7500, [[{"vm": "a", "from": "h1", "to": "h2"},
...                                 {"vm": "b", "from": "h1", "to": "h3"}]])
>>> run = simulate(inst, plan)  # 625 MiB/s each on h1's 1250; b ends at 4 s, then a gets all 1250
>>> run.start, run.end, run.makespan, run.overloads
([0.0, 0.0], [6.0, 4.0], 6.0, [])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .constraints import anti_affinity_mates
from .constraints.capacity import fits
from .constraints.page_sharing import usage_on
from .order import Migrations
from .schedule import Limits, Release, start_ranks

MAX_OVERLOADS = 20  # overloads kept per replay (the count is complete)
DONE = 1e-9  # relative: a migration whose remaining work is below this share of its data has ended


@dataclass(frozen=True)
class Replay:
    """One replay: per migration in plan order its start and end (seconds), the makespan, the overloads
    found (at most :data:`MAX_OVERLOADS`, ``n_overloads`` in all) and, when a migration never
    converges, why (``stalled``; the replay stops there)."""

    start: list[float]
    end: list[float]
    makespan: float
    overloads: list[str]
    n_overloads: int = 0
    stalled: str = ""


def jitter_factors(n: int, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` factors drawn uniformly in ``[1 - jitter, 1 + jitter]`` (all 1 when ``jitter`` is 0).

    >>> jitter_factors(3, 0.0, np.random.default_rng(0)).tolist()
    [1.0, 1.0, 1.0]
    >>> bool(np.all(np.abs(jitter_factors(100, 0.5, np.random.default_rng(1)) - 1) <= 0.5))
    True
    """
    if jitter == 0:
        return np.ones(n)
    return rng.uniform(1 - jitter, 1 + jitter, n)


def plan_after(plan) -> list[list[int]] | None:
    """The plan's ``after`` lists (a migration without one waits for nothing), or None without any."""
    if not plan.has_order:
        return None
    return [sorted(set(m.get("after", []))) for r in plan.rounds for m in r]


def simulate(inst, plan, factors: np.ndarray | None = None, *, barriers: bool = False) -> Replay:
    """Replay the valid round ``plan`` by its ``after`` order (``barriers`` or no ``after``: round by
    round), each migration's data and setup multiplied by ``factors`` (default 1)."""
    moves = Migrations.of(inst, plan)
    after = None if barriers else plan_after(plan)
    factors = np.ones(len(moves)) if factors is None else np.asarray(factors, dtype=float)
    return _Run(inst, moves, after, factors, start_ranks(plan)).replay()



class _Run:
    """The state of one replay (module docstring)."""

    def __init__(self, inst, moves: Migrations, after: list[list[int]] | None, factors: np.ndarray,
                 rank: list[int]):
        d = inst.durations
        self.rank = rank
        self.inst, self.moves, self.limits = inst, moves, Limits(inst, moves)
        self.setup = d.setup * factors
        self.data = d.ram_mib[moves.vm] * factors
        self.dirty = np.where(moves.offline, 0.0, d.dirty_rate[moves.vm])
        self.release = Release(moves, after)
        # what each migration's copy shares: its two hosts' NICs and the links it crosses
        self.uses = [[("h", int(s)), ("h", int(t)), *(("l", k) for k in links)] for s, t, links in
                     zip(moves.src.tolist(), moves.dst.tolist(), self.limits.links, strict=True)]
        self.capacity = {("h", h): float(b) for h, b in enumerate(d.host_bandwidth.tolist())}
        self.capacity.update({("l", k): float(b) for k, b in enumerate(d.link_bandwidth.tolist())})
        self.on_host = [set(np.flatnonzero(inst.initial == h).tolist()) for h in range(inst.n_hosts)]
        self.partners = {v: set(m.tolist()) for v, m in anti_affinity_mates(inst).items()}
        n = len(moves)
        self.start, self.end = [math.nan] * n, [math.nan] * n
        self.remaining = self.data.copy()
        self.setup_end: dict[int, float] = {}  # migrations setting up -> when their copy starts
        self.copying: set[int] = set()
        self.overloads: list[str] = []
        self.n_overloads = 0

    def replay(self) -> Replay:
        ready, now, done = sorted(self.release.first(), key=self.rank.__getitem__), 0.0, 0
        while done < len(self.moves):
            ready = self._start(ready, now)
            if not self.setup_end and not self.copying:
                raise RuntimeError(f"migrations {ready[:3]} can never start: the round plan is not valid")
            rate = self._rates()
            step = self._next_event(rate, now)
            if step is None:
                return self._result(self._stall_reason(rate, now))
            for i in self.copying:
                gain = (rate[i] - self.dirty[i]) * step
                self.remaining[i] = min(self.data[i], self.remaining[i] - gain)
            now += step
            for i in [i for i, t in self.setup_end.items() if t <= now * (1 + DONE)]:
                del self.setup_end[i]
                self.copying.add(i)
            for i in sorted(i for i in self.copying if self._copied(i)):
                self._finish(i, now)
                done += 1
                ready = sorted(ready + self.release.ended(i), key=self.rank.__getitem__)
        return self._result("")

    def _start(self, ready: list[int], now: float) -> list[int]:
        """Start the ready migrations the limits allow, in rank order, then check the hosts they reach;
        return those left waiting."""
        waiting, started = [], []
        for i in ready:
            if self.limits.refusal(i, 0.0) is not None:
                waiting.append(i)
                continue
            self.limits.hold(i, 0.0)
            self.start[i] = now
            if self.setup[i] > 0:
                self.setup_end[i] = now + self.setup[i]
            else:
                self.copying.add(i)
            v = int(self.moves.vm[i])
            self.on_host[int(self.moves.dst[i])].add(v)
            if self.moves.offline[i]:  # stopped: it holds its destination only
                self.on_host[int(self.moves.src[i])].discard(v)
            started.append(i)
        for i in started:
            self._check_partners(i, now)
        for i in {int(self.moves.dst[i]): i for i in reversed(started)}.values():
            self._check_capacity(i, now)
        return waiting

    def _check_partners(self, i: int, now: float) -> None:
        inst, v, h = self.inst, int(self.moves.vm[i]), int(self.moves.dst[i])
        for partner in sorted(self.partners.get(v, set()) & self.on_host[h]):
            self._overload(f"at {now:g} s: {self.moves.describe(inst, i)} starts while "
                           f"{inst.vm_names[partner]}, of an anti-affinity group with "
                           f"{inst.vm_names[v]}, is on host {inst.host_names[h]}")

    def _check_capacity(self, i: int, now: float) -> None:
        """The VMs on migration ``i``'s destination, which it has just reached, must fit it."""
        inst, h = self.inst, int(self.moves.dst[i])
        vms = np.fromiter(sorted(self.on_host[h]), dtype=np.int64)
        use = usage_on(inst, vms, h) if inst.share_ratio.size else inst.demand[vms].sum(axis=0)
        over = np.flatnonzero(~fits(use, inst.effective[h]))
        if over.size:
            r = int(over[0])
            names = ", ".join(inst.vm_names[x] for x in vms.tolist())
            self._overload(f"at {now:g} s: {self.moves.describe(inst, i)} starts and host "
                           f"{inst.host_names[h]} holds {use[r]:g} {inst.resources[r]}, capacity "
                           f"{inst.effective[h, r]:g} (VMs {names})")

    def _overload(self, message: str) -> None:
        self.n_overloads += 1
        if len(self.overloads) < MAX_OVERLOADS:
            self.overloads.append(message)

    def _finish(self, i: int, now: float) -> None:
        self.copying.discard(i)
        self.remaining[i] = 0.0
        self.end[i] = now
        self.limits.hold(i, 0.0, -1)
        self.on_host[int(self.moves.src[i])].discard(int(self.moves.vm[i]))

    def _copied(self, i: int) -> bool:
        return bool(self.remaining[i] <= DONE * max(1.0, self.data[i]))

    def _rates(self) -> dict[int, float]:
        """The max-min fair rate of each copying migration (progressive filling)."""
        d, uses, capacity = self.inst.durations, self.uses, self.capacity
        flows = sorted(self.copying)
        left = {res: capacity[res] for i in flows for res in uses[i]}
        rate = dict.fromkeys(flows, 0.0)
        rising = set(flows)
        while rising:
            count: dict = {}
            for i in rising:
                for res in uses[i]:
                    count[res] = count.get(res, 0) + 1
            step = min([left[res] / n for res, n in count.items()]
                       + [d.max_bandwidth - rate[i] for i in rising])
            for i in rising:
                rate[i] += step
            for res, n in count.items():
                left[res] -= step * n
            full = {res for res in count
                    if math.isfinite(left[res]) and left[res] <= DONE * max(1.0, capacity[res])}
            rising = {i for i in rising if d.max_bandwidth - rate[i] > DONE * d.max_bandwidth
                      and not full.intersection(uses[i])}
        return rate

    def _next_event(self, rate: dict[int, float], now: float) -> float | None:
        """Seconds to the next set-up end or copy end (None: nothing will ever happen)."""
        steps = [0.0 if self._copied(i) else self.remaining[i] / (rate[i] - self.dirty[i])
                 for i in self.copying if self._copied(i) or rate[i] > self.dirty[i]]
        steps += [t - now for t in self.setup_end.values()]
        return max(0.0, float(min(steps))) if steps else None

    def _stall_reason(self, rate: dict[int, float], now: float) -> str:
        i = min(self.copying)
        v = int(self.moves.vm[i])
        return (f"at {now:g} s, {self.moves.describe(self.inst, i)} copies at {rate[i]:g} MiB/s, no faster "
                f"than {self.inst.vm_names[v]} dirties its memory ({self.dirty[i]:g} MiB/s): it never ends")

    def _result(self, stalled: str) -> Replay:
        ends = [t for t in self.end if not math.isnan(t)]
        return Replay(self.start, self.end, max(ends, default=0.0), self.overloads, self.n_overloads,
                      stalled)


@dataclass(frozen=True)
class Trials:
    """``repeat`` replays of a plan by its order and by barriers, each pair with the same factors."""

    order: Replay  # the replay by the plan's order that ends last
    barrier: Replay  # the barrier replay that ends last
    ordered: bool  # whether the plan gives ``after`` (else ``order`` is a barrier replay too)
    problems: list[str]  # overloads and stalls of every replay, each naming its replay
    n_overloads: int
    repeat: int


def trials(inst, plan, *, jitter: float = 0.0, seed: int = 0, repeat: int = 1) -> Trials:
    """Replay ``plan`` ``repeat`` times, drawing each time one factor per migration with ``jitter``
    (:func:`jitter_factors`, one generator seeded with ``seed``), by its order and by barriers.

    >>> from cpplan.model import Instance
    >>> from cpplan.plan import Plan
    >>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
    ...                 initial={"a": "h1"}, target={"a": "h2"})
    >>> t = trials(inst, Plan("feasible", 4, [[{"vm": "a", "from": "h1", "to": "h2"}]]), jitter=0.5,
    ...            repeat=3)
    >>> 1 <= t.order.makespan <= 3 and t.problems == [] and t.order == t.barrier
    True
    """
    rng = np.random.default_rng(seed)
    ordered = plan_after(plan) is not None
    worst_order = worst_barrier = None
    problems, n_overloads = [], 0
    for k in range(1, repeat + 1):
        factors = jitter_factors(plan.n_migrations, jitter, rng)
        runs = [("order", simulate(inst, plan, factors))]
        runs.append(("barriers", simulate(inst, plan, factors, barriers=True)) if ordered else runs[0])
        for kind, run in runs[: 1 + ordered]:
            where = ("replay" + (f" {k}" if repeat > 1 else "") + (f" ({kind})" if ordered else ""))
            problems += [f"{where}: overload {line}" for line in run.overloads]
            problems += [f"{where}: stalled {run.stalled}"] if run.stalled else []
            n_overloads += run.n_overloads
        if worst_order is None or runs[0][1].makespan > worst_order.makespan:
            worst_order = runs[0][1]
        if worst_barrier is None or runs[1][1].makespan > worst_barrier.makespan:
            worst_barrier = runs[1][1]
    return Trials(worst_order, worst_barrier, ordered, problems, n_overloads, repeat)
