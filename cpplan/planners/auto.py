"""The default planner: exact on tiny clouds, otherwise greedy then cp, within the time limit.

The exact search settles clouds of up to :data:`EXACT_FULL_SHARE_VMS` VMs in well
under a second (measured: 0.2 s at 12 VMs, 1-14 s at 15, past 20 s at 20),
and is the only planner that proves infeasibility; up to its own limit of 40
VMs it gets a short try, which often settles clouds where few VMs move. Past
that, or when it runs out of time, greedy's plan (else exact's) warm-starts
cp, which never returns worse.
The answer is the best valid plan with the strongest proof;
``stats["chosen"]`` names the planner whose plan it is.

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> p = plan(swap, time_limit=10)
>>> p.status, p.cost, p.stats["chosen"]
('optimal', 12, 'exact')
"""

from __future__ import annotations

from ..bounds import rounds_lower_bound
from ..budget import Budget, Interrupt
from ..objective import shortest_within
from ..parallel import SERIAL
from ..plan import Plan
from . import cp, exact, greedy
from .advice import ran_out_of_time

EXACT_FULL_SHARE_VMS = 12  # up to this many VMs (and EXACT_MAX_PLACEMENTS), exact gets EXACT_SHARE
EXACT_SHARE = 0.5  # of the time limit, before falling back to greedy and cp
EXACT_MAX_PLACEMENTS = 10**8  # hosts ** VMs: beyond, even 12 VMs can take minutes ...
EXACT_SHARE_LARGE = 0.1  # ... so past either, exact gets less time, yet often settles the few VMs that move,
EXACT_LARGE_SECONDS = 10.0  # and at most this much (without a time limit, a share is an hour)
GREEDY_MIN_SECONDS = 1.0  # greedy's share even when exact used up the time limit
CP_ROUNDS_SECONDS = 5.0  # at most, to shorten an exact plan of a tiny cloud


def plan(inst, *, time_limit=None, seed=0, hint=None, progress=None, cost_slack=0.0, parallel=SERIAL) -> Plan:
    """With ``cost_slack`` s > 0, cp may spend up to ``(1 + s)`` times the least cost it finds, and
    the answer is the plan with the shortest estimated makespan among the plans tried that cost at
    most ``(1 + s)`` times the cheapest of them (:func:`cpplan.objective.shortest_within`)."""
    budget = Budget(time_limit)
    tried = {}
    with Interrupt() as stop:  # Ctrl-C: no further planner, the best plan so far
        if inst.n_vms <= exact.MAX_VMS:
            small = inst.n_vms <= EXACT_FULL_SHARE_VMS and inst.n_hosts ** inst.n_vms <= EXACT_MAX_PLACEMENTS
            seconds = (budget.share(EXACT_SHARE) if small
                       else min(budget.share(EXACT_SHARE_LARGE), EXACT_LARGE_SECONDS))
            tried["exact"] = exact.plan(inst, time_limit=seconds, seed=seed, progress=progress)
            if tried["exact"].status == "infeasible":
                return _chosen(tried["exact"], "exact", tried)
            if tried["exact"].status == "optimal":
                return _fewer_rounds(inst, tried, budget, seed, stop, cost_slack)
        if hint is None or not hint.found:
            tried["greedy"] = greedy.plan(inst, time_limit=max(GREEDY_MIN_SECONDS, budget.share(0.25)),
                                          seed=seed, progress=progress)
            hint = _strongest(tried)  # greedy's plan, or exact's when greedy found none
        if not stop.requested:
            tried["cp"] = cp.plan(inst, time_limit=budget.share(1.0), seed=seed,
                                  hint=hint if hint.found else None, progress=progress, cost_slack=cost_slack,
                                  parallel=parallel)  # workers for cp's independent parts
    return _explained(_chosen(_best(inst, tried, cost_slack), None, tried), tried, budget, time_limit)


def _explained(result: Plan, tried: dict[str, Plan], budget: Budget, time_limit) -> Plan:
    """An ``unknown`` answer says what each planner tried found, in order, and whether the time ran out
    for the last one (:mod:`.advice` adds what to try next)."""
    if result.status == "unknown":
        result.reason = "; ".join(f"{name}: {p.reason}" for name, p in tried.items() if p.reason)
        last = list(tried.values())[-1]
        result.stats["ran_out_of_time"] = ran_out_of_time(last, time_limit, budget.elapsed())
    return result


def _best(inst, tried: dict[str, Plan], cost_slack: float) -> Plan:
    """The strongest plan; with a cost slack, the shortest within budget (what it traded in stats)."""
    if not cost_slack or not any(p.found for p in tried.values()):
        return _strongest(tried)
    best, traded = shortest_within(inst, list(tried.values()), cost_slack)
    best.stats = {**best.stats, **traded}
    return best


def _fewer_rounds(inst, tried: dict[str, Plan], budget: Budget, seed: int, stop, cost_slack=0.0) -> Plan:
    """Exact proved the least cost; look for a plan of that cost in fewer rounds (greedy, then cp).

    Exact packs its one-migration-at-a-time path into rounds without searching
    over them, so greedy or cp, hinted with exact's plan, may need fewer.
    """
    rounds_lb = rounds_lower_bound(inst)
    tried["greedy"] = greedy.plan(inst, time_limit=budget.share(0.25), seed=seed)
    best = _strongest(tried)
    if (best.n_rounds > rounds_lb or cost_slack) and not stop.requested:
        tried["cp"] = cp.plan(inst, time_limit=min(budget.share(1.0), CP_ROUNDS_SECONDS), seed=seed,
                              hint=best, cost_slack=cost_slack)
        best = _best(inst, tried, cost_slack)
    return _chosen(best, None, tried)


def _strongest(tried: dict[str, Plan]) -> Plan:
    """The best plan found (least cost, then fewest rounds), else the best-informed failure."""
    found = [p for p in tried.values() if p.found]
    if found:
        return min(found, key=lambda p: (p.cost, p.n_rounds))
    return max(tried.values(), key=lambda p: p.lower_bound or 0)


def _chosen(result: Plan, name: str | None, tried: dict[str, Plan]) -> Plan:
    """``result`` with the strongest bounds any planner tried proved, and which planners ran.

    A rounds bound proven for plans of the least cost (cp's) holds for ``result``
    when it has that cost too, and when that proof covered every allowed host.
    """
    name = name or next(k for k, p in tried.items() if p is result)
    verdicts = {k: p.status for k, p in tried.items()}
    proven = min((p.cost for p in tried.values() if p.found and p.status == "optimal"), default=None)
    if result.found and proven is not None and result.cost <= proven:  # no plan costs less
        result.status = "optimal"
    bounds = [p.lower_bound for p in tried.values() if p.lower_bound is not None]
    if bounds and result.status != "infeasible":
        result.lower_bound = max(bounds)
    if result.status == "optimal":
        result.lower_bound = result.cost
        result.rounds_lower_bound = max([p.rounds_lower_bound for p in tried.values()
                                         if p.status == "optimal" and p.cost == result.cost
                                         and p.rounds_lower_bound is not None
                                         and p.stats.get("all_allowed_hosts", True)], default=None)
    result.stats = {**result.stats, "chosen": name, "tried": verdicts}
    result.planner = "auto"
    return result
