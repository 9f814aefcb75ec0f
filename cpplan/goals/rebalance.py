"""Rebalance: lower the highest host utilisation, then the spread, trading both against migration cost.

A host's utilisation is the highest, over the resources it limits, of load /
effective capacity (see :mod:`cpplan.goals.metrics`; loads by the page-sharing
rule, in the heuristic and CP-SAT alike); the goal is the highest
utilisation over all hosts, in percentage points. The spread is the highest
minus the lowest utilisation of the *bottleneck* resource (the one with the
highest least total use / total capacity, :func:`~cpplan.goals.metrics.least_total`).
With a move weight W the objective
is ``max utilisation (pp) + W * cost``; without one, lowest maximum first,
then the smallest spread, then the least cost. ``max_cost``/``max_moves`` are
hard budgets. The ideal maximum, a proven lower bound, is the bottleneck's
least total use / total capacity (with page sharing each image's pages once).

How: a level heuristic sheds, from every host above a level L, its cheapest
VMs per point of utilisation shed and places them worst-fit (coolest host
first) under L; the lowest reachable L within the budget is found by
bisection (or, with a weight, the best L of a grid). CP-SAT then improves
it: one model for a small cloud, else windows of the hottest and coolest hosts.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"})
>>> choose(inst, search=Search(time_limit=5)).placement.tolist()
[1, 0]
"""

from __future__ import annotations

import time

import numpy as np

from ..constraints.capacity import fits
from . import DEFAULT_SEARCH, NO_SLACK, NO_TRADEOFF, Choice, Search, Slack, Tradeoff
from .metrics import ideal_utilisation, least_total, migration, utilisation
from .packing import Packer, size_order
from .placement import UTIL_SCALE, Rules, Window, movable_vms, receiving_limit, weighted
from .stopping import GAP_LIMIT, Stage, keep_better, patience_for

FULL_MODEL_LIMIT = 40_000  # free VMs x hosts handled as one CP-SAT model
WINDOW_HOSTS = 10          # hottest hosts (and as many coolest) per window
STALE_WINDOWS = 3          # stop after this many windows in a row without a clear improvement (improved)
WINDOW_SECONDS = 2.0       # time limit of one window


def bottleneck(inst) -> int | None:
    """The resource with the highest least total use / total capacity, or None if no host limits any."""
    best, which = -1.0, None
    for r in range(len(inst.resources)):
        cap = inst.effective[:, r]
        if np.isfinite(cap).all() and cap.sum() > 0:
            share = least_total(inst, r) / cap.sum()
            if share > best:
                best, which = share, r
    return which


def score(inst, placement, move_weight: float | None) -> tuple:
    """What rebalancing minimises, comparable with ``<`` (rounded to 0.01 pp)."""
    u = utilisation(inst, placement)
    top = round(100 * float(u.max()), 2)
    cost, _ = migration(inst, placement)
    b = bottleneck(inst)
    spread = 0.0
    if b is not None:
        cap = inst.effective[:, b]
        limited = np.isfinite(cap) & (cap > 0)  # a disabled host (capacity 0) has no share
        share = inst.load(placement)[limited, b] / cap[limited]
        spread = round(100 * float(share.max() - share.min()), 2) if share.size else 0.0
    if move_weight is not None:
        return (round(top + move_weight * cost, 6), spread)
    return (top, spread, cost)


def shed_to_level(inst, base, level: float, limit, *, max_cost=None, max_moves=None):
    """A placement with every host at most ``level`` utilised, or None if the heuristic finds none."""
    cap_level = np.minimum(limit, inst.effective * level)
    pk = Packer(inst, base, cap_level)
    movable = movable_vms(inst)
    util = pk.utilisation()
    hot = np.flatnonzero(util > level + 1e-9)
    cool = pk.receiving & (util <= level + 1e-9)
    room = (cap_level - pk.load)[cool].max(axis=0) if cool.any() else np.zeros(len(inst.resources))
    pool = []
    for h in hot[np.argsort(-util[hot])].tolist():
        vms = np.flatnonzero((pk.place == h) & movable)
        share = (inst.demand[vms] / pk._cap[h]).max(axis=1) if vms.size else np.zeros(0)
        price = np.where(pk.place[vms] == inst.initial[vms], inst.cost[vms], 0.0) / np.maximum(share, 1e-9)
        stuck = ~fits(inst.demand[vms], room).all(axis=1)  # fits no cool host as it is now
        for v in vms[np.lexsort((share, np.round(price, 6), stuck))].tolist():  # placeable, cheap, small
            if pk.utilisation()[h] <= level + 1e-9:
                break
            pk.lift(v)
            pool.append(v)
        if pk.utilisation()[h] > level + 1e-9:
            return None
    queue = size_order(inst, np.array(pool, dtype=np.int64)).tolist()
    evictions = len(queue) + 10  # bounded: the heuristic always ends
    while queue:
        v = queue.pop(0)
        ok = pk.fitting(v)
        if not ok.any():
            evicted = make_room(pk, v, movable) if evictions > 0 else None
            if evicted is None:
                return None
            evictions -= 1
            queue = size_order(inst, np.array(queue + evicted, dtype=np.int64)).tolist()
            ok = pk.fitting(v)
        pk.drop(v, int(np.argmin(np.where(ok, pk.utilisation_with(v), np.inf))))
    cost, moves = migration(inst, pk.place)
    if (max_cost is not None and cost > max_cost + 1e-9) or (max_moves is not None and moves > max_moves):
        return None
    return pk.place


