"""Consolidate: use as few hosts as possible, trading freed hosts against migration cost.

The measure is the number of hosts holding at least one VM; the migration
cost of B is the summed cost of the VMs whose host changes. With a move
weight W the objective is ``hosts + W * cost`` (one freed host is worth
1/W cost units); without one, fewest hosts first, then least cost. Budgets
(``max_cost``, ``max_moves``) are hard limits. Consolidation never opens a
host that is empty in A.

How: a heuristic empties whole hosts, cheapest first, best-fitting their VMs
into the hosts that stay in use; CP-SAT then improves it: one model over the
whole cloud when it is small (which proves the optimum or a bound), else a
sequence of windows (the lightest hosts in use plus those with most room).

With page sharing every load is counted by the sharing rule (a VM adds only
its private part where its image's largest pages already are), emptying puts
a VM where it adds least (then on the fullest host), and a second heuristic,
:func:`pack_by_image`, repacks image by image: the image with the most RAM
first, filling the hosts that hold its pages before keeping another host.
Whichever scores better (hosts, then cost, or hosts + W x cost, within the
budgets) is what CP-SAT improves; its models count sharing exactly.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 2}},
...                 initial={"a": "h1", "b": "h2", "c": "h3"})
>>> choice = choose(inst, search=Search(time_limit=5))
>>> len(set(choice.placement.tolist())), int(choice.bound)
(2, 2)
>>> shared = Instance(hosts={h: {"ram": 10} for h in ("h1", "h2", "h3")},
...                   vms={v: {"ram": 4, "image": i} for v, i in zip("abcd", "uvuv")},
...                   initial={"a": "h1", "b": "h1", "c": "h2", "d": "h3"}, page_sharing={"ratio": 0.5})
>>> place = pack_by_image(shared, shared.effective)     # h1: a 4, c 2 more (a's pages), b 4
>>> [shared.host_names[h] for h in place.tolist()]
['h1', 'h1', 'h1', 'h3']
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..allowed import end_hosts
from ..constraints import anti_affinity_mates
from ..constraints.capacity import fits
from . import DEFAULT_SEARCH, NO_SLACK, NO_TRADEOFF, Choice, Search, Slack, Tradeoff
from .metrics import emptying_cost_bound, hosts_lower_bound, migration, sharing_on
from .packing import Packer, size_order
from .placement import (
    Rules,
    Window,
    movable_vms,
    receiving_hosts,
    receiving_limit,
    weighted,
)
from .stopping import Stage, keep_better, patience_for

FULL_MODEL_LIMIT = 40_000  # free VMs x hosts handled as one CP-SAT model
STALE_WINDOWS = 8          # stop after this many windows in a row without improvement


def score(inst, placement, move_weight: float | None) -> tuple:
    """What consolidation minimises, comparable with ``<``."""
    hosts = np.unique(placement).size
    cost, _ = migration(inst, placement)
    return (hosts + move_weight * cost, 0.0) if move_weight is not None else (hosts, cost)


def empty_hosts(inst, base, limit, order, *, move_weight=None, max_cost=None, max_moves=None):
    """Empty the hosts of ``order`` one by one where all their VMs fit on hosts staying in use."""
    pk = Packer(inst, base, limit)
    movable = movable_vms(inst)
    in_use = np.bincount(pk.place, minlength=inst.n_hosts) > 0
    spent_cost, spent_moves = migration(inst, pk.place)
    for h in order.tolist():
        vms = np.flatnonzero(pk.place == h)
        if vms.size == 0 or not movable[vms].all():
            continue
        fresh = vms[pk.place[vms] == inst.initial[vms]]
        extra = float(inst.cost[fresh].sum())
        if move_weight is not None and move_weight * extra >= 1:
            continue
        if (max_cost is not None and spent_cost + extra > max_cost + 1e-9) or \
                (max_moves is not None and spent_moves + fresh.size > max_moves):
            continue
        allowed = in_use.copy()
        allowed[h] = False
        done = []
        for v in size_order(inst, vms).tolist():
            ok = pk.fitting(v, allowed)
            if not ok.any():
                break
            done.append((v, h))
            pk.move(v, _best_fit(pk, v, ok))
        if len(done) < vms.size:
            for v, src in reversed(done):
                pk.move(v, src)
            continue
        in_use[h] = False
        spent_cost += extra
        spent_moves += fresh.size
    return pk.place


def _best_fit(pk: Packer, v: int, ok: np.ndarray, home: int = -1) -> int:
    """The host of ``ok`` that VM ``v`` fills best: with page sharing, among those where it adds
    the least shared resource, ``home`` if there, else the fullest after it."""
    fullness = pk.utilisation_with(v)
    if pk.peaks is None:
        return int(np.argmax(np.where(ok, fullness, -np.inf)))
    added = np.round(pk.peaks.added(v), 9)
    least = ok & (added <= added[ok].min())
    if home >= 0 and least[home]:
        return home
    return int(np.argmax(np.where(least, fullness, -np.inf)))


def pack_by_image(inst, limit, max_cost=None, max_moves=None, seed: int = 0) -> np.ndarray | None:
    """A repack from A grouping each image's VMs on as few hosts as it can (page sharing).

    The movable VMs on receiving hosts are taken off; images go largest (summed RAM) first, VMs
    without an image last. An image's VMs whose host is kept come first, then the rest in a
    random order (``seed``; largest first would fill an image's first hosts with its RAM-heavy
    VMs and leave their CPU idle), each onto a kept host where it fits (:func:`_best_fit`: where
    it adds least, its own host if there, then the fullest); when none can take it, the host it
    fits on holding the most of the image's cost is kept (hosts empty in A never are). None
    when a VM fits nowhere or the budgets are exceeded.
    """
    pk = Packer(inst, inst.initial, limit)
    todo = np.flatnonzero(movable_vms(inst) & pk.receiving[inst.initial])
    kept = np.bincount(np.delete(inst.initial, todo), minlength=inst.n_hosts) > 0
    usable = np.bincount(inst.initial, minlength=inst.n_hosts) > 0
    for v in todo.tolist():
        pk.lift(v)
    ram = inst.demand[:, inst.share_resource]
    rng = np.random.default_rng(seed)
    images = inst.image[todo]
    totals = {int(i): float(ram[todo[images == i]].sum()) for i in np.unique(images[images >= 0])}
    for i in [*sorted(totals, key=lambda i: -totals[i]), -1]:
        members = todo[images == i]
        waiting = np.ones(inst.n_vms, dtype=bool)
        for v in np.r_[members[kept[inst.initial[members]]], rng.permutation(members)].tolist():
            if not waiting[v]:
                continue
            home = int(inst.initial[v])
            ok = pk.fitting(v) | _fits_home(pk, v)
            if not (ok & kept).any():
                left = members[waiting[members]]
                stay = np.bincount(inst.initial[left], weights=inst.cost[left], minlength=inst.n_hosts)
                stay[home] += 1e-9  # on a tie, its own host
                opening = ok & usable & ~kept
                if not opening.any():
                    return None
                kept[int(np.argmax(np.where(opening, stay, -1.0)))] = True
            waiting[v] = False
            pk.drop(v, _best_fit(pk, v, ok & kept, home))
    cost, moves = migration(inst, pk.place)
    if (max_cost is not None and cost > max_cost + 1e-9) or (max_moves is not None and moves > max_moves):
        return None
    return pk.place


def _fits_home(pk: Packer, v: int) -> np.ndarray:
    """Only VM ``v``'s own host, where it sits lifted, if it may end and fits back there."""
    home = int(pk.place[v])
    out = np.zeros(pk.inst.n_hosts, dtype=bool)
    mates, ends = pk.mates.get(v), end_hosts(pk.inst, v)
    clear = (mates is None or not (pk.place[mates] == home).any()) and (ends is None or bool(ends[home]))
    out[home] = clear and bool(fits(pk.load[home] + pk.added(v)[home], pk.limit[home]).all())
    return out


