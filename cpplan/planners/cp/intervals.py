"""The CP-SAT interval model: each VM follows one of a few routes, each hop has a start round.

A *route* is the sequence of hosts a VM visits, e.g. ``(a, b)`` for a direct
move, ``(a, c, b)`` for a bounce through staging host ``c``, ``(a, c, a)``
for a stayer that steps aside. Hop ``i`` starts in round ``s_i`` with
``s_1 < s_2 < ...``; the VM is on host ``h_0`` during ``[0, s_1 + 1)``, on
``h_i`` during ``[s_i, s_{i+1} + 1)`` and on its last host during
``[s_k, T)`` (a live migration holds both ends for its round; a VM moved
offline leaves at the start of its round, ``+ 1`` becomes ``+ 0``). So, per host
and resource, one ``AddCumulative`` over these stays checks capacity during
every round; unit intervals ``[s_i, s_i + 1)`` per hop carry the per-host
and total limits, and the directional ones (a cumulative over the hops leaving,
or reaching, a host). The service levels (links, groups, pinned VMs) encode
themselves (:mod:`cpplan.constraints`) on an :class:`IntervalView` of the
hops and stays: e.g. a link is a cumulative over the hops crossing it,
anti-affinity a no-overlap of the members' stays on each host. With one
direct route per moving VM this is the direct-moves model; optional routes
(one presence literal each) add bounces and displacements. A host that only
loses VMs is never checked, and an initially overloaded host is checked only
from its first arrival on.

Solving is lexicographic (:class:`cpplan.cpsat.LexicographicModel`): least
summed cost, then, at that cost, least makespan (the number of rounds).

>>> from cpplan.model import Instance
>>> from cpplan.budget import Budget
>>> from cpplan.cpsat import Scaled
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> m = IntervalModel(inst, Scaled(inst), {0: [(0, 1)]}, horizon=3)
>>> out = m.run(Budget(10), seed=0)
>>> out.rounds_found, out.cost_proven, out.rounds_proven
(1, True, True)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from ortools.sat.python import cp_model

from ...constraints import service_levels
from ...constraints.concurrency import has_directional_limits
from ...constraints.page_sharing import largest_pages
from ...cpsat import LexicographicModel, Scaled
from ...plan import Move, MoveInRound

Route = tuple[int, ...]
PAGE_LEVELS = 4  # distinct pages sizes per image and host counted exactly by the interval model


def _levels(sizes: list[int]) -> list[int]:
    """At most :data:`PAGE_LEVELS` of the sorted ``sizes``, the largest included (each size rounds up to one).

    >>> _levels([1, 2, 3, 4, 5, 6, 7, 8])
    [2, 4, 6, 8]
    """
    n = len(sizes)
    if n <= PAGE_LEVELS:
        return sizes
    return [sizes[-(-(j + 1) * n // PAGE_LEVELS) - 1] for j in range(PAGE_LEVELS)]


class Hop(NamedTuple):
    """One possible migration of ``vm`` from ``src`` to ``dst``: a one-round interval, when ``present``."""

    interval: cp_model.IntervalVar
    vm: int
    src: int
    dst: int
    present: cp_model.IntVar  # the route's presence literal (the constant 1 for a sure move)


class Stay(NamedTuple):
    """``vm`` on one host during ``interval`` (it ``arrives`` there in round ``start``), when ``present``."""

    interval: cp_model.IntervalVar
    vm: int
    arrives: bool
    start: cp_model.IntVar | None  # None for the stay on the VM's first host
    present: cp_model.IntVar


@dataclass(frozen=True)
class IntervalView:
    """What a service level's ``encode_intervals`` sees of an :class:`IntervalModel`."""

    inst: object
    model: cp_model.CpModel
    horizon: int
    hops: list[Hop]
    stays: dict[int, list[Stay]]  # host -> the stays on it (VMs outside the model not included)
    in_model: frozenset  # the VMs that may move; the others stay put for the whole horizon


