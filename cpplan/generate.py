"""Synthetic clouds at any size, in five families, for tests and benchmarks.

Hosts have ``ram`` (GiB), ``cpu`` (cores, overcommitted by an allocation
ratio) and ``disk`` (GB); VMs are drawn from OpenStack-like flavors; about
30 VMs sit on each host. Every family keeps the target placement within
capacity on every host (a receiving host is never overloaded).

- ``rebalance``: 30-50% of the VMs get a new host, chosen where there is room.
- ``consolidate``: the least-loaded 20% of the hosts are emptied.
- ``evacuate``: 10% of the hosts are drained.
- ``shuffle``: a fresh packing of the same VMs at ~85% utilisation (full of cycles).
- ``tight``: hosts ~93% full on RAM, 30% of their VMs swap places among them,
  5% of the hosts half-empty as the only staging room; one migration per host
  per round, so the order matters.

``groups`` adds service groups to any family: anti-affinity groups of 2-5
VMs with ``max_migrating: 1``, covering that fraction of the VMs, whose
members sit on pairwise distinct hosts at the start and at the target.

``images=K, sharing=R`` give every VM one of K images (``img0`` ...), drawn
uniformly and independently of the placements (so VMs of one image are spread
over the hosts), and the cloud ``page_sharing: {ratio: R}``: VMs of one image
on one host share a fraction R of their RAM
(:mod:`cpplan.constraints.page_sharing`). Every placement is packed by plain
sums, which sharing only lowers, so the targets stay within capacity. Without
images (the default) the cloud has neither key.

>>> inst = generate("rebalance", 10, seed=1)
>>> inst.n_hosts, inst.resources
(10, ('ram', 'cpu', 'disk'))
>>> 15 < inst.n_vms / inst.n_hosts < 40 and bool(inst.moving.any())
True
>>> grouped = generate("rebalance", 10, seed=1, groups=0.3)
>>> sum(len(g.vms) for g in grouped.groups) == round(0.3 * grouped.n_vms)
True
>>> shared = generate("rebalance", 10, seed=1, images=4, sharing=0.4)
>>> shared.to_dict()["vms"]["vm000"], shared.share_ratio.tolist()
({'ram': 4, 'cpu': 8, 'disk': 40, 'image': 'img3'}, [0.4, 0.4, 0.4, 0.4])
>>> bool((shared.initial == inst.initial).all() and (shared.target == inst.target).all())
True
"""

from __future__ import annotations

import numpy as np

from .arrays import group_cumsum
from .model import Instance

FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight")
RESOURCES = ("ram", "cpu", "disk")

# name: (ram GiB, vcpus, disk GB, share of the VMs)
FLAVORS = {
    "m1.small": (2, 1, 20, 0.25),
    "m1.medium": (4, 2, 40, 0.25),
    "m1.large": (8, 4, 80, 0.20),
    "m1.xlarge": (16, 8, 160, 0.10),
    "c1.large": (4, 8, 40, 0.08),
    "r1.large": (32, 4, 80, 0.07),
    "d1.large": (8, 2, 200, 0.05),
}
HOST = {"ram": 288, "cpu": 48, "disk": 4000}  # ~30 VMs at 80% with the flavors above
CPU_ALLOCATION_RATIO = 4.0
# ``tight`` hosts have spare cpu and disk so that RAM is what binds.
TIGHT_HOST = {"ram": 288, "cpu": 96, "disk": 8000}
GROUP_SIZES = (2, 5)  # smallest and largest anti-affinity group
MAX_IMAGES = 10_000


