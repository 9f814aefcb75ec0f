"""Where should the free VMs end up? A CP-SAT placement model over a window of the cloud.

A *window* is a set of hosts; the free VMs are the movable VMs that sit on
those hosts in the current placement ``base``. Every other VM stays where
``base`` puts it. Each free VM gets one boolean per candidate host of the
window (its own host always among them), so the model stays small however
big the cloud is: goals cover a large cloud with a sequence of windows
(large neighbourhood search) and a small cloud with a single window.

The model enforces the rules a target must obey: every resource fits the
effective capacity (integer-scaled, rounding demands up and capacities down,
so a solution never overloads a host), anti-affinity, pinned VMs never move,
hosts that allow no migration neither send nor receive, and the move or
cost budget (counted against the initial placement A).

With page sharing (:mod:`cpplan.constraints.page_sharing`) a host's use of the
shared resource is counted by the sharing rule, exactly: the private parts
``(1 - R) * ram`` of its VMs, plus per image the largest shared pages
``R * ram`` present, once. The pages are a sum of levels: for image ``i`` on
host ``h`` and each pages size ``p_1 < p_2 < ...`` of its candidate VMs above
the largest ``p_0`` of its VMs fixed there, a boolean ``level_k`` adds
``p_k - p_(k-1)``; a VM of ``p_k`` pages placed on ``h`` implies ``level_k``, and
each level implies the one below it.
Levels only raise the use, so any solution fits; the least levels a placement
allows are its exact use. :func:`sharing_load` is the rule on a whole
placement, for every goal and heuristic (without sharing, the plain sums; it lives in
:mod:`cpplan.goals.metrics`).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"})
>>> w = Window(inst, inst.initial, hosts=[0, 1], rules=Rules(headroom=0.0))
>>> w.model.minimize(-w.host_load(1, 0))           # push as much as possible onto h2
>>> w.solve(time_limit=5).placement.tolist()
[1, 1]
>>> shared = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 12}},
...                   vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
...                   initial={"a": "h1", "b": "h2"}, page_sharing={"ratio": 0.5})
>>> sharing_load(shared, np.array([1, 1])).tolist()     # 16 - 0.5 * (16 - 8)
[[0.0], [12.0]]
>>> w = Window(shared, shared.initial, hosts=[0, 1])
>>> w.model.minimize(w.host_load(0, 0))                   # both fit on h2 only by sharing
>>> w.solve(time_limit=5).placement.tolist()
[1, 1]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ortools.sat.python import cp_model

from .. import cpsat
from ..allowed import end_hosts
from ..constraints import anti_affinity_mates
from ..constraints.capacity import fits
from ..constraints.page_sharing import split_ram
from . import Slack, Tradeoff
from .metrics import sharing_load, sharing_on, utilisation_of
from .stopping import Stage

UTIL_SCALE = 10_000  # utilisation in units of 0.01 percentage point
COST_SCALE_FRACTIONAL = 100


def movable_vms(inst) -> np.ndarray:
    """VMs allowed to change host: not pinned, not on a host or in a group (or a cloud) that allows
    no migration, and not in an affinity group (whose members must share a host, so they stay)."""
    ok = ~inst.pinned & (inst.host_limit[inst.initial] > 0) & (inst.total_limit != 0)
    for g in inst.groups:
        if g.max_migrating == 0 or getattr(g, "affinity", False):
            ok[g.vms] = False
    return ok


def receiving_hosts(inst) -> np.ndarray:
    """Hosts allowed to receive VMs: they allow migrations and are not overloaded in A."""
    over = ~fits(sharing_load(inst, inst.initial), inst.effective).all(axis=1)
    return (inst.host_limit > 0) & ~over


def receiving_limit(inst, headroom: float) -> np.ndarray:
    """Load a receiving host may carry: effective capacity less ``headroom`` (a fraction),
    never below what the host already carries in A (so A itself always fits)."""
    if headroom <= 0:
        return inst.effective
    keep = np.minimum(inst.effective, sharing_load(inst, inst.initial))
    return np.maximum(inst.effective * (1.0 - headroom), keep)


def link_zones(inst) -> np.ndarray:
    """A zone number per host: a VM can only end in its initial host's zone, since reaching another
    zone would cross a link that allows no migration (all zeros when no link is closed)."""
    closed = [link.hosts for link in inst.links if link.max_migrations == 0]
    inside = np.zeros((inst.n_hosts, len(closed)), dtype=np.int64)
    for k, hosts in enumerate(closed):
        inside[hosts, k] = 1
    return np.unique(inside, axis=0, return_inverse=True)[1].reshape(-1) if closed \
        else np.zeros(inst.n_hosts, dtype=np.int64)


@dataclass(frozen=True)
class Rules:
    """What a window's placements obey besides capacity and anti-affinity: receiving hosts keep
    ``headroom`` (a fraction of their capacity) free, ``max_cost``/``max_moves`` bound the summed
    cost/number of VMs whose host differs from A, and no VM goes to a ``forbid`` host."""

    headroom: float = 0.0
    max_cost: float | None = None
    max_moves: int | None = None
    forbid: tuple[int, ...] = ()

    @classmethod
    def of(cls, tradeoff: Tradeoff, slack: Slack, forbid=()) -> Rules:
        """The rules of a goal's search: the trade-off's budgets, eased by ``slack``."""
        return cls(slack.headroom, tradeoff.max_cost, slack.capped(tradeoff), tuple(int(h) for h in forbid))


@dataclass(frozen=True)
class IntegerCloud:
    """Demands, receiving limits and costs as CP-SAT integers (limit -1 means unlimited), rounded as
    :class:`cpplan.cpsat.Rounding` does; ``scale`` per resource: integer units per unit of demand.
    With page sharing, ``shared`` is the shared resource and ``private``/``pages`` each VM's
    :func:`~cpplan.constraints.page_sharing.split_ram` parts of it, rounded up (else -1 and empty)."""

    demand: np.ndarray
    limit: np.ndarray
    cost: np.ndarray
    scale: np.ndarray
    cost_scale: float
    shared: int = -1
    private: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pages: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, inst, limit: np.ndarray) -> IntegerCloud:
        rounding = cpsat.Rounding()
        demand = np.zeros(inst.demand.shape, dtype=np.int64)
        cap = np.full(limit.shape, -1, dtype=np.int64)
        scale = np.ones(len(inst.resources))
        shared = inst.share_resource if sharing_on(inst) else -1
        parts = split_ram(inst) if shared >= 0 else ()
        for r in range(len(inst.resources)):
            need = inst.demand[:, r]
            split = parts if r == shared else ()
            scale[r] = cpsat.scale_for(np.concatenate([need, inst.effective[:, r], *split]))
            demand[:, r], cap[:, r] = cpsat.integer_resource(need, limit[:, r], scale[r], rounding)
        cost_scale = min(cpsat.scale_for(inst.cost, cpsat.MAX_COST_SCALED), COST_SCALE_FRACTIONAL)
        cost = rounding.nearest(inst.cost * cost_scale)
        if shared < 0:
            return cls(demand, cap, cost, scale, cost_scale)
        private, pages = (rounding.up(part * scale[shared]) for part in parts)
        return cls(demand, cap, cost, scale, cost_scale, shared, private, pages)

    def least_demand(self, v: int) -> np.ndarray:
        """The least VM ``v`` can add to a host: its demand, but only its private part of the shared
        resource (its pages may be there already)."""
        if self.shared < 0:
            return self.demand[v]
        least = self.demand[v].copy()
        least[self.shared] = self.private[v]
        return least


@dataclass
class Solution:
    placement: np.ndarray | None  # None when no solution was found
    status: str                   # "optimal", "feasible", "infeasible" or "unknown"
    objective: float
    bound: float
    gap: float | None = None      # proven relative gap of the (last) stage's secondary objective
    stopped: str = ""             # why the (last) stage ended early: "gap", "stall", or "" (proof or time)


class Window:
    """The placement model of one window; goals add their objective and call :meth:`solve`.

    ``rules`` (:class:`Rules`) hold for every placement; ``vms`` restricts the
    free VMs (default: every movable VM on the window's hosts); ``candidates``
    caps the number of candidate hosts per free VM (those with the most free
    room are kept).
    """

    def __init__(self, inst, base: np.ndarray, hosts, rules: Rules | None = None, *, vms=None,
                 candidates: int | None = None):
        rules = rules or Rules()
        self.inst, self.base = inst, np.asarray(base)
        self.hosts = np.unique(np.asarray(hosts, dtype=np.int64))
        in_window = np.zeros(inst.n_hosts, dtype=bool)
        in_window[self.hosts] = True
        movable = movable_vms(inst) & in_window[self.base]
        if vms is not None:
            chosen = np.zeros(inst.n_vms, dtype=bool)
            chosen[np.asarray(vms, dtype=np.int64)] = True
            movable &= chosen
        self.free = np.flatnonzero(movable)
        self.ints = IntegerCloud.of(inst, receiving_limit(inst, rules.headroom))
        self.model = cp_model.CpModel()
        fixed = ~movable
        fixed_load = np.zeros((inst.n_hosts, len(inst.resources)), dtype=np.int64)
        np.add.at(fixed_load, self.base[fixed], self.ints.demand[fixed])
        self.fixed_load = fixed_load
        self.fixed_pages = self._fixed_sharing(fixed) if self.ints.shared >= 0 else {}
        self._shared_loads: dict[int, object] = {}
        self.fixed_count = np.bincount(self.base[fixed], minlength=inst.n_hosts)
        self.forbid = np.zeros(inst.n_hosts, dtype=bool)
        self.forbid[np.asarray(rules.forbid, dtype=np.int64)] = True
        self._candidates(candidates, fixed, in_window)
        self._capacity()
        self._anti_affinity(fixed)
        self._budgets(rules.max_cost, rules.max_moves, fixed)

    # ------------------------------------------------------------ building
    def _fixed_sharing(self, fixed: np.ndarray) -> dict:
        """Count the fixed VMs' shared resource by the sharing rule (private parts, plus each
        image's largest pages once per host) in ``fixed_load``; returns (host, image) -> those pages."""
        ints, image = self.ints, self.inst.image
        vms = np.flatnonzero(fixed)
        col = np.bincount(self.base[vms], weights=ints.private[vms], minlength=self.inst.n_hosts)
        peaks: dict = {}
        for v, h, i in zip(vms.tolist(), self.base[vms].tolist(), image[vms].tolist(), strict=True):
            if i >= 0 and ints.pages[v] > peaks.get((h, i), 0):
                peaks[h, i] = int(ints.pages[v])
        np.add.at(col, [h for h, _ in peaks], list(peaks.values()))
        self.fixed_load[:, ints.shared] = np.round(col).astype(np.int64)
        return peaks

    def _candidates(self, cap: int | None, fixed: np.ndarray, in_window: np.ndarray) -> None:
        inst, ints = self.inst, self.ints
        can_receive = (receiving_hosts(inst) & ~self.forbid)[self.hosts]
        room = np.where(ints.limit[self.hosts] < 0, np.iinfo(np.int64).max // 4,
                        ints.limit[self.hosts] - self.fixed_load[self.hosts])
        mates = anti_affinity_mates(inst)
        fixed_at = {}
        for v, m in mates.items():
            fixed_at[v] = set(self.base[m[fixed[m]]].tolist())
        self.cand: list[np.ndarray] = []
        self.lits: list[list] = []
        self.by_host: dict[int, list[tuple[int, object]]] = {int(h): [] for h in self.hosts}
        zone = link_zones(inst)
        zones = zone[self.hosts]
        slack = (room / np.maximum(ints.limit[self.hosts], 1)).min(axis=1)
        for i, v in enumerate(self.free.tolist()):
            ok = can_receive & (ints.least_demand(v) <= room).all(axis=1) & (zones == zone[inst.initial[v]])
            if v in fixed_at and fixed_at[v]:
                ok &= ~np.isin(self.hosts, list(fixed_at[v]))
            ends = end_hosts(inst, v)  # a partial target, fences, among sets
            if ends is not None:
                ok &= ends[self.hosts]
            hosts = self.hosts[ok]
            if cap is not None and hosts.size > cap:
                hosts = hosts[np.argsort(-slack[ok], kind="stable")[:cap]]
            keep = {h for h in (int(self.base[v]), int(inst.initial[v]))
                    if in_window[h] and not self.forbid[h] and (ends is None or ends[h])}
            hosts = np.union1d(hosts, np.array(sorted(keep), dtype=np.int64))
            lits = [self.model.new_bool_var(f"x{v}_{h}") for h in hosts.tolist()]
            self.model.add_exactly_one(lits)
            for h, lit in zip(hosts.tolist(), lits, strict=True):
                self.by_host[h].append((i, lit))
            self.cand.append(hosts)
            self.lits.append(lits)
        self.hint(self.base)

    def _capacity(self) -> None:
        limit = self.ints.limit
        receiving = receiving_hosts(self.inst)
        for h, terms in self.by_host.items():
            if not terms or not receiving[h]:  # a host that receives nothing can only get lighter
                continue
            for r in range(limit.shape[1]):
                if limit[h, r] < 0:
                    continue
                if r == self.ints.shared:  # private parts and pages: never below the sharing rule's use
                    on = self.free[[i for i, _ in terms]]
                    most = int(self.ints.private[on].sum() + self.ints.pages[on].sum())
                    if most + self.fixed_load[h, r] > limit[h, r]:
                        self.model.add(self.host_load(h, r) <= int(limit[h, r]))
                    continue
                coeffs = [int(self.ints.demand[self.free[i], r]) for i, _ in terms]
                if sum(coeffs) + self.fixed_load[h, r] <= limit[h, r]:
                    continue
                self.model.add(cp_model.LinearExpr.weighted_sum([lit for _, lit in terms], coeffs)
                               <= int(limit[h, r] - self.fixed_load[h, r]))

    def _anti_affinity(self, fixed: np.ndarray) -> None:
        free_pos = {v: i for i, v in enumerate(self.free.tolist())}
        for g in self.inst.groups:
            if not g.anti_affinity:
                continue
            members = [free_pos[v] for v in g.vms.tolist() if v in free_pos]
            if len(members) < 2:
                continue
            per_host: dict[int, list] = {}
            for i in members:
                for h, lit in zip(self.cand[i].tolist(), self.lits[i], strict=True):
                    per_host.setdefault(h, []).append(lit)
            for lits in per_host.values():
                if len(lits) > 1:
                    self.model.add_at_most_one(lits)

    def _budgets(self, max_cost, max_moves, fixed: np.ndarray) -> None:
        inst = self.inst
        moved_fixed = fixed & (self.base != inst.initial)
        self.cost_outside = float(inst.cost[moved_fixed].sum())
        self.moves_outside = int(moved_fixed.sum())
        # a budget above moving every VM is no budget: the bounds stay within the model's integers
        if max_cost is not None:
            left = min((max_cost - self.cost_outside) * self.ints.cost_scale, float(self.ints.cost.sum()))
            self.model.add(self.moved_cost() <= max(int(np.floor(left + 1e-6)), 0))
        if max_moves is not None:
            self.model.add(self.moved_count() <= max(min(max_moves, inst.n_vms) - self.moves_outside, 0))

    # ------------------------------------------------------------ expressions
    def _stays(self, i: int):
        """The literal 'free VM i ends on its initial host', or None if that host is no candidate."""
        v = self.free[i]
        where = np.flatnonzero(self.cand[i] == self.inst.initial[v])
        return self.lits[i][int(where[0])] if where.size else None

    def moved_cost(self):
        """Integer-scaled summed cost of the free VMs that end away from their initial host."""
        terms, const = [], 0
        for i, v in enumerate(self.free.tolist()):
            stay = self._stays(i)
            c = int(self.ints.cost[v])
            if stay is None:
                const += c
            elif c:
                terms.append((stay, c))
                const += c
        return const - cp_model.LinearExpr.weighted_sum([t for t, _ in terms], [c for _, c in terms])

    @property
    def cost_span(self) -> int:
        """One more than the largest possible integer cost of the free VMs: a tie-break multiplier."""
        return int(self.ints.cost[self.free].sum()) + 1

    def moved_count(self):
        stays = [s for s in (self._stays(i) for i in range(len(self.free))) if s is not None]
        return len(self.free) - sum(stays)

    def host_load(self, h: int, r: int):
        """Integer-scaled load of resource ``r`` on window host ``h`` (the sharing rule's use of
        the shared resource, built once per host)."""
        if r == self.ints.shared:
            if int(h) not in self._shared_loads:
                self._shared_loads[int(h)] = self._shared_load(int(h))
            return self._shared_loads[int(h)]
        terms = self.by_host[int(h)]
        coeffs = [int(self.ints.demand[self.free[i], r]) for i, _ in terms]
        return int(self.fixed_load[h, r]) + cp_model.LinearExpr.weighted_sum([t for _, t in terms], coeffs)

    def _shared_load(self, h: int):
        """The private parts of the VMs on ``h`` plus, per image, its pages levels above the largest
        pages of its VMs fixed there (see the module docstring)."""
        ints, image, terms = self.ints, self.inst.image, self.by_host[h]
        lits = [lit for _, lit in terms]
        coeffs = [int(ints.private[self.free[i]]) for i, _ in terms]
        by_image: dict[int, list] = {}
        for i, lit in terms:
            v = self.free[i]
            if image[v] >= 0 and ints.pages[v] > 0:
                by_image.setdefault(int(image[v]), []).append((int(ints.pages[v]), lit))
        for i, present in by_image.items():
            below = self.fixed_pages.get((h, i), 0)
            level_of, lower = {}, None
            for size in sorted({p for p, _ in present if p > below}):
                level_of[size] = level = self.model.new_bool_var(f"pages{h}_{i}_{size}")
                if lower is not None:
                    self.model.add_implication(level, lower)  # levels hold from the bottom up
                lits.append(level)
                coeffs.append(size - below)
                below, lower = size, level
            for p, lit in present:
                if p in level_of:
                    self.model.add_implication(lit, level_of[p])
        return int(self.fixed_load[h, ints.shared]) + cp_model.LinearExpr.weighted_sum(lits, coeffs)

    def host_used(self, h: int):
        """A literal true when window host ``h`` holds at least one VM (fixed VMs force it)."""
        terms = self.by_host[int(h)]
        if self.fixed_count[h]:
            return 1
        used = self.model.new_bool_var(f"used{h}")
        for _, lit in terms:
            self.model.add_implication(lit, used)
        self.model.add_hint(used, int((self.base == h).any()))
        return used

    def utilisation(self, h: int):
        """An integer variable >= the utilisation of host ``h`` in units of 1/UTIL_SCALE:
        the highest, over resources with a finite capacity, of load / effective capacity."""
        if not self.by_host[int(h)]:
            load = self.fixed_load[h] / self.ints.scale
            return int(np.ceil(UTIL_SCALE * utilisation_of(self.inst, load, h) - 1e-9))
        u = self.model.new_int_var(0, 100 * UTIL_SCALE, f"u{h}")
        for r in range(len(self.inst.resources)):
            cap = self.inst.effective[h, r]
            if not np.isfinite(cap) or cap <= 0:
                continue
            cap_int = max(1, int(round(cap * self.ints.scale[r])))
            self.model.add(UTIL_SCALE * self.host_load(h, r) <= cap_int * u)
        return u

    # ------------------------------------------------------------ solving
    def solve_lex(self, stages: list, time_limit: float, seed: int = 0, presolve: bool = True) -> Solution:
        """Minimise each stage of ``stages`` in turn (a :class:`~cpplan.goals.stopping.Stage`, or a
        bare expression, solved to optimality or time), keeping the earlier ones at their best
        (:func:`cpplan.cpsat.minimise_in_turn`).

        Each stage but the last gets 60 % of the time left; a stage that stops early (its gap
        reached, or stalled) leaves its time to the next. The returned objective and bound are
        the first stage's; ``gap`` and ``stopped`` the last stage's. ``presolve=False`` saves the
        solver's presolve, which costs more than it gains on a small window started from a hint.
        """
        stages = [stage if isinstance(stage, Stage) else Stage(stage, gap=0.0) for stage in stages]
        started = time.perf_counter()
        solutions: list[Solution] = []

        def phase(k: int, stage: Stage) -> cpsat.Phase:
            def run() -> int | None:
                left = time_limit - (time.perf_counter() - started)
                share = left * (0.6 if k < len(stages) - 1 else 1.0)
                if solutions and share < 0.05:
                    return None
                solutions.append(self.solve(share, seed, stage=stage, presolve=presolve))
                if solutions[-1].placement is None:
                    return None
                self.hint(solutions[-1].placement)
                return int(round(solutions[-1].objective))
            return cpsat.Phase(stage.expr, run)

        cpsat.minimise_in_turn(self.model, [phase(k, stage) for k, stage in enumerate(stages)])
        found = [sol for sol in solutions if sol.placement is not None]
        if not found:
            return solutions[0] if solutions else None
        first, last = found[0], found[-1]
        return Solution(last.placement, "optimal" if first.status == last.status == "optimal" else "feasible",
                        first.objective, first.bound, last.gap, last.stopped)

    def hint(self, placement: np.ndarray) -> None:
        """Replace the solver hint with ``placement``."""
        self.model.clear_hints()
        for i, v in enumerate(self.free.tolist()):
            for h, lit in zip(self.cand[i].tolist(), self.lits[i], strict=True):
                self.model.add_hint(lit, int(placement[v] == h))

    def _complete_hint(self, time_limit: float, seed: int) -> None:
        """Extend the hint of the placement literals to every variable (hosts used, utilisations,
        objective terms) by solving the model with those literals fixed, so that the search starts
        from the hinted placement at once instead of only leaning towards it."""
        hint = self.model.proto.solution_hint
        fixed = self.model.clone()
        for var, value in zip(hint.vars, hint.values, strict=True):
            domain = fixed.proto.variables[var].domain
            domain.clear()
            domain.extend([value, value])
        fixed.clear_hints()
        solver, status = cpsat.solve(fixed, time_limit, seed=seed, workers=1, presolve=True)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            cpsat.hint_from(self.model, solver)

    def solve(self, time_limit: float, seed: int = 0, workers: int = 2,
              stage: Stage | None = None, presolve: bool = True) -> Solution:
        """Solve the model as it is; ``stage`` (whose expression the model minimises) says when to
        stop before the time limit, and adds its proven lower bound to the solver's."""
        if self.model.has_objective():
            self._complete_hint(time_limit / 10, seed)
        watch = cpsat.EarlyStop(stage.done, stage.patience) if stage is not None else None
        solver, code = cpsat.solve(self.model, max(0.05, float(time_limit)), seed=seed, watch=watch,
                                   workers=workers, presolve=presolve)
        name = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
                cp_model.INFEASIBLE: "infeasible"}.get(code, "unknown")
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return Solution(None, name, float("nan"), float("nan"))
        placement = self.base.copy()
        for i, v in enumerate(self.free.tolist()):
            k = next(k for k, lit in enumerate(self.lits[i]) if solver.boolean_value(lit))
            placement[v] = self.cand[i][k]
        if not self.model.has_objective():
            return Solution(placement, name, 0.0, 0.0)
        objective, bound = solver.objective_value, solver.best_objective_bound
        if stage is None:
            return Solution(placement, name, objective, bound)
        bound = max(bound, stage.lower)
        gap = 0.0 if code == cp_model.OPTIMAL else stage.gap_of(objective, bound)
        return Solution(placement, "optimal" if gap == 0 else name, objective, bound, gap, watch.reason)


def weighted(goal, cost, ratio: float | None):
    """An integer objective for ``goal + ratio * cost`` (ratio in cost units per goal unit).

    Returns ``(expr, None)``, or, when ``ratio`` is None or too small to matter,
    ``(goal, cost)``: minimise the goal, then the cost.
    """
    if ratio is None:
        return goal, cost
    frac = Fraction(ratio).limit_denominator(10_000)
    if frac == 0:
        return goal, cost
    return frac.denominator * goal + frac.numerator * cost, None
