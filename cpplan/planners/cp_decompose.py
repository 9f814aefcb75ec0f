"""Split a cloud into independent parts: connected components of hosts linked by migrations.

Two moving VMs share a part when their hosts are linked by a chain of
migrations, or when a shared limit couples them (the total limit, a network
link both cross, a service group both belong to). Parts touch disjoint hosts
and share no limit, so their plans run side by side: round ``t`` of the
whole plan is round ``t`` of every part.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={h: {"ram": 8} for h in "abcd"}, vms={"x": {"ram": 4}, "y": {"ram": 4}},
...                 initial={"x": "a", "y": "c"}, target={"x": "b", "y": "d"})
>>> [p.tolist() for p in components(inst)]
[[0], [1]]
"""

from __future__ import annotations

import numpy as np

from ..constraints.links import crossing


class _UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, xs) -> None:
        xs = [int(x) for x in xs]
        if not xs:
            return
        root = self.find(xs[0])
        for x in xs[1:]:
            self.parent[self.find(x)] = root


def components(inst) -> list[np.ndarray]:
    """The moving VMs (index arrays) of each independent part, largest first."""
    moving = np.flatnonzero(inst.moving)
    src, dst = inst.initial[moving], inst.target[moving]
    uf = _UnionFind(inst.n_hosts)
    for s, d in zip(src.tolist(), dst.tolist(), strict=True):
        uf.union((s, d))
    if inst.total_limit is not None:
        uf.union(src)
    for link in inst.links:
        uf.union(src[crossing(inst, link, src, dst)])
    for g in inst.groups:
        if g.anti_affinity or g.max_migrating is not None:
            uf.union(inst.initial[g.vms[inst.moving[g.vms]]])
    roots = np.array([uf.find(int(h)) for h in src], dtype=np.int64)
    parts = [moving[roots == r] for r in np.unique(roots)]
    return sorted(parts, key=len, reverse=True)


def part_hosts(inst, vms: np.ndarray) -> np.ndarray:
    """Hosts a part's VMs leave or reach."""
    return np.unique(np.concatenate([inst.initial[vms], inst.target[vms]]))


def idle_hosts(inst) -> np.ndarray:
    """Hosts no moving VM leaves or reaches."""
    busy = np.zeros(inst.n_hosts, dtype=bool)
    busy[inst.initial[inst.moving]] = True
    busy[inst.target[inst.moving]] = True
    return np.flatnonzero(~busy)


def rounds_bound(inst, vms: np.ndarray) -> int:
    """Rounds a part's direct moves need under the per-host, total, link and group limits."""
    src, dst = inst.initial[vms], inst.target[vms]
    touches = np.bincount(src, minlength=inst.n_hosts) + np.bincount(dst, minlength=inst.n_hosts)
    busy = touches > 0
    need = [1, int(np.max(-(-touches[busy] // np.maximum(inst.host_limit[busy], 1))))]
    if inst.total_limit:
        need.append(-(-len(vms) // inst.total_limit))
    for link in inst.links:
        n = int(crossing(inst, link, src, dst).sum())
        if n and link.max_migrations:
            need.append(-(-n // link.max_migrations))
    for g in inst.groups:
        n = int(np.isin(vms, g.vms).sum())
        if n and g.max_migrating:
            need.append(-(-n // g.max_migrating))
    return max(need)
