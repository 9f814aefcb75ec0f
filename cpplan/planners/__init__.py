"""The planners, all with one signature, and :func:`plan`, which runs one and checks its answer.

Every planner module has ``plan(inst, *, time_limit, seed, hint, progress) -> Plan``.
:func:`plan` adds what every answer needs: the cost lower bound, the rounds
lower bound, the infeasibility certificates, the order and estimated schedule
(:func:`cpplan.objective.add_schedule`) with the makespan lower bound, on every
answer without a plan the VMs that block it (:func:`cpplan.blockers.blocked_vms`) and, on an
``unknown`` one, what to try next (:mod:`.advice`), the time
spent, and the validator's verdict (an invalid plan raises :class:`InvalidPlanError`).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> p = plan(inst, planner="exact")
>>> p.status, p.cost, p.routes()
('optimal', 4, [[{'vm': 'a', 'from': 'h1', 'to': 'h2'}]])
>>> p.rounds[0][0]["after"], p.rounds[0][0]["end"], p.makespan    # 2 s setup + 4 MiB at 1250 MiB/s
([], 2.0032, 2.0032)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from ..blockers import blocked_vms
from ..bounds import cost_lower_bound, infeasibility, makespan_lower_bound, reaches, rounds_lower_bound
from ..errors import InvalidPlanError
from ..objective import add_schedule, check_objective
from ..parallel import Workers
from ..plan import Plan, plain_number
from ..relax import OFFLINE_PENALTY, check_penalty, least_relaxation, needs_relaxation
from ..schedule import stuck_hop
from ..staging import staged
from ..validate import validate
from . import auto, cp, exact, greedy
from .advice import advice, largest_blocked
from .cp.makespan import improve as improve_schedule
from .partial import partial_plan

# Every planner by name, the default first: each is a module (or package) with ``plan()``.
PLANNER_MODULES = {"auto": auto, "greedy": greedy, "cp": cp, "exact": exact}
PLANNERS = tuple(PLANNER_MODULES)
# The planners that search plans dearer than the least cost for a shorter schedule (``cost_slack``);
# greedy and exact make one plan each, of the least cost they find.
TRADING_PLANNERS = ("auto", "cp")
# cp's schedule (.cp.makespan) gets the time the planner left, at most this share of the time limit
# (or MAKESPAN_SECONDS without one), and runs when that is at least MAKESPAN_MIN_SECONDS; half, as on
# tight-100 CP-SAT's schedule reaches 1.12 x the makespan bound in 30 s against 1.22 in 6
MAKESPAN_SHARE, MAKESPAN_SECONDS, MAKESPAN_MIN_SECONDS = 0.5, 10.0, 0.2
# ... but not for a list schedule already within this share of the makespan lower bound
MAKESPAN_CLOSE_ENOUGH = 0.05
# With a cost slack, this share of the time limit (or STAGING_SECONDS without one) is kept from the
# planner's search for CP-SAT's schedule (a third of it) and then stepping VMs of the critical chain
# aside (cpplan.staging; the rest): on bench_makespan.py's deadlock-1000, greedy's plan, 60 s of
# steps take 2.04 x the makespan bound to 1.32
STAGING_SHARE, STAGING_SECONDS = 1 / 3, 10.0
# The planners that solve independent parts of one plan side by side (``workers``); greedy and exact
# search one plan in one process.
PARALLEL_PLANNERS = ("auto", "cp")


def plan(inst, planner: str = "auto", *, time_limit: float | None = 30.0, seed: int = 0,
         cost: Callable | None = None, hint: Plan | None = None,
         progress: Callable[[str], None] | None = None, cost_slack: float = 0.0, partial: bool = False,
         workers: int = 1, executor: str = "local", relax: bool = False,
         offline_penalty: float = OFFLINE_PENALTY, objective: str = "makespan") -> Plan:
    """Plan the migrations from ``inst.initial`` to ``inst.target`` with the named planner.

    ``cost`` is an optional callable ``VM -> number`` that the planner
    minimises instead of the default migration cost (the VM's ``cost`` key,
    else its ``ram``). The plan still states its cost as SPEC defines it, so
    any validator accepts it; its summed custom cost is ``stats["objective"]``,
    and a status ``optimal`` becomes ``feasible`` unless the plan also meets the
    SPEC cost lower bound. ``progress`` receives one-line status messages during long runs.

    ``partial=True``: an answer without a plan (``infeasible`` or ``unknown``) comes back as a
    partial plan (:func:`.partial.partial_plan`): status ``unknown``, ``partial`` true, valid rounds
    that take as many VMs to their target as the direct moves allow, and ``stats`` counting the VMs
    that reach their target (``reached_target``) and those left (``left_to_move``).

    ``cost_slack`` s > 0 trades cost for time: once the least cost C is found, the planners of
    :data:`TRADING_PLANNERS` may return a plan costing up to C x (1 + s) when its estimated makespan
    is shorter (``stats``: ``least_cost``, ``cost_budget``, ``least_cost_makespan``,
    ``makespan_gained``); 0 (the default) is the least-cost plan, as without it.

    ``workers`` N > 1 solves the independent parts of the cloud that cp plans one by one (the
    planners of :data:`PARALLEL_PLANNERS`) N at a time, in worker processes, or as tasks on a Ray
    cluster with ``executor="ray"`` (:class:`cpplan.parallel.Workers`): each part gets at least the
    time it would have alone, and the parts are merged in the same order. A bad ``workers`` or
    ``executor`` raises a one-line :class:`~cpplan.errors.InputError`.

    ``relax=True``: when there is no plan (``infeasible``, or ``unknown`` with blocked VMs), spend
    up to ``time_limit`` again on the least change to the instance that makes B reachable
    (:func:`cpplan.relax.least_relaxation`: VMs moved offline at ``offline_penalty`` x their cost,
    a spare host, or one more migration per host) and return the plan for the changed instance,
    its ``relaxation`` saying what changed (:func:`cpplan.relax.relaxed_instance` rebuilds it).

    ``objective`` is the second objective, after the least cost (:mod:`cpplan.objective`):
    ``makespan`` (the default) re-times, re-orders and re-cuts the rounds when that shortens the
    schedule; ``rounds`` keeps the rounds the planner found and their order.
    """
    if planner not in PLANNERS:
        raise ValueError(f"unknown planner {planner!r} (choose from {', '.join(PLANNERS)})")
    if not cost_slack >= 0 or cost_slack == float("inf"):
        raise ValueError(f"cost_slack must be a finite number at least 0, not {cost_slack!r}")
    parallel = Workers.of(workers, executor)
    check_objective(objective)
    if relax:  # the answer as asked, then, without a plan, the least relaxation's (cpplan.relax)
        again = functools.partial(plan, seed=seed, cost=cost, progress=progress, cost_slack=cost_slack,
                                  workers=workers, executor=executor, objective=objective)
        return _relaxed(inst, planner, time_limit, hint, again, check_penalty(offline_penalty), progress)
    if cost is not None:
        result = plan(inst.with_cost(cost), planner, time_limit=time_limit, seed=seed, hint=hint,
                      progress=progress, cost_slack=cost_slack, partial=partial, workers=workers,
                      executor=executor, objective=objective)
        return check(inst, _in_spec_cost(inst, result))
    started = time.perf_counter()
    staging = cost_slack > 0 and planner in TRADING_PLANNERS
    search_limit = time_limit if time_limit is None or not staging else (1 - STAGING_SHARE) * time_limit
    result = _search(inst, planner, time_limit=search_limit, seed=seed, hint=hint, progress=progress,
                     cost_slack=cost_slack, parallel=parallel)
    _complete(inst, result, planner, time_limit, seed, started, cost_slack if staging else 0.0, objective)
    if partial and not result.found:
        result = partial_plan(inst, result, time_limit=time_limit, seed=seed)
    result.stats.setdefault("seconds", round(time.perf_counter() - started, 3))
    check(inst, result)
    return result


def _search(inst, planner: str, *, time_limit, seed, hint, progress, cost_slack, parallel) -> Plan:
    """The named planner's answer, or the certificate's ``infeasible``, or nothing to do."""
    reason = infeasibility(inst)
    if reason is not None:
        return Plan("infeasible", 0, [], planner=planner, reason=reason)
    if not inst.moving.any():
        return Plan("optimal", 0, [], planner=planner, reason="every VM is already on its target")
    trading = {"cost_slack": cost_slack} if cost_slack and planner in TRADING_PLANNERS else {}
    side_by_side = {"parallel": parallel} if parallel.parallel and planner in PARALLEL_PLANNERS else {}
    return PLANNER_MODULES[planner].plan(inst, time_limit=time_limit, seed=seed, hint=hint,
                                         progress=progress, **trading, **side_by_side)


def _complete(inst, result: Plan, planner: str, time_limit, seed: int, started: float,
              cost_slack: float, objective: str) -> None:
    """What every answer carries: its bounds and status by them, the schedule by ``objective``
    (shortened within ``cost_slack`` by :mod:`cpplan.staging` when it is above 0), blockers and
    advice."""
    lb, rounds_lb = cost_lower_bound(inst), rounds_lower_bound(inst)
    result.planner = result.planner or planner
    if (inst.domain_of >= 0).any() and not _searched_allowed_hosts(result):
        _without_proofs(result, lb)
    if result.status == "feasible" and reaches(result.cost, lb):
        result.status = "optimal"  # at the cost lower bound, whatever the planner could prove
    if result.lower_bound is None or result.lower_bound < lb:
        result.lower_bound = result.cost if result.status == "optimal" else lb
    result.rounds_lower_bound = max(result.rounds_lower_bound or 0, rounds_lb)
    stuck = stuck_hop(inst, result)
    if stuck is not None:  # the planners do not model convergence hop by hop: say so, plan nothing
        result.status, result.cost, result.rounds, result.reason = "unknown", 0, [], stuck
    result.makespan_lower_bound = makespan_lower_bound(inst)
    add_schedule(inst, result, objective)
    if planner in TRADING_PLANNERS and result.found:  # cp's makespan objective, in the time left
        spent = time.perf_counter() - started
        _schedule_by_cp(inst, result, time_limit, spent, seed, share_left=1 / 3 if cost_slack else 1.0)
    if cost_slack and result.found:  # then steps aside, kept only when shorter than that schedule
        left = None if time_limit is None else time_limit - (time.perf_counter() - started)
        _step_aside(inst, result, cost_slack, STAGING_SECONDS if left is None else left, lb, objective)
    result.blocked = None if result.found else blocked_vms(inst)
    if result.status == "unknown":  # how the search ended and what to try next (.advice)
        seconds = time.perf_counter() - started
        end = advice(result, planner, inst.n_vms, time_limit=time_limit, seconds=seconds,
                     blocked_demand=largest_blocked(inst, result.blocked))
        result.reason = f"{result.reason}; {end}" if result.reason else end


def _schedule_by_cp(inst, result: Plan, time_limit: float | None, spent: float, seed: int,
                    share_left: float) -> None:
    """Let CP-SAT reschedule ``result``'s migrations (:func:`.cp.makespan.improve`) in ``share_left`` of
    the time left, unless its schedule is within :data:`MAKESPAN_CLOSE_ENOUGH` of the makespan lower
    bound; ``stats["schedule"]`` says what it found."""
    seconds = MAKESPAN_SECONDS if time_limit is None else min(MAKESPAN_SHARE * time_limit,
                                                              share_left * (time_limit - spent))
    if result.makespan <= (1 + MAKESPAN_CLOSE_ENOUGH) * result.makespan_lower_bound:
        result.stats["schedule"] = {"list_makespan": result.makespan, "makespan": result.makespan,
                                    "status": f"within {MAKESPAN_CLOSE_ENOUGH:.0%} of the lower bound"}
    elif seconds >= MAKESPAN_MIN_SECONDS:
        result.stats["schedule"] = improve_schedule(inst, result, seconds, seed)


def _step_aside(inst, result: Plan, cost_slack: float, seconds: float, lb: float, objective: str) -> None:
    """Let VMs of ``result``'s critical chain step aside (:func:`cpplan.staging.staged`) within the cost
    slack over the least cost found, in place; ``stats["staging"]`` says what it cost and gained."""
    least = result.stats.get("least_cost", result.cost)
    faster = staged(inst, result, least * (1 + cost_slack), seconds, objective)
    if faster is result:
        return
    result.stats["staging"] = {"cost_before": result.cost, "makespan_before": result.makespan,
                               "cost": faster.cost, "makespan": faster.makespan,
                               "migrations_added": faster.n_migrations - result.n_migrations}
    result.rounds, result.cost, result.makespan = faster.rounds, faster.cost, faster.makespan
    result.stats.pop("schedule", None)  # CP-SAT's schedule was of the plan before the steps
    if "least_cost_makespan" in result.stats:  # what the slack bought, now with the steps aside
        result.stats["makespan_gained"] = result.stats["least_cost_makespan"] - faster.makespan
    if result.status == "optimal" and not reaches(result.cost, lb):
        result.status = "feasible"


def _searched_allowed_hosts(result: Plan) -> bool:
    """Whether the proofs of ``result`` cover every allowed host of a partial target.

    The exact search tries every allowed host, and so does cp when each VM has
    at most :data:`.cp.routes.MAX_ENDS` of them (``stats["all_allowed_hosts"]``);
    otherwise a planner's bounds hold for the hosts it tried only.
    """
    return (result.planner == "exact" or result.stats.get("tried", {}).get("exact") == "optimal"
            or result.stats.get("all_allowed_hosts") is True)


def _without_proofs(result: Plan, lb: float) -> None:
    """Keep only the proofs that hold for any choice of allowed hosts: the cost lower bound."""
    if result.status == "optimal" and result.cost > lb:
        result.status = "feasible"
    result.lower_bound = result.cost if result.status == "optimal" else lb
    result.rounds_lower_bound = None


def _in_spec_cost(inst, result: Plan) -> Plan:
    """A plan made for a custom cost, restated in SPEC's cost (the custom sum kept in stats)."""
    spec_cost = sum(float(inst.offline_cost[inst.vm_index[m["vm"]]] if m.get("mode") == "offline"
                          else inst.live_cost[inst.vm_index[m["vm"]]])
                    for r in result.rounds for m in r)
    lb = cost_lower_bound(inst)
    status = "feasible" if result.status == "optimal" and spec_cost > lb else result.status
    return Plan(status, plain_number(spec_cost), result.rounds, planner=result.planner, lower_bound=lb,
                rounds_lower_bound=result.rounds_lower_bound, reason=result.reason,
                stats={**result.stats, "objective": result.cost,
                       "objective_lower_bound": result.lower_bound},
                makespan=result.makespan, makespan_lower_bound=result.makespan_lower_bound,
                blocked=result.blocked, partial=result.partial)


def check(inst, result: Plan) -> Plan:
    """Raise :class:`InvalidPlanError` unless the validator accepts ``result``."""
    violations = validate(inst, result)
    if violations:
        raise InvalidPlanError(result.planner, violations)
    return result


def _relaxed(inst, planner: str, time_limit, hint, again, penalty: float, progress) -> Plan:
    """Plan as asked with ``again`` (:func:`plan` without ``relax``); without a plan where a relaxation
    may help, the plan of the least relaxation instead."""
    result = again(inst, planner, time_limit=time_limit, hint=hint)
    if not needs_relaxation(result):
        return result

    def solve(relaxed, name: str, seconds: float, given: Plan | None) -> Plan:
        return again(relaxed, name, time_limit=seconds, hint=given)
    return least_relaxation(inst, result, solve, planner=planner, time_limit=time_limit,
                            offline_penalty=penalty, progress=progress)