def generate(family: str, hosts: int, seed: int = 0, *, host_limit: int | None = None,
             groups: float = 0.0, images: int = 0, sharing: float = 0.0) -> Instance:
    """A cloud of ``hosts`` hosts of the named family; the same seed gives the same cloud.

    ``host_limit`` overrides the per-host migration limit (2, or 1 for ``tight``).
    ``groups`` is the fraction of the VMs put into anti-affinity groups (see
    :func:`anti_affinity_groups`); ``images`` the number of VM images and
    ``sharing`` the fraction of RAM that VMs of one image share on a host (see
    the module docstring). The hosts, VMs and placements depend on neither, so
    the same seed gives the same cloud with and without groups or images.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    if hosts < 2:
        raise ValueError("a generated cloud needs at least 2 hosts")
    if not 0 <= groups <= 1:
        raise ValueError(f"groups is a fraction of the VMs, between 0 and 1, not {groups}")
    _check_images(images, sharing)
    rng = np.random.default_rng([seed, FAMILIES.index(family), hosts])
    build = {"rebalance": _rebalance, "consolidate": _consolidate, "evacuate": _evacuate,
             "shuffle": _shuffle, "tight": _tight}[family]
    host_size, demand, initial, target = build(rng, hosts)
    limit = host_limit if host_limit is not None else (1 if family == "tight" else 2)
    members = []
    if groups > 0:
        group_rng = np.random.default_rng([seed, FAMILIES.index(family), hosts, 1])
        members = anti_affinity_groups(group_rng, initial, target, groups)
    inst = _instance(host_size, hosts, demand, initial, target, limit, members)
    if images == 0:
        return inst
    image_rng = np.random.default_rng([seed, FAMILIES.index(family), hosts, 2])
    return with_images(inst, image_rng.integers(images, size=inst.n_vms), sharing)


def _check_images(images, sharing) -> None:
    if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or not 0 <= images <= MAX_IMAGES:
        raise ValueError(f"images is a whole number of VM images, between 0 and {MAX_IMAGES}, not {images!r}")
    if isinstance(sharing, bool) or not isinstance(sharing, (int, float)) or not 0 <= sharing <= 1:
        raise ValueError(f"sharing is the fraction of RAM shared, between 0 and 1, not {sharing!r}")
    if sharing and not images:
        raise ValueError("sharing needs images: give images=K as well")


def with_images(inst: Instance, image: np.ndarray, ratio: float) -> Instance:
    """``inst`` with VM ``j`` of image ``img{image[j]}`` and ``page_sharing: {ratio: ratio}``.

    >>> inst = Instance(hosts={"h": {"ram": 8}}, vms={"a": {"ram": 4}}, initial={"a": "h"})
    >>> shared = with_images(inst, np.array([1]), 0.5)
    >>> shared.to_dict()["vms"], shared.to_dict()["page_sharing"]
    ({'a': {'ram': 4, 'image': 'img1'}}, {'ratio': 0.5})
    """
    spec = inst.to_dict()
    for name, j in zip(inst.vm_names, image.tolist(), strict=True):
        spec["vms"][name]["image"] = f"img{j}"
    return inst.replace(vms=spec["vms"], page_sharing={"ratio": float(ratio)})


def anti_affinity_groups(rng, initial: np.ndarray, target: np.ndarray, fraction: float) -> list[np.ndarray]:
    """Disjoint groups of 2-5 VM indices, together ``round(fraction * VMs)`` of them where possible.

    Members of a group have pairwise distinct ``initial`` hosts and pairwise
    distinct ``target`` hosts, so neither placement breaks anti-affinity.
    Random groups are drawn in vectorised passes; a group with two members on
    one host is dropped and its VMs drawn again in the next pass. Groups are
    at most as large as there are hosts in use; when the placements leave too few
    compatible VMs (few hosts), the coverage falls short.

    >>> rng = np.random.default_rng(0)
    >>> found = anti_affinity_groups(rng, np.arange(20) % 4, np.arange(20) % 5, 0.5)
    >>> sum(map(len, found)), all(2 <= len(g) <= 4 for g in found)
    (10, True)
    """
    n_hosts = int(max(initial.max(), target.max())) + 1
    smallest = GROUP_SIZES[0]
    largest = min(GROUP_SIZES[1], np.unique(initial).size, np.unique(target).size)
    free = np.ones(len(initial), dtype=bool)
    need = round(fraction * len(initial))
    found = []
    for _ in range(100 if largest >= smallest else 0):
        sizes = _group_sizes(rng, need, smallest, largest, int(free.sum()))
        if sizes.size == 0:
            break
        chosen = rng.permutation(np.flatnonzero(free))[:sizes.sum()]
        group = np.repeat(np.arange(sizes.size), sizes)
        clash = np.zeros(sizes.size, dtype=bool)
        for place in (initial, target):
            key = np.sort(group * n_hosts + place[chosen])
            clash[key[1:][key[1:] == key[:-1]] // n_hosts] = True
        ok = ~clash[group]
        free[chosen[ok]] = False
        if ok.any():
            found.extend(np.split(chosen[ok], np.cumsum(sizes[~clash])[:-1]))
        need -= int(ok.sum())
    return found


def _group_sizes(rng, total: int, smallest: int, largest: int, available: int) -> np.ndarray:
    """Random sizes in ``[smallest, largest]`` summing to ``min(total, available)``, as near as they can."""
    total = min(total, available)
    if total < smallest:
        return np.zeros(0, dtype=np.int64)
    sizes = rng.integers(smallest, largest + 1, size=total // smallest)
    sizes = sizes[np.cumsum(sizes) <= total]
    rest = total - int(sizes.sum())
    if rest >= smallest:
        sizes = np.r_[sizes, rest]
    else:  # spread the rest over groups with room to grow
        room = np.flatnonzero(sizes < largest)[:rest]
        sizes[room] += 1
    return sizes


# ------------------------------------------------------------------ families
def _rebalance(rng, n_hosts):
    fill = rng.uniform(0.55, 0.95, n_hosts)
    demand, initial = _pack(rng, _effective(HOST), fill)
    moving = rng.random(len(initial)) < rng.uniform(0.3, 0.5)
    target = _relocate(rng, _effective(HOST), demand, initial, np.flatnonzero(moving),
                       np.ones(n_hosts, dtype=bool))
    return HOST, demand, initial, target


def _consolidate(rng, n_hosts):
    fill = rng.uniform(0.45, 0.85, n_hosts)
    demand, initial = _pack(rng, _effective(HOST), fill)
    emptied = np.argsort(_dominant(_load(demand, initial, n_hosts), _effective(HOST)))[:max(1, n_hosts // 5)]
    return HOST, demand, initial, _drain(rng, demand, initial, emptied, n_hosts)


def _evacuate(rng, n_hosts):
    fill = rng.uniform(0.6, 0.9, n_hosts)
    demand, initial = _pack(rng, _effective(HOST), fill)
    drained = rng.choice(n_hosts, size=max(1, n_hosts // 10), replace=False)
    return HOST, demand, initial, _drain(rng, demand, initial, drained, n_hosts)


def _shuffle(rng, n_hosts):
    capacity = _effective(HOST)
    demand, initial = _pack(rng, capacity, np.full(n_hosts, 0.87))
    target = _assign(rng, capacity, demand, np.full(n_hosts, 0.87))
    # VMs the fresh packing could not seat (boundary leftovers) stay where they are, if they fit.
    load = _load(demand[target >= 0], target[target >= 0], n_hosts)
    for j in np.flatnonzero(target < 0):
        h = initial[j]
        if (load[h] + demand[j] <= capacity).all():
            target[j] = h
            load[h] += demand[j]
        else:
            roomy = np.flatnonzero((load + demand[j] <= capacity).all(axis=1))
            target[j] = roomy[np.argmax(_dominant(capacity - load[roomy], capacity))]
            load[target[j]] += demand[j]
    return HOST, demand, initial, target


def _tight(rng, n_hosts):
    capacity = _effective(TIGHT_HOST)
    n_staging = max(1, n_hosts // 20)
    fill = np.full(n_hosts, 0.995)
    fill[rng.choice(n_hosts, size=n_staging, replace=False)] = 0.5
    demand, initial = _pack(rng, capacity, fill)
    staging = fill < 0.9
    target = initial.copy()
    chosen = np.flatnonzero(~staging[initial] & (rng.random(len(initial)) < 0.3))
    # Swap hosts among chosen VMs of the same size: every host ends exactly as full as it began.
    sizes = np.unique(demand[chosen], axis=0, return_inverse=True)[1].ravel()
    for s in np.unique(sizes):
        members = chosen[sizes == s]
        target[members] = initial[rng.permutation(members)]
    return TIGHT_HOST, demand, initial, target


# ------------------------------------------------------------------ helpers
def _effective(host: dict) -> np.ndarray:
    ratio = {"cpu": CPU_ALLOCATION_RATIO}
    return np.array([host[r] * ratio.get(r, 1.0) for r in RESOURCES], dtype=float)


def _dominant(amount: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """The largest share of a host's capacity that each row takes, over the resources."""
    return (amount / capacity).max(axis=-1)