def first_fit_decreasing(inst) -> np.ndarray:
    """A plain repack from scratch ignoring migration cost: VMs largest first, each on the first
    host (largest hosts first) where it fits; pinned VMs stay. The baseline for benchmarks."""
    movable = movable_vms(inst)
    place = np.where(movable, -1, inst.initial)
    load = np.zeros_like(inst.effective)
    np.add.at(load, inst.initial[~movable], inst.demand[~movable])
    shares = np.where(np.isfinite(inst.effective), inst.effective, 0).sum(axis=1)
    rank = np.empty(inst.n_hosts, dtype=np.int64)
    rank[np.argsort(-shares, kind="stable")] = np.arange(inst.n_hosts)
    receiving = receiving_hosts(inst)
    mates = anti_affinity_mates(inst)
    for v in size_order(inst, np.flatnonzero(movable)).tolist():
        ok = fits(load + inst.demand[v], inst.effective).all(axis=1)
        ok &= receiving | (np.arange(inst.n_hosts) == inst.initial[v])
        if v in mates:
            taken = place[mates[v]]
            ok[taken[taken >= 0]] = False
        h = int(np.flatnonzero(ok)[np.argmin(rank[ok])]) if ok.any() else int(inst.initial[v])
        place[v] = h
        load[h] += inst.demand[v]
    return place


