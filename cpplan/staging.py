"""A shorter schedule for a little more cost: a VM on the critical chain steps aside to a staging host.

Near full capacity the least-cost plans walk each cycle of full hosts one VM at a
time: ``x1`` moves to ``h2`` once ``x2`` has left it, ``x2`` to ``h3`` once ``x3``
has left it, and so on, so the schedule is one long chain of migrations each
waiting for room the previous one frees. Sending one VM of the chain, ``x_k``
from ``h_k`` to ``h_(k+1)``, through a host ``s`` with room for it instead
(``h_k -> s`` as soon as its previous hop allows, then ``s -> h_(k+1)`` where
``x_k``'s move was) frees ``h_k`` at once: the chain runs from both ends, about
twice as fast, for one more migration of ``x_k``.

:func:`staged` repeats that while the plan's cost stays within a budget and time
is left: it follows the *critical chain* of the plan's estimated schedule back
from the migration that ends last, each step to the predecessor in ``after``
that ended last; among the migrations of that chain that waited for room on
their destination (that predecessor left it), it tries the ones whose start is
nearest the middle of the chain first, each with the staging hosts that keep the
most room through the rounds concerned (for as many VMs of its size as fit).
A step is kept when SPEC 4's validator accepts its rounds, every hop of it can
converge, and its estimate is shorter (by the cheap
:func:`cpplan.schedule.ordered_estimate`: the order pruned largest VM first,
plan order, each policy), or as short with an earlier mean end (another chain
as long may hold the makespan until it is split too); the plan the steps give
is kept when its full estimate is shorter than the schedule the plan came with.

Eight full hosts in a ring, each VM to the next host, and a staging host with
room for two. The least cost sends one VM aside and walks the ring one VM at a
time; a second VM aside, 8 GiB more, lets two walks run at once:

>>> import cpplan
>>> from cpplan.model import Instance
>>> ring = [f"h{i}" for i in range(8)]
>>> inst = Instance(hosts={**{h: {"ram": 8} for h in ring}, "s": {"ram": 16}},
...                 vms={f"x{i}": {"ram": 8} for i in range(8)},
...                 initial={f"x{i}": ring[i] for i in range(8)},
...                 target={f"x{i}": ring[(i + 1) % 8] for i in range(8)},
...                 migration={"ram_unit": "GiB", "bandwidth": 1000, "setup": 2})
>>> least = cpplan.plan(inst, "greedy")
>>> least.cost, round(least.makespan, 1)
(72, 91.7)
>>> faster = staged(inst, least, budget=1.15 * least.cost, seconds=10)
>>> faster.cost, round(faster.makespan, 1)
(80, 61.2)
"""

from __future__ import annotations

import time

import numpy as np

from .constraints.capacity import fits
from .objective import add_schedule
from .plan import Plan, plain_number
from .schedule import ordered_estimate, scheduled, stuck_hop
from .validate import validate

# staging hosts tried per migration of the critical chain (those keeping the most room first)
STAGING_TRIES = 3
# migrations of the critical chain tried per step (nearest the middle of the chain first)
CHAIN_TRIES = 6
# larger plans keep their moves: one estimate of each step would take longer than most time limits
MAX_MIGRATIONS = 20_000


def staged(inst, plan: Plan, budget: float, seconds: float, objective: str = "makespan") -> Plan:
    """``plan`` (valid, with its schedule) with VMs of its critical chains stepping aside (module
    docstring) while its cost stays at most ``budget`` and ``seconds`` last, each step only when it
    shortens the estimate; ``plan`` itself when the steps end no sooner. The plan returned carries
    its order and schedule by ``objective`` (:func:`cpplan.objective.add_schedule`)."""
    if not plan.n_migrations or plan.n_migrations > MAX_MIGRATIONS:
        return plan
    started = time.perf_counter()
    best, span = plan, _span(ordered_estimate(inst, plan, cheap=True)[1])
    # a step is tried only while the time left holds one more estimate as long as this first one
    deadline = 2 * started + seconds - time.perf_counter()
    while time.perf_counter() < deadline and (step := _one_step(inst, best, span, budget, deadline)):
        best, span = step
    if best is plan:
        return plan
    add_schedule(inst, best, objective)
    return best if best.makespan < plan.makespan else plan


