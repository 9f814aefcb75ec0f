"""The auto planner: agrees with the truth on the public tiny cases and with exact on random
tiny clouds; past the exact size, greedy then cp."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from shared_cases import TINY_CASES, tiny_case_paths, tiny_truth
from strategies import tiny_clouds

import cpplan
from cpplan.generate import generate
from cpplan.planners import auto


@pytest.mark.parametrize("path", tiny_case_paths(), ids=lambda p: p.stem)
def test_tiny_cases_match_the_truth(path, tiny_cases):
    truth = tiny_truth()[path.stem]
    p = cpplan.plan(cpplan.load_instance(path), planner="auto", time_limit=10)
    if truth["feasible"]:
        assert (p.status, p.cost) == ("optimal", truth["min_cost"])
    else:
        assert p.status == "infeasible" and p.reason


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_clouds(service_levels=True))
def test_agrees_with_exact_on_random_tiny_clouds(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    p = cpplan.plan(inst, planner="auto", time_limit=10)
    assert p.status == truth.status
    assert p.cost == truth.cost
    if p.found:  # a rounds bound auto states holds for every least-cost plan, exact's included
        assert (p.rounds_lower_bound or 0) <= min(p.n_rounds, truth.n_rounds)


def test_past_the_exact_size_greedy_then_cp():
    inst = generate("tight", 20, seed=0)
    assert inst.n_vms > auto.EXACT_MAX_VMS
    p = cpplan.plan(inst, planner="auto", time_limit=20)
    assert p.planner == "auto" and "exact" not in p.stats["tried"]
    assert p.stats["chosen"] in ("greedy", "cp")
    assert p.status == "optimal" and p.cost == inst.cost[inst.moving].sum()


def test_auto_keeps_exact_least_cost_but_takes_fewer_rounds_when_found():
    # direct-002: exact packs its path into 5 rounds; greedy finds the same cost in 4.
    inst = cpplan.load_instance(TINY_CASES / "direct-002.yaml")
    exact_plan = cpplan.plan(inst, planner="exact")
    auto_plan = cpplan.plan(inst, planner="auto", time_limit=20)
    assert auto_plan.status == "optimal" and auto_plan.cost == exact_plan.cost
    assert auto_plan.n_rounds < exact_plan.n_rounds


def test_auto_states_the_fewest_rounds_cp_proved_for_the_least_cost():
    # a swap of two full hosts: 2 rounds by the general bound, but a bounce needs 3
    swap = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    assert cpplan.plan(swap, planner="exact").rounds_lower_bound == 2
    p = cpplan.plan(swap, planner="auto", time_limit=10)
    assert (p.status, p.cost, p.n_rounds, p.rounds_lower_bound) == ("optimal", 12, 3, 3)