def _improve_full(inst, base, rules: Rules, tradeoff: Tradeoff, hosts_bound: int, search: Search):
    """One CP-SAT model over the whole cloud, stopped once the cost is within the gap limit of
    :func:`objective_bound`; returns the solution and its host-count bound."""
    move_weight = tradeoff.move_weight
    w = Window(inst, base, np.arange(inst.n_hosts), rules)
    hosts = sum(w.host_used(h) for h in range(inst.n_hosts))
    span = w.cost_span if lexicographic(w, move_weight) else None
    stage = Stage(objective(w, hosts, move_weight), span=span, gap=search.gap_limit,
                  lower=objective_bound(w, hosts_bound, move_weight),
                  patience=patience_for(search.time_limit))
    sol = w.solve_lex([stage], search.time_limit, search.seed)
    bound = int(sol.bound // span) if sol.placement is not None and span else 0
    return sol, bound


def lexicographic(w: Window, move_weight) -> bool:
    """Whether :func:`objective` is fewest hosts then least cost (not a weighted sum)."""
    return weighted(0, 0, _ratio(w, move_weight))[1] is not None


def _ratio(w: Window, move_weight):
    return None if move_weight is None else move_weight / w.ints.cost_scale


def objective(w: Window, hosts, move_weight, cost=None):
    """``hosts + W * cost``, or, without a weight, fewest hosts then least cost as one expression;
    ``cost`` (default: the window's migration cost) may be a number, to evaluate a bound."""
    first, second = weighted(hosts, w.moved_cost() if cost is None else cost, _ratio(w, move_weight))
    return first if second is None else first * w.cost_span + second


def objective_bound(w: Window, hosts_bound: int, move_weight) -> float:
    """A proven lower bound on :func:`objective` over the whole cloud: the least, over host counts
    from ``hosts_bound`` up, of that count with the least cost of emptying enough hosts."""
    inst = w.inst
    in_use = int(np.unique(inst.initial).size)
    return min(objective(w, h, move_weight, emptying_cost_bound(inst, h, w.ints.cost))
               for h in range(hosts_bound, max(hosts_bound, in_use) + 1))


def _window_hosts(inst, place, movable, rng, size: int = 24) -> np.ndarray:
    """The lightest emptiable hosts in use, plus the used hosts with the most room."""
    counts = np.bincount(place, minlength=inst.n_hosts)
    used = np.flatnonzero(counts > 0)
    pk_util = Packer(inst, place, inst.effective).utilisation()[used]
    frozen = np.bincount(place[~movable], minlength=inst.n_hosts)[used] > 0
    light = used[~frozen][np.argsort(pk_util[~frozen], kind="stable")]
    pick = list(light[: size // 3])
    rest = used[~np.isin(used, pick)]
    if rest.size:
        pick += list(rng.choice(rest, size=min(rest.size, size - len(pick)), replace=False))
    return np.array(pick, dtype=np.int64)


def choose(inst, *, drain=(), tradeoff: Tradeoff = NO_TRADEOFF, slack: Slack = NO_SLACK,
           search: Search = DEFAULT_SEARCH) -> Choice:
    started = time.perf_counter()
    rules = Rules.of(tradeoff, slack)
    move_weight = tradeoff.move_weight
    limit = receiving_limit(inst, rules.headroom)
    cost_to_empty = np.bincount(inst.initial, weights=inst.cost, minlength=inst.n_hosts)
    load_share = Packer(inst, inst.initial, inst.effective).utilisation()
    best = inst.initial.copy()
    for order in (np.lexsort((load_share, cost_to_empty)), np.argsort(load_share, kind="stable")):
        place = empty_hosts(inst, inst.initial, limit, order, move_weight=move_weight,
                            max_cost=rules.max_cost, max_moves=rules.max_moves)
        if score(inst, place, move_weight) < score(inst, best, move_weight):
            best = place
    if sharing_on(inst):
        place = pack_by_image(inst, limit, rules.max_cost, rules.max_moves, search.seed)
        if place is not None and score(inst, place, move_weight) < score(inst, best, move_weight):
            best = place
    stats = {"heuristic_hosts": int(np.unique(best).size)}
    bound = hosts_lower_bound(inst)
    proven, gap, stopped = False, None, ""
    rest = dataclasses.replace(search, time_limit=search.time_limit - (time.perf_counter() - started))
    if int(movable_vms(inst).sum()) * inst.n_hosts <= FULL_MODEL_LIMIT:
        sol, cp_bound = _improve_full(inst, best, rules, tradeoff, bound, rest)
        if sol.placement is not None and score(inst, sol.placement, move_weight) <= \
                score(inst, best, move_weight):
            best, proven, gap, stopped = sol.placement, sol.status == "optimal", sol.gap, sol.stopped
        bound = max(bound, cp_bound) if rules == Rules() else bound  # not only under a budget or headroom
    else:
        best, windows, stopped = _improve_windows(inst, best, rules, move_weight, bound, rest)
        stats["windows"] = windows
        if move_weight is None and np.unique(best).size <= bound:
            least = emptying_cost_bound(inst, bound)
            cost = migration(inst, best)[0]
            gap = (cost - least) / cost if cost > 0 else 0.0
            proven = gap <= 0
    stats["gap_limit"] = search.gap_limit
    return Choice(best, proven, float(bound), stats, gap, stopped)


def _improve_windows(inst, best, rules: Rules, move_weight, bound: int, search: Search):
    """Windows of the cloud in turn (:func:`_window_hosts`), each improved by CP-SAT, until the time
    is up, the host count reaches ``bound`` or :data:`STALE_WINDOWS` in a row gain nothing; returns
    the best placement, the windows solved and why the search stopped."""
    movable = movable_vms(inst)
    rng = np.random.default_rng(search.seed)
    deadline = time.perf_counter() + search.time_limit
    windows = stale = 0
    while time.perf_counter() < deadline - 0.5 and np.unique(best).size > bound and stale < STALE_WINDOWS:
        hosts = _window_hosts(inst, best, movable, rng)
        w = Window(inst, best, hosts, rules)
        used = sum(w.host_used(h) for h in hosts.tolist())
        budget = min(2.0, deadline - time.perf_counter() - 0.3)
        span = w.cost_span if lexicographic(w, move_weight) else None
        stage = Stage(objective(w, used, move_weight), span=span, gap=search.gap_limit,
                      patience=patience_for(budget))
        sol = w.solve_lex([stage], budget, search.seed + windows, presolve=False)
        windows += 1
        best, gained = keep_better(best, sol.placement, lambda p: score(inst, p, move_weight),
                                   search.gap_limit)
        stale = 0 if gained else stale + 1
    stopped = "bound" if np.unique(best).size <= bound else "windows" if stale >= STALE_WINDOWS else ""
    return best, windows, stopped
