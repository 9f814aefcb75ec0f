"""Choosing B: a target placement that reaches a goal at a migration cost the operator accepts.

Goals (:mod:`cpplan.goals`): ``consolidate`` (fewest hosts in use),
``rebalance`` (lowest highest utilisation, then spread) and ``evacuate``
(every VM off the ``drain`` hosts at least cost, the rest balanced) and
``repair`` (every host within its capacity, or ``max_utilisation`` of it, and
every service level right, at least cost, nothing else moving). The
trade-off is the caller's (:class:`cpplan.goals.Tradeoff`, at most one of):
``move_weight`` W makes the objective ``goal + W * cost`` (goal in hosts, or
in percentage points of utilisation), ``max_cost``/``max_moves`` are hard
budgets; without any, the goal comes first and the cost second.

The chosen B is *reachable*: it comes with a valid plan from A. When the
planner finds none in time, the next best B is tried (receiving hosts keep
5 %, then 10 % of their capacity free, with half, then a quarter of the moves).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h2"})
>>> result = choose_target(inst, goal="consolidate", planner="exact", time_limit=5)
>>> result.before["hosts_used"], result.after["hosts_used"], result.cost, result.plan.status
(2, 1, 4.0, 'optimal')
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .checks import finite_number, short_repr
from .constraints.groups import broken_anti_affinity
from .errors import InputError
from .goals import GOALS, Search, Slack, Tradeoff, consolidate, evacuate, rebalance, repair
from .goals.metrics import sharing_saved, summary
from .goals.stopping import GAP_LIMIT
from .names import nfc
from .parallel import Workers
from .plan import Plan
from .planners import plan as run_planner

# Every goal by name: each module has ``choose()`` (see :mod:`cpplan.goals`).
GOAL_MODULES = {"consolidate": consolidate, "rebalance": rebalance, "evacuate": evacuate, "repair": repair}

# Next-best targets tried when a B cannot be reached: (headroom kept free, share of the moves kept).
FALLBACKS = ((0.0, 1.0), (0.05, 0.5), (0.10, 0.25))
STOP_REASONS = {"stall": "no better solution for a while", "windows": "windows in a row without a clear "
                "improvement", "gap": "within the gap limit", "bound": "goal at its lower bound",
                "": "time limit"}


@dataclass
class TargetResult:
    """The chosen B and what it achieves.

    ``instance`` has ``target`` filled in; ``before``/``after`` are the goal
    metrics of A and B (:func:`cpplan.goals.metrics.summary`); ``bound`` is a
    proven lower bound on the goal's measure (hosts, or highest utilisation);
    ``plan`` is the plan from A to B; ``attempts`` counts the Bs tried. ``proven``: B is proven
    best; else ``gap`` is the proven relative gap of the second objective (None: not proven) and
    ``stopped`` why the search ended early (see :class:`cpplan.goals.Choice`).
    """

    goal: str
    instance: object
    before: dict
    after: dict
    cost: float
    moves: int
    bound: float
    budget: dict
    plan: Plan
    proven: bool = False
    attempts: int = 1
    stats: dict = field(default_factory=dict)
    gap: float | None = None
    stopped: str = ""

    @property
    def reached(self) -> bool:
        return self.plan.found

    def summary(self) -> str:
        """One line: what was gained against what it costs."""
        b, a = self.before, self.after
        if self.goal == "consolidate":
            gain = (f"hosts in use {b['hosts_used']} -> {a['hosts_used']} "
                    f"({b['hosts_used'] - a['hosts_used']} freed, lower bound {self.bound:g})")
        elif self.goal == "repair":
            gain = repair.describe(self.stats)
        else:
            gain = (f"max utilisation {100 * b['max_utilisation']:.1f}% -> {100 * a['max_utilisation']:.1f}% "
                    f"(lower bound {100 * self.bound:.1f}%), spread {100 * b['spread']:.1f} -> "
                    f"{100 * a['spread']:.1f} pp")
            if self.goal == "evacuate":
                gain = f"drained {', '.join(self.budget['drain'])}; " + gain
        if "shared_in_use" in a:  # page sharing: what it saves in B
            gain += "; " + sharing_saved(a, self.instance.resources[self.instance.share_resource])
        return (f"{self.goal}: {gain}; migration cost {self.cost:g} ({self.moves} VMs); {self.proof()}; "
                f"plan {self.plan.status}" + (f", cost {self.plan.cost:g}, {self.plan.n_rounds} rounds"
                                              if self.plan.found else f": {self.plan.reason}"))

    def proof(self) -> str:
        """What is proven of B's second objective, e.g. 'cost at 27 hosts proven optimal'."""
        if self.budget.get("move_weight") is not None:
            second = "goal + weight x cost" if self.goal == "consolidate" else "spread"
        else:
            second = {"consolidate": f"cost at {self.after['hosts_used']} hosts", "rebalance": "spread",
                      "evacuate": "balance over the drained VMs' destinations",
                      "repair": f"cost of the repair (lower bound {self.bound:g})"}[self.goal]
        if self.proven:
            return f"{second} proven optimal"
        limit = self.stats.get("gap_limit")
        if self.gap == 0:
            return f"{second} at its lower bound"
        if self.gap is not None:
            return f"{second} within {100 * self.gap:.1f}% of its lower bound" + (
                f" (gap limit {100 * limit:g}%)" if limit is not None else "")
        return f"{second} not proven optimal (search ended: {STOP_REASONS.get(self.stopped, self.stopped)})"


