"""The auto planner: agrees with the truth on the tiny cases and with exact on random tiny
clouds; past the exact size, greedy then cp."""

from __future__ import annotations

import pytest
from helpers import TINY_CASES, tiny_case_paths, tiny_truth
from hypothesis import HealthCheck, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan.generate import generate
from cpplan.planners import auto, exact


@pytest.mark.parametrize("path", tiny_case_paths(), ids=lambda p: p.stem)
def test_tiny_cases_match_the_truth(path):
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
    assert inst.n_vms > auto.EXACT_FULL_SHARE_VMS
    p = cpplan.plan(inst, planner="auto", time_limit=20)
    assert p.planner == "auto" and "exact" not in p.stats["tried"]
    assert p.stats["chosen"] in ("greedy", "cp")
    assert p.status == "optimal" and p.cost == inst.cost[inst.moving].sum()


def test_auto_keeps_exact_least_cost_but_takes_fewer_rounds_when_found():
    # direct-002: exact packs its path into 3 rounds; greedy finds the same cost in 2.
    inst = cpplan.load_instance(TINY_CASES / "direct-002.yaml")
    exact_plan = cpplan.plan(inst, planner="exact", objective="rounds")
    auto_plan = cpplan.plan(inst, planner="auto", time_limit=20, objective="rounds")
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


