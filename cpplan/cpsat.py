"""What the CP-SAT models share: integer scaling, solving with progress and Ctrl-C, lexicographic solves.

CP-SAT works on integers, so demands, capacities and costs are scaled by a
power of ten that makes them integral; when no small factor does, demands
round up and capacities down (plans stay valid, but proofs are then off).

>>> import numpy as np
>>> scale_for(np.array([0.5, 2.0]))
10
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from .budget import Budget, Interrupt

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


class Scaled:
    """Integer demands, capacities and costs of an instance; ``exact`` when the model is not approximate.

    ``capacity`` is ``-1`` where a resource is unlimited. ``cost`` is the cost
    of a VM's cheaper mode; ``dual`` VMs move live by default but may also move
    offline, for ``offline_cost``. With page sharing, a
    VM of an image with shared fraction ``R`` splits its demand of the shared
    resource (column ``shared``) into ``private`` (``(1 - R) * ram``, counted per
    VM) and ``pages`` (``R * ram``): VMs of one image on one host use the sum
    of their ``private`` plus the largest of their ``pages`` (:mod:`.capacity`'s
    rule). Without sharing ``shared`` is -1 and both arrays are empty.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h": {"ram": 16}}, vms={"a": {"ram": 8, "image": "u"}},
    ...                 initial={"a": "h"}, page_sharing={"ratio": 0.25})
    >>> sc = Scaled(inst)
    >>> sc.private.tolist(), sc.pages.tolist(), sc.capacity.tolist(), sc.sharing
    ([6], [2], [[16]], True)
    """

    def __init__(self, inst):
        self.exact = True
        R = len(inst.resources)
        self.demand = np.zeros((inst.n_vms, R), dtype=np.int64)
        self.capacity = np.full((inst.n_hosts, R), -1, dtype=np.int64)
        ratio = np.zeros(inst.n_vms)
        if inst.share_ratio.size:
            ratio[inst.image >= 0] = inst.share_ratio[inst.image[inst.image >= 0]]
        self.sharing = bool((ratio > 0).any())
        self.shared = inst.share_resource if self.sharing else -1
        for r in range(R):
            col, cap = inst.demand[:, r], inst.effective[:, r]
            parts = [ratio * col, (1 - ratio) * col] if r == self.shared else []
            s = scale_for(np.concatenate([col, cap, *parts]))
            self.demand[:, r] = self._up(col * s)
            if r == self.shared:
                self.private, self.pages = self._up((1 - ratio) * col * s), self._up(ratio * col * s)
            finite = np.isfinite(cap)
            self.capacity[finite, r] = self._down(cap[finite] * s)
        # VMs that move live by default but may also move offline, at a cost at least as high
        self.dual = inst.dual
        offline_cost = np.where(self.dual, inst.offline_cost, inst.cost)
        s = scale_for(np.concatenate([inst.cost, offline_cost]), MAX_COST_SCALED)
        self.cost, self.offline_cost = self._round(inst.cost * s), self._round(offline_cost * s)
        self.cost_scale = s
        if not self.sharing:
            self.private = self.pages = np.zeros(0, dtype=np.int64)

    def _round(self, values: np.ndarray) -> np.ndarray:
        return self._integers(np.round(values), values)

    def _up(self, values: np.ndarray) -> np.ndarray:
        """``values`` rounded up to integers, at least 1 where positive."""
        return self._integers(np.maximum(np.ceil(values - 1e-9), values > 0), values)

    def _down(self, values: np.ndarray) -> np.ndarray:
        return self._integers(np.floor(values + 1e-9), values)

    def _integers(self, rounded: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``rounded`` as integers; ``exact`` turns False when rounding changed a value."""
        self.exact &= bool(np.allclose(rounded, values, rtol=0, atol=1e-6))
        return rounded.astype(np.int64)

    def use(self, inst, vms: np.ndarray, host: int, r: int) -> int:
        """Scaled use of resource ``r`` on ``host`` when exactly ``vms`` are there."""
        if r != self.shared:
            return int(self.demand[vms, r].sum())
        return int(self.private[vms].sum()) + sum(
            int(self.pages[vms[inst.image[vms] == i]].max()) for i in np.unique(inst.image[vms]))


class _Reporter(cp_model.CpSolverSolutionCallback):
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

    def heartbeat(self):
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


