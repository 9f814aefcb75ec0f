"""A partial plan for an answer without a plan (``cpplan plan --partial``): as many VMs to their target
as the direct moves allow, in valid rounds.

Where the VMs may go: the *stuck state* of :func:`cpplan.blockers.stuck_state` (every direct move that
fits, one at a time, until none is left; the blocked VMs stay where they are). It is made a placement
B' that an instance may have: a VM whose arrival shares a host with a member of its anti-affinity
group, or lands on a host it would overload once earlier arrivals are taken back, stays home
instead, until none does (each VM is sent home at most once, so this ends). Then greedy plans A -> B'
on the same cloud with B' as its target (affinity, which binds only B, and ``drain`` dropped), and
its rounds, valid for B', are valid rounds of the instance too: SPEC 4's rules on a round do not
read the target.

The answer keeps its status ``unknown`` (``infeasible`` becomes ``unknown``, its reason kept and
``stats["proven_infeasible"]`` true), gains ``partial: true`` and the rounds, and ``stats``
``reached_target`` (VMs that had to move and end the partial plan on their target) and
``left_to_move`` (those still off it). When B' cannot be planned (or nothing reaches its target), the
partial plan has no rounds.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 10}, "h2": {"ram": 8}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 2}},
...                 initial={"a": "h1", "b": "h2", "c": "h1"}, target={"a": "h2", "b": "h1", "c": "h3"})
>>> p = partial_plan(inst, Plan("unknown", 0, [], reason="stuck"), time_limit=5)
>>> p.partial, p.status, p.routes(), p.stats["reached_target"], p.stats["left_to_move"]
(True, 'unknown', [[{'vm': 'c', 'from': 'h1', 'to': 'h3'}]], 1, 2)
"""

from __future__ import annotations

import numpy as np

from ..blockers import stuck_state
from ..constraints.capacity import fits
from ..errors import InputError
from ..model import Instance
from ..plan import Plan
from ..schedule import stuck_hop
from . import greedy


def partial_plan(inst, result: Plan, *, time_limit: float | None, seed: int = 0) -> Plan:
    """``result`` (without a plan) with the partial plan of the module docstring."""
    rounds = _rounds_to(inst, _reachable_end(inst), time_limit, seed)
    if rounds:
        out = Plan.from_index_rounds(inst, rounds, "unknown")
        placement = inst.initial.copy()
        for vms, _, dst, _ in rounds:
            placement[vms] = dst
    else:
        out, placement = Plan("unknown", 0, []), inst.initial
    reached = int((inst.moving & inst.at_target(placement)).sum())
    left = int((~inst.at_target(placement)).sum())
    proven = result.status == "infeasible"
    stats = {**result.stats, "reached_target": reached, "left_to_move": left}
    if proven:
        stats["proven_infeasible"] = True
    what = f"{reached} VM{' reaches its' if reached == 1 else 's reach their'} target, {left} left"
    return Plan("unknown", out.cost, out.rounds, planner=result.planner, lower_bound=result.lower_bound,
                rounds_lower_bound=result.rounds_lower_bound,
                reason=f"{result.reason}; partial plan: {what}" if result.reason else f"partial plan: {what}",
                stats=stats, makespan_lower_bound=result.makespan_lower_bound, blocked=result.blocked,
                partial=True)


def _reachable_end(inst) -> np.ndarray:
    """B': the stuck state, less the arrivals that break anti-affinity or overload a host (they stay)."""
    end = stuck_state(inst)[0].copy()
    while True:
        moved = end != inst.initial
        back = moved & (_clashing(inst, end) | _overloading(inst, end, moved))
        if not back.any():
            return end
        end[back] = inst.initial[back]


def _clashing(inst, end: np.ndarray) -> np.ndarray:
    """Mask of the VMs sharing a host in ``end`` with a member of one of their anti-affinity groups."""
    keep = inst.group_anti[inst.member_group]
    groups, vms = inst.member_group[keep], inst.member_vm[keep]
    key = groups * inst.n_hosts + end[vms]
    _, where, counts = np.unique(key, return_inverse=True, return_counts=True)
    out = np.zeros(inst.n_vms, dtype=bool)
    out[vms[counts[where.reshape(-1)] > 1]] = True
    return out


def _overloading(inst, end: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Mask of the VMs arriving in ``end`` on a host it overloads."""
    over = ~fits(inst.load(end), inst.effective).all(axis=1)
    return moved & over[end]


def _rounds_to(inst, end: np.ndarray, time_limit, seed: int) -> list:
    """Greedy's rounds from A to ``end`` (index form), valid rounds of ``inst``; [] when none."""
    if not (inst.at_target(end) & inst.moving).any():
        return []
    spec = inst.to_dict()
    spec.pop("drain", None)
    spec["target"] = {v: inst.host_names[h] for v, h in zip(inst.vm_names, end.tolist(), strict=True)}
    spec["groups"] = {g: {**s, "affinity": False} if isinstance(s, dict) and "affinity" in s else s
                      for g, s in spec.get("groups", {}).items()}
    try:
        reachable = Instance(**spec, source=inst.source)
    except InputError:  # B' breaks a rule of B that A may break (a legal start): no partial plan
        return []
    found = greedy.plan(reachable, time_limit=time_limit, seed=seed)
    if not found.found or stuck_hop(inst, found) is not None:
        return []
    return found.index_rounds(inst)
