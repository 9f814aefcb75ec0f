"""Breaking a greedy deadlock with offline moves: a VM moved offline frees its host at once.

When no VM can move, the waiting VMs can often move in one round if some go
offline: an offline leaver does not count on its source during the round,
so a cycle of full hosts trading VMs fits when each host's leaver goes
offline. Those that may go offline are the VMs that move offline anyway
(``inst.offline``, no extra cost) and *dual* VMs (live by default, with an
``offline_cost``), at ``offline_cost - live_cost`` extra each.

:func:`offline_break` first looks for disjoint cycles of hosts (one leaver
and one arrival per host, inside the strongly connected parts of the waiting
graph) whose trade fits; failing that, it takes every waiting VM and drops
arrivals on hosts that overflow (or run out of touches, or past the total
limit) until the rest fits. Then each dual VM whose source does not need the
room it frees moves live after all. Given the cost of a bounce per VM, a
cycle is only taken when its extra cost is no more than bouncing one of its
VMs. The round is checked with the validator's own rules before it is returned.

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}},
...                 vms={"a": {"ram": 4, "offline_cost": 5}, "b": {"ram": 4, "offline_cost": 5}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
>>> move = offline_break(swap, swap.initial, swap.load(swap.initial), np.array([0, 1]), swap.target)
>>> move.vms.tolist(), move.offline.tolist(), move.extra
([0, 1], [True, True], 2.0)
>>> offline_break(swap, swap.initial, swap.load(swap.initial), np.array([0, 1]), swap.target,
...               bounce=np.array([1.0, 1.0])) is None     # bouncing costs 1, going offline 2
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...arrays import run_starts
from ...constraints import ALL, Round, allowed_by_service_levels, round_budgets, take_if_admitted
from ...constraints.capacity import during_round, fits
from ...constraints.concurrency import can_receive, can_send, within_directions
from ...graphs import functional_cycles, strongly_connected
from .round import within_slots

BUDGET_RETRIES = 3  # peels redone after the service levels' budgets refuse some migrations


@dataclass(frozen=True)
class OfflineBreak:
    """One round of migrations (``vms`` to ``dst``, ``offline`` per migration) and its extra cost."""

    vms: np.ndarray
    dst: np.ndarray
    offline: np.ndarray
    extra: float


def may_go_offline(inst) -> np.ndarray:
    """Mask of the VMs that may move offline (those that do anyway, and dual VMs)."""
    return inst.offline | inst.dual


def offline_break(inst, placement, load, waiting: np.ndarray, aim: np.ndarray,
                  bounce: np.ndarray | None = None) -> OfflineBreak | None:
    """Migrations of ``waiting`` VMs (in priority order) to ``aim`` that fit one round with offline moves.

    ``load`` is the use per host at the start of the round; ``bounce`` (per
    VM, optional) what a bounce of the VM would cost: a set of migrations is
    taken only when its extra cost is no more than the cheapest bounce among
    them. None when nothing fits, is worth it, or the round would break a rule.
    """
    waiting = waiting[~inst.pinned[waiting] & (placement[waiting] != aim[waiting])]
    src, dst = placement[waiting], aim[waiting]
    allowed = allowed_by_service_levels(inst, waiting, src, dst)
    freeing = may_go_offline(inst)[waiting]
    premium = np.where(freeing & ~inst.offline[waiting],
                       inst.offline_cost[waiting] - inst.live_cost[waiting], 0.0)
    worth = None if bounce is None else bounce[waiting]
    keep = _fitting_cycles(inst, load, src, dst, inst.demand[waiting], freeing & allowed, premium, worth)
    found = keep.any() and _checked(inst, placement, load, waiting[keep], src[keep], dst[keep])
    if found:
        return found
    keep = _peeled(inst, placement, waiting, load, src, dst, freeing, allowed)
    found = keep.any() and _checked(inst, placement, load, waiting[keep], src[keep], dst[keep])
    if found and (worth is None or found.extra <= worth[keep].min()):
        return found
    return None


def _checked(inst, placement, load, vms, src, dst) -> OfflineBreak | None:
    """The round with each migration's mode and extra cost, or None if it breaks a rule."""
    offline = _offline_where_needed(inst, placement, load, vms, src, dst)
    rnd = Round(0, placement, load, vms, src, dst, offline)
    if any(rule.check(inst, rnd) for rule in ALL):
        return None
    premium = inst.offline_cost[vms] - inst.live_cost[vms]
    return OfflineBreak(vms, dst, offline, float(premium[offline & ~inst.offline[vms]].sum()))


