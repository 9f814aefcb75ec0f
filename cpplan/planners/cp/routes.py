"""Candidate routes for the interval model: direct moves, bounces and step-asides.

A route is the tuple of hosts a VM visits, source first, target last. A VM
with several allowed targets has one direct route to each of its candidate
last hosts (:func:`final_hosts`); its bounces aim at its default target.

>>> from cpplan.model import Instance
>>> import numpy as np
>>> inst = Instance(hosts={"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}},
...                 vms={"x": {"ram": 4}}, initial={"x": "a"}, target={"x": "b"})
>>> direct_routes(inst, [0], {})
{0: [(0, 1)]}
>>> detour_routes(inst, [0], [], np.arange(3), 2, {})
{0: [(0, 1), (0, 2, 1)]}
>>> final_hosts(inst.replace(target={"x": ["b", "c"]}))
({0: [1, 2]}, True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...constraints import allowed_by_service_levels
from ...constraints.capacity import fits
from ...constraints.concurrency import can_receive, can_send
from .intervals import Route

# Candidate last hosts per VM with several allowed ones; past this many, cp picks the roomiest
# and proves nothing that depends on the choice.
MAX_ENDS = 16


class Path(NamedTuple):
    """How a VM moves in a known plan: the hosts it visits, each hop's round, which hops are offline."""

    route: Route
    rounds: list[int]
    offline: list[bool]


def plan_paths(inst, index_rounds) -> dict[int, Path]:
    """Each migrating VM's path in a plan given as index rounds (with their offline masks)."""
    paths: dict[int, tuple[list[int], list[int], list[bool]]] = {}
    for t, (vms, src, dst, offline) in enumerate(index_rounds):
        for v, s, d, o in zip(vms.tolist(), src.tolist(), dst.tolist(), offline.tolist(), strict=True):
            hosts, rounds, modes = paths.setdefault(v, ([s], [], []))
            hosts.append(d)
            rounds.append(t)
            modes.append(o)
    return {v: Path(tuple(h), r, o) for v, (h, r, o) in paths.items()}


def final_hosts(inst) -> tuple[dict[int, list[int]], bool]:
    """Candidate last hosts of each VM with several allowed ones, and whether they are all it can reach.

    The default target comes first, then up to ``MAX_ENDS - 1`` other allowed
    hosts that take the VM (room for it alone, migrations allowed), those with
    the most slack first.
    """
    k = MAX_ENDS
    flexible = np.flatnonzero(inst.domain_of >= 0)
    out: dict[int, list[int]] = {}
    complete = True
    if flexible.size == 0:
        return out, complete
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(slack(inst) / inst.effective, nan=1.0, posinf=1.0)
    score = share.min(axis=1, initial=1.0)
    for d in np.unique(inst.domain_of[flexible]).tolist():
        reachable = inst.domains[d] & can_receive(inst)
        hosts = np.flatnonzero(reachable)
        hosts = hosts[np.argsort(-score[hosts], kind="stable")][:4 * k]
        members = flexible[inst.domain_of[flexible] == d]
        fit = fits(inst.demand[members][:, None, :], inst.effective[hosts][None, :, :]).all(axis=2)
        for v, ok in zip(members.tolist(), fit, strict=True):
            default = int(inst.target[v])
            out[v] = [default, *[h for h in hosts[ok].tolist() if h != default][:k - 1]]
            # the default target takes a slot even when it allows no migration
            complete &= int(reachable.sum()) - bool(reachable[default]) <= k - 1
    return out, complete


def direct_routes(inst, vms, ends: dict[int, list[int]]) -> dict[int, list[Route]]:
    """One route per VM and candidate last host (``ends``; the target for a VM absent from it)."""
    out = {}
    for v in vms:
        a = int(inst.initial[v])
        out[int(v)] = [(a, b) for b in ends.get(int(v), [int(inst.target[v])]) if b != a]
    return out


def slack(inst) -> np.ndarray:
    """Room per host and resource in both placements (the tighter of A and B)."""
    return inst.effective - np.maximum(inst.load(inst.initial), inst.load(inst.target))


def staging_hosts(inst, v: int, hosts: np.ndarray, room: np.ndarray, k: int) -> list[int]:
    """Up to ``k`` hosts of ``hosts`` (not v's source or target) that can hold v and that the service levels
    let it move to (a fence, an among rule), most slack first."""
    relay = can_receive(inst) & can_send(inst)  # a staging host takes v in and sends it on
    hosts = hosts[(hosts != inst.initial[v]) & (hosts != inst.target[v]) & relay[hosts]]
    here = np.full(hosts.size, inst.initial[v])
    hosts = hosts[allowed_by_service_levels(inst, np.full(hosts.size, v), here, hosts)]
    if hosts.size == 0:
        return []
    spare = room[hosts] - inst.demand[v]
    could_hold = (inst.effective[hosts] - inst.demand[v] >= -1e-9).all(axis=1)  # room may open up later
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(np.isfinite(spare), spare / np.maximum(inst.effective[hosts], 1e-9), 1.0).min(axis=1)
    order = np.argsort(-score[could_hold], kind="stable")[:k]
    return hosts[could_hold][order].tolist()


def detour_routes(inst, vms, stayers, hosts: np.ndarray, k: int,
                  ends: dict[int, list[int]]) -> dict[int, list[Route]]:
    """Direct routes plus bounces through ``k`` staging hosts for ``vms``; step-asides for ``stayers``.

    A stayer with several allowed hosts may also move to one of its ``ends`` among ``hosts``.
    """
    room = slack(inst)
    inside = np.zeros(inst.n_hosts, dtype=bool)
    inside[hosts] = True
    out = direct_routes(inst, vms, ends)
    for v in vms:
        a, b = int(inst.initial[v]), int(inst.target[v])
        out[int(v)] += [(a, c, b) for c in staging_hosts(inst, int(v), hosts, room, k)]
    for v in stayers:
        a = int(inst.initial[v])
        moves = [(a, c, a) for c in staging_hosts(inst, int(v), hosts, room, k)]
        moves += [(a, b) for b in ends.get(int(v), []) if b != a and inside[b]]
        if moves:
            out[int(v)] = moves
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
