"""What the CP-SAT models of planners and goals share: integer scaling, solving, lexicographic solves.

CP-SAT works on integers, so demands, capacities and costs are scaled by a
power of ten that makes them integral; when no small factor does, demands
round up and capacities down (plans stay valid, but proofs are then off):
:func:`scale_for`, :class:`Rounding`, :func:`integer_resource`.

:func:`solve` is the one solver set-up (workers, presolve, seed, time limit,
Ctrl-C); a :class:`Watch` follows the search: progress lines, or an
:class:`EarlyStop` at a good-enough gap or a stall. :func:`minimise_in_turn`
minimises objectives lexicographically, each held at its best while the next
is minimised; :func:`hint_from` makes a solution the next search's hint.

>>> import numpy as np
>>> scale_for(np.array([0.5, 2.0]))
10
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from .budget import Budget, Interrupt
from .constraints.page_sharing import shared_fraction, split_ram, use_from_parts
from .plan import MoveInRound

SCALES = (1, 10, 100, 1000)
# largest demand or capacity in a model: past 2**31, CP-SAT's presolve (9.15) proved feasible
# models infeasible
MAX_SCALED = 2**31 - 1
# largest cost of a VM in a model: objectives multiply summed costs by up to ~10^4 (rounds, goals)
MAX_COST_SCALED = 2**24
# Small models: CP-SAT's full portfolio (core-based bounds, LNS, LP) needs about 8 workers; on 2
# cores, 8 workers proved the tiny bounce/displace optima 5-30x faster than 2.
WORKERS = max(8, os.cpu_count() or 1)
# Big models (the direct model of 1 000 hosts): presolve costs 10-40 s and gains little, and one
# worker per core beats 8 time-sliced ones (cold tight-1000: 7 s against 35 s).
BIG_MODEL = 5_000
HEARTBEAT = 5.0  # seconds between progress lines while a search finds nothing new
# seconds between two looks at a search run in a thread (Ctrl-C, heartbeat, stall): the planners'
# rhythm; a goal's stall is noticed within it, and its patience is at least 0.5 s
TICK = 0.1


def scale_for(values: np.ndarray, limit: float = MAX_SCALED) -> float:
    """The smallest factor in :data:`SCALES` making every finite value an integer within ``limit``;
    else, for integers beyond it, one over their greatest common divisor when that brings them
    within (RAM in bytes); else the largest factor keeping them within ``limit``, below 1 for
    values beyond it (then rounding is approximate).

    >>> scale_for(np.array([4.0, 0.5])), scale_for(np.array([3.0 * 2**40, 2.0**40])) == 2.0**-40
    (10, True)
    >>> scale_for(np.array([2.0**50 + 1, 2.0**50])) == MAX_SCALED / (2.0**50 + 1)
    True
    """
    finite = values[np.isfinite(values)]
    largest = float(np.abs(finite).max(initial=0.0))
    fitting = [s for s in SCALES if largest * s <= limit]
    for s in fitting:
        if _integral(finite * s):
            return s
    if not fitting and largest < 2**62 and _integral(finite):
        divisor = int(np.gcd.reduce(np.round(finite).astype(np.int64)))
        if divisor > 1 and largest / divisor <= limit:
            return 1 / divisor
    return fitting[-1] if fitting else limit / largest


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) < 1e-9 * np.maximum(1.0, np.abs(values))))


class Rounding:
    """Scaled values as integers, the way a model may round them and stay valid: demands up (at
    least 1 where positive), capacities down, costs to the nearest; ``exact`` turns False as soon as
    rounding changes a value.

    >>> rounding = Rounding()
    >>> rounding.up(np.array([0.2, 3.0])).tolist(), rounding.exact, rounding.down(np.array([2.9])).tolist()
    ([1, 3], False, [2])
    """

    def __init__(self):
        self.exact = True

    def up(self, values: np.ndarray) -> np.ndarray:
        return self._integers(np.maximum(np.ceil(values - 1e-9), values > 0), values)

    def down(self, values: np.ndarray) -> np.ndarray:
        return self._integers(np.floor(values + 1e-9), values)

    def nearest(self, values: np.ndarray) -> np.ndarray:
        return self._integers(np.round(values), values)

    def _integers(self, rounded: np.ndarray, values: np.ndarray) -> np.ndarray:
        self.exact &= bool(np.allclose(rounded, values, rtol=0, atol=1e-6))
        return rounded.astype(np.int64)


def integer_resource(demand: np.ndarray, capacity: np.ndarray, scale: float,
                     rounding: Rounding) -> tuple[np.ndarray, np.ndarray]:
    """One resource in integer units of ``1 / scale`` (a :func:`scale_for` factor): the demands
    rounded up and the capacities rounded down, -1 where a capacity is unlimited.

    >>> integer_resource(np.array([0.5, 2.0]), np.array([4.25, np.inf]), 10, Rounding())
    (array([ 5, 20]), array([42, -1]))
    """
    limited = np.full(capacity.shape, -1, dtype=np.int64)
    finite = np.isfinite(capacity)
    limited[finite] = rounding.down(capacity[finite] * scale)
    return rounding.up(demand * scale), limited


class Scaled:
    """Integer demands, capacities and costs of an instance; ``exact`` when the model is not approximate.

    ``capacity`` is ``-1`` where a resource is unlimited. ``cost`` is the cost
    of a VM's cheaper mode; ``dual`` VMs move live by default but may also move
    offline, for ``offline_cost``. With page sharing, a
    VM of an image with shared fraction ``R`` splits its demand of the shared
    resource (column ``shared``) into ``private`` (``(1 - R) * ram``, counted per
    VM) and ``pages`` (``R * ram``): VMs of one image on one host use the sum
    of their ``private`` plus the largest of their ``pages``
    (:mod:`cpplan.constraints.page_sharing`: its ``split_ram`` parts, scaled, and
    ``use_from_parts``). Without sharing ``shared`` is -1 and both arrays are empty.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h": {"ram": 16}}, vms={"a": {"ram": 8, "image": "u"}},
    ...                 initial={"a": "h"}, page_sharing={"ratio": 0.25})
    >>> sc = Scaled(inst)
    >>> sc.private.tolist(), sc.pages.tolist(), sc.capacity.tolist(), sc.sharing
    ([6], [2], [[16]], True)
    """

    def __init__(self, inst):
        self.rounding = Rounding()
        R = len(inst.resources)
        self.demand = np.zeros((inst.n_vms, R), dtype=np.int64)
        self.capacity = np.full((inst.n_hosts, R), -1, dtype=np.int64)
        self.sharing = bool((shared_fraction(inst) > 0).any())
        self.shared = inst.share_resource if self.sharing else -1
        private, pages = split_ram(inst) if self.sharing else (None, None)
        for r in range(R):
            col, cap = inst.demand[:, r], inst.effective[:, r]
            parts = [pages, private] if r == self.shared else []
            s = scale_for(np.concatenate([col, cap, *parts]))
            self.demand[:, r], self.capacity[:, r] = integer_resource(col, cap, s, self.rounding)
            if r == self.shared:
                self.private, self.pages = self.rounding.up(private * s), self.rounding.up(pages * s)
        # VMs that move live by default but may also move offline, at a cost at least as high
        self.dual = inst.dual
        offline_cost = np.where(self.dual, inst.offline_cost, inst.cost)
        s = scale_for(np.concatenate([inst.cost, offline_cost]), MAX_COST_SCALED)
        self.cost = self.rounding.nearest(inst.cost * s)
        self.offline_cost = self.rounding.nearest(offline_cost * s)
        self.cost_scale = s
        if not self.sharing:
            self.private = self.pages = np.zeros(0, dtype=np.int64)

    @property
    def exact(self) -> bool:
        """No value changed in rounding: the model is the instance, not an approximation."""
        return self.rounding.exact

    def use(self, inst, vms: np.ndarray, r: int) -> int:
        """Scaled use of resource ``r`` on a host where exactly ``vms`` are."""
        if r != self.shared:
            return int(self.demand[vms, r].sum())
        return int(use_from_parts(self.private[vms], self.pages[vms], inst.image[vms]))


class Watch(cp_model.CpSolverSolutionCallback):
    """What follows one search in :func:`solve`: it is the solution callback, hears every new
    bound (``on_bound``), and, when :func:`solve` waits for the search in a thread, is called every
    :data:`TICK` seconds (``tick``); ``solver`` is the solver it watches."""

    solver: cp_model.CpSolver | None = None

    def on_bound(self, bound: float) -> None:
        """A new best bound."""

    def tick(self) -> None:
        """A moment of wall-clock time passed."""

    def wants_ticks(self) -> bool:
        """Whether the search must run in a thread so that :meth:`tick` is called."""
        return False


class _Reporter(Watch):
    """Calls ``progress`` with the best objective and the bound: at each solution, at most twice a
    second as the bound moves, and every :data:`HEARTBEAT` seconds otherwise."""

    def __init__(self, progress: Callable[[str], None], label: str, to_cost):
        super().__init__()
        self.progress, self.label, self.to_cost = progress, label, to_cost
        self.last = time.perf_counter()
        self.best = self.bound = None

    def on_solution_callback(self):
        self.best = self.objective_value
        self.report(self.best_objective_bound, force=True)

    def on_bound(self, bound):
        self.report(bound)

    def tick(self):
        if time.perf_counter() - self.last >= HEARTBEAT:
            self.report(self.bound)

    def report(self, bound, force=False):
        now = time.perf_counter()
        self.bound = bound
        if not force and now - self.last < 0.5:
            return
        self.last = now
        best = "-" if self.best is None else f"{self.to_cost(self.best):g}"
        bound = "-" if bound is None else f"{self.to_cost(bound):g}"
        self.progress(f"{self.label}: best {best}, bound {bound}")


class EarlyStop(Watch):
    """Stops a search once ``good_enough(best, bound)`` holds for its best objective and bound, or
    when no better solution came for ``patience`` seconds (None: never; a rising bound alone does
    not count); ``reason`` says which: "gap", "stall", or "" when the search ended by itself.

    >>> model = cp_model.CpModel()
    >>> x = model.new_int_var(0, 10, "x")
    >>> model.minimize(-x)
    >>> watch = EarlyStop(lambda best, bound: True)
    >>> solver, status = solve(model, 5, seed=0, watch=watch)
    >>> status in (cp_model.OPTIMAL, cp_model.FEASIBLE), watch.reason in ("gap", "")
    (True, True)
    """

    def __init__(self, good_enough: Callable[[float, float], bool], patience: float | None = None):
        super().__init__()
        self.good_enough, self.patience = good_enough, patience
        self.reason = ""
        self.found = False
        self.best = self.bound = float("nan")
        self.changed = time.perf_counter()
        self._lock = threading.Lock()

    def on_solution_callback(self) -> None:
        self._update(self.objective_value, self.best_objective_bound, improved=True)

    def on_bound(self, bound: float) -> None:
        if self.found:
            self._update(self.best, bound, improved=False)

    def _update(self, best: float, bound: float, improved: bool) -> None:
        with self._lock:
            self.found, self.best, self.bound = True, best, bound
            if improved:
                self.changed = time.perf_counter()
            if not self.reason and self.good_enough(best, bound):
                self._stop("gap")

    def _stop(self, reason: str) -> None:
        self.reason = reason
        self.solver.stop_search()

    def tick(self) -> None:
        with self._lock:
            if self.found and not self.reason and time.perf_counter() - self.changed > self.patience:
                self._stop("stall")

    def wants_ticks(self) -> bool:
        return self.patience is not None


def solve(model: cp_model.CpModel, seconds: float, *, seed: int, stop: Interrupt | None = None,
          watch: Watch | None = None, workers: int | None = None,
          presolve: bool | None = None) -> tuple[cp_model.CpSolver, int]:
    """Solve ``model`` for at most ``seconds``; returns the solver and its status.

    ``workers`` and ``presolve`` default to :data:`WORKERS` with presolve, or, on a model of more
    than :data:`BIG_MODEL` variables, one worker per core without presolve. With ``stop`` Ctrl-C
    stops the search at once and keeps its best solution (:class:`~cpplan.budget.Interrupt`);
    without, CP-SAT's own handler does. ``watch`` follows the search (:class:`Watch`).
    """
    solver = cp_model.CpSolver()
    p = solver.parameters
    big = len(model.proto.variables) > BIG_MODEL
    p.max_time_in_seconds = max(0.01, seconds)
    p.num_workers = workers if workers is not None else (os.cpu_count() or 1) if big else WORKERS
    p.cp_model_presolve = presolve if presolve is not None else not big
    p.random_seed = seed
    p.catch_sigint_signal = stop is None
    if watch is not None:
        watch.solver = solver
        solver.best_bound_callback = watch.on_bound
    if stop is not None and stop.requested:
        return solver, cp_model.UNKNOWN
    if stop is None and not (watch is not None and watch.wants_ticks()):
        return solver, solver.solve(model, watch)
    # The search runs in a thread so that the main thread, waiting in Python, handles Ctrl-C at once
    # (a Python signal handler waits for a C++ call to return) and ticks the watch.
    if stop is not None:
        stop.solver = solver
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("status", solver.solve(model, watch)))
    try:
        worker.start()
        while worker.is_alive():
            worker.join(TICK)
            if watch is not None:
                watch.tick()
    finally:
        if stop is not None:
            stop.solver = None
    return solver, result.get("status", cp_model.UNKNOWN)


def hint_from(model: cp_model.CpModel, solver: cp_model.CpSolver) -> None:
    """The solution ``solver`` found (for ``model`` or a copy of it) becomes ``model``'s only hint."""
    model.clear_hints()
    hint = model.proto.solution_hint
    values = list(solver.response_proto.solution)
    hint.vars.extend(range(len(values)))
    hint.values.extend(values)