def check_arguments(inst, goal, drain, move_weight, max_cost, max_moves, gap_limit=GAP_LIMIT) -> list[int]:
    """Validate the goal arguments; returns the drained host indices. Raises InputError."""
    if goal not in GOALS:
        raise InputError("", "--goal", f"unknown goal {goal!r} (choose from {', '.join(GOALS)})")
    for key, value in (("--move-weight", move_weight), ("--max-cost", max_cost), ("--max-moves", max_moves),
                       ("--gap-limit", gap_limit)):
        if value is not None and not (finite_number(value) and value >= 0):
            raise InputError("", key, f"must be a non-negative number, got {short_repr(value)}")
    if max_moves is not None and max_moves != int(max_moves):
        raise InputError("", "--max-moves", f"must be a whole number, got {max_moves!r}")
    listed = inst.to_dict().get("drain") or []
    if listed and goal not in ("evacuate", "repair"):
        raise InputError(inst.source, "drain", f"the instance drains hosts; choose B for it with the "
                         f"evacuate goal, not {goal}")
    for g, h, vms in [] if goal == "repair" else broken_anti_affinity(inst, inst.initial)[:1]:
        raise InputError(inst.source, f"groups.{g.name}", f"anti-affinity broken by the initial placement "
                         f"({inst.vm_names[vms[0]]} and {inst.vm_names[vms[1]]} on {inst.host_names[h]}): "
                         f"separate them with --goal repair before choosing B for {goal}")
    drained = []
    for name in map(nfc, drain or listed):
        if name not in inst.host_index:
            raise InputError(inst.source, "--drain", f"unknown host {name!r}")
        drained.append(inst.host_index[name])
    if goal == "evacuate" and not drained:
        raise InputError("", "--drain", "the evacuate goal needs the hosts to drain (--drain HOST ..., "
                         "or drain: in the instance)")
    if goal not in ("evacuate", "repair") and drained:
        raise InputError("", "--drain", f"only the evacuate goal drains hosts, not {goal}")
    if len(set(drained)) >= inst.n_hosts:
        raise InputError(inst.source, "--drain", "cannot drain every host: the VMs need somewhere to go")
    return drained


def target_instance(inst, placement: np.ndarray):
    """``inst`` with ``target`` naming the new host of every VM that moves."""
    moved = np.flatnonzero(placement != inst.initial)
    return inst.replace(target={inst.vm_names[v]: inst.host_names[placement[v]] for v in moved.tolist()},
                        drain=None)


@dataclass(frozen=True)
class Planning:
    """How the way to each B is planned: by ``planner`` within ``time_limit`` seconds with
    ``workers`` on ``executor`` (see :func:`cpplan.plan`), telling ``progress`` (if any) what it does."""

    planner: str = "auto"
    time_limit: float | None = 30.0
    progress: Callable[[str], None] | None = None
    workers: int = 1  # the plan's independent parts solved this many at a time (cpplan.plan)
    executor: str = "local"


