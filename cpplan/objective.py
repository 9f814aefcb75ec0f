"""The second objective, after the least cost: which order and schedule a plan carries (SPEC 4, 7.3).

A planner returns rounds valid by SPEC 4. The plan then gets its ``after`` order and estimated
schedule by one of :data:`OBJECTIVES`:

- ``rounds``, the order of the planner's rounds: :func:`cpplan.order.derive_after` and the shortest
  of its list schedules (:func:`cpplan.schedule.ordered_estimate`); the rounds stay as found;
- ``makespan`` (the default): the shorter of that and the same migrations re-timed
  (:func:`cpplan.timeline.shortest_retimed`: started as soon as their destinations have room,
  then ordered and cut in rounds by that timeline, usually more rounds and a shorter schedule).
  On plans of more than :data:`cpplan.schedule.PRIORITY_MAX_MIGRATIONS` migrations the timeline
  alone, when it has one (pruning the rounds' order takes most of the planning time there:
  greedy plans shuffle-10000 in 79 s so, in 170 s keeping its rounds, measured in one run of
  ``benchmarks/bench_makespan.py`` on a busy 2-core machine).

Either way the cost and the migrations stay; only their order, rounds and times change, and the
validator checks them all before the plan leaves the package.

On a generated shuffle of 10 hosts (209 migrations, makespan lower bound 50.3 s), greedy's
rounds' order against the timeline, at the same cost:

>>> import cpplan
>>> from cpplan.generate import generate
>>> inst = generate("shuffle", 10, seed=1)
>>> by_rounds = cpplan.plan(inst, "greedy", objective="rounds")
>>> round(by_rounds.makespan, 1), by_rounds.n_rounds, by_rounds.stats["order"]
(52.6, 25, 'rounds')
>>> timed = cpplan.plan(inst, "greedy")
>>> round(timed.makespan, 1), timed.stats["order"], timed.cost == by_rounds.cost
(50.3, 'timeline', True)
"""

from __future__ import annotations

from .schedule import PRIORITY_MAX_MIGRATIONS, ordered_estimate, scheduled
from .timeline import shortest_retimed

OBJECTIVES = ("makespan", "rounds")
COST_TOLERANCE = 1e-9  # relative, on a cost budget (a cost C x (1 + slack) computed in floats)


def check_objective(objective: str) -> str:
    """``objective``, when it is one of :data:`OBJECTIVES` (else ValueError)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")
    return objective


def add_schedule(inst, plan, objective: str = "makespan") -> None:
    """Give the valid round ``plan`` its order and estimated schedule by ``objective`` (module
    docstring), in place: each migration gains ``after``, ``start``, ``end`` and ``bandwidth``, the
    plan ``makespan``, and ``stats["order"]`` says whose order it is (``rounds`` or ``timeline``)."""
    if not plan.found:
        return
    timeline = shortest_retimed(inst, plan) if check_objective(objective) == "makespan" else None
    if timeline is None or plan.n_migrations <= PRIORITY_MAX_MIGRATIONS:
        after, timed = ordered_estimate(inst, plan)
        if timeline is None or timed.makespan <= timeline.makespan:
            scheduled(plan, after, timed, in_place=True)
            plan.stats["order"] = "rounds"
            return
    plan.rounds, plan.makespan = timeline.rounds, timeline.makespan
    plan.stats["order"] = "timeline"


def shortest_within(inst, plans: list, cost_slack: float):
    """Of the valid round ``plans`` (None and answers without a plan skipped), the one with the
    shortest makespan by :func:`add_schedule` among those costing at most the least cost found times
    ``1 + cost_slack``; ties go to the cheaper, then the earlier. Returns it (None when no plan is
    given) and what the choice traded: ``least_cost``, ``cost_budget``, the least-cost plan's
    makespan ``least_cost_makespan`` and ``makespan_gained`` (seconds).
    """
    found = list({id(p): p for p in plans if p is not None and p.found}.values())  # each plan once
    if not found:
        return None, {}
    least = min(found, key=lambda p: (p.cost, p.n_rounds))
    budget = least.cost * (1 + cost_slack)
    within = [p for p in found if p.cost <= budget * (1 + COST_TOLERANCE)]
    spans = {id(p): makespan(inst, p) for p in within}
    best = min(within, key=lambda p: (spans[id(p)], p.cost))
    traded = {"least_cost": least.cost, "cost_budget": budget, "least_cost_makespan": spans[id(least)],
              "makespan_gained": spans[id(least)] - spans[id(best)]}
    return best, traded


def makespan(inst, plan, objective: str = "makespan") -> float:
    """The makespan :func:`add_schedule` would give the valid round ``plan`` (which stays as it is)."""
    copy = type(plan)(plan.status, plan.cost, plan.routes())
    add_schedule(inst, copy, objective)
    return copy.makespan
