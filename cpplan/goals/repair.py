"""Repair: the least-cost B that puts every host within its limit and every service level right.

What can be wrong in A:

- a host over its *limit* on some resource: its effective capacity, times
  ``max_utilisation`` when given (0.85: every host at most 85 % full on every
  resource); the load counts shared pages once (``inst.load``, the page-sharing rule);
- a host holding two or more members of an anti-affinity group (a legal start, SPEC 8);
- a VM that must end elsewhere: its target (one host, or a list that leaves out its
  host in A) or a drained host.

B puts every host within its limit, separates every anti-affinity group, keeps
pinned VMs and affinity groups where they are and every VM on a host it may end
on, and moves nothing else: among such placements, the least summed migration
cost (counted against A, as every goal counts it). A VM with a target ends there.

How, in time linear in the VMs on the bad hosts:

1. each bad host sheds its cheapest fix: the VMs that must leave, then all but
   the costliest (or the pinned) member of each anti-affinity group there, then,
   while it is over, the VM of least cost per unit of excess it removes; shed
   VMs that fit back return, costliest first;
2. the shed VMs, largest first, go to the host with the most room left that may
   take them (a good host that receives migrations, in their link zone, holding
   no member of their groups, within its limit);
3. CP-SAT improves it, at least cost: on a small cloud (at most
   :data:`WHOLE_LITERALS` choices) every movable VM may end on every host it may
   end on; else, when few enough choices remain (:data:`CP_LITERALS`), the
   movable VMs of the bad hosts choose among their own host, the heuristic's and
   the :data:`CANDIDATES` roomiest good hosts, and the other VMs stay.

Proven: the lower bound is the cost of the VMs that must leave plus, per bad
host, the larger of the cheapest members its anti-affinity groups must lose and
a fractional knapsack of the excess per resource (VMs shed from one host are
disjoint from another's, and a VM frees at most its demand). B is proven the
least-cost repair when its cost meets that bound, or when the whole-cloud CP
model was solved to optimality and rounded nothing (no page sharing, demands,
limits and costs integers at their scale). Otherwise the gap to the bound is
reported, not proven tight.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 10}, "h2": {"ram": 10}, "h3": {"ram": 10}},
...                 vms={"a": {"ram": 6}, "b": {"ram": 3}, "c": {"ram": 4}, "d": {"ram": 2}},
...                 initial={"a": "h1", "b": "h1", "c": "h1", "d": "h2"})
>>> choice = choose(inst, search=Search(time_limit=5))        # h1 holds 13 of 10: the 3 of b go
>>> [inst.host_names[h] for h in choice.placement], choice.stats["cost"], choice.proven
(['h1', 'h3', 'h1', 'h2'], 3.0, True)
>>> choice.stats["over"]
[{'host': 'h1', 'resource': 'ram', 'load': 13.0, 'limit': 10.0}]
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from .. import cpsat
from ..allowed import end_hosts
from ..constraints import anti_affinity_mates, service_levels
from ..constraints.groups import broken_anti_affinity
from ..constraints.host_rules import HostRule
from ..constraints.page_sharing import usage_on
from ..errors import InputError
from . import DEFAULT_SEARCH, NO_SLACK, NO_TRADEOFF, Choice, Search, Slack, Tradeoff
from .packing import size_order
from .placement import link_zones, movable_vms
from .stopping import GAP_LIMIT, patience_for

CANDIDATES = 20         # roomiest candidate hosts per VM in the CP model, besides its own and the heuristic's
CP_LITERALS = 40_000    # the local CP model runs when it has at most this many (VM, host) choices
WHOLE_LITERALS = 5_000  # the whole cloud is modelled when every movable VM on every host is at most this
CP_SHARE = 0.5          # of the time limit, at most, for the CP model
TOLERANCE = 1e-9


def choose(inst, *, drain=(), tradeoff: Tradeoff = NO_TRADEOFF, slack: Slack = NO_SLACK,
           search: Search = DEFAULT_SEARCH, max_utilisation: float | None = None) -> Choice:
    """The repaired B (module docstring); ``drain`` hosts end empty (:func:`cpplan.choose_target`
    passes the instance's ``drain`` list by default), ``slack.headroom`` keeps that share of each
    receiving host free. InputError when the trade-off is given or no repair exists."""
    if any(x is not None for x in (tradeoff.move_weight, tradeoff.max_cost, tradeoff.max_moves)):
        raise InputError("", "--goal", "repair moves the least it can: --move-weight, --max-cost "
                         "and --max-moves do not apply")
    started = time.perf_counter()
    rep = Repair(inst, drain, max_utilisation, slack.headroom)
    report = rep.report()
    place = rep.heuristic()
    stats = {"heuristic_cost": rep.cost_of(place)}
    proven_cp = False
    left = search.time_limit - (time.perf_counter() - started)
    if rep.free.size and left > 0.05:
        better, proven_cp, cp_status = rep.improve(place, CP_SHARE * left, search.seed, search.gap_limit)
        stats["cp"] = cp_status
        if better is not None and rep.cost_of(better) < rep.cost_of(place) - TOLERANCE:
            place = better
    if place is None:
        raise InputError(inst.source, "--goal", "repair found no host with room for every VM that must "
                         "leave a host (a higher --max-utilisation, or more hosts, may be needed)")
    cost, bound = rep.cost_of(place), rep.lower_bound()
    proven = bool(proven_cp or cost <= bound + TOLERANCE * max(1.0, cost))
    moved = np.flatnonzero(place != inst.initial)
    report["moved"] = [{"vm": inst.vm_names[v], "from": inst.host_names[inst.initial[v]],
                        "to": inst.host_names[place[v]]} for v in moved.tolist()]
    stats.update(report, cost=cost, lower_bound=bound, gap_limit=search.gap_limit,
                 seconds=round(time.perf_counter() - started, 3))
    gap = 0.0 if proven else float((cost - bound) / cost) if cost > 0 else None
    return Choice(place, proven, bound, stats, gap, "" if proven else "heuristic")


def describe(stats: dict, shown: int = 3) -> str:
    """What was wrong and what moved, in words, from the stats of a repair's :class:`Choice`.

    >>> describe({"over": [{"host": "h1", "resource": "ram", "load": 13.0, "limit": 10.0}],
    ...           "broken": [], "must_leave": [], "moved": [{"vm": "b", "from": "h1", "to": "h3"}]})
    '1 host over its limit (h1 ram 13/10); moved b h1->h3'
    """
    hosts = {x["host"] for x in stats["over"]}
    parts = []
    if hosts:
        over = ", ".join(f"{x['host']} {x['resource']} {x['load']:g}/{x['limit']:g}"
                         for x in stats["over"][:shown])
        more = " ..." if len(stats["over"]) > shown else ""
        one = len(hosts) == 1
        parts.append(f"{len(hosts)} host{'' if one else 's'} over {'its' if one else 'their'} limit "
                     f"({over}{more})")
    if stats["broken"]:
        broken = ", ".join(f"{x['group']} on {x['host']}: {' '.join(x['vms'])}"
                           for x in stats["broken"][:shown])
        n = len(stats["broken"])
        parts.append(f"anti-affinity broken {n} time{'s' * (n != 1)} ({broken}{' ...' if n > shown else ''})")
    if stats["must_leave"]:
        parts.append(f"{len(stats['must_leave'])} VM(s) off the hosts they may end on")
    moved = ", ".join(f"{m['vm']} {m['from']}->{m['to']}" for m in stats["moved"][:shown])
    if len(stats["moved"]) > shown:
        moved += f" and {len(stats['moved']) - shown} more"
    head = "; ".join(parts) if parts else "nothing wrong"
    return f"{head}; moved {moved}" if moved else f"{head}; nothing moved"


class Repair:
    """What is wrong in A and the limits a repaired B keeps (see the module docstring)."""

    def __init__(self, inst, drain=(), max_utilisation: float | None = None, headroom: float = 0.0):
        if max_utilisation is not None and not 0 < max_utilisation <= 1:
            raise InputError("", "--max-utilisation", f"must be a share in (0, 1], got {max_utilisation!r}")
        self.inst = inst
        self.limit = inst.effective * (1.0 if max_utilisation is None else max_utilisation)
        drained = np.zeros(inst.n_hosts, dtype=bool)
        drained[np.asarray(drain, dtype=np.int64)] = True
        self.drained = drained
        self.fixed = (inst.domain_of < 0) & (inst.target != inst.initial) & ~drained[inst.target]
        self.host_rules = [rule for rule in service_levels() if isinstance(rule, HostRule)]
        self.start = inst.initial.copy()
        self.start[self.fixed] = inst.target[self.fixed]  # a VM with a target ends there
        self.movable = movable_vms(inst) & ~self.fixed
        self.must_leave = ~self.allowed_at(self.start)
        stuck = np.flatnonzero(self.must_leave & ~self.movable)
        if stuck.size:
            v = int(stuck[0])
            raise InputError(inst.source, f"vms.{inst.vm_names[v]}", "must leave its host but cannot "
                             "migrate (pinned, or its host or group allows no migration)")
        self.mates = anti_affinity_mates(inst)
        self.zones = link_zones(inst)
        self.load = inst.load(self.start)
        self.bad = self._bad_hosts()
        self.receives = ~self.bad & ~drained & (inst.host_limit > 0)
        keep = np.minimum(self.limit, self.load)
        self.room_limit = np.where(self.receives[:, None], np.maximum(self.limit * (1 - headroom), keep),
                                   self.limit)
        self.free = np.flatnonzero(self.movable & (self.bad[self.start] | self.must_leave))

    def allowed(self, v: int) -> np.ndarray:
        """Mask of the hosts VM ``v`` may end on: its target, or its list of hosts, or any, within its
        fences and among set; never a drained host."""
        inst = self.inst
        if self.fixed[v]:
            mask = np.zeros(inst.n_hosts, dtype=bool)
            mask[inst.target[v]] = True
            return mask
        ends = end_hosts(inst, v)  # a partial target, fences, among sets
        return ~self.drained if ends is None else ends & ~self.drained

    def allowed_at(self, place: np.ndarray) -> np.ndarray:
        """Per VM, whether ``place`` puts it on a host it may end on."""
        inst = self.inst
        ok = ~self.drained[place]
        flexible = np.flatnonzero(inst.domain_of >= 0)
        ok[flexible] &= inst.domains[inst.domain_of[flexible], place[flexible]]
        vms = np.arange(inst.n_vms)
        for rule in self.host_rules:
            ok &= rule.allowed(inst, vms, inst.initial, place)
        ok[self.fixed] = place[self.fixed] == inst.target[self.fixed]
        return ok

    def _bad_hosts(self) -> np.ndarray:
        over = (self.load > self.limit + TOLERANCE).any(axis=1)
        bad = over.copy()
        for _, h, _ in broken_anti_affinity(self.inst, self.start):
            bad[h] = True
        bad[self.start[self.must_leave]] = True
        return bad

    # ------------------------------------------------------------ report
    def report(self) -> dict:
        """What is wrong: hosts over their limit (each resource, load and limit), anti-affinity groups
        broken (group, host, members), VMs that must leave their host."""
        inst = self.inst
        over = [{"host": inst.host_names[h], "resource": inst.resources[r], "load": float(self.load[h, r]),
                 "limit": float(self.limit[h, r])}
                for h, r in zip(*np.nonzero(self.load > self.limit + TOLERANCE), strict=True)]
        broken = [{"group": g.name, "host": inst.host_names[h], "vms": [inst.vm_names[v] for v in vms]}
                  for g, h, vms in broken_anti_affinity(inst, self.start)]
        return {"over": over, "broken": broken,
                "must_leave": [inst.vm_names[v] for v in np.flatnonzero(self.must_leave)]}

    def cost_of(self, place: np.ndarray | None) -> float:
        return float("inf") if place is None else float(self.inst.cost[place != self.inst.initial].sum())

    # ------------------------------------------------------------ bound
    def lower_bound(self) -> float:
        """The module docstring's bound: what must leave, plus each bad host's cheapest fix, relaxed."""
        inst = self.inst
        fixed = self.start != inst.initial
        bound = float(inst.cost[fixed | self.must_leave].sum())
        for h in np.flatnonzero(self.bad):
            on = np.flatnonzero((self.start == h) & ~self.must_leave)
            bound += max(self._anti_bound(h, on), self._knapsack_bound(h, on))
        return float(bound)

    def _anti_bound(self, h: int, on: np.ndarray) -> float:
        """The cheapest members the anti-affinity groups on ``h`` must lose (disjoint per VM)."""
        inst = self.inst
        leave = np.zeros(inst.n_vms, dtype=bool)
        for g in self.groups_sharing(on):
            here = g.vms[np.isin(g.vms, on)]
            if here.size > 1:
                stuck = here[~self.movable[here]]
                keep = stuck if stuck.size else here[[np.argmax(inst.cost[here])]]
                leave[np.setdiff1d(here, keep)] = True
        return float(inst.cost[leave].sum())

    def groups_sharing(self, vms: np.ndarray) -> list:
        """The anti-affinity groups with two or more members among ``vms``."""
        inst = self.inst
        hit = np.isin(inst.member_vm, vms) & inst.group_anti[inst.member_group]
        counts = np.bincount(inst.member_group[hit], minlength=len(inst.groups))
        return [inst.groups[k] for k in np.flatnonzero(counts > 1)]

    def _knapsack_bound(self, h: int, on: np.ndarray) -> float:
        """Per resource, the fractional knapsack of the excess on ``h`` over the movable VMs on it."""
        inst = self.inst
        load = usage_on(inst, on, h) if inst.share_ratio.size else inst.demand[on].sum(axis=0)
        best = 0.0
        movable = on[self.movable[on]]
        for r in np.flatnonzero(load > self.limit[h] + TOLERANCE):
            excess, need = load[r] - self.limit[h, r], inst.demand[movable, r]
            useful = need > 0
            if need.sum() < excess - TOLERANCE:
                raise InputError(inst.source, "--goal", f"repair cannot bring host {inst.host_names[h]} "
                                 f"within {self.limit[h, r]:g} {inst.resources[r]}: the VMs that cannot "
                                 f"move hold {load[r] - need.sum():g}")
            rate = inst.cost[movable][useful] / need[useful]
            order = np.argsort(rate, kind="stable")
            taken = np.cumsum(need[useful][order])
            k = int(np.searchsorted(taken, excess - TOLERANCE))
            whole = float((rate[order][:k] * need[useful][order][:k]).sum())
            part = (excess - (taken[k - 1] if k else 0.0)) * rate[order][k] if k < order.size else 0.0
            best = max(best, whole + max(0.0, part))
        return best

    # ------------------------------------------------------------ heuristic
    def heuristic(self) -> np.ndarray | None:
        """Steps 1 and 2 of the module docstring; None when a shed VM fits nowhere."""
        place = self.start.copy()
        load = self.load.copy()
        shed = []
        for h in np.flatnonzero(self.bad):
            shed += self._shed(int(h), place, load)
        for v in size_order(self.inst, np.array(shed, dtype=np.int64)).tolist():
            h = self._roomiest(v, place, load)
            if h < 0:
                return None
            place[v] = h
            load[h] += self.inst.demand[v]
        return place

    def _use(self, h: int, place: np.ndarray) -> np.ndarray:
        inst = self.inst
        on = np.flatnonzero(place == h)
        return usage_on(inst, on, h) if inst.share_ratio.size else inst.demand[on].sum(axis=0)

    def _shed(self, h: int, place: np.ndarray, load: np.ndarray) -> list[int]:
        """Step 1 on host ``h``: the VMs it sheds (``place`` marks them -1, ``load`` loses them)."""
        inst = self.inst
        on = np.flatnonzero(place == h)
        leave = set(on[self.must_leave[on]].tolist())
        for g in self.groups_sharing(on):
            here = [v for v in g.vms.tolist() if place[v] == h and v not in leave]
            if len(here) > 1:
                pinned = [v for v in here if not self.movable[v]]
                if len(pinned) > 1:
                    raise InputError(inst.source, f"groups.{g.name}", f"repair cannot separate "
                                     f"{inst.vm_names[pinned[0]]} and {inst.vm_names[pinned[1]]} on "
                                     f"{inst.host_names[h]}: neither may migrate")
                keep = pinned[0] if pinned else max(here, key=lambda v: inst.cost[v])
                leave.update(v for v in here if v != keep)
        place[list(leave)] = -1
        load[h] = self._use(h, place)
        while (load[h] > self.limit[h] + TOLERANCE).any():
            excess = np.maximum(load[h] - self.limit[h], 0.0)
            left = np.flatnonzero((place == h) & self.movable)
            relief = (np.minimum(inst.demand[left], excess) / np.where(excess > 0, excess, 1.0)).sum(axis=1)
            if not (relief > 0).any():
                r = int(np.argmax(excess))
                raise InputError(inst.source, "--goal", f"repair cannot bring host {inst.host_names[h]} "
                                 f"within {self.limit[h, r]:g} {inst.resources[r]}: the VMs that cannot "
                                 f"move hold {load[h, r]:g}")
            v = int(left[relief > 0][np.argmin(inst.cost[left[relief > 0]] / relief[relief > 0])])
            place[v] = -1
            leave.add(v)
            load[h] = self._use(h, place)
        return self._return_what_fits(h, sorted(leave), place, load)

    def _return_what_fits(self, h: int, leave: list[int], place: np.ndarray, load: np.ndarray) -> list[int]:
        """Put shed VMs back on ``h``, costliest first, while ``h`` stays within its limit and the
        anti-affinity groups stay apart; returns those that still leave."""
        inst, out = self.inst, []
        for v in sorted(leave, key=lambda v: -inst.cost[v]):
            mates = self.mates.get(v)
            if not self.must_leave[v] and not (mates is not None and (place[mates] == h).any()):
                place[v] = h
                trial = self._use(h, place)
                if (trial <= self.limit[h] + TOLERANCE).all():
                    load[h] = trial
                    continue
                place[v] = -1
            out.append(v)
        return out

    def _takes(self, v: int, place: np.ndarray, load: np.ndarray) -> np.ndarray:
        """Mask of the hosts that may take VM ``v`` now (step 2)."""
        inst = self.inst
        ok = self.allowed(v) & (self.zones == self.zones[inst.initial[v]]) & self.receives
        ok &= ((load + inst.demand[v]) <= self.room_limit + TOLERANCE).all(axis=1)
        mates = self.mates.get(v)
        if mates is not None:
            ok[place[mates][place[mates] >= 0]] = False
        return ok

    def _roomiest(self, v: int, place: np.ndarray, load: np.ndarray) -> int:
        """The host with the most room left (its tightest resource, as a share) that takes ``v``, or -1."""
        ok = self._takes(v, place, load)
        if not ok.any():
            return -1
        room = self.room_share(load + self.inst.demand[v])
        return int(np.flatnonzero(ok)[np.argmax(room[ok])])

    def room_share(self, load: np.ndarray) -> np.ndarray:
        """Per host, the room left under ``load`` on its tightest resource, as a share of its limit
        (resources it does not limit do not count)."""
        limited = np.isfinite(self.limit) & (self.limit > 0)
        share = np.where(limited, (self.room_limit - load) / np.where(limited, self.limit, 1.0), np.inf)
        return share.min(axis=1, initial=np.inf)

    def valid(self, place: np.ndarray) -> bool:
        """Whether ``place`` is a repaired B: every VM on a host it may end on, every host within its
        limit (receiving hosts within their room), anti-affinity holding, unmovable VMs in place."""
        inst = self.inst
        moved = place != self.start
        if (moved & ~self.movable).any() or not self.allowed_at(place).all():
            return False
        if broken_anti_affinity(inst, place):
            return False
        return bool((inst.load(place) <= self.room_limit + TOLERANCE).all())

    # ------------------------------------------------------------ CP
    def improve(self, place: np.ndarray | None, seconds: float, seed: int, gap: float = GAP_LIMIT):
        """Step 3: ``(placement or None, proven, solver status)``; None when the model is too big."""
        movable = int(self.movable.sum())
        if movable * self.inst.n_hosts <= WHOLE_LITERALS:
            model = RepairModel(self, place, whole=True)
        elif self.free.size * (CANDIDATES + 2) <= CP_LITERALS:
            model = RepairModel(self, place)
        else:
            return None, False, "not run: too many choices"
        if model.literals > (WHOLE_LITERALS if model.whole else CP_LITERALS):
            return None, False, "not run: too many choices"
        return model.solve(seconds, seed, gap, self.lower_bound())


class RepairModel:
    """CP-SAT over the free VMs: one literal per candidate host, capacity within the limits,
    anti-affinity, least cost. ``whole``: every movable VM is free and may end on every host it
    may end on (the exact problem, but for page sharing and rounding); else the free VMs are the
    movable ones on bad hosts and those that must leave, among a few hosts each."""

    def __init__(self, rep: Repair, hint: np.ndarray | None, whole: bool = False):
        inst, self.rep, self.whole = rep.inst, rep, whole
        self.free = np.flatnonzero(rep.movable) if whole else rep.free
        base = rep.start.copy()
        base[self.free] = -1
        self.rounding = cpsat.Rounding()
        self.cand = self._whole_candidates() if whole else self._candidates(base, hint)
        self.literals = sum(len(c) for c in self.cand)
        self.complete = whole and not inst.share_ratio.size
        if self.literals > (WHOLE_LITERALS if whole else CP_LITERALS):
            return
        self.model = cp_model.CpModel()
        self.x = [{h: self.model.new_bool_var(f"x{v}_{h}") for h in c} for v, c in zip(self.free, self.cand,
                                                                                        strict=True)]
        for lits in self.x:
            self.model.add_exactly_one(lits.values())
        self._capacity(base)
        self._anti_affinity(base)
        self.cost_scale = scale = cpsat.scale_for(inst.cost, cpsat.MAX_COST_SCALED)
        cost = self.rounding.nearest(inst.cost * scale)
        self.model.minimize(sum(int(cost[v]) * (1 - lits[inst.initial[v]]) if inst.initial[v] in lits
                                else int(cost[v]) for v, lits in zip(self.free, self.x, strict=True)))
        if hint is not None:
            for v, lits in zip(self.free, self.x, strict=True):
                for h, lit in lits.items():
                    self.model.add_hint(lit, int(hint[v] == h))

    def _whole_candidates(self) -> list[list[int]]:
        """Every host each free VM may end on: allowed, in its zone, open to migrations (or its own)."""
        rep, inst = self.rep, self.rep.inst
        out = []
        for v in self.free.tolist():
            allowed = rep.allowed(v)
            ok = allowed & (rep.zones == rep.zones[inst.initial[v]]) & (inst.host_limit > 0)
            ok[rep.start[v]] |= allowed[rep.start[v]]
            out.append(np.flatnonzero(ok).tolist())
        return out

    def _candidates(self, base: np.ndarray, hint: np.ndarray | None) -> list[list[int]]:
        rep, inst = self.rep, self.rep.inst
        load = np.zeros_like(rep.load)
        np.add.at(load, base[base >= 0], inst.demand[base >= 0])
        room = rep.room_share(load)
        order = np.argsort(-room, kind="stable")
        out = []
        for v in self.free.tolist():
            allowed = rep.allowed(v)
            ok = allowed & (rep.zones == rep.zones[inst.initial[v]]) & rep.receives
            own = {int(rep.start[v])} if allowed[rep.start[v]] else set()
            if hint is not None:
                own.add(int(hint[v]))
            out.append(sorted(own | set(order[ok[order]][:CANDIDATES].tolist())))
        return out

    def _capacity(self, base: np.ndarray) -> None:
        rep, inst, m = self.rep, self.rep.inst, self.model
        by_host: dict[int, list] = {}
        for v, lits in zip(self.free.tolist(), self.x, strict=True):
            for h, lit in lits.items():
                by_host.setdefault(h, []).append((v, lit))
        for r in range(len(inst.resources)):
            scale = cpsat.scale_for(np.concatenate([inst.demand[:, r], rep.limit[:, r]]))
            demand, cap = cpsat.integer_resource(inst.demand[:, r], rep.room_limit[:, r], scale,
                                                 self.rounding)
            fixed = np.bincount(base[base >= 0], weights=demand[base >= 0], minlength=inst.n_hosts)
            for h, terms in by_host.items():
                if cap[h] < 0:
                    continue
                m.add(sum(int(demand[v]) * lit for v, lit in terms) <= int(cap[h] - fixed[h]))

    def _anti_affinity(self, base: np.ndarray) -> None:
        inst, m = self.rep.inst, self.model
        pos = {v: i for i, v in enumerate(self.free.tolist())}
        for g in inst.groups:
            if not g.anti_affinity:
                continue
            held = np.bincount(base[g.vms][base[g.vms] >= 0], minlength=inst.n_hosts)
            per_host: dict[int, list] = {}
            for v in g.vms.tolist():
                for h, lit in self.x[pos[v]].items() if v in pos else ():
                    per_host.setdefault(h, []).append(lit)
            for h, lits in per_host.items():
                m.add(sum(lits) <= max(0, 1 - int(held[h])))

    def solve(self, seconds: float, seed: int, gap: float = GAP_LIMIT, lower: float = 0.0):
        """Solve for at most ``seconds``, stopping once the cost is within ``gap`` (relative) of the
        solver's bound or of ``lower`` (a proven bound on the repair's cost), or when it stalls."""
        lower_scaled = (lower - self.rep.cost_of(self.rep.start)) * self.cost_scale  # the part in the model
        watch = cpsat.EarlyStop(lambda best, bound: best <= max(bound, lower_scaled) * (1 + gap) + 1e-9,
                                patience_for(seconds))
        solver, code = cpsat.solve(self.model, seconds, seed=seed, watch=watch)
        status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                  cp_model.INFEASIBLE: "infeasible"}.get(code, "unknown")
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None, False, status
        place = self.rep.start.copy()
        for v, lits in zip(self.free.tolist(), self.x, strict=True):
            place[v] = next(h for h, lit in lits.items() if solver.boolean_value(lit))
        if not self.rep.valid(place):
            return None, False, f"{status}, refused by the exact check"
        proven = code == cp_model.OPTIMAL and self.complete and self.rounding.exact
        return place, proven, status