@dataclass(frozen=True)
class Phase:
    """One objective of a lexicographic solve: ``run()`` searches the model as it minimises ``expr``
    and returns the value ``hold`` (default: ``expr``) reached, or None when it found no solution;
    later phases keep ``hold`` at most at that value, or at ``floor(value x (1 + slack))``."""

    expr: object
    run: Callable[[], int | None]
    hold: object = None
    slack: float = 0.0


def minimise_in_turn(model: cp_model.CpModel, phases: list[Phase]) -> None:
    """Lexicographic solving: minimise each phase's expression in turn, every later phase holding
    the earlier ones at their best; a phase without a solution ends it. What to record, how to
    share the time and what to hint is each phase's ``run``.

    >>> model = cp_model.CpModel()
    >>> x, y = model.new_int_var(0, 5, "x"), model.new_int_var(0, 5, "y")
    >>> _ = model.add(x + y >= 4), model.add(y <= x + 3)
    >>> found = []
    >>> def run():
    ...     solver, status = solve(model, 5, seed=0, workers=1)
    ...     found.append(int(solver.objective_value))
    ...     return found[-1]
    >>> minimise_in_turn(model, [Phase(x, run), Phase(-y, run)])   # least x, then (x held) most y
    >>> found
    [1, -4]
    >>> model = cp_model.CpModel()      # the same model again, x then held at most 1 x (1 + 1)
    >>> x, y = model.new_int_var(0, 5, "x"), model.new_int_var(0, 5, "y")
    >>> _ = model.add(x + y >= 4), model.add(y <= x + 3)
    >>> minimise_in_turn(model, [Phase(x, run, slack=1.0), Phase(-y, run)])
    >>> found[2:]
    [1, -5]
    """
    for k, phase in enumerate(phases):
        model.minimize(phase.expr)
        value = phase.run()
        if value is None:
            return
        if k + 1 < len(phases):
            held = value if not phase.slack else int(np.floor(value * (1 + phase.slack) + 1e-9))
            model.add((phase.expr if phase.hold is None else phase.hold) <= held)


