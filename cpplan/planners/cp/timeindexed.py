"""The time-indexed CP-SAT model: where every VM is at every step, for proofs on small clouds.

``at[v, h, t]`` says VM ``v`` is on host ``h`` after ``t`` rounds (``t = 0``
is placement A, ``t = T`` placement B); ``stay[v, h, t]`` says it stays on
``h`` through round ``t``. During round ``t`` a live VM occupies both hosts
(``at[t] + at[t+1] - stay``), one moved offline only the host it ends on.
Every VM but the pinned ones may go anywhere it fits (and end on any of its
allowed hosts, when it has several), so the model misses
no plan of at most ``T`` non-empty rounds: with ``T`` at least the number of
migrations a plan cheaper than a known one can make, its optimum is the
least cost over all plans, and its infeasibility proves a cost lower bound.
Its size grows as VMs x hosts x ``T``: it is meant for small clouds.
The service levels (:mod:`cpplan.constraints`) add themselves round by
round, reading the model's ``vms``, ``hosts``, ``at``, ``moved``,
``arrives`` and ``occupies``.

>>> from cpplan.model import Instance
>>> from cpplan.budget import Budget
>>> from cpplan.cpsat import Scaled
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> out = TimeIndexedModel(swap, Scaled(swap), horizon=3).run(Budget(10), seed=0)
>>> out.cost, out.cost_proven, out.rounds_found
(12, True, 3)
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from ...constraints import service_levels
from ...cpsat import LexicographicModel, Scaled
from ...plan import Move, MoveInRound


def model_size(inst, horizon: int) -> int:
    """Roughly how many Boolean variables the model needs."""
    return 2 * int((~inst.pinned).sum()) * inst.n_hosts * (horizon + 1)


class TimeIndexedModel(LexicographicModel):
    """All non-pinned VMs, every host they fit on, ``horizon`` rounds."""

    def __init__(self, inst, scaled: Scaled, horizon: int):
        self.inst, self.sc, self.horizon = inst, scaled, horizon
        self.model = m = cp_model.CpModel()
        self.cost_varies = True
        T = horizon
        self.vms = np.flatnonzero(~inst.pinned).tolist()
        self._position_variables()
        self._offline_variables()
        extra = scaled.offline_cost - scaled.cost
        self.cost = (sum(int(scaled.cost[v]) * self.moved[v, t] for v in self.vms for t in range(T))
                     + sum(int(extra[v]) * off for (v, _), off in self.off.items()))
        used = [m.new_bool_var(f"used{t}") for t in range(T)]
        for t in range(T):
            for v in self.vms:
                m.add(used[t] >= self.moved[v, t])
            if t + 1 < T:
                m.add(used[t] >= used[t + 1])  # empty rounds go last
        self.makespan = sum(used)
        self.on = {h: [v for v in self.vms if h in self.hosts[v]] for h in range(inst.n_hosts)}
        self.pinned_on = {h: np.flatnonzero(inst.pinned & (inst.initial == h)) for h in range(inst.n_hosts)}
        starts = {h: np.flatnonzero(inst.initial == h) for h in range(inst.n_hosts)}
        resources = range(len(inst.resources))
        self.start_use = np.array([[scaled.use(inst, starts[h], r) for r in resources]
                                   for h in range(inst.n_hosts)], dtype=np.int64)
        self.start_use = self.start_use.reshape(scaled.capacity.shape)
        for t in range(T):
            self._round(t)

    def _position_variables(self) -> None:
        """``at``, ``stay`` and ``moved`` of every VM, on every host it fits on alone, round by round."""
        inst, m, T = self.inst, self.model, self.horizon
        fits_alone = ((inst.effective[None, :, :] >= inst.demand[self.vms][:, None, :] - 1e-9).all(axis=2)
                      & (inst.host_limit > 0)[None, :])
        self.hosts: dict[int, list[int]] = {}
        self.at: dict[tuple[int, int, int], cp_model.IntVar] = {}
        self.stay: dict[tuple[int, int, int], cp_model.IntVar] = {}
        self.moved: dict[tuple[int, int], object] = {}
        for i, v in enumerate(self.vms):
            a, b = int(inst.initial[v]), int(inst.target[v])
            hosts = sorted({a, b, *np.flatnonzero(fits_alone[i]).tolist()})
            self.hosts[v] = hosts
            allowed = inst.domains[inst.domain_of[v]] if inst.domain_of[v] >= 0 else None
            for t in range(T + 1):
                for h in hosts:
                    if t == 0 or (t == T and allowed is None):
                        self.at[v, h, t] = m.new_constant(int(h == (a if t == 0 else b)))
                    elif t == T and not allowed[h]:
                        self.at[v, h, t] = m.new_constant(0)
                    else:
                        self.at[v, h, t] = m.new_bool_var(f"at{v}_{h}_{t}")
                m.add_exactly_one(self.at[v, h, t] for h in hosts)
            for t in range(T):
                for h in hosts:
                    x, y = self.at[v, h, t], self.at[v, h, t + 1]
                    s = m.new_bool_var(f"stay{v}_{h}_{t}")
                    m.add_implication(s, x)
                    m.add_implication(s, y)
                    m.add_bool_or([s, ~x, ~y])
                    self.stay[v, h, t] = s
                self.moved[v, t] = 1 - sum(self.stay[v, h, t] for h in hosts)

    def _offline_variables(self) -> None:
        """For each VM that may move live or offline: ``off`` per round, ``left_off`` per host and round."""
        m = self.model
        self.off: dict[tuple[int, int], cp_model.IntVar] = {}  # a dual VM's move in round t is offline
        self.left_off: dict[tuple[int, int, int], cp_model.IntVar] = {}  # ... and it left host h then
        for v in (v for v in self.vms if self.sc.dual[v]):
            for t in range(self.horizon):
                self.off[v, t] = off = m.new_bool_var(f"off{v}_{t}")
                m.add(off <= self.moved[v, t])
                for h in self.hosts[v]:
                    self.left_off[v, h, t] = gone = m.new_bool_var(f"left_off{v}_{h}_{t}")
                    m.add(gone <= off)
                    m.add(gone <= self.at[v, h, t] - self.stay[v, h, t])

    def occupies(self, v, h, t):
        """1 when v holds room on h during round t."""
        key = (v, h, t)
        if key not in self.at:
            return 0
        if self.inst.offline[v]:
            return self.at[v, h, t + 1]
        live = self.at[key] + self.at[v, h, t + 1] - self.stay[key]
        return live - self.left_off[key] if key in self.left_off else live

    def arrives(self, v, h, t):
        """1 when v arrives on h in round t (0 where v may never be on h)."""
        return self.at[v, h, t + 1] - self.stay[v, h, t] if (v, h, t) in self.at else 0

    def _round(self, t: int) -> None:
        inst, sc, m = self.inst, self.sc, self.model
        for h, vms in self.on.items():
            # touches and directions bind a host that only loses VMs too
            touches = sum(self.at[v, h, t] + self.at[v, h, t + 1] - 2 * self.stay[v, h, t] for v in vms)
            m.add(touches <= int(inst.host_limit[h]))
            self._directional(h, t, vms)
            arrivals = [self.arrives(v, h, t) for v in vms if inst.initial[v] != h or t > 0]
            if not arrivals:
                continue
            receives = m.new_bool_var(f"receives{h}_{t}")
            for a in arrivals:
                m.add(receives >= a)
            for r in range(len(inst.resources)):
                cap = int(sc.capacity[h, r])
                if cap < 0:
                    continue
                load, fixed = self._load(h, r, t, vms)
                ct = m.add(load <= cap - fixed)
                if self.start_use[h, r] > cap:  # a host that only loses VMs is not checked
                    ct.only_enforce_if(receives)
        moved = [self.moved[v, t] for v in self.vms]
        if inst.total_limit is not None:
            m.add(sum(moved) <= int(inst.total_limit))
        for rule in service_levels():
            rule.encode_round(self, t)

    def _directional(self, h: int, t: int, vms: list[int]) -> None:
        """Host ``h`` sends at most its outgoing and receives at most its incoming limit in round ``t``."""
        inst, m = self.inst, self.model
        if inst.outgoing_limit[h] < len(vms):
            m.add(sum(self.at[v, h, t] - self.stay[v, h, t] for v in vms) <= int(inst.outgoing_limit[h]))
        if inst.incoming_limit[h] < len(vms):
            m.add(sum(self.arrives(v, h, t) for v in vms) <= int(inst.incoming_limit[h]))

    def _load(self, h: int, r: int, t: int, vms: list[int]):
        """Use of resource ``r`` on host ``h`` during round ``t``: (a linear expression, a constant).

        The constant is the pinned VMs' share. On the shared resource each VM
        counts its private part, and each image the largest pages present,
        as a sum of levels: ``level_k`` is 1 when a VM with at least the k-th
        largest pages size is present (the rule: :mod:`cpplan.constraints.page_sharing`).
        """
        sc, pinned = self.sc, self.pinned_on[h]
        if r != sc.shared:
            load = sum(int(sc.demand[v, r]) * self.occupies(v, h, t) for v in vms if sc.demand[v, r])
            return load, int(sc.demand[pinned, r].sum())
        load = [int(sc.private[v]) * self.occupies(v, h, t) for v in vms if sc.private[v]]
        fixed = int(sc.private[pinned].sum())
        image = self.inst.image
        for i in np.unique(image[np.concatenate([vms, pinned]).astype(np.int64)]).tolist():
            present = [(int(sc.pages[v]), self.occupies(v, h, t)) for v in vms if image[v] == i]
            present += [(int(sc.pages[v]), 1) for v in pinned if image[v] == i]
            below = 0
            for size in sorted({p for p, _ in present if p > 0}):
                holders = [o for p, o in present if p >= size]
                if any(isinstance(o, int) and o == 1 for o in holders):
                    fixed += size - below
                else:
                    level = self.model.new_bool_var(f"pages{h}_{i}_{t}_{size}")
                    for o in holders:
                        self.model.add(level >= o)
                    load.append((size - below) * level)
                below = size
        return sum(load), fixed

    def add_hint(self, paths: dict) -> None:
        """Hint a known plan: vm -> :class:`.routes.Path`, rounds below the horizon."""
        for v in self.vms:
            route, rounds, offline = paths.get(v, ((int(self.inst.initial[v]),), [], []))
            for t, o in zip(rounds, offline, strict=True):
                if (v, t) in self.off:
                    self.model.add_hint(self.off[v, t], o)
            where, i = [], 0
            for t in range(self.horizon + 1):
                while i < len(rounds) and rounds[i] < t:
                    i += 1
                where.append(route[i])
            last = self.horizon + (self.inst.domain_of[v] >= 0)  # a chosen last host is a variable too
            for t in range(1, last):
                for h in self.hosts[v]:
                    if t < self.horizon or self.inst.domains[self.inst.domain_of[v], h]:
                        self.model.add_hint(self.at[v, h, t], where[t] == h)

    def extract(self, solver) -> list[MoveInRound]:
        """The migrations of the solution, each with its round."""
        hops = []
        for v in self.vms:
            for t in range(self.horizon):
                if solver.value(self.moved[v, t]):
                    src = next(h for h in self.hosts[v] if solver.value(self.at[v, h, t]))
                    dst = next(h for h in self.hosts[v] if solver.value(self.at[v, h, t + 1]))
                    off = self.off.get((v, t))
                    offline = self.inst.offline[v] or (off is not None and solver.value(off))
                    hops.append((t, Move(v, src, dst, bool(offline))))
        return hops