def make_room(pk: Packer, v: int, movable, tries: int = 5) -> list[int] | None:
    """Lift smaller VMs off a cool host until VM ``v`` fits there; the lifted VMs, or None.

    Tries the ``tries`` receiving hosts with the most room; a lifted VM is
    placed again later, so a big VM can land where only small ones had room.
    """
    inst = pk.inst
    size = (inst.demand / pk._cap.max(axis=0)).max(axis=1)
    room = ((pk.limit - pk.load) / pk._cap).min(axis=1)
    candidates = np.flatnonzero(pk.receiving & (pk.zones == pk.zones[inst.initial[v]]))
    candidates = candidates[candidates != pk.place[v]]
    mates = pk.mates.get(v)
    if mates is not None:
        candidates = candidates[~np.isin(candidates, pk.place[mates])]
    for h in candidates[np.argsort(-room[candidates], kind="stable")][:tries].tolist():
        small = np.flatnonzero((pk.place == h) & ~pk.lifted & movable & (size < size[v]))
        lifted = []
        for u in small[np.argsort(size[small], kind="stable")].tolist():
            if fits(pk.load[h] + pk.added_on(v, h), pk.limit[h]).all():
                break
            pk.lift(u)  # its place stays h (for anti-affinity) until it is dropped elsewhere
            lifted.append(u)
        if fits(pk.load[h] + pk.added_on(v, h), pk.limit[h]).all():
            return lifted
        for u in lifted:
            pk.drop(u, h)
    return None


def best_level(inst, limit, move_weight=None, max_cost=None, max_moves=None, steps: int = 12):
    """The level heuristic's best placement: bisection on L, or the best of a grid of L with a weight."""
    now = float(utilisation(inst, inst.initial).max())
    lo = ideal_utilisation(inst)
    best = inst.initial.copy()
    if now <= lo + 1e-9:
        return best
    if move_weight is not None:
        for level in np.linspace(lo, now, 2 * steps)[:-1]:
            place = shed_to_level(inst, inst.initial, level, limit, max_cost=max_cost, max_moves=max_moves)
            if place is not None and score(inst, place, move_weight) < score(inst, best, move_weight):
                best = place
        return best
    hi = now
    for _ in range(steps):
        mid = (lo + hi) / 2
        place = shed_to_level(inst, inst.initial, mid, limit, max_cost=max_cost, max_moves=max_moves)
        if place is None:
            lo = mid
        else:
            best, hi = place, mid
    return best


