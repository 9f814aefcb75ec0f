"""Candidate routes for the interval model: direct moves, bounces and step-asides.

A route is the tuple of hosts a VM visits, source first, target last.

>>> from cpplan.model import Instance
>>> import numpy as np
>>> inst = Instance(hosts={"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}},
...                 vms={"x": {"ram": 4}}, initial={"x": "a"}, target={"x": "b"})
>>> direct_routes(inst, [0])
{0: [(0, 1)]}
>>> detour_routes(inst, [0], [], np.arange(3), k=2)
{0: [(0, 1), (0, 2, 1)]}
"""

from __future__ import annotations

import numpy as np

from .cp_intervals import Route


def plan_paths(inst, index_rounds) -> dict[int, tuple[Route, list[int]]]:
    """Each migrating VM's route and hop rounds in a plan given as index rounds."""
    paths: dict[int, tuple[list[int], list[int]]] = {}
    for t, (vms, src, dst, *_) in enumerate(index_rounds):
        for v, s, d in zip(vms.tolist(), src.tolist(), dst.tolist(), strict=True):
            hosts, rounds = paths.setdefault(v, ([s], []))
            hosts.append(d)
            rounds.append(t)
    return {v: (tuple(h), r) for v, (h, r) in paths.items()}


def direct_routes(inst, vms) -> dict[int, list[Route]]:
    return {int(v): [(int(inst.initial[v]), int(inst.target[v]))] for v in vms}


def slack(inst) -> np.ndarray:
    """Room per host and resource in both placements (the tighter of A and B)."""
    return inst.effective - np.maximum(inst.load(inst.initial), inst.load(inst.target))


def staging_hosts(inst, v: int, hosts: np.ndarray, room: np.ndarray, k: int) -> list[int]:
    """Up to ``k`` hosts of ``hosts`` (not v's source or target) that can hold v, most slack first."""
    hosts = hosts[(hosts != inst.initial[v]) & (hosts != inst.target[v]) & (inst.host_limit[hosts] > 0)]
    if hosts.size == 0:
        return []
    spare = room[hosts] - inst.demand[v]
    fits = (inst.effective[hosts] - inst.demand[v] >= -1e-9).all(axis=1)  # room may open up later
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(np.isfinite(spare), spare / np.maximum(inst.effective[hosts], 1e-9), 1.0).min(axis=1)
    order = np.argsort(-score[fits], kind="stable")[:k]
    return hosts[fits][order].tolist()


def detour_routes(inst, vms, stayers, hosts: np.ndarray, k: int) -> dict[int, list[Route]]:
    """Direct routes plus bounces through ``k`` staging hosts for ``vms``; step-asides for ``stayers``."""
    room = slack(inst)
    out = direct_routes(inst, vms)
    for v in vms:
        a, b = out[int(v)][0]
        out[int(v)] += [(a, c, b) for c in staging_hosts(inst, int(v), hosts, room, k)]
    for v in stayers:
        a = int(inst.initial[v])
        asides = [(a, c, a) for c in staging_hosts(inst, int(v), hosts, room, k)]
        if asides:
            out[int(v)] = asides
    return out


def blocking_stayers(inst, hosts: np.ndarray, per_host: int) -> np.ndarray:
    """Up to ``per_host`` cheapest movable stayers on each receiving host of ``hosts``."""
    receiving = np.zeros(inst.n_hosts, dtype=bool)
    receiving[inst.target[inst.moving]] = True
    mask = np.zeros(inst.n_hosts, dtype=bool)
    mask[hosts] = True
    stay = np.flatnonzero(~inst.moving & ~inst.pinned & receiving[inst.initial] & mask[inst.initial])
    out = []
    for h in np.unique(inst.initial[stay]):
        on = stay[inst.initial[stay] == h]
        out.extend(on[np.argsort(inst.cost[on], kind="stable")[:per_host]].tolist())
    return np.array(sorted(out), dtype=np.int64)
