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

from .constraints.concurrency import host_touches
from .constraints.links import crossing


def cost_lower_bound(inst) -> float:
    """Every VM whose host must change migrates at least once."""
    return float(inst.cost[inst.moving].sum())


def rounds_lower_bound(inst, vms: np.ndarray | None = None) -> int:
    """Rounds needed by the direct moves alone under the per-host, total, link and group limits.

    ``vms`` (default: every VM that must move) restricts the count to a part of
    the cloud. A VM with several allowed targets counts only at its source: it
    may end anywhere allowed.
    """
    moving = np.flatnonzero(inst.moving) if vms is None else np.asarray(vms, dtype=np.int64)
    if moving.size == 0:
        return 0
    fixed = moving[inst.domain_of[moving] < 0]
    src, dst = inst.initial[fixed], inst.target[fixed]
    touches = host_touches(inst, src, dst) + np.bincount(
        inst.initial[np.setdiff1d(moving, fixed)], minlength=inst.n_hosts)
    busy = touches > 0
    with np.errstate(divide="ignore"):
        need = [int(np.max(np.ceil(touches[busy] / np.maximum(inst.host_limit[busy], 1)))), 1]
    if inst.total_limit:
        need.append(-(-moving.size // inst.total_limit))
    for link in inst.links:
        n = int(crossing(inst, link, src, dst).sum())
        if n and link.max_migrations:
            need.append(-(-n // link.max_migrations))
    counted = np.zeros(inst.n_vms, dtype=bool)
    counted[moving] = True
    for g in inst.groups:
        n = int(counted[g.vms].sum())
        if n and g.max_migrating:
            need.append(-(-n // g.max_migrating))
    return max(need)


def infeasibility(inst) -> str | None:
    """A reason, checkable by hand, why no plan can exist; None when none is known.

    Certificates: a VM that must move but whose host, or target host, allows
    no migration; a VM that must cross a link, or belongs to a group, that
    allows none. (A target that overloads a receiving host is bad input,
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
    for link in inst.links:
        if link.max_migrations == 0:
            cross = crossing(inst, link, inst.initial[fixed], inst.target[fixed])
            if cross.any():
                return (f"VM {inst.vm_names[fixed[cross][0]]} must cross link {link.name}, "
                        f"which allows no migration")
    for g in inst.groups:
        if g.max_migrating == 0 and inst.moving[g.vms].any():
            v = int(g.vms[inst.moving[g.vms]][0])
            return f"VM {inst.vm_names[v]} must move but group {g.name} allows no member to migrate"
    return None
