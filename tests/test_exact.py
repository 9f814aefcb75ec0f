"""The exact planner: the public tiny cases and random tiny clouds."""

import json
from itertools import permutations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan.plan import Plan
from cpplan.planners.exact import MAX_OFFLINE_VMS

CASES = __import__("pathlib").Path(__file__).resolve().parents[1].parent / "shared" / "cases" / "tiny"
TRUTH = {t["case"]: t for t in json.loads((CASES / "truth.json").read_text())} if CASES.exists() else {}


@pytest.mark.parametrize("case", sorted(TRUTH))
def test_exact_matches_truth_on_public_tiny_cases(case):
    inst = cpplan.load_instance(CASES / f"{case}.yaml")
    plan = cpplan.plan(inst, planner="exact")
    truth = TRUTH[case]
    if truth["feasible"]:
        assert plan.status == "optimal"
        assert plan.cost == truth["min_cost"]
        assert cpplan.validate(inst, plan) == []
    else:
        assert plan.status == "infeasible"
        assert plan.rounds == [] and "closest" in plan.reason


def test_public_cases_are_present():
    assert len(TRUTH) == 20


def direct_serial_plans(inst):
    """Every plan that moves each VM straight to its target, one per round, in some order."""
    moving = np.flatnonzero(inst.moving).tolist()
    for order in permutations(moving):
        rounds = [[{"vm": inst.vm_names[v], "from": inst.host_names[inst.initial[v]],
                    "to": inst.host_names[inst.target[v]]}] for v in order]
        yield Plan("feasible", float(inst.cost[moving].sum()), rounds)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tiny_clouds(service_levels=True))
def test_exact_plans_validate_and_are_never_beaten(inst):
    plan = cpplan.plan(inst, planner="exact")
    assert plan.status in ("optimal", "infeasible")
    assert cpplan.validate(inst, plan) == []
    for other in direct_serial_plans(inst):
        if not cpplan.validate(inst, other):
            assert plan.status == "optimal" and plan.cost <= other.cost
            break


def test_bounce_is_found_when_a_swap_deadlocks():
    inst = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    plan = cpplan.plan(inst, planner="exact")
    assert (plan.status, plan.cost, plan.n_migrations) == ("optimal", 12, 3)


def test_exact_refuses_large_clouds_with_unknown():
    hosts = {f"h{i}": {"ram": 100} for i in range(10)}
    vms = {f"v{i}": {"ram": 1} for i in range(60)}
    inst = cpplan.Instance(hosts=hosts, vms=vms, initial={v: "h0" for v in vms}, target={"v0": "h1"})
    plan = cpplan.plan(inst, planner="exact")
    assert plan.status == "unknown" and "at most" in plan.reason


def test_swap_without_a_third_host_is_infeasible():
    inst = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    assert cpplan.plan(inst, planner="exact").status == "infeasible"


def test_a_plan_at_the_cost_lower_bound_is_optimal_even_when_the_search_was_incomplete():
    # more offline-capable VMs than exact enumerates batches for: its search alone proves nothing
    vms = {f"v{i}": {"ram": 1, "live": False, "offline_cost": 3} for i in range(MAX_OFFLINE_VMS + 1)}
    inst = cpplan.Instance(hosts={"h0": {"ram": 8}, "h1": {"ram": 8}}, vms=vms,
                           initial={v: "h0" for v in vms}, target={"v0": "h1"})
    plan = cpplan.plan(inst, planner="exact")
    assert (plan.status, plan.cost, plan.lower_bound) == ("optimal", 3, 3)
