"""Split a cloud into independent parts: connected components of hosts linked by migrations.

Two moving VMs share a part when their hosts are linked by a chain of
migrations (for a VM with several allowed targets, to any of its candidate
last hosts), or when a shared limit couples them (the total limit, or what a
service level says is ``coupled``: a network link both cross, a service
group both belong to). Parts touch disjoint hosts
and share no limit, so their plans run side by side: round ``t`` of the
whole plan is round ``t`` of every part.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={h: {"ram": 8} for h in "abcd"}, vms={"x": {"ram": 4}, "y": {"ram": 4}},
...                 initial={"x": "a", "y": "c"}, target={"x": "b", "y": "d"})
>>> [p.tolist() for p in components(inst, {})]
[[0], [1]]
"""

from __future__ import annotations

import numpy as np

from ...constraints import service_levels
from ...graphs import UnionFind


def components(inst, ends: dict[int, list[int]]) -> list[np.ndarray]:
    """The moving VMs (index arrays) of each independent part, largest first.

    ``ends`` gives the candidate last hosts of VMs with several allowed targets.
    """
    moving = np.flatnonzero(inst.moving)
    src, dst = inst.initial[moving], inst.target[moving]
    uf = UnionFind(inst.n_hosts)
    for v, s, d in zip(moving.tolist(), src.tolist(), dst.tolist(), strict=True):
        uf.union((s, *ends.get(v, [d])))
    if inst.total_limit is not None:
        uf.union(src)
    for rule in service_levels():
        for tied in rule.coupled(inst, moving):
            uf.union(inst.initial[tied])
    roots = np.array([uf.find(int(h)) for h in src], dtype=np.int64)
    parts = [moving[roots == r] for r in np.unique(roots)]
    return sorted(parts, key=len, reverse=True)


def part_hosts(inst, vms: np.ndarray, ends: dict[int, list[int]]) -> np.ndarray:
    """Hosts a part's VMs leave or may reach."""
    reach = [h for v in vms.tolist() for h in ends.get(v, ())]
    return np.unique(np.concatenate([inst.initial[vms], inst.target[vms], np.array(reach, dtype=np.int64)]))


def idle_hosts(inst, ends: dict[int, list[int]]) -> np.ndarray:
    """Hosts no moving VM leaves or may reach."""
    moving = np.flatnonzero(inst.moving)
    return np.setdiff1d(np.arange(inst.n_hosts), part_hosts(inst, moving, ends))