def _load(demand, placement, n_hosts) -> np.ndarray:
    out = np.zeros((n_hosts, demand.shape[1]))
    np.add.at(out, placement, demand)
    return out


def _flavors(rng, n: int) -> np.ndarray:
    table = np.array([f[:3] for f in FLAVORS.values()], dtype=float)
    weights = np.array([f[3] for f in FLAVORS.values()])
    return table[rng.choice(len(table), size=n, p=weights / weights.sum())]


def _pack(rng, capacity, fill):
    """Draw VMs and pack them so host h holds at most ``fill[h]`` of its capacity (dominant share)."""
    mean_share = _dominant(_flavors(rng, 4096), capacity).mean()
    demand = _flavors(rng, int(fill.sum() / mean_share * 1.15) + 64)
    target = _assign(rng, capacity, demand, fill)
    keep = target >= 0
    return demand[keep], target[keep]


def _assign(rng, capacity, demand, fill) -> np.ndarray:
    """Lay the VMs (in random order) end to end along the hosts' bins; -1 for a VM that straddles two.

    Host h's bin has length ``fill[h]`` in dominant share, so no host exceeds that share.
    """
    order = rng.permutation(len(demand))
    share = _dominant(demand[order], capacity)
    end = np.cumsum(share)
    start = end - share
    bounds = np.cumsum(fill)
    host_of_start = np.searchsorted(bounds, start, side="right")
    host_of_end = np.searchsorted(bounds, end - 1e-12, side="right")
    inside = (host_of_start == host_of_end) & (host_of_end < len(fill))
    out = np.full(len(demand), -1, dtype=np.int64)
    out[order[inside]] = host_of_start[inside]
    return out