def choose_target(inst, goal: str = "consolidate", drain=None, move_weight: float | None = None,
                  max_cost: float | None = None, max_moves: int | None = None, time_limit: float = 30.0,
                  seed: int = 0, planner: str = "auto", plan_time_limit: float | None = None,
                  progress=None, gap_limit: float = GAP_LIMIT, workers: int = 1,
                  executor: str = "local", max_utilisation: float | None = None) -> TargetResult:
    """Choose B for ``goal`` and plan the way there from A; see the module docstring.

    ``time_limit`` bounds choosing each B; ``plan_time_limit`` (default: the
    same) bounds planning to it. B is chosen afresh from A: a ``target`` the
    instance already has is replaced; its ``drain`` list is the default
    ``drain`` of the evacuate goal. Choosing B stops early once its second
    objective is within ``gap_limit`` (relative) of a proven lower bound, or
    when it stops improving (:mod:`cpplan.goals.stopping`); with 0 only a proof
    or a stall ends it. At most one of ``move_weight``, ``max_cost`` and
    ``max_moves`` may be given (:class:`cpplan.goals.Tradeoff`). ``workers`` N > 1 plans the
    way to B with N workers, local processes or Ray tasks by ``executor`` (:func:`cpplan.plan`).
    ``max_utilisation`` (the repair goal only) caps every host at that share of its effective
    capacity on every resource. Raises InputError on bad arguments.
    """
    drained = check_arguments(inst, goal, drain, move_weight, max_cost, max_moves, gap_limit)
    Workers.of(workers, executor)  # bad workers are refused before B is chosen
    tradeoff = Tradeoff(move_weight=move_weight, max_cost=max_cost, max_moves=max_moves)
    search = Search(time_limit=time_limit, seed=seed, gap_limit=gap_limit)
    plan_time_limit = time_limit if plan_time_limit is None else plan_time_limit
    planning = Planning(planner=planner, time_limit=plan_time_limit, progress=progress, workers=workers,
                        executor=executor)
    if max_utilisation is not None and goal != "repair":
        raise InputError("", "--max-utilisation", f"only the repair goal takes it, not {goal}")
    options = {} if max_utilisation is None else {"max_utilisation": max_utilisation}
    return _reach(inst, goal, drained, tradeoff, search, planning, options)


def _reach(inst, goal: str, drained: list[int], tradeoff: Tradeoff, search: Search,
           planning: Planning, options: dict) -> TargetResult:
    """The best B for ``goal`` and a plan to it; while no plan is found in time, the next best B
    (:data:`FALLBACKS`: more headroom, and, but for evacuate, a share of the last B's moves)."""
    before = summary(inst, inst.initial, drained)
    result = None
    for attempt, (headroom, keep) in enumerate(FALLBACKS, start=1):
        cap = None if result is None or goal in ("evacuate", "repair") else int(result.moves * keep)
        slack = Slack(headroom=headroom, max_moves=cap)
        started = time.perf_counter()
        choice = GOAL_MODULES[goal].choose(inst, drain=drained, tradeoff=tradeoff, slack=slack, search=search,
                                           **options)
        choose_seconds = time.perf_counter() - started
        new = target_instance(inst, choice.placement)
        if planning.progress:
            planning.progress(f"B #{attempt}: {int(new.moving.sum())} VMs to move; planning")
        found = run_planner(new, planning.planner, time_limit=planning.time_limit, seed=search.seed,
                            progress=planning.progress, workers=planning.workers,
                            executor=planning.executor)
        after = summary(inst, choice.placement, drained)
        budget = {"move_weight": tradeoff.move_weight, "max_cost": tradeoff.max_cost,
                  "max_moves": tradeoff.max_moves, "drain": [inst.host_names[h] for h in drained],
                  "headroom": headroom, "moves_budget": slack.capped(tradeoff)}
        stats = {**choice.stats, "choose_seconds": round(choose_seconds, 3),
                 "plan_seconds": found.stats.get("seconds")}
        result = TargetResult(goal=goal, instance=new, before=before, after=after, cost=after["cost"],
                              moves=after["moves"], bound=choice.bound, budget=budget, plan=found,
                              proven=choice.proven, attempts=attempt, stats=stats, gap=choice.gap,
                              stopped=choice.stopped)
        if found.found or (result.moves == 0):
            break
    return result
