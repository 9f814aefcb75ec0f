"""The validator: replay a plan from A and list every broken rule (SPEC section 4).

This is the single source of truth for validity; every planner's plan goes
through it before it leaves the package.

Besides the rounds, a plan's claims must not contradict it: a ``lower_bound``
above its cost, or, for an ``optimal`` plan, a ``rounds_lower_bound`` above its
(non-empty) rounds, since that bound holds for every plan of the least cost.

When a migration gives ``after`` and the rounds replay without a violation,
the order is checked too, by SPEC 7.4 (:func:`cpplan.order.order_violations`);
when one gives ``start``, ``end`` or ``bandwidth``, the schedule is
(:func:`cpplan.schedule.schedule_violations`), and a ``makespan_lower_bound``
must not exceed the ``makespan``.

A ``partial`` plan (``partial: true``, status ``unknown``; ``cpplan plan --partial``) need not end
at B: every round must be valid and its cost right; nothing is required after its last round, and its
``lower_bound`` (that of every plan to B) may exceed its cost.

Empty rounds cost nothing: SPEC counts only non-empty rounds, so a plan may
carry them, and being harmless they are accepted rather than refused; the
replay skips them without a look, so a plan of 10^6 empty rounds validates as
fast as its migrations alone.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> validate(inst, Plan("feasible", 4, [[{"vm": "a", "from": "h1", "to": "h2"}]]))
[]
>>> validate(inst, Plan("feasible", 0, []))
['after the last round: VM a is on h1, its target is h2']
"""

from __future__ import annotations

import numpy as np

from .checks import short_repr
from .constraints import ALL, Round
from .constraints.page_sharing import shift_load
from .order import order_violations
from .plan import Plan
from .schedule import SCHEDULE_KEYS, schedule_violations

COST_TOLERANCE = 1e-6


def validate(inst, plan: Plan, *, max_violations: int = 50) -> list[str]:
    """Violations of ``plan`` for ``inst``; an empty list means the plan is valid."""
    if plan.partial and plan.status != "unknown":
        return [f"a partial plan must have status 'unknown', not {plan.status!r}"]
    if not plan.found and not plan.partial:
        if plan.rounds:
            return [f"a plan with status {plan.status!r} must have no rounds"]
        return []
    out: list[str] = []
    placement = inst.initial.copy()
    load = inst.load(placement)
    cost = 0.0
    for t, moves in enumerate(plan.rounds, start=1):
        if isinstance(moves, list) and not moves:
            continue  # an empty round changes nothing and breaks no rule: nothing to replay
        parsed = _parse_round(inst, t, moves, placement, out)
        if parsed is None:
            if len(out) >= max_violations:
                break
            continue
        vms, src, dst, offline = parsed
        rnd = Round(t, placement, load, vms, src, dst, offline)
        for constraint in ALL:
            out.extend(constraint.check(inst, rnd))
        placement = placement.copy()
        placement[vms] = dst
        shift_load(inst, load, placement, vms, src, dst)
        cost += float(np.where(offline, inst.offline_cost[vms], inst.live_cost[vms]).sum())
        if len(out) >= max_violations:
            return out[:max_violations]
    if not out:
        out.extend(_time_violations(inst, plan))  # SPEC 7.4, on rounds that replay cleanly
    off_target = [] if plan.partial else np.flatnonzero(~inst.at_target(placement))[:max_violations]
    for v in off_target:
        out.append(f"after the last round: VM {inst.vm_names[v]} is on "
                   f"{inst.host_names[placement[v]]}, its target is {_target_text(inst, v)}")
    if not isinstance(plan.cost, (int, float)) or not abs(plan.cost - cost) <= COST_TOLERANCE * max(1, cost):
        out.append(f"the plan states cost {plan.cost}, its migrations cost {cost:g}")
    elif (not plan.partial and isinstance(plan.lower_bound, (int, float))
          and plan.lower_bound > plan.cost + COST_TOLERANCE * max(1, cost)):
        out.append(f"the plan states lower bound {plan.lower_bound}, above its cost {plan.cost}")
    if (plan.status == "optimal" and isinstance(plan.rounds_lower_bound, (int, float))
            and plan.rounds_lower_bound > plan.n_rounds):
        out.append(f"the plan states rounds lower bound {plan.rounds_lower_bound}, above its "
                   f"{plan.n_rounds} round(s), though it claims the least cost (the bound holds for every "
                   f"plan of least cost)")
    return out[:max_violations]