def _relocate(rng, capacity, demand, initial, chosen, allowed) -> np.ndarray:
    """Move ``chosen`` VMs to random allowed hosts with room, in vectorised passes.

    A VM's old host is freed only once the VM is placed elsewhere, so the
    result always fits; a VM that finds no room keeps its host.
    """
    n_hosts = len(allowed)
    target = initial.copy()
    free = capacity - _load(demand, initial, n_hosts)
    todo = rng.permutation(chosen)
    for _ in range(60):
        if todo.size == 0:
            break
        room = (free / capacity).min(axis=1)
        weight = np.where(allowed, np.maximum(room, 0) + 1e-9, 0)
        proposal = rng.choice(n_hosts, size=todo.size, p=weight / weight.sum())
        order = np.argsort(proposal, kind="stable")
        todo, proposal = todo[order], proposal[order]
        used = group_cumsum(demand[todo], proposal)
        ok = (used <= free[proposal] - 1e-9).all(axis=1) & (proposal != initial[todo])
        np.subtract.at(free, proposal[ok], demand[todo[ok]])
        np.add.at(free, initial[todo[ok]], demand[todo[ok]])
        target[todo[ok]] = proposal[ok]
        todo = rng.permutation(todo[~ok])
    return target


def _drain(rng, demand, initial, drained, n_hosts) -> np.ndarray:
    allowed = np.ones(n_hosts, dtype=bool)
    allowed[drained] = False
    chosen = np.flatnonzero(~allowed[initial])
    return _relocate(rng, _effective(HOST), demand, initial, chosen, allowed)


def _instance(host: dict, n_hosts: int, demand, initial, target, limit, members) -> Instance:
    width_h, width_v = len(str(n_hosts - 1)), len(str(len(demand) - 1))
    host_names = [f"h{i:0{width_h}d}" for i in range(n_hosts)]
    vm_names = [f"vm{j:0{width_v}d}" for j in range(len(demand))]
    cells = demand.astype(int).tolist()
    vms = {name: dict(zip(RESOURCES, row, strict=True)) for name, row in zip(vm_names, cells, strict=True)}
    initial_names = dict(zip(vm_names, (host_names[h] for h in initial.tolist()), strict=True))
    moved = np.flatnonzero(target != initial)
    target_names = {vm_names[j]: host_names[target[j]] for j in moved.tolist()}
    width_g = len(str(len(members) - 1))
    groups = {f"g{i:0{width_g}d}": {"vms": [vm_names[j] for j in group.tolist()], "anti_affinity": True,
                                     "max_migrating": 1}
              for i, group in enumerate(members)}
    return Instance(hosts={h: dict(host) for h in host_names}, vms=vms, initial=initial_names,
                    target=target_names, limits={"host": limit},
                    allocation_ratio={"cpu": CPU_ALLOCATION_RATIO}, groups=groups or None)