def _fitting_cycles(inst, load, src, dst, demand, freeing, premium, worth) -> np.ndarray:
    """Mask of migrations on disjoint cycles of hosts that fit when every one of them moves offline.

    Each host of the strongly connected parts of the graph of waiting VMs that
    may go offline keeps one leaver (its largest) as its edge; the cycles of
    that graph (one edge out per host) are kept where every host has room for
    its arrival once its leaver is gone, and (with ``worth``) where the cycle's
    premium is no more than the cheapest bounce in it, within the total limit.
    """
    keep = np.zeros(len(src), dtype=bool)
    trades = can_send(inst) & can_receive(inst)  # a host of a cycle sends one VM and receives one
    candidates = np.flatnonzero(freeing & (inst.host_limit[src] >= 2) & (inst.host_limit[dst] >= 2)
                                & trades[src] & trades[dst])
    if candidates.size < 2:
        return keep
    comp = strongly_connected(inst.n_hosts, src[candidates], dst[candidates])
    candidates = candidates[comp[src[candidates]] == comp[dst[candidates]]]
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.nan_to_num(demand[candidates] / inst.effective[src[candidates]]).max(axis=1, initial=0.0)
    order = candidates[np.lexsort((-size, src[candidates]))]
    first = run_starts(src[order])
    edge = np.full(inst.n_hosts, -1, dtype=np.int64)
    edge[src[order[first]]] = order[first]
    left = np.inf if inst.total_limit is None else int(inst.total_limit)
    for cycle in functional_cycles(edge, dst):
        hosts = dst[cycle]
        during = load[hosts] - demand[edge[hosts]] + demand[cycle]
        fine = fits(during, inst.effective[hosts]).all() and len(cycle) <= left
        if fine and worth is not None:
            fine = premium[cycle].sum() <= worth[cycle].min()
        if fine:
            keep[cycle] = True
            left -= len(cycle)
    return keep


def _peeled(inst, placement, waiting, load, src, dst, freeing, allowed) -> np.ndarray:
    """Mask of the waiting migrations left once arrivals on overflowing hosts are dropped (see :func:`_peel`),
    within the service levels' budgets."""
    keep = allowed.copy()
    for _ in range(BUDGET_RETRIES):
        _peel(inst, load, src, dst, inst.demand[waiting], freeing, keep)
        refused = _refused_by_budgets(inst, placement, waiting, src, dst, keep)
        if not refused.size:
            return keep
        keep[refused] = False
    return np.zeros(len(waiting), dtype=bool)


def _peel(inst, load, src, dst, demand, freeing, keep) -> None:
    """Clear ``keep`` (in place) for migrations until the kept ones fit, those that may leaving offline.

    Each pass drops, on every host over capacity, one arrival: preferably one
    that frees nothing at its source (dropping it overloads nothing else),
    the last in priority order among equals. Touches and the total limit are
    enforced in priority order.
    """
    rank = np.arange(len(src))
    total = len(src) if inst.total_limit is None else int(inst.total_limit)
    while keep.any():
        active = np.flatnonzero(keep)
        within = within_slots(src[active], dst[active], inst.host_limit)
        within &= within_directions(src[active], dst[active], inst.outgoing_limit, inst.incoming_limit)
        within &= np.cumsum(within) <= total
        if not within.all():
            keep[active[~within]] = False
            continue
        during = load.copy()
        gone = active[freeing[active]]
        np.subtract.at(during, src[gone], demand[gone])
        np.add.at(during, dst[active], demand[active])
        over = ~fits(during, inst.effective).all(axis=1)
        clash = active[over[dst[active]]]
        if not clash.size:
            return
        order = np.lexsort((-rank[clash], freeing[clash], dst[clash]))
        first = run_starts(dst[clash[order]])
        keep[clash[order[first]]] = False


def _refused_by_budgets(inst, placement, vms, src, dst, keep) -> np.ndarray:
    """Indices of kept migrations that the service levels' round budgets refuse (in priority order)."""
    budgets = round_budgets(inst, placement)
    if not budgets:
        return np.zeros(0, dtype=np.int64)
    refused = [i for i in np.flatnonzero(keep).tolist()
               if not take_if_admitted(budgets, int(vms[i]), int(src[i]), int(dst[i]))]
    return np.array(refused, dtype=np.int64)


def _offline_where_needed(inst, placement, load, vms, src, dst) -> np.ndarray:
    """Per migration, whether it goes offline: always for ``inst.offline`` VMs; a dual VM only
    when its source receives VMs that need the room it frees (the dearest premiums go live first).

    Room is summed plainly; with page sharing, where the sums say no, the host is counted exactly.
    """
    offline = may_go_offline(inst)[vms]
    receiving = np.zeros(inst.n_hosts, dtype=bool)
    receiving[dst] = True
    switchable = np.flatnonzero(offline & ~inst.offline[vms])
    offline[switchable[~receiving[src[switchable]]]] = False
    switchable = switchable[receiving[src[switchable]]]
    if not switchable.size:
        return offline
    during = load.copy()
    gone = offline
    np.subtract.at(during, src[gone], inst.demand[vms[gone]])
    np.add.at(during, dst, inst.demand[vms])
    premium = inst.offline_cost[vms] - inst.live_cost[vms]
    for i in switchable[np.argsort(-premium[switchable], kind="stable")].tolist():
        h = src[i]
        offline[i] = False
        live = Round(0, placement, load, vms, src, dst, offline)
        if fits(during[h] + inst.demand[vms[i]], inst.effective[h]).all() or _fits_sharing(inst, live, h):
            during[h] += inst.demand[vms[i]]
        else:
            offline[i] = True
    return offline


def _fits_sharing(inst, rnd, h) -> bool:
    """Whether host ``h`` has room during round ``rnd`` thanks to page sharing (False without sharing)."""
    if not inst.share_ratio.size:
        return False
    return bool(fits(during_round(inst, rnd, np.array([h]))[0], inst.effective[h]).all())
