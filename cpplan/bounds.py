"""Lower bounds on cost and rounds, and certificates that no plan exists.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 2}},
...                 initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"})
>>> cost_lower_bound(inst), rounds_lower_bound(inst)
(6.0, 2)
>>> infeasibility(inst) is None
True
"""

from __future__ import annotations

import numpy as np

from .constraints import service_levels
from .constraints.concurrency import host_touches
from .durations import CONVERGENCE, hop_bound, non_converging


def reaches(cost: float, bound: float) -> bool:
    """Whether ``cost`` is at the lower ``bound`` (so it is least), up to the rounding of float sums.

    >>> reaches(0.1 + 0.2, 0.3), reaches(2e-10, 1e-10)
    (True, False)
    """
    return cost <= bound + 1e-9 * abs(bound)


def cost_lower_bound(inst) -> float:
    """Every VM whose host must change migrates at least once."""
    return float(inst.cost[inst.moving].sum())


def rounds_lower_bound(inst, vms: np.ndarray | None = None) -> int:
    """Rounds needed by the direct moves alone under the per-host and total limits and every service level.

    ``vms`` (default: every VM that must move) restricts the count to a part of
    the cloud. A VM with several allowed targets counts only at its source: it
    may end anywhere allowed.
    """
    moving = np.flatnonzero(inst.moving) if vms is None else np.asarray(vms, dtype=np.int64)
    if moving.size == 0:
        return 0
    fixed = moving[inst.domain_of[moving] < 0]
    touches = host_touches(inst, inst.initial[fixed], inst.target[fixed]) + np.bincount(
        inst.initial[np.setdiff1d(moving, fixed)], minlength=inst.n_hosts)
    busy = touches > 0
    with np.errstate(divide="ignore"):
        need = [int(np.max(np.ceil(touches[busy] / np.maximum(inst.host_limit[busy], 1)))), 1]
    if inst.total_limit:
        need.append(-(-moving.size // inst.total_limit))
    need += [rule.rounds_bound(inst, moving) for rule in service_levels()]
    return max(need)


def infeasibility(inst) -> str | None:
    """A reason, checkable by hand, why no plan can exist; None when none is known.

    Certificates: a VM that must move but whose host, or target host, allows
    no migration; limits.total 0; a VM that must move, cannot converge live
    (:func:`cpplan.durations.non_converging`) and has no offline mode; and what a
    service level rules out (e.g. a VM that must cross a link, or belongs to a
    group, that allows no migration). (A target that overloads a receiving host is bad input,
    refused when the instance is built.)
    """
    moving = np.flatnonzero(inst.moving)
    fixed = moving[inst.domain_of[moving] < 0]
    for vms, hosts, end in ((moving, inst.initial[moving], "its host"),
                            (fixed, inst.target[fixed], "its target host")):
        frozen = inst.host_limit[hosts] == 0
        if frozen.any():
            v = int(vms[frozen][0])
            return (f"VM {inst.vm_names[v]} must move but {end} "
                    f"{inst.host_names[hosts[frozen][0]]} allows no migration (max_migrations 0)")
    if inst.total_limit == 0 and moving.size:
        return "VMs must move but limits.total is 0"
    stuck = moving[non_converging(inst)[moving] & inst.can_live[moving]]
    if stuck.size:
        v = int(stuck[0])
        return (f"VM {inst.vm_names[v]} must move but cannot converge live: dirty_rate "
                f"{inst.durations.dirty_rate[v]:g} MiB/s >= {CONVERGENCE:g} x {hop_bound(inst)[v]:g} MiB/s, "
                f"the most bandwidth one of its hops can get, and it has no offline mode (offline_cost)")
    for rule in service_levels():
        reason = rule.infeasibility(inst, moving)
        if reason is not None:
            return reason
    return None
