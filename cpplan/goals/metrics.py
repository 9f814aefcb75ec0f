"""What a placement achieves: hosts in use, utilisation, migration cost, and the bounds on them.

A host's *utilisation* is the highest, over the resources it limits, of its
load divided by its effective capacity (capacity x allocation ratio): a host
at 80 % RAM and 30 % CPU is 80 % utilised. Resources a host does not limit
do not count. Loads follow the page-sharing rule
(:mod:`cpplan.constraints.page_sharing`).

The bounds hold for every placement. With page sharing the least total use of
the shared resource (:func:`least_total`) counts every VM's private part
``(1 - R) * ram`` and each image's largest pages ``R * ram`` once, as if all its
VMs shared one host; the hosts and utilisation bounds cover that.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 10, "cpu": 4}, "h2": {"ram": 10, "cpu": 4}},
...                 vms={"a": {"ram": 8, "cpu": 1}, "b": {"ram": 2, "cpu": 2}},
...                 initial={"a": "h1", "b": "h1"})
>>> utilisation(inst, inst.initial).tolist()
[1.0, 0.0]
>>> ideal_utilisation(inst), hosts_lower_bound(inst), emptying_cost_bound(inst, 1)
(0.5, 1, 0.0)
>>> summary(inst, inst.initial)["hosts_used"]
1
>>> shared = Instance(hosts={"h1": {"ram": 10}, "h2": {"ram": 10}},
...                   vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
...                   initial={"a": "h1", "b": "h2"}, page_sharing={"ratio": 0.5})
>>> least_total(shared, 0), hosts_lower_bound(shared), ideal_utilisation(shared)   # 4 + 4 + 4
(12.0, 2, 0.6)
>>> {k: v for k, v in summary(shared, np.array([1, 1])).items() if k.startswith("shared")}
{'shared_in_use': 12.0, 'shared_demand': 16.0}
"""

from __future__ import annotations

import numpy as np

from ..constraints.page_sharing import shared_fraction, split_ram, usage


def sharing_on(inst) -> bool:
    """Whether any VM shares pages (an image with a shared fraction above 0)."""
    return bool((shared_fraction(inst) > 0).any())


def sharing_load(inst, placement: np.ndarray) -> np.ndarray:
    """[hosts x resources] use of a placement (a host index per VM) by the page-sharing rule:
    the summed demands, less the pages that VMs of one image share on a host (without page
    sharing, exactly the summed demands). Every goal counts loads with it."""
    return usage(inst, np.arange(inst.n_vms), np.asarray(placement))


def utilisation_of(inst, load: np.ndarray, h: int) -> float:
    """Utilisation of host ``h`` carrying ``load`` (one value per resource)."""
    cap = inst.effective[h]
    limited = np.isfinite(cap) & (cap > 0)
    return float((load[limited] / cap[limited]).max()) if limited.any() else 0.0


def utilisation(inst, placement: np.ndarray) -> np.ndarray:
    """Utilisation of every host under ``placement``."""
    cap = inst.effective
    limited = np.isfinite(cap) & (cap > 0)
    ratio = np.where(limited, sharing_load(inst, placement) / np.where(limited, cap, 1.0), 0.0)
    return ratio.max(axis=1) if ratio.shape[1] else np.zeros(inst.n_hosts)


def hosts_used(inst, placement: np.ndarray) -> int:
    return int(np.unique(placement).size)


def migration(inst, placement: np.ndarray) -> tuple[float, int]:
    """Summed cost and number of the VMs whose host differs from A."""
    moved = placement != inst.initial
    return float(inst.cost[moved].sum()), int(moved.sum())


def least_total(inst, r: int) -> float:
    """The least summed use of resource ``r`` over all hosts that any placement can have: the
    summed demand, but with page sharing on the shared resource each VM's private part plus each
    image's largest pages once."""
    if r != inst.share_resource or not sharing_on(inst):
        return float(inst.demand[:, r].sum())
    private, pages = split_ram(inst)
    image = inst.image
    peaks = np.zeros(inst.share_ratio.size)
    np.maximum.at(peaks, image[image >= 0], pages[image >= 0])
    return float(private.sum() + pages[image < 0].sum() + peaks.sum())


