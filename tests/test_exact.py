"""The exact planner: the tiny cases with proven answers and random tiny clouds."""

from itertools import permutations

import numpy as np
import pytest
from helpers import KINDS, TINY_CASES, tiny_case_paths, tiny_truth
from hypothesis import HealthCheck, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan.bounds import infeasibility
from cpplan.plan import Plan
from cpplan.planners.exact import MAX_OFFLINE_VMS

TRUTH = tiny_truth()


@pytest.mark.parametrize("case", sorted(TRUTH))
def test_exact_matches_truth_on_tiny_cases(case):
    inst = cpplan.load_instance(TINY_CASES / f"{case}.yaml")
    plan = cpplan.plan(inst, planner="exact")
    truth = TRUTH[case]
    assert inst.cost[inst.moving].sum() == truth["direct_cost"]
    if truth["feasible"]:
        assert plan.status == "optimal"
        assert plan.cost == truth["min_cost"]
        assert cpplan.validate(inst, plan) == []
    else:
        assert plan.status == "infeasible"
        assert plan.rounds == [] and ("closest" in plan.reason or plan.reason == infeasibility(inst))


def test_tiny_cases_are_all_there():
    # five of each kind, and truth.json names each instance file once, with its kind
    assert sorted(TRUTH) == [p.stem for p in tiny_case_paths()]
    assert sorted(t["kind"] for t in TRUTH.values()) == sorted(KINDS * 5)
    for case, truth in TRUTH.items():
        assert case.startswith(f"{truth['kind']}-")
        assert truth["feasible"] == (truth["kind"] != "infeasible")
        assert (truth["min_cost"] is None) == (not truth["feasible"])
        assert (truth["min_cost"] == truth["direct_cost"]) == (truth["kind"] == "direct")


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