def _time_violations(inst, plan: Plan) -> list[str]:
    """SPEC 7.4's order and schedule checks, for a plan that gives them."""
    listed = [m for r in plan.rounds for m in r]
    out = order_violations(inst, plan) if plan.has_order else []
    if any(key in m for m in listed for key in SCHEDULE_KEYS):
        out += schedule_violations(inst, plan)
    bound, makespan = plan.makespan_lower_bound, plan.makespan
    if isinstance(bound, (int, float)) and isinstance(makespan, (int, float)) and bound > makespan * (
            1 + COST_TOLERANCE):
        out.append(f"the plan states makespan lower bound {bound:g}, above its makespan {makespan:g}")
    return out


def _target_text(inst, v: int) -> str:
    if inst.domain_of[v] < 0:
        return inst.host_names[inst.target[v]]
    allowed = [inst.host_names[h] for h in np.flatnonzero(inst.domains[inst.domain_of[v]])]
    return f"one of {', '.join(allowed[:5])}{' ...' if len(allowed) > 5 else ''}"


def _parse_round(inst, t, moves, placement, out):
    """Index arrays of a round, or None (with violations added) when a name or host is wrong."""
    if not isinstance(moves, list):
        out.append(f"round {t}: must be a list of migrations")
        return None
    vms, src, dst, offline, ok = [], [], [], [], True
    seen = set()
    for i, m in enumerate(moves):
        if not isinstance(m, dict) or not {"vm", "from", "to"} <= m.keys():
            out.append(f"round {t}, migration {i + 1}: must have keys vm, from, to")
            ok = False
            continue
        v, s, d = (index.get(m[key]) if isinstance(m[key], str) else None
                   for index, key in ((inst.vm_index, "vm"), (inst.host_index, "from"),
                                      (inst.host_index, "to")))
        if v is None:
            out.append(f"round {t}: unknown VM {short_repr(m['vm'])}")
        elif s is None or d is None:
            out.append(f"round {t}: VM {m['vm']} names unknown host "
                       f"{short_repr(m['from'] if s is None else m['to'])}")
        elif v in seen:
            out.append(f"round {t}: VM {m['vm']} migrates twice in one round")
        elif s != placement[v]:
            out.append(f"round {t}: VM {m['vm']} is on {inst.host_names[placement[v]]}, "
                       f"not {m['from']}")
        elif s == d:
            out.append(f"round {t}: VM {m['vm']} migrates from {m['from']} to itself")
        elif m.get("mode", "live") not in ("live", "offline"):
            out.append(f"round {t}: VM {m['vm']} has mode {short_repr(m['mode'])}, not live or offline")
        elif m.get("mode", "live") == "live" and not inst.can_live[v]:
            why = "it cannot converge: dirty_rate" if inst.cannot_converge[v] else "live: false"
            out.append(f"round {t}: VM {m['vm']} may not migrate live ({why})")
        elif m.get("mode") == "offline" and np.isnan(inst.offline_cost[v]):
            out.append(f"round {t}: VM {m['vm']} may not migrate offline (no offline_cost)")
        else:
            seen.add(v)
            vms.append(v)
            src.append(s)
            dst.append(d)
            offline.append(m.get("mode") == "offline")
            continue
        ok = False
    if not ok:
        return None
    as_array = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
    return as_array(vms), as_array(src), as_array(dst), np.array(offline, dtype=bool)