def ideal_utilisation(inst, drained=()) -> float:
    """A lower bound on the highest utilisation: the least total use (:func:`least_total`) over the
    total capacity of the hosts not ``drained``, per resource limited on every host, the highest of
    these."""
    best = 0.0
    keep = np.ones(inst.n_hosts, dtype=bool)
    keep[np.asarray(drained, dtype=np.int64)] = False
    for r in range(len(inst.resources)):
        cap = inst.effective[keep, r]
        if np.isfinite(cap).all() and cap.sum() > 0:
            best = max(best, float(least_total(inst, r) / cap.sum()))
    return best


def hosts_lower_bound(inst) -> int:
    """A proven lower bound on the hosts in use: hosts of pinned VMs, plus the fewest other hosts
    whose largest capacities cover the remaining least total use (:func:`least_total`) of every
    resource, and at least the size of the largest anti-affinity group."""
    must = np.zeros(inst.n_hosts, dtype=bool)
    must[inst.initial[inst.pinned]] = True
    need = int(must.sum())
    for r in range(len(inst.resources)):
        rest = least_total(inst, r) - np.minimum(inst.effective[must, r], np.inf).sum()
        if rest <= 1e-9:
            continue
        caps = np.sort(inst.effective[~must, r])[::-1]
        covered = np.cumsum(caps) >= rest - 1e-9
        extra = int(np.argmax(covered)) + 1 if covered.any() else caps.size
        need = max(need, int(must.sum()) + extra)
    groups = [g.vms.size for g in inst.groups if g.anti_affinity]
    return max([need, *groups, 1 if inst.n_vms else 0])


def emptying_cost_bound(inst, hosts: int, cost: np.ndarray | None = None) -> float:
    """A proven lower bound on the migration cost of any placement using at most ``hosts`` hosts:
    every VM of an emptied host moves, and at least (hosts in use in A) - ``hosts`` hosts must be
    emptied, so at least the cheapest of them to empty (hosts holding a VM that cannot move do
    not count). ``cost`` replaces the VMs' costs (e.g. integer-scaled ones)."""
    cost = inst.cost if cost is None else cost
    to_empty = np.bincount(inst.initial, weights=cost, minlength=inst.n_hosts)
    used = np.bincount(inst.initial, minlength=inst.n_hosts) > 0
    stuck = np.zeros(inst.n_hosts, dtype=bool)
    stuck[inst.initial[inst.pinned]] = True
    for g in inst.groups:
        if g.max_migrating == 0:
            stuck[inst.initial[g.vms]] = True
    stuck |= inst.host_limit <= 0
    emptied = max(0, int(used.sum()) - hosts)
    return float(np.sort(to_empty[used & ~stuck])[:emptied].sum())


def summary(inst, placement: np.ndarray, drained=()) -> dict:
    """The goal metrics of a placement, as plain numbers; utilisation leaves out ``drained`` hosts.
    With page sharing also ``shared_in_use``, the summed use of the shared resource by the
    sharing rule, and ``shared_demand``, its summed demand (the use without sharing)."""
    keep = np.ones(inst.n_hosts, dtype=bool)
    keep[np.asarray(drained, dtype=np.int64)] = False
    u = utilisation(inst, placement)[keep]
    used = np.bincount(placement, minlength=inst.n_hosts) > 0
    cost, moves = migration(inst, placement)
    out = {"hosts_used": int(used.sum()), "max_utilisation": round(float(u.max()), 4),
           "min_utilisation": round(float(u.min()), 4), "spread": round(float(u.max() - u.min()), 4),
           "cost": cost, "moves": moves}
    if sharing_on(inst):
        r = inst.share_resource
        out.update(shared_in_use=float(sharing_load(inst, placement)[:, r].sum()),
                   shared_demand=float(inst.demand[:, r].sum()))
    return out


def sharing_saved(metrics: dict, resource: str = "ram") -> str:
    """What page sharing saves in a :func:`summary` (empty without sharing), e.g.

    >>> sharing_saved({"shared_in_use": 6980.0, "shared_demand": 11520.0}, "RAM")
    'RAM in use 6 980 of 11 520: 39 % saved by sharing'
    """
    if "shared_in_use" not in metrics:
        return ""
    used, demand = metrics["shared_in_use"], metrics["shared_demand"]
    saved = 1 - used / demand if demand > 0 else 0.0
    return (f"{resource} in use {used:,.0f} of {demand:,.0f}".replace(",", " ")
            + f": {100 * saved:.0f} % saved by sharing")