@dataclass
class _Choice:
    vm: int
    route: Route
    offline: bool  # every hop of the route moves the VM offline
    present: cp_model.IntVar
    starts: list  # one start variable per hop
    sure: bool  # the VM's only route: its presence is the constant 1


class IntervalModel(LexicographicModel):
    """The model for ``routes`` (vm -> candidate routes) over ``horizon`` rounds.

    VMs absent from ``routes`` stay put. ``optional`` VMs (stayers that may
    step aside) may also take none of their routes. A VM that may move live
    or offline (``Scaled.dual``) has each route in both modes.
    """

    def __init__(self, inst, scaled: Scaled, routes: dict[int, list[Route]], horizon: int,
                 optional: frozenset = frozenset()):
        self.inst, self.sc, self.horizon = inst, scaled, horizon
        self.model = m = cp_model.CpModel()
        T = horizon
        self.choices: list[_Choice] = []
        self.by_vm: dict[int, list[_Choice]] = defaultdict(list)
        self.makespan = m.new_int_var(0, T, "makespan")
        stays: dict[int, list[Stay]] = defaultdict(list)
        hops_at = defaultdict(list)  # host -> [interval]
        self.hops: list[Hop] = []
        self.optional = optional
        cost_terms = []
        for v, routes_of_v in routes.items():
            lits, sure = self._route_variables(v, routes_of_v, stays, hops_at, cost_terms)
            if v in optional:  # staying put is one more choice: the whole horizon on its host
                q = m.new_bool_var(f"stay{v}")
                iv = m.new_optional_fixed_size_interval_var(0, T, q, f"stay{v}")
                stays[int(inst.initial[v])].append(Stay(iv, v, False, None, q))
                m.add_exactly_one([*lits, q])
            elif not sure:
                m.add_exactly_one(lits)
        self.cost = sum(cost_terms)
        self.cost_varies = bool(optional) or any(len({(len(c.route), c.offline) for c in cs}) > 1
                                                 for cs in self.by_vm.values())
        self._capacity(stays)
        self._concurrency(hops_at)
        view = IntervalView(inst, m, T, self.hops, stays, frozenset(self.by_vm))
        for rule in service_levels():
            rule.encode_intervals(view)

    def _route_variables(self, v: int, routes_of_v: list[Route], stays, hops_at,
                         cost_terms) -> tuple[list, bool]:
        """The variables of VM ``v``'s routes (each in each of its modes): presence, hop starts, stays, hops.

        Adds the stays to ``stays`` (host -> stays), each hop's interval to
        ``hops_at`` (host -> intervals) and :attr:`hops`, each route's cost to
        ``cost_terms``. Returns the presence literals and whether the VM has a
        single sure route (a plain direct move: its literal is the constant 1).
        """
        m, T, inst, scaled = self.model, self.horizon, self.inst, self.sc
        lits = []
        modes = (False, True) if scaled.dual[v] else (bool(inst.offline[v]),)
        alternatives = [(r, offline) for r in dict.fromkeys(routes_of_v) if 1 <= len(r) - 1 <= T
                        for offline in modes]
        sure = len(alternatives) == 1 and v not in self.optional
        for route, offline in alternatives:
            k = len(route) - 1
            p = m.new_constant(1) if sure else m.new_bool_var(f"p{v}_{len(lits)}")
            starts = [m.new_int_var(i, T - k + i, f"s{v}_{len(lits)}_{i}") for i in range(k)]
            for a, b in zip(starts, starts[1:], strict=False):
                m.add(b >= a + 1)
            last = m.add(self.makespan >= starts[-1] + 1)
            if not sure:
                last.only_enforce_if(p)
            lag = 0 if offline else 1  # a VM moved offline leaves its source at once
            for i, h in enumerate(route):
                start = 0 if i == 0 else starts[i - 1]
                end = starts[i] + lag if i < k else T
                size = end - start
                if 0 < i < k:  # both ends vary: the length needs its own variable
                    size = m.new_int_var(1, T, f"len{v}_{h}")
                iv = (m.new_interval_var(start, size, end, f"on{v}_{h}") if sure else
                      m.new_optional_interval_var(start, size, end, p, f"on{v}_{h}"))
                stays[h].append(Stay(iv, v, i > 0, None if i == 0 else starts[i - 1], p))
            for i in range(k):
                iv = (m.new_fixed_size_interval_var(starts[i], 1, f"hop{v}_{i}") if sure else
                      m.new_optional_fixed_size_interval_var(starts[i], 1, p, f"hop{v}_{i}"))
                hops_at[route[i]].append(iv)
                hops_at[route[i + 1]].append(iv)
                self.hops.append(Hop(iv, v, route[i], route[i + 1], p))
            cost_terms.append(int(scaled.offline_cost[v] if offline else scaled.cost[v]) * k * p)
            choice = _Choice(v, route, offline, p, starts, sure)
            self.choices.append(choice)
            self.by_vm[v].append(choice)
            lits.append(p)
        return lits, sure

    # ------------------------------------------------------------ constraints
    def _capacity(self, stays):
        inst, sc, m, T = self.inst, self.sc, self.model, self.horizon
        in_model = np.zeros(inst.n_vms, dtype=bool)
        in_model[list(self.by_vm)] = True
        outside = np.flatnonzero(~in_model)
        for h, items in stays.items():
            arrivals = [(start, p) for _, _, arrive, start, p in items if arrive]
            if not arrivals:
                continue
            fixed_vms = outside[inst.initial[outside] == h]
            for r in range(len(inst.resources)):
                cap = int(sc.capacity[h, r])
                if cap < 0:
                    continue
                ivs, demands, fixed, start = (self._shared(h, items, fixed_vms) if r == sc.shared else
                                              self._plain(r, items, fixed_vms))
                room = cap - fixed
                if room < 0:  # the stayers alone overload h: nothing may ever arrive
                    for _, p in arrivals:
                        m.add(p == 0)
                    continue
                if not ivs:
                    continue
                excess = start - room
                if excess > 0:  # overloaded at the start: checked only from the first arrival on
                    first = m.new_int_var(0, T, f"first_arrival{h}_{r}")
                    for start_var, p in arrivals:
                        m.add(start_var >= first).only_enforce_if(p)
                    ivs.append(m.new_interval_var(first, T - first, T, f"relief{h}_{r}"))
                    demands.append(excess)
                    room += excess
                if sum(demands) > room:
                    m.add_cumulative(ivs, demands, room)

    def _plain(self, r, items, fixed_vms):
        """Stays on a host and their demands of resource ``r``, the fixed VMs' use, the use at the start."""
        demand = self.sc.demand[:, r]
        kept = [(iv, int(demand[v])) for iv, v, *_ in items if demand[v] > 0]
        start = sum(int(demand[v]) for _, v, arrive, _, _ in items if not arrive)
        return [iv for iv, _ in kept], [d for _, d in kept], int(demand[fixed_vms].sum()), start

    def _shared(self, h, items, fixed_vms):
        """:meth:`_plain` for the shared resource: private parts, plus each image's largest pages.

        The largest pages present are a sum of levels: level ``k`` (``p_k -
        p_(k-1)`` units) counts while a VM with pages above ``p_(k-1)`` is
        there. VMs that stay on the host all along (outside the model) fix
        the lowest levels; each higher level is one block from the first stay
        of its VMs on the host to their last (the stay itself for one VM).
        Past :data:`PAGE_LEVELS` sizes, pages round up to the next level. This
        counts at least the true use (plans stay valid), and exactly when each
        level's VMs are on the host without a gap (the rule:
        :mod:`cpplan.constraints.page_sharing`).
        """
        sc, image = self.sc, self.inst.image
        # image -> largest pages of its VMs fixed on the host
        floor = defaultdict(int, largest_pages(sc.pages[fixed_vms], image[fixed_vms]))
        ivs = [item.interval for item in items if sc.private[item.vm] > 0]
        demands = [int(sc.private[item.vm]) for item in items if sc.private[item.vm] > 0]
        start = sum(int(sc.private[item.vm]) for item in items if not item.arrives)
        fixed = int(sc.private[fixed_vms].sum()) + sum(floor.values())
        by_image = defaultdict(list)
        for item in items:
            if image[item.vm] >= 0 and sc.pages[item.vm] > floor[int(image[item.vm])]:
                by_image[int(image[item.vm])].append(item)
        for i, mine in by_image.items():
            below = floor[i]
            for level in _levels(sorted({int(sc.pages[item.vm]) for item in mine})):
                holders = [item for item in mine if sc.pages[item.vm] > below]
                one = len(holders) == 1
                ivs.append(holders[0].interval if one else self._span(holders, f"{h}_{i}_{level}"))
                demands.append(level - below)
                start += level - below if any(not item.arrives for item in holders) else 0
                below = level
        return ivs, demands, fixed, start

    def _span(self, stays: list, name: str):
        """An interval from the first of ``stays`` (that is present) to the last."""
        m, T = self.model, self.horizon
        first, last = m.new_int_var(0, T, f"from{name}"), m.new_int_var(0, T, f"to{name}")
        if all(self._sure(item.present) for item in stays):  # the exact span: tighter propagation
            m.add_min_equality(first, [item.interval.start_expr() for item in stays])
            m.add_max_equality(last, [item.interval.end_expr() for item in stays])
        else:
            for item in stays:
                m.add(first <= item.interval.start_expr()).only_enforce_if(item.present)
                m.add(last >= item.interval.end_expr()).only_enforce_if(item.present)
        return m.new_interval_var(first, m.new_int_var(0, T, f"for{name}"), last, f"span{name}")

    def _sure(self, literal) -> bool:
        """Whether ``literal`` is the constant 1."""
        return list(self.model.proto.variables[literal.index].domain) == [1, 1]

    def _concurrency(self, hops_at):
        inst, m = self.inst, self.model
        for h, ivs in hops_at.items():
            limit = int(inst.host_limit[h])
            if len(ivs) > limit:
                if limit == 1:
                    m.add_no_overlap(ivs)
                else:
                    m.add_cumulative(ivs, [1] * len(ivs), limit)
        self._directional()
        all_hops = [hop.interval for hop in self.hops]
        if inst.total_limit is not None and len(all_hops) > inst.total_limit:
            m.add_cumulative(all_hops, [1] * len(all_hops), int(inst.total_limit))

    def _directional(self) -> None:
        """Per host with an outgoing (incoming) limit, a cumulative over the hops leaving (reaching) it."""
        inst, m = self.inst, self.model
        if not has_directional_limits(inst):
            return
        for limits, end in ((inst.outgoing_limit, "src"), (inst.incoming_limit, "dst")):
            ends = defaultdict(list)
            for hop in self.hops:
                ends[getattr(hop, end)].append(hop.interval)
            for h, ivs in ends.items():
                if len(ivs) > limits[h]:
                    m.add_cumulative(ivs, [1] * len(ivs), int(limits[h]))

    # ---------------------------------------------------------------- solving
    def add_hint(self, paths: dict) -> None:
        """Hint a known solution (vm -> :class:`.routes.Path`); a VM whose route is not in the model: none."""
        for v, choices in self.by_vm.items():
            path = paths.get(v)
            hit = False
            for c in choices:
                use = (not hit and path is not None and c.route == path.route
                       and path.rounds[-1] < self.horizon
                       and (c.offline == path.offline[0] or not self.sc.dual[v]))
                if not c.sure:
                    self.model.add_hint(c.present, use)
                if use:
                    hit = True
                    for s, t in zip(c.starts, path.rounds, strict=False):
                        self.model.add_hint(s, t)

    def extract(self, solver) -> list[MoveInRound]:
        """The migrations of the solution, each with its round."""
        hops = []
        for c in self.choices:
            if solver.boolean_value(c.present):
                for i, s in enumerate(c.starts):
                    hops.append((int(solver.value(s)), Move(c.vm, c.route[i], c.route[i + 1], c.offline)))
        return hops
