"""The planners, all with one signature, and :func:`plan`, which runs one and checks its answer.

Every planner module has ``plan(inst, *, time_limit, seed, hint, progress) -> Plan``.
:func:`plan` adds what every answer needs: the cost lower bound, the rounds
lower bound, the infeasibility certificates, the time spent, and the
validator's verdict (an invalid plan raises :class:`InvalidPlanError`).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> p = plan(inst, planner="exact")
>>> p.status, p.cost, p.rounds
('optimal', 4, [[{'vm': 'a', 'from': 'h1', 'to': 'h2'}]])
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable

from ..bounds import cost_lower_bound, infeasibility, rounds_lower_bound
from ..errors import InvalidPlanError
from ..plan import Plan
from ..validate import validate

PLANNERS = ("auto", "greedy", "cp", "exact")


def plan(inst, planner: str = "auto", *, time_limit: float | None = 30.0, seed: int = 0,
         cost: Callable | None = None, hint: Plan | None = None,
         progress: Callable[[str], None] | None = None) -> Plan:
    """Plan the migrations from ``inst.initial`` to ``inst.target`` with the named planner.

    ``cost`` is an optional callable ``VM -> number`` replacing the default
    migration cost (the VM's ``cost`` key, else its ``ram``). ``progress``
    receives one-line status messages during long runs.
    """
    if planner not in PLANNERS:
        raise ValueError(f"unknown planner {planner!r} (choose from {', '.join(PLANNERS)})")
    if cost is not None:
        inst = inst.with_cost(cost)
    started = time.perf_counter()
    lb, rounds_lb = cost_lower_bound(inst), rounds_lower_bound(inst)
    reason = infeasibility(inst)
    if reason is not None:
        result = Plan("infeasible", 0, [], planner=planner, reason=reason)
    elif not inst.moving.any():
        result = Plan("optimal", 0, [], planner=planner, reason="every VM is already on its target")
    else:
        module = importlib.import_module(f"{__name__}.{planner}")
        result = module.plan(inst, time_limit=time_limit, seed=seed, hint=hint, progress=progress)
    result.planner = result.planner or planner
    if result.lower_bound is None or result.lower_bound < lb:
        result.lower_bound = result.cost if result.status == "optimal" else lb
    result.rounds_lower_bound = max(result.rounds_lower_bound or 0, rounds_lb)
    result.stats.setdefault("seconds", round(time.perf_counter() - started, 3))
    check(inst, result)
    return result


def check(inst, result: Plan) -> Plan:
    """Raise :class:`InvalidPlanError` unless the validator accepts ``result``."""
    violations = validate(inst, result)
    if violations:
        raise InvalidPlanError(result.planner, violations)
    return result