def test_auto_states_the_proof_it_has_and_each_planners_own_verdict():
    # fractional capacities: cp cannot prove the least cost here, exact can
    swap = cpplan.Instance(hosts={h: {"ram": 4.230769} for h in ("h1", "h2", "h3")},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
    p = cpplan.plan(swap, planner="auto", time_limit=10)
    assert (p.status, p.cost, p.lower_bound) == ("optimal", 12, 12)
    assert p.stats["tried"]["exact"] == "optimal" and p.stats["tried"]["cp"] == "feasible"


DEADLOCKED_SERVICES = {  # 7 hosts, 12 VMs: too many placements for exact's full share of the time
    "hosts": {"h0": {"ram": 15, "disk": 75}, "h1": {"ram": 4, "disk": 7}, "h2": {"ram": 13, "disk": 53},
              "h3": {"ram": 11}, "h4": {"ram": 6, "disk": 58},
              "h5": {"ram": 4, "disk": 44, "allocation_ratio": {"ram": 2.0}}, "spare": {"ram": 8, "disk": 8}},
    "vms": {"v0": {"ram": 8, "disk": 12, "live": False}, "v1": {"ram": 4, "disk": 13, "image": "img0"},
            "v2": {"ram": 8, "disk": 67, "image": "img0"},
            "v3": {"ram": 8, "disk": 80, "live": False, "image": "img0"}, "v4": {"ram": 4},
            "v5": {"ram": 8, "disk": 49, "image": "img1"}, "v6": {"ram": 4, "disk": 35, "image": "img1"},
            "v7": {"ram": 4, "live": False, "image": "img0"}, "v8": {"ram": 4, "disk": 49, "offline_cost": 0},
            "v9": {"ram": 16, "disk": 30, "image": "img1"},
            "v10": {"ram": 8, "disk": 88, "live": False, "image": "img1"},
            "v11": {"ram": 8, "disk": 40, "cost": 13.76, "offline_cost": 1}},
    "initial": {"v0": "h1", "v1": "h2", "v2": "h0", "v3": "h2", "v4": "h2", "v5": "h4", "v6": "h4",
                "v7": "h2", "v8": "h3", "v9": "h3", "v10": "h5", "v11": "h0"},
    "target": {"v11": "h2", "v5": "h2", "v3": "h4", "v7": "h2"},
    "links": {"l0": {"hosts": ["h4", "h5"], "max_migrations": 1}},
    "groups": {"g0": {"vms": ["v1", "v10"], "anti_affinity": True, "max_migrating": 2},
               "g1": {"vms": ["v4", "v11", "v0", "v9", "v5", "v6"], "max_migrating": 2}},
    "page_sharing": {"ratio": 0.5, "images": {"img0": 0.9}}, "drain": ["h3"],
    "allocation_ratio": {"ram": 2.0, "disk": 2.0},
}


def test_auto_tries_exact_briefly_on_a_tiny_cloud_with_many_placements():
    inst = cpplan.Instance(**DEADLOCKED_SERVICES)
    assert inst.n_hosts ** inst.n_vms > auto.EXACT_MAX_PLACEMENTS
    assert not cpplan.plan(inst, planner="greedy").found
    p = cpplan.plan(inst, planner="auto", time_limit=10)
    assert p.found and "exact" in p.stats["tried"]


SIXTEEN_VMS_EIGHT_MOVING = {'hosts': {'h0': {'ram': 6, 'disk': 156, 'allocation_ratio': {'ram': 3.0}},
               'h1': {'ram': 33, 'disk': 162, 'max_migrations': 2},
               'h2': {'ram': 24, 'disk': 290},
               'h3': {'ram': 24, 'disk': 105, 'allocation_ratio': {'disk': 2.0}},
               'h4': {'ram': 7, 'disk': 108, 'allocation_ratio': {'ram': 3.0}},
               'h5': {'ram': 41, 'disk': 154}},
     'vms': {'v0': {'ram': 4, 'disk': 29, 'offline_cost': 0},
             'v1': {'ram': 8, 'disk': 100, 'cost': 1, 'live': False},
             'v2': {'ram': 8, 'disk': 94},
             'v3': {'ram': 8, 'disk': 10, 'offline_cost': 1},
             'v4': {'ram': 16, 'disk': 75},
             'v5': {'ram': 4, 'disk': 90, 'offline_cost': 1},
             'v6': {'ram': 4, 'disk': 19, 'offline_cost': 100},
             'v7': {'ram': 16, 'disk': 87, 'live': False},
             'v8': {'disk': 52},
             'v9': {'ram': 8, 'disk': 50},
             'v10': {'ram': 16, 'disk': 60},
             'v11': {'ram': 4, 'disk': 51},
             'v12': {'ram': 16},
             'v13': {'ram': 8, 'disk': 16, 'offline_cost': 20},
             'v14': {'ram': 8, 'disk': 100, 'offline_cost': 20},
             'v15': {'ram': 8, 'disk': 15}},
     'initial': {'v0': 'h4',
                 'v1': 'h2',
                 'v2': 'h1',
                 'v3': 'h3',
                 'v4': 'h4',
                 'v5': 'h2',
                 'v6': 'h3',
                 'v7': 'h5',
                 'v8': 'h5',
                 'v9': 'h3',
                 'v10': 'h0',
                 'v11': 'h3',
                 'v12': 'h5',
                 'v13': 'h1',
                 'v14': 'h2',
                 'v15': 'h5'},
     'target': {'v13': 'h2',
                'v5': 'h3',
                'v3': 'h0',
                'v4': 'h1',
                'v2': 'h0',
                'v10': 'h5',
                'v7': 'h1',
                'v8': 'h0'},
     'limits': {'host': 3},
     'links': {'l0': {'hosts': ['h3'], 'max_migrations': 3}},
     'groups': {'g0': {'vms': ['v8', 'v3', 'v2'], 'affinity': True},
                'g1': {'vms': ['v10', 'v5', 'v3'], 'anti_affinity': True, 'max_migrating': 2}},
     'pinned': ['v6']}


def test_auto_tries_exact_briefly_up_to_its_own_limit_of_vms():
    # greedy deadlocks here; exact, given a short try past auto's tiny-cloud size, finds a plan at once
    inst = cpplan.Instance(**SIXTEEN_VMS_EIGHT_MOVING)
    assert auto.EXACT_FULL_SHARE_VMS < inst.n_vms <= exact.MAX_VMS
    assert not cpplan.plan(inst, planner="greedy").found
    p = cpplan.plan(inst, planner="auto", time_limit=20)
    assert p.found and p.stats["tried"]["exact"] in ("feasible", "optimal")
