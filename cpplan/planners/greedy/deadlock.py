"""Breaking a deadlock of the greedy planner at the least extra cost.

When no VM can move straight to its target, the waiting VMs form a graph on
hosts (an edge from a VM's host to the host it aims at: its target, or an
allowed host, see :mod:`.aim`). Only a *terminal* strongly
connected component of that graph (one that waits on nothing outside itself)
can never resolve on its own, so each one gets breaks (one, plus one per
``BREAKS_PER_HOSTS`` hosts, so that large ones unwind in parallel): a VM on
one of its hosts steps aside to a staging host with slack, freeing room for
a waiting VM. When no staging host has room, settled VMs are displaced from
one first (:func:`_make_room`).
The VM that steps aside is chosen by the cost function: a VM that must move
anyway costs one extra migration (a *bounce*, A->C->B), a VM that is done
(on its target, or on an allowed host) costs two (a *displacement*, out and
back later).

>>> from cpplan.model import Instance
>>> from cpplan.planners.greedy.round import RoundBuilder
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> rb = RoundBuilder(swap, swap.initial, swap.load(swap.initial))
>>> break_deadlocks(swap, rb, np.array([0, 1]), np.zeros(2, dtype=int))[0]
(1, 0)
>>> [swap.host_names[h] for h in rb.moves()[2]]   # one VM steps aside to the empty host
['h3']
"""

from __future__ import annotations

import numpy as np

from ...arrays import first_of_each, group_cumsum, rank_within
from ...constraints import allowed_by_service_levels
from ...constraints.capacity import fits
from ...constraints.concurrency import can_send
from ...graphs import strongly_connected
from .aim import Aims

MAX_STEPS_ASIDE = 2  # per VM over the whole plan, so breaks cannot chase each other forever
BREAKS_PER_HOSTS = 10  # a terminal component of n hosts gets 1 + n // 10 breaks
STAGING_SHORTLIST = 64
MAKE_ROOM_TRIES = 8
NEGLIGIBLE_ROOM = 1e-9  # room (absolute, per resource) at or below this is none: a need is met
NO_HOST_AT_ALL = -2


def break_deadlocks(inst, rb, pending: np.ndarray, stepped_aside: np.ndarray, aims: Aims | None = None,
                    jitter=None, make_room_first: bool = False):
    """Add step-aside migrations to round ``rb``.

    ``pending`` are the VMs not on their target; ``stepped_aside`` counts per
    VM how often it already stepped aside; ``aims`` says where each VM aims
    (default: its target); on a retry, ``jitter`` (per VM,
    around 1) perturbs the extra costs and ``make_room_first`` tries clearing
    a staging host before stepping aside. Returns ((bounces, displacements),
    VMs to hold in place next round: they made room for a step aside).
    """
    jitter = np.ones(inst.n_vms) if jitter is None else jitter
    aims = Aims(inst) if aims is None else aims
    nothing = np.zeros(0, dtype=np.int64)
    placement = rb.placement
    done = aims.done(placement)
    aimed = np.zeros(inst.n_hosts, dtype=bool)
    aimed[aims.host[~done]] = True
    pending = pending[~inst.pinned[pending]]
    src, dst = placement[pending], aims.host[pending]
    deficit = np.maximum(rb.load[dst] + inst.demand[pending] - inst.effective[dst], 0)
    blocked = ~fits(rb.load[dst] + inst.demand[pending], inst.effective[dst]).all(axis=1)
    if not blocked.any():
        # Stuck on links or service groups: move the cheapest waiting VM out of the way.
        waiting = pending[stepped_aside[pending] < MAX_STEPS_ASIDE]
        waiting = waiting[np.argsort(inst.cost[waiting], kind="stable")]
        staying = np.zeros(len(waiting), dtype=bool)
        return _step_aside(inst, rb, waiting, staying, stepped_aside, aimed, None, 1), nothing
    need = _smallest_need(inst, dst[blocked], deficit[blocked])
    component = _terminal_components(inst.n_hosts, src[blocked], dst[blocked])
    helpers, staying, extra, comp, quota = _helpers(inst, placement, done, need, component, stepped_aside,
                                                    jitter)
    if helpers.size == 0:
        return (0, 0), nothing
    tries = helpers[:MAKE_ROOM_TRIES], extra[:MAKE_ROOM_TRIES]
    if make_room_first:
        made = _make_room(inst, rb, *tries, stepped_aside, done)
        if made[0] != (0, 0):
            return made
    stepped = _step_aside(inst, rb, helpers, staying, stepped_aside, aimed, need, quota, comp)
    if stepped != (0, 0) or make_room_first:
        return stepped, nothing
    return _make_room(inst, rb, *tries, stepped_aside, done)


