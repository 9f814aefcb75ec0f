"""Priorities and bandwidth policies of the list schedule (cpplan.schedule.PRIORITIES, POLICIES):
whichever order the ready migrations are tried in and whichever bandwidth they get, the schedule
respects the plan's ``after`` order (or barriers) and every limit (SPEC 7.4); the plan's schedule is
the shortest of them, so never longer than by plan order at the shares."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import cpplan
from cpplan import Instance, Plan
from cpplan.generate import generate
from cpplan.order import WAIT_ORDERS, derive_after, pruned
from cpplan.schedule import POLICIES, PRIORITIES, estimate, schedule_violations, scheduled

GIB = {"ram_unit": "GiB", "bandwidth": 1250, "setup": 2}


def _routes(plan: Plan) -> Plan:
    return Plan(plan.status, plan.cost, plan.routes())


def _orders(inst, routes: Plan) -> list:
    full = derive_after(inst, routes, prune=False)
    return [full, *(pruned(inst, routes, full, waits) for waits in WAIT_ORDERS)]


def _limited(inst: Instance) -> Instance:
    """``inst`` with two migrations per host, five in the cloud, a rack link and varied RAM in GiB."""
    spec = inst.to_dict()
    names = list(spec["hosts"])
    rng = np.random.default_rng(7)
    for name in spec["vms"]:
        spec["vms"][name]["dirty_rate"] = float(rng.choice([0.0, 0.0, 50.0]))
    spec["limits"] = {"host": 2, "total": 5}
    spec["links"] = {"rack": {"hosts": names[: len(names) // 2], "max_migrations": 2, "bandwidth": 1500}}
    spec["migration"] = GIB
    return Instance(**spec)


CLOUDS = [("rebalance", 10, 2, 0.0), ("tight", 10, 1, 0.0), ("shuffle", 10, 3, 0.3), ("evacuate", 20, 2, 0.3)]


@pytest.mark.parametrize("family, hosts, seed, groups", CLOUDS)
@pytest.mark.parametrize("limited", [False, True])
def test_every_priority_respects_the_order_and_the_limits(family, hosts, seed, groups, limited):
    inst = generate(family, hosts, seed, groups=groups)
    inst = _limited(inst) if limited else inst
    routes = _routes(cpplan.plan(inst, planner="greedy"))
    for after in [*_orders(inst, routes), None]:
        for priority, policy in itertools.product(PRIORITIES, POLICIES):
            timed = scheduled(routes, after, estimate(inst, routes, after, priority, policy))
            assert schedule_violations(inst, timed) == [], (priority, policy, after is None)
            assert cpplan.validate(inst, timed) == [], (priority, policy, after is None)


@pytest.mark.parametrize("family, hosts, seed, groups", CLOUDS)
def test_the_plans_schedule_is_the_shortest_and_never_longer_than_by_plan_order(family, hosts, seed, groups):
    inst = generate(family, hosts, seed, groups=groups)
    plan = cpplan.plan(inst, planner="greedy", objective="rounds")
    routes, orders = _routes(plan), _orders(inst, _routes(plan))
    by_plan_order = min(estimate(inst, routes, after).makespan for after in orders)
    every = min(estimate(inst, routes, after, p, policy).makespan
                for after in orders for p in PRIORITIES for policy in POLICIES)
    assert plan.makespan == pytest.approx(every) and plan.makespan <= by_plan_order + 1e-9
    assert schedule_violations(inst, plan) == []


SOONER = [("rebalance", 10, 2), ("shuffle", 20, 3), ("shuffle", 30, 0)]


@pytest.mark.parametrize("family, hosts, seed", SOONER)
def test_the_critical_path_first_ends_sooner_where_plan_order_waits(family, hosts, seed):
    # measured: rebalance-10-s2 28.1 s by plan order, 26.1 s by the other priorities; shuffle-20-s3
    # 74.6 against 70.6; shuffle-30-s0 70.6 against 66.7
    inst = generate(family, hosts, seed)
    plan = cpplan.plan(inst, planner="greedy")
    routes = _routes(plan)
    by_plan_order = min(estimate(inst, routes, after).makespan for after in _orders(inst, routes))
    assert plan.makespan < by_plan_order - 1.0
    assert cpplan.validate(inst, plan) == []


def test_critical_path_first_starts_the_long_chain_before_a_short_migration():
    # Every host runs one migration at a time: small s and big b both leave h1 for h2 and are ready at
    # once (h2 holds both); w (h3 -> h1) needs b gone from h1, and c (h4 -> h3) needs w gone from h3.
    # By plan order s goes first and the chain b, w, c waits behind it.
    inst = Instance(hosts={"h1": {"ram": 40}, "h2": {"ram": 40}, "h3": {"ram": 39}, "h4": {"ram": 40}},
                    vms={"s": {"ram": 1}, "b": {"ram": 32}, "w": {"ram": 32}, "c": {"ram": 8}},
                    initial={"s": "h1", "b": "h1", "w": "h3", "c": "h4"},
                    target={"s": "h2", "b": "h2", "w": "h1", "c": "h3"}, limits={"host": 1}, migration=GIB)
    routes = Plan("feasible", 73, [[{"vm": "s", "from": "h1", "to": "h2"}],
                                   [{"vm": "b", "from": "h1", "to": "h2"}],
                                   [{"vm": "w", "from": "h3", "to": "h1"}],
                                   [{"vm": "c", "from": "h4", "to": "h3"}]])
    assert cpplan.validate(inst, routes) == []
    after = pruned(inst, routes, derive_after(inst, routes, prune=False))
    plain, critical = (estimate(inst, routes, after, p) for p in ("plan", "critical"))
    assert critical.makespan < plain.makespan
    assert critical.migrations[1]["start"] < critical.migrations[0]["start"]  # b before s
    assert schedule_violations(inst, scheduled(routes, after, critical)) == []


def test_an_unknown_priority_is_refused():
    inst = generate("rebalance", 4, 1)
    with pytest.raises(ValueError, match="unknown priority"):
        estimate(inst, _routes(cpplan.plan(inst, planner="greedy")), None, "shortest")
