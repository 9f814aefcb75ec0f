"""A new service level is one class registered in cpplan.constraints: validator, greedy and cp honour it.

The rule here, "VM x never moves to host s1", is defined only in this file.
On a swap of two full hosts, each VM must step aside through a staging host;
with the rule, x may only use s2.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest

from cpplan import constraints
from cpplan.budget import Budget
from cpplan.constraints import ServiceLevel, register, service_levels
from cpplan.cpsat import Scaled
from cpplan.model import Instance
from cpplan.plan import Plan
from cpplan.planners import plan
from cpplan.planners.cp.intervals import IntervalModel
from cpplan.planners.cp.timeindexed import TimeIndexedModel
from cpplan.validate import validate


class NoMoveTo(ServiceLevel):
    """VM ``vm`` never migrates to host ``host``."""

    name = "no-move-to"

    def __init__(self, vm: int, host: int):
        self.vm, self.host = vm, host

    def check(self, inst, rnd) -> list[str]:
        if not ((rnd.vms == self.vm) & (rnd.dst == self.host)).any():
            return []
        return [f"round {rnd.number}: VM {inst.vm_names[self.vm]} moves to {inst.host_names[self.host]}"]

    def allowed(self, inst, vms, src, dst) -> np.ndarray:
        return (vms != self.vm) | (dst != self.host)

    def encode_intervals(self, view) -> None:
        for hop in view.hops:
            if hop.vm == self.vm and hop.dst == self.host:
                view.model.add(hop.present == 0)

    def encode_round(self, view, t: int) -> None:
        view.model.add(view.arrives(self.vm, self.host, t) == 0)


def swap() -> Instance:
    """x and y swap full hosts h1 and h2; s1 and s2 are empty staging hosts."""
    return Instance(hosts={h: {"ram": 4} for h in ("h1", "h2", "s1", "s2")},
                    vms={"x": {"ram": 4}, "y": {"ram": 4}},
                    initial={"x": "h1", "y": "h2"}, target={"x": "h2", "y": "h1"})


@pytest.fixture
def rule():
    """The rule "x never moves to s1", registered for one test."""
    added = register(NoMoveTo(0, 2))
    yield added
    constraints.ALL.remove(added)


@contextmanager
def unregistered(rule):
    """The rules without ``rule`` for the duration."""
    constraints.ALL.remove(rule)
    try:
        yield
    finally:
        constraints.ALL.append(rule)


def moves_of(p: Plan) -> set[tuple[str, str]]:
    return {(m["vm"], m["to"]) for r in p.rounds for m in r}


def test_registered_rule_is_a_service_level(rule):
    assert service_levels()[-1] is rule


def test_validator_catches_the_rule(rule):
    inst = swap()
    through_s1 = Plan(status="feasible", cost=12, rounds=[
        [{"vm": "x", "from": "h1", "to": "s1"}], [{"vm": "y", "from": "h2", "to": "h1"}],
        [{"vm": "x", "from": "s1", "to": "h2"}]])
    assert any("VM x moves to s1" in v for v in validate(inst, through_s1))
    with unregistered(rule):
        assert validate(inst, through_s1) == []


@pytest.mark.parametrize("planner", ["greedy", "cp", "exact", "auto"])
def test_planners_honour_the_rule(rule, planner):
    p = plan(swap(), planner=planner, time_limit=10)   # the dispatcher validates, the rule included
    assert p.found and p.cost == 12
    assert ("x", "s1") not in moves_of(p)


def test_interval_model_drops_the_routes_the_rule_forbids(rule):
    inst = swap()
    routes = {0: [(0, 2, 1), (0, 3, 1)], 1: [(1, 0)]}   # x through s1 or s2, y directly
    out = IntervalModel(inst, Scaled(inst), routes, horizon=3).run(Budget(10), seed=0)
    moves = {(move.vm, move.dst) for _, move in out.hops}
    assert out.cost_proven and (0, 3) in moves and (0, 2) not in moves


def test_interval_model_infeasible_when_the_rule_blocks_the_only_route(rule):
    inst = swap()
    routes = {0: [(0, 2, 1)], 1: [(1, 0)]}
    assert IntervalModel(inst, Scaled(inst), routes, horizon=3).run(Budget(10), seed=0).hops is None
    with unregistered(rule):
        assert IntervalModel(inst, Scaled(inst), routes, horizon=3).run(Budget(10), seed=0).hops is not None


def test_time_indexed_model_encodes_the_rule(rule):
    inst = swap()
    out = TimeIndexedModel(inst, Scaled(inst), horizon=3).run(Budget(10), seed=0)
    assert out.cost_proven and all((move.vm, move.dst) != (0, 2) for _, move in out.hops)


def test_time_indexed_model_infeasible_when_the_rule_blocks_every_detour(rule):
    inst = swap()
    register(NoMoveTo(0, 3))
    register(NoMoveTo(1, 2))
    register(NoMoveTo(1, 3))
    try:
        out = TimeIndexedModel(inst, Scaled(inst), horizon=3).run(Budget(10), seed=0)
    finally:
        del constraints.ALL[-3:]
    assert out.hops is None


class OneAtATime(ServiceLevel):
    """At most one of ``vms`` migrates per round: a limit that ties otherwise independent moves."""

    name = "one-at-a-time"

    def __init__(self, vms: list[int]):
        self.vms = np.array(vms)

    def check(self, inst, rnd) -> list[str]:
        n = int(np.isin(rnd.vms, self.vms).sum())
        return [f"round {rnd.number}: {n} of the one-at-a-time VMs migrate"] if n > 1 else []

    def rounds_bound(self, inst, vms) -> int:
        return max(1, int(np.isin(vms, self.vms).sum()))

    def infeasibility(self, inst, vms) -> str | None:
        return "the one-at-a-time VMs may not move at all" if len(self.vms) == 0 else None

    def coupled(self, inst, vms) -> list[np.ndarray]:
        return [vms[np.isin(vms, self.vms)]]

    def encode_intervals(self, view) -> None:
        view.model.add_no_overlap([hop.interval for hop in view.hops if hop.vm in self.vms])

    def encode_round(self, view, t: int) -> None:
        view.model.add(sum(view.moved[v, t] for v in self.vms.tolist()) <= 1)


def two_independent_moves() -> Instance:
    return Instance(hosts={h: {"ram": 4} for h in "abcd"}, vms={"x": {"ram": 4}, "y": {"ram": 4}},
                    initial={"x": "a", "y": "c"}, target={"x": "b", "y": "d"})


def test_bounds_and_cp_parts_ask_the_rule():
    from cpplan import bounds
    from cpplan.planners import cp
    from cpplan.planners.cp.decompose import components

    inst = two_independent_moves()
    assert bounds.rounds_lower_bound(inst) == 1 and len(components(inst, {})) == 2
    added = register(OneAtATime([0, 1]))
    try:
        assert bounds.rounds_lower_bound(inst) == 2
        assert [p.tolist() for p in components(inst, {})] == [[0, 1]]
        found = cp.plan(inst, time_limit=10, warm_start=False)   # cp's own plan, no greedy to fall back on
        assert found.status == "optimal" and found.n_rounds == 2 and validate(inst, found) == []
        assert "model_gap" not in found.stats   # the parts' plans were not merged into an invalid one
        added.vms = np.array([], dtype=np.int64)
        assert bounds.infeasibility(inst) == "the one-at-a-time VMs may not move at all"
    finally:
        constraints.ALL.remove(added)