def _helpers(inst, placement, done, need, component, stepped_aside, jitter):
    """The VMs that may step aside to break the terminal components, in preference order.

    A helper sits on a host where a waiting VM needs room (``need`` not NaN)
    in a terminal component (``component`` not -1), and is neither pinned nor
    out of steps aside. Returns (helpers, whether each is done, its extra
    cost, its component, the quota of breaks per component), at most
    ``quota * STAGING_SHORTLIST`` helpers per component.
    """
    on_need = ~np.isnan(need[:, 0])
    movable = on_need[placement] & ~inst.pinned & (stepped_aside < MAX_STEPS_ASIDE)
    movable &= component[placement] >= 0
    helpers = np.flatnonzero(movable)
    host = placement[helpers]
    staying = done[helpers]
    extra = np.where(staying, 2.0, 1.0) * inst.cost[helpers]
    covers = (inst.demand[helpers] >= need[host] - NEGLIGIBLE_ROOM).all(axis=1)
    share_freed = inst.demand[helpers] / np.maximum(need[host], NEGLIGIBLE_ROOM)
    freed = np.nan_to_num(share_freed, posinf=1e9).min(axis=1)
    # Those that free enough room first, cheapest first, and among equals the one freeing least
    # (it takes the least room where it lands); then the others, cheapest and largest first.
    order = np.lexsort((np.where(covers, freed, -freed), extra * jitter[helpers], ~covers))
    helpers, staying, extra, comp = helpers[order], staying[order], extra[order], component[host[order]]
    sizes = np.bincount(component[component >= 0])
    quota = 1 + sizes // BREAKS_PER_HOSTS
    pick = rank_within(comp) < quota[comp] * STAGING_SHORTLIST  # candidates tried per component
    helpers, staying, extra, comp = helpers[pick], staying[pick], extra[pick], comp[pick]
    return helpers, staying, extra, comp, quota


def _make_room(inst, rb, helpers, extra, stepped_aside, done):
    """No host has room for a helper: displace settled VMs from one host so a helper fits there next round.

    For each of a few helpers, every host is considered with its cheapest
    settled VMs taken in order until the helper would fit; the cheapest such
    set over helpers and hosts is displaced. Returns ((0, displacements),
    the displaced VMs, to hold in place next round).
    """
    nothing = np.zeros(0, dtype=np.int64)
    placement = rb.placement
    settled = np.flatnonzero(done & ~inst.pinned & (stepped_aside < MAX_STEPS_ASIDE))
    if settled.size == 0:
        return (0, 0), nothing
    settled = settled[np.lexsort((inst.cost[settled], placement[settled]))]
    hosts = placement[settled]
    freed = group_cumsum(inst.demand[settled], hosts)
    spent = group_cumsum(inst.cost[settled][:, None], hosts)[:, 0]
    rank = rank_within(hosts)
    room = rb.free()[hosts] + freed
    best = None
    for u, cost_u in zip(helpers.tolist(), extra.tolist(), strict=True):
        ok = (hosts != placement[u]) & (rank < rb.slots[hosts] - 1)  # the helper needs a touch too
        ok &= allowed_by_service_levels(inst, np.full(hosts.size, u),
                                        np.full(hosts.size, placement[u]), hosts)
        ok &= fits(np.broadcast_to(inst.demand[u], room.shape), room).all(axis=1)
        if ok.any():
            i = np.flatnonzero(ok)[np.argmin(spent[ok])]
            if best is None or cost_u + 2 * spent[i] < best[0]:
                best = (cost_u + 2 * spent[i], i)
    if best is None:
        return (0, 0), nothing
    i = best[1]
    chosen = settled[i - rank[i]:i + 1]
    shortlist = _staging_shortlist(inst, rb, np.zeros(inst.n_hosts, dtype=bool))
    moved = []
    for x in chosen.tolist():
        host = _staging_host(inst, rb, x, shortlist)
        if host >= 0 and rb.offer(np.array([x]), np.array([host]))[0]:
            stepped_aside[x] += 1
            moved.append(x)
    return (0, len(moved)), np.array(moved, dtype=np.int64)