@dataclass
class Outcome:
    """What a model run found: the hops of its best solution (``None`` when none), what was proven."""

    hops: list[MoveInRound] | None  # (round, Move(vm, src, dst, offline))
    cost: int | None = None  # scaled
    cost_bound: int | None = None  # scaled, proven within the model
    rounds_found: int | None = None
    rounds_bound: int | None = None  # proven within the model, at the found cost
    cost_proven: bool = False
    rounds_proven: bool = False
    infeasible: bool = False  # proven: the model has no solution
    stats: dict = field(default_factory=dict)
    # with a cost slack: the least-cost solution, when the rounds phase replaced it by a costlier one
    least_cost_hops: list[MoveInRound] | None = None


class LexicographicModel:
    """Solving shared by the models: least ``cost`` first, then fix it and least ``makespan``.

    With ``cost_slack`` s > 0, the makespan phase holds the cost at most at ``floor(C x (1 + s))``
    instead of the least ``C`` found, and keeps a costlier solution only in fewer rounds (then
    ``cost`` is its cost and ``least_cost_hops`` the least-cost solution).

    Subclasses set ``model``, ``sc`` (:class:`Scaled`), ``horizon``, ``cost``,
    ``makespan``, ``cost_varies`` and define ``extract(solver) -> [(round, Move)]``
    (:data:`cpplan.plan.MoveInRound`).
    """

    def size(self) -> dict:
        proto = self.model.proto
        return {"variables": len(proto.variables), "constraints": len(proto.constraints)}

    def run(self, budget: Budget, *, seed: int, stop: Interrupt | None = None, progress=None,
            cost_share: float = 0.6, cost_slack: float = 0.0) -> Outcome:
        out = Outcome(hops=None, stats=self.size())
        search = functools.partial(solve, self.model, seed=seed, stop=stop)
        phases = [Phase(self.makespan, lambda: self._fewest_rounds(out, budget.share(1.0), search, progress))]
        if self.cost_varies:
            # cost first, rounds as the tie-break: the plans found on the way stay short
            weight = self.horizon + 1
            least_cost = lambda: self._least_cost(out, weight, budget.share(cost_share), search,  # noqa: E731
                                                  progress)
            phases.insert(0, Phase(self.cost * weight + self.makespan, least_cost, hold=self.cost,
                                   slack=cost_slack))
        minimise_in_turn(self.model, phases)
        return out

    def _least_cost(self, out: Outcome, weight: int, seconds: float, search, progress) -> int | None:
        """The cost phase: the model minimises ``cost * weight + makespan``; ``search`` is :func:`solve`
        on the model; returns the cost found."""
        to_plan_cost = lambda x: max(0, x // weight) / self.sc.cost_scale  # noqa: E731
        solver, status = search(seconds, watch=_reporter(progress, "cp cost", to_plan_cost))
        out.stats["cost_status"] = solver.status_name(status)
        if status == cp_model.INFEASIBLE:
            out.infeasible = True
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        out.cost = int(solver.value(self.cost))
        out.cost_bound = int(np.ceil((solver.best_objective_bound - self.horizon) / weight - 1e-6))
        out.cost_proven = status == cp_model.OPTIMAL
        out.hops = self.extract(solver)
        out.rounds_found = _rounds(out.hops)
        hint_from(self.model, solver)
        return out.cost

    def _fewest_rounds(self, out: Outcome, seconds: float, search, progress) -> int | None:
        """The rounds phase, at the cost found (if the cost varies): the model minimises ``makespan``."""
        solver, status = search(seconds, watch=_reporter(progress, "cp rounds", lambda x: x))
        out.stats["rounds_status"] = solver.status_name(status)
        if status == cp_model.INFEASIBLE and out.hops is None:
            out.infeasible = True
            return None
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        hops = self.extract(solver)
        cost = int(solver.value(self.cost))
        if out.cost is not None and cost > out.cost:  # within a cost slack: only for fewer rounds
            if _rounds(hops) < out.rounds_found:
                out.least_cost_hops, out.hops, out.cost = out.hops, hops, cost
                out.rounds_found = _rounds(hops)
        elif out.rounds_found is None or _rounds(hops) <= out.rounds_found:
            out.hops, out.rounds_found = hops, _rounds(hops)
        out.rounds_bound = int(np.ceil(solver.best_objective_bound - 1e-6))
        out.rounds_proven = status == cp_model.OPTIMAL
        if out.cost is None:
            out.cost = int(solver.value(self.cost))
            if not self.cost_varies:
                out.cost_bound, out.cost_proven = out.cost, True
        return out.rounds_found


def _reporter(progress, label: str, to_cost) -> _Reporter | None:
    return None if progress is None else _Reporter(progress, label, to_cost)


def _rounds(hops) -> int:
    return len({t for t, *_ in hops})