def _one_step(inst, plan: Plan, span: tuple, budget: float, deadline: float) -> tuple[Plan, tuple] | None:
    """The first plan with one more VM stepping aside that is valid, within ``budget`` and shorter than
    ``span`` by the cheap :func:`cpplan.schedule.ordered_estimate` and :func:`_span` (with its span),
    trying the migrations of the critical chain of ``plan``'s schedule."""
    listed = [m for r in plan.rounds for m in r]
    for i in _chain_candidates(listed)[:CHAIN_TRIES]:
        vm = inst.vm_index[listed[i]["vm"]]
        extra = float(inst.offline_cost[vm] if listed[i].get("mode") == "offline" else inst.live_cost[vm])
        if plan.cost + extra > budget:
            continue
        for rounds in _detours(inst, plan, i):
            if time.perf_counter() >= deadline:
                return None
            candidate = Plan(plan.status, plain_number(plan.cost + extra), rounds, planner=plan.planner)
            if validate(inst, candidate, max_violations=1) or stuck_hop(inst, candidate) is not None:
                continue
            after, timed = ordered_estimate(inst, candidate, cheap=True)
            if _span(timed) < span:
                return scheduled(candidate, after, timed), _span(timed)
    return None


def _span(timed) -> tuple[float, float]:
    """What a step must lessen: the makespan, then, at the same makespan, the mean end (another chain
    as long as the one split may hold the makespan until it is split too)."""
    ends = [m["end"] for m in timed.migrations]
    return round(timed.makespan, 6), sum(ends) / max(len(ends), 1)


def _chain_candidates(listed: list[dict]) -> list[int]:
    """The migrations of the critical chain that waited for room on their destination, nearest the
    middle of the chain first."""
    end = np.array([m["end"] for m in listed])
    start = np.array([m["start"] for m in listed])
    i, chain = int(np.argmax(end)), []
    while True:
        preds = listed[i].get("after", [])
        if not preds:
            break
        p = max(preds, key=end.__getitem__)
        if listed[p]["from"] == listed[i]["to"]:  # i waited for p to leave its destination
            chain.append(i)
        i = p
    middle = (end.max() + start[i]) / 2
    return sorted(chain, key=lambda k: abs(start[k] - middle))


def _detours(inst, plan: Plan, i: int):
    """Rounds in which migration ``i`` (``vm`` from ``a`` to ``b`` in round ``t``) goes ``a -> s`` in a
    round of its own right after its VM's previous hop (no other migration there to count against a
    limit) and ``s -> b`` where it went ``a -> b``, for the staging hosts ``s`` with the most room
    through those rounds."""
    rounds = plan.routes()
    t, k = _position(rounds, i)
    move = rounds[t][k]
    vm = inst.vm_index[move["vm"]]
    previous = max((r for r in range(t) if any(m["vm"] == move["vm"] for m in rounds[r])), default=-1)
    first = previous + 1
    room = _room(inst, rounds, first, t)
    a, b = inst.host_index[move["from"]], inst.host_index[move["to"]]
    demand = inst.demand[vm]
    fitting = np.where(demand > 0, room / np.where(demand > 0, demand, 1), np.inf).min(axis=1)
    order = np.argsort(-fitting, kind="stable")  # most VMs of its size first
    tried = 0
    for s in order.tolist():
        if tried == STAGING_TRIES:
            break
        if s in (a, b) or not fits(demand, room[s]).all():
            continue
        tried += 1
        aside = {**move, "to": inst.host_names[s]}
        out = [list(r) for r in rounds]
        out[t][k] = {**move, "from": inst.host_names[s]}
        out.insert(first, [aside])
        yield out


def _position(rounds: list[list[dict]], i: int) -> tuple[int, int]:
    for t, r in enumerate(rounds):
        if i < len(r):
            return t, i
        i -= len(r)
    raise IndexError(i)


def _room(inst, rounds: list[list[dict]], first: int, last: int) -> np.ndarray:
    """Per host and resource, the least room it has in SPEC 4's rounds ``first`` to ``last`` (each
    counting the VMs there at its start and those arriving in it)."""
    placement = inst.initial.copy()
    least = np.full(inst.effective.shape, np.inf)
    for t, r in enumerate(rounds[:last + 1]):
        vms = np.array([inst.vm_index[m["vm"]] for m in r], dtype=np.int64)
        dst = np.array([inst.host_index[m["to"]] for m in r], dtype=np.int64)
        if t >= first:
            during = inst.load(placement)
            np.add.at(during, dst, inst.demand[vms])
            least = np.minimum(least, inst.effective - during)
        placement[vms] = dst
    return least