def balance_objectives(w: Window, base, move_weight, time_limit: float, cost_first: bool = False,
                       cost_low: float = 0, gap_limit: float = GAP_LIMIT) -> list[Stage]:
    """The stages of rebalancing over window ``w``, to minimise in turn (hosts outside the window
    are constants): the highest utilisation (plus the weighted cost, else cost as a tie-break),
    then the spread with cost as a tie-break. ``cost_first`` puts the least cost (at least
    ``cost_low``, integer-scaled) before both. Each stage stops when stalled for the patience of
    ``time_limit`` (:func:`~cpplan.goals.stopping.patience_for`) or within ``gap_limit``."""
    inst = w.inst
    outside = np.ones(inst.n_hosts, dtype=bool)
    outside[w.hosts] = False
    u_out = utilisation(inst, base)[outside]
    top = w.model.new_int_var(int(np.ceil(UTIL_SCALE * u_out.max() - 1e-9)) if u_out.size else 0,
                            100 * UTIL_SCALE, "umax")
    for h in w.hosts.tolist():
        w.model.add(top >= w.utilisation(h))
    cost = w.moved_cost()
    b = bottleneck(inst)
    spread = top
    if b is not None:
        share_out = (inst.load(base)[outside, b] / inst.effective[outside, b])
        hi = int(np.floor(UTIL_SCALE * share_out.min())) if share_out.size else 100 * UTIL_SCALE
        low = w.model.new_int_var(0, max(hi, 0), "umin")
        for h in w.hosts[~w.forbid[w.hosts]].tolist():
            cap_int = max(1, int(round(inst.effective[h, b] * w.ints.scale[b])))
            w.model.add(UTIL_SCALE * w.host_load(h, b) >= cap_int * low)
        spread = top - low
    big = w.cost_span
    rule = dict(patience=patience_for(time_limit), gap=gap_limit)
    # the highest utilisation is at least the ideal one (a hair less: capacities are rounded)
    top_low = int(np.floor(UTIL_SCALE * ideal_utilisation(inst, np.flatnonzero(w.forbid)) * (1 - 1e-6)))
    last = Stage(spread * big + cost, span=big, lower=0, **rule)
    if cost_first:
        return [Stage(cost, lower=cost_low, **rule),
                Stage(top * big + cost, span=big, lower=top_low * big, **rule), last]
    # goal + W * cost with the goal in points: top / (UTIL_SCALE / 100) + W * cost_int / cost_scale
    ratio = None if move_weight is None else move_weight * UTIL_SCALE / 100 / w.ints.cost_scale
    first, second = weighted(top, cost, ratio)
    if second is None:
        return [Stage(first, lower=weighted(top_low, 0, ratio)[0], **rule), last]
    return [Stage(first * big + second, span=big, lower=top_low * big, **rule), last]


def _window(inst, place, movable, rng, k: int = WINDOW_HOSTS) -> np.ndarray:
    u = utilisation(inst, place)
    order = np.argsort(-u, kind="stable")
    hot = order[:k]
    cool = order[::-1][: 3 * k]
    cool = rng.choice(cool, size=min(k, cool.size), replace=False)
    return np.union1d(hot, cool)


def choose(inst, *, drain=(), tradeoff: Tradeoff = NO_TRADEOFF, slack: Slack = NO_SLACK,
           search: Search = DEFAULT_SEARCH) -> Choice:
    started = time.perf_counter()
    deadline = started + search.time_limit
    rules = Rules.of(tradeoff, slack)
    move_weight, gap_limit = tradeoff.move_weight, search.gap_limit
    limit = receiving_limit(inst, rules.headroom)
    movable = movable_vms(inst)
    best = best_level(inst, limit, move_weight, rules.max_cost, rules.max_moves)
    stats = {"heuristic_max_utilisation": round(float(utilisation(inst, best).max()), 4)}
    proven, gap, stopped = False, None, ""
    bound = ideal_utilisation(inst)
    if int(movable.sum()) * inst.n_hosts <= FULL_MODEL_LIMIT:
        w = Window(inst, best, np.arange(inst.n_hosts), rules)
        left = deadline - time.perf_counter()
        stages = balance_objectives(w, best, move_weight, left, gap_limit=gap_limit)
        sol = w.solve_lex(stages, left, search.seed)
        if sol.placement is not None and score(inst, sol.placement, move_weight) <= \
                score(inst, best, move_weight):
            best, gap, stopped = sol.placement, sol.gap, sol.stopped
            proven = sol.status == "optimal"
            if move_weight is None and rules == Rules():  # the bound holds beyond budgets and headroom
                bound = max(bound, (sol.bound // w.cost_span - 1) / UTIL_SCALE)
    else:
        rng = np.random.default_rng(search.seed)
        windows = stale = 0
        while time.perf_counter() < deadline - 0.5 and stale < STALE_WINDOWS:
            hosts = _window(inst, best, movable, rng)
            w = Window(inst, best, hosts, rules)
            budget = min(WINDOW_SECONDS, deadline - time.perf_counter() - 0.3)
            sol = w.solve_lex(balance_objectives(w, best, move_weight, budget, gap_limit=gap_limit), budget,
                              search.seed + windows, presolve=False)
            windows += 1
            best, gained = keep_better(best, sol.placement, lambda p: score(inst, p, move_weight), gap_limit)
            stale = 0 if gained else stale + 1
        stats["windows"] = windows
        stopped = "windows" if stale >= STALE_WINDOWS else ""
    if score(inst, inst.initial, move_weight) < score(inst, best, move_weight):  # never worse than A
        best, proven, gap = inst.initial.copy(), False, None
    stats["gap_limit"] = gap_limit
    return Choice(best, proven, bound, stats, gap, stopped)
