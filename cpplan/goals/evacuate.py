"""Evacuate: every VM off the drained hosts, at least migration cost, the rest kept balanced.

The drained hosts end empty and receive nothing. Without a move weight the
objective is least cost first (the cost of the VMs on the drained hosts
whenever they fit elsewhere directly), then the lowest highest utilisation,
then the spread (as in :mod:`cpplan.goals.rebalance`). With a weight W, the
highest utilisation (pp) + W * cost comes first. When the drained VMs do not
fit in the free room, VMs on the receiving hosts may move too, at their cost.
Loads follow the page-sharing rule (a drained VM adds only its private part
where its image's pages already are), in the heuristic and CP-SAT alike.

How: worst-fit (coolest host first) of the drained VMs, largest first; then
CP-SAT over the drained VMs with their best-fitting candidate hosts; if that
has no solution, over a window that also frees the VMs on the receivers.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 2}},
...                 initial={"a": "h1", "b": "h1", "c": "h2"})
>>> place = choose(inst, drain=[0], search=Search(time_limit=5)).placement
>>> bool((place != 0).all()), sorted(place.tolist())
(True, [1, 1, 2])
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError
from . import DEFAULT_SEARCH, NO_SLACK, NO_TRADEOFF, Choice, Search, Slack, Tradeoff
from .metrics import ideal_utilisation, least_total, migration
from .packing import Packer, size_order
from .placement import Rules, Window, movable_vms, receiving_hosts, receiving_limit
from .rebalance import balance_objectives, score

CANDIDATES = 40         # candidate hosts per drained VM in the CP model
FULL_MODEL_LIMIT = 40_000


def check_drain(inst, drain, max_cost=None, max_moves=None) -> np.ndarray:
    """The drained host indices; InputError when the drain cannot be done at all."""
    hosts = np.unique(np.asarray(drain, dtype=np.int64))
    if hosts.size == 0:
        raise InputError("", "--drain", "evacuate needs at least one host to drain")
    if hosts.size >= inst.n_hosts:
        raise InputError("", "--drain", "cannot drain every host: the VMs need somewhere to go")
    on = np.isin(inst.initial, hosts)
    stuck = np.flatnonzero(on & ~movable_vms(inst))
    if stuck.size:
        v = int(stuck[0])
        raise InputError("", "--drain", f"VM {inst.vm_names[v]} on drained host "
                         f"{inst.host_names[inst.initial[v]]} cannot migrate (pinned, or its host or "
                         f"group allows no migration)")
    others = np.setdiff1d(np.arange(inst.n_hosts), hosts)
    if not receiving_hosts(inst)[others].any():
        raise InputError("", "--drain", "no host left that can receive VMs")
    for r, name in enumerate(inst.resources):
        total, room = least_total(inst, r), inst.effective[others, r].sum()
        if total > room + 1e-9:
            raise InputError("", "--drain", f"the other hosts cannot hold every VM: {total:g} {name} "
                             f"needed, {room:g} available")
    need = float(inst.cost[on].sum())
    if max_cost is not None and max_cost + 1e-9 < need:
        raise InputError("", "--max-cost", f"{max_cost:g} is below {need:g}, the cost of the VMs "
                         f"on the drained hosts")
    if max_moves is not None and max_moves < int(on.sum()):
        raise InputError("", "--max-moves", f"{max_moves} is below {int(on.sum())}, the number of "
                         f"VMs on the drained hosts")
    return hosts


def worst_fit(inst, drained: np.ndarray, limit) -> np.ndarray | None:
    """Each drained VM, largest first, on the coolest host where it fits; None if one fits nowhere."""
    pk = Packer(inst, inst.initial, limit)
    allowed = np.ones(inst.n_hosts, dtype=bool)
    allowed[drained] = False
    for v in size_order(inst, np.flatnonzero(np.isin(inst.initial, drained))).tolist():
        ok = pk.fitting(v, allowed)
        if not ok.any():
            return None
        pk.move(v, int(np.argmin(np.where(ok, pk.utilisation_with(v), np.inf))))
    return pk.place


def choose(inst, *, drain=(), tradeoff: Tradeoff = NO_TRADEOFF, slack: Slack = NO_SLACK,
           search: Search = DEFAULT_SEARCH) -> Choice:
    deadline = time.perf_counter() + search.time_limit
    move_weight = tradeoff.move_weight
    drained = check_drain(inst, drain, tradeoff.max_cost, slack.capped(tradeoff))
    rules = Rules.of(tradeoff, slack, forbid=drained)
    limit = receiving_limit(inst, rules.headroom)
    on = np.flatnonzero(np.isin(inst.initial, drained))
    best = worst_fit(inst, drained, limit)
    stats = {"direct_fit": best is not None}
    gap, stopped = None, ""
    if on.size:
        w = Window(inst, best if best is not None else inst.initial, np.arange(inst.n_hosts), rules,
                   vms=on, candidates=CANDIDATES)
        left = deadline - time.perf_counter()
        stages = balance_objectives(w, w.base, move_weight, left, move_weight is None,
                                    cost_low=int(w.ints.cost[on].sum()), gap_limit=search.gap_limit)
        sol = w.solve_lex(stages, left, search.seed, presolve=False)
        if sol.placement is not None and (best is None or _better(inst, sol.placement, best, move_weight)):
            best, gap, stopped = sol.placement, sol.gap, sol.stopped
        if best is None:
            best = _with_receivers(inst, rules, move_weight, deadline, search)
    if best is None:
        raise InputError("", "--drain", "no placement found that empties the drained hosts "
                         "within the time limit and budgets")
    stats["cost_of_drained"] = float(inst.cost[on].sum())
    proven = migration(inst, best)[0] <= stats["cost_of_drained"] + 1e-9 and move_weight is None
    stats.update(least_cost=proven, gap_limit=search.gap_limit)
    return Choice(best, False, ideal_utilisation(inst, drained), stats, gap, stopped)


def _better(inst, a, b, move_weight) -> bool:
    if move_weight is None:
        ca, cb = migration(inst, a)[0], migration(inst, b)[0]
        if abs(ca - cb) > 1e-9:
            return ca < cb
    return score(inst, a, move_weight) <= score(inst, b, move_weight)


def _with_receivers(inst, rules: Rules, move_weight, deadline: float, search: Search):
    """A window that also frees the VMs on the receiving hosts with the most room."""
    drained = np.array(rules.forbid, dtype=np.int64)
    pk = Packer(inst, inst.initial, inst.effective)
    util = pk.utilisation()
    others = np.setdiff1d(np.arange(inst.n_hosts), drained)
    on_drained = int(np.isin(inst.initial, drained).sum())
    per_host = max(1, inst.n_vms // inst.n_hosts)
    room = max(2, FULL_MODEL_LIMIT // max(1, (on_drained + per_host * drained.size) * 4))
    receivers = others[np.argsort(util[others], kind="stable")][:room]
    hosts = np.union1d(drained, receivers)
    w = Window(inst, inst.initial, hosts, rules)
    left = deadline - time.perf_counter()
    on = np.flatnonzero(np.isin(inst.initial, drained))
    stages = balance_objectives(w, inst.initial, move_weight, left, move_weight is None,
                                cost_low=int(w.ints.cost[on].sum()), gap_limit=search.gap_limit)
    sol = w.solve_lex(stages, left, search.seed)
    return sol.placement