def solve(model: cp_model.CpModel, seconds: float, *, seed: int, stop: Interrupt | None = None,
          progress: Callable[[str], None] | None = None, label: str = "cp",
          to_cost=lambda x: x) -> tuple[cp_model.CpSolver, int]:
    """Solve ``model`` for at most ``seconds`` with all cores; returns the solver and its status."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.01, seconds)
    p.num_workers = WORKERS
    p.random_seed = seed
    p.catch_sigint_signal = False
    if len(model.proto.variables) > BIG_MODEL:
        p.cp_model_presolve = False
        p.num_workers = os.cpu_count() or 1
    callback = None
    if progress is not None:
        callback = _Reporter(progress, label, to_cost)
        solver.best_bound_callback = callback.on_bound
    if stop is None:
        return solver, solver.solve(model, callback)
    if stop.requested:
        return solver, cp_model.UNKNOWN
    # The search runs in a thread so that the main thread, waiting in Python, handles Ctrl-C at once
    # (a Python signal handler waits for a C++ call to return).
    stop.solver = solver
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("status", solver.solve(model, callback)))
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
            if callback is not None:
                callback.heartbeat()
    finally:
        stop.solver = None
    return solver, result.get("status", cp_model.UNKNOWN)


@dataclass
class Outcome:
    """What a model run found: the hops of its best solution (``None`` when none), what was proven."""

    hops: list[tuple[int, int, int, int]] | None  # (round, vm, from, to)
    cost: int | None = None  # scaled
    cost_bound: int | None = None  # scaled, proven within the model
    rounds_found: int | None = None
    rounds_bound: int | None = None  # proven within the model, at the found cost
    cost_proven: bool = False
    rounds_proven: bool = False
    infeasible: bool = False  # proven: the model has no solution
    stats: dict = field(default_factory=dict)


class LexicographicModel:
    """Solving shared by the models: least ``cost`` first, then fix it and least ``makespan``.

    Subclasses set ``model``, ``sc`` (:class:`Scaled`), ``horizon``, ``cost``,
    ``makespan``, ``cost_varies`` and define ``extract(solver) -> [(round, vm, from, to)]``.
    """

    def size(self) -> dict:
        proto = self.model.proto
        return {"variables": len(proto.variables), "constraints": len(proto.constraints)}

    def run(self, budget: Budget, *, seed: int, stop: Interrupt | None = None, progress=None,
            cost_share: float = 0.6) -> Outcome:
        out = Outcome(hops=None, stats=self.size())
        if self.cost_varies:
            # cost first, rounds as the tie-break: the plans found on the way stay short
            weight = self.horizon + 1
            self.model.minimize(self.cost * weight + self.makespan)
            to_plan_cost = lambda x: max(0, x // weight) / self.sc.cost_scale  # noqa: E731
            solver, status = solve(self.model, budget.share(cost_share), seed=seed, stop=stop,
                                   progress=progress, label="cp cost", to_cost=to_plan_cost)
            out.stats["cost_status"] = solver.status_name(status)
            if status == cp_model.INFEASIBLE:
                out.infeasible = True
                return out
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return out
            out.cost = int(solver.value(self.cost))
            out.cost_bound = int(np.ceil((solver.best_objective_bound - self.horizon) / weight - 1e-6))
            out.cost_proven = status == cp_model.OPTIMAL
            out.hops = self.extract(solver)
            out.rounds_found = _rounds(out.hops)
            self._hint_from(solver)
            self.model.clear_objective()
            self.model.add(self.cost <= out.cost)
        self.model.minimize(self.makespan)
        solver, status = solve(self.model, budget.share(1.0), seed=seed, stop=stop, progress=progress,
                               label="cp rounds")
        out.stats["rounds_status"] = solver.status_name(status)
        if status == cp_model.INFEASIBLE and out.hops is None:
            out.infeasible = True
            return out
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            hops = self.extract(solver)
            if out.rounds_found is None or _rounds(hops) <= out.rounds_found:
                out.hops, out.rounds_found = hops, _rounds(hops)
            out.rounds_bound = int(np.ceil(solver.best_objective_bound - 1e-6))
            out.rounds_proven = status == cp_model.OPTIMAL
            if out.cost is None:
                out.cost = int(solver.value(self.cost))
                if not self.cost_varies:
                    out.cost_bound, out.cost_proven = out.cost, True
        return out

    def _hint_from(self, solver):
        """The solver's solution becomes the hint of the next phase."""
        self.model.clear_hints()
        hint = self.model.proto.solution_hint
        values = list(solver.response_proto.solution)
        hint.vars.extend(range(len(values)))
        hint.values.extend(values)


def _rounds(hops) -> int:
    return len({t for t, *_ in hops})