def _step_aside(inst, rb, helpers, staying, stepped_aside, aimed, need, quota, comp=None) -> tuple[int, int]:
    """Move helpers (in preference order) to staging hosts until each component has its quota.

    Staging hosts that waiting VMs aim at (``aimed``) are tried last. With
    ``need`` (room wanted per host), a host counts towards the quota once
    its helpers together free that much; it gets no more helpers after that.
    """
    quota = np.atleast_1d(np.array(quota, dtype=np.int64)).copy()
    remaining = None if need is None else np.nan_to_num(need, nan=0.0)
    comp = np.zeros(len(helpers), dtype=np.int64) if comp is None else comp
    bounces = displacements = 0
    shortlist = _staging_shortlist(inst, rb, aimed)
    too_big: list[np.ndarray] = []  # demands no host can take any more in this round
    for v, stay, c in zip(helpers.tolist(), staying.tolist(), comp.tolist(), strict=True):
        if quota.max() <= 0:
            break
        here = rb.placement[v]
        if quota[c] <= 0 or rb.send_slots()[here] <= 0:
            continue
        if remaining is not None and (remaining[here] <= NEGLIGIBLE_ROOM).all():
            continue
        if any((inst.demand[v] >= d).all() for d in too_big):
            continue
        host = _staging_host(inst, rb, v, shortlist)
        if host == NO_HOST_AT_ALL:
            too_big.append(inst.demand[v])
        if host < 0 or not rb.offer(np.array([v]), np.array([host]))[0]:
            continue
        if remaining is not None:
            remaining[here] -= inst.demand[v]
        if remaining is None or (remaining[here] <= NEGLIGIBLE_ROOM).all():
            quota[c] -= 1
        stepped_aside[v] += 1
        if stay:
            displacements += 1
        else:
            bounces += 1
    return bounces, displacements


def _staging_shortlist(inst, rb, blocked_target) -> np.ndarray:
    """Hosts by decreasing slack (smallest free share over the resources), unblocked ones first."""
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(rb.free() / inst.effective, nan=1.0, posinf=1.0).min(axis=1)
    return np.lexsort((-share, blocked_target))


def _staging_host(inst, rb, v, shortlist) -> int:
    """The first host of the shortlist with room and a free touch for VM ``v`` that the service levels
    let it move to (a fence, an among rule).

    -1 when none but its own host (or none it may move to), ``NO_HOST_AT_ALL`` when no host has room.
    """
    here = rb.placement[v]
    for chunk in (shortlist[:STAGING_SHORTLIST], shortlist):
        ok = (rb.receive_slots()[chunk] > 0) & can_send(inst)[chunk]  # v must leave it again
        ok &= rb.room(chunk, np.broadcast_to(inst.demand[v], (len(chunk), inst.demand.shape[1])))
        may = allowed_by_service_levels(inst, np.full(chunk.size, v), np.full(chunk.size, here), chunk)
        hits = np.flatnonzero(ok & (chunk != here) & may)
        if hits.size:
            return int(chunk[hits[0]])
    return -1 if ok.any() else NO_HOST_AT_ALL


def _smallest_need(inst, dst, deficit) -> np.ndarray:
    """Per host, the smallest room (per resource) that would let one waiting VM in; NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.nan_to_num(deficit / inst.effective[dst], nan=0.0).sum(axis=1)
    order = np.lexsort((size, dst))
    first = order[first_of_each(dst[order])]
    need = np.full((inst.n_hosts, inst.demand.shape[1]), np.nan)
    need[dst[first]] = deficit[first]
    return need


def _terminal_components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Per host, the id of its terminal strongly connected component in the graph src->dst, else -1."""
    comp = strongly_connected(n, src, dst)
    leaves = comp[src] != comp[dst]
    terminal = np.ones(comp.max() + 1, dtype=bool)
    terminal[comp[src[leaves]]] = False
    has_edge = np.zeros(len(terminal), dtype=bool)
    has_edge[comp[src]] = True
    keep = terminal & has_edge
    relabel = np.full(len(keep), -1)
    relabel[keep] = np.arange(int(keep.sum()))
    return relabel[comp]

