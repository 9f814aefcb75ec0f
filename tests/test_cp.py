"""The CP-SAT planner: least cost on the tiny cases, agreement with exact, never worse than
greedy, bounces where needed, the time limit and Ctrl-C."""

from __future__ import annotations

import os
import signal
import time

import pytest
from helpers import MODELS, tiny_case_paths, tiny_truth
from hypothesis import HealthCheck, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan.budget import Interrupt
from cpplan.generate import generate
from cpplan.plan import Plan
from cpplan.planners import check, cp
from cpplan.planners.cp.decompose import components


@pytest.mark.parametrize("path", tiny_case_paths(), ids=lambda p: p.stem)
def test_tiny_cases_least_cost(path):
    truth = tiny_truth()[path.stem]
    inst = cpplan.load_instance(path)
    # without greedy's warm start (none on bounce-001, displace-005) cp needs seconds on a busy machine
    p = cpplan.plan(inst, planner="cp", time_limit=30 if truth["feasible"] else 2)
    if truth["feasible"]:
        assert p.found and p.cost == truth["min_cost"]
        assert p.lower_bound <= truth["min_cost"]
    else:
        assert p.status in ("infeasible", "unknown") and p.rounds == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_clouds(max_hosts=3, max_vms=4))
def test_agrees_with_exact_on_random_tiny_clouds(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    p = cpplan.plan(inst, planner="cp", time_limit=5)
    if truth.status == "infeasible":
        assert not p.found
    elif truth.status == "optimal":
        assert p.found and p.cost >= truth.cost
        if p.status == "optimal":
            assert p.cost == truth.cost
        assert p.lower_bound <= truth.cost + 1e-9


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_clouds(max_hosts=3, max_vms=4, service_levels=True))
def test_service_levels_agree_with_exact(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    p = cpplan.plan(inst, planner="cp", time_limit=5)
    assert p.found <= (truth.status == "optimal")
    if p.status == "optimal" and truth.status == "optimal":
        assert p.cost == truth.cost


@pytest.mark.parametrize("family", ["tight", "shuffle", "evacuate"])
def test_never_worse_than_greedy(family):
    inst = generate(family, 20, seed=3)
    greedy = cpplan.plan(inst, planner="greedy")
    p = cpplan.plan(inst, planner="cp", time_limit=20, hint=greedy)
    assert (p.cost, p.n_rounds) <= (greedy.cost, greedy.n_rounds)


def test_direct_moves_proven_optimal_in_cost_and_rounds():
    inst = generate("tight", 20, seed=0)
    p = cp.plan(inst, time_limit=30, warm_start=False)
    check(inst, p)
    assert p.status == "optimal" and p.cost == inst.cost[inst.moving].sum()
    assert p.rounds_lower_bound == p.n_rounds


def swaps_with_one_staging_host():
    """Three pairs of full hosts swapping their VMs; one half-empty host is the only room."""
    hosts = {f"h{i}": {"ram": 8} for i in range(6)} | {"spare": {"ram": 16}}
    vms = {"a0": {"ram": 8}, "b0": {"ram": 8}, "a1": {"ram": 4}, "c1": {"ram": 4}, "b1": {"ram": 8},
           "a2": {"ram": 6}, "b2": {"ram": 6}, "old": {"ram": 8}}
    initial = {"a0": "h0", "b0": "h1", "a1": "h2", "c1": "h2", "b1": "h3", "a2": "h4", "b2": "h5",
               "old": "spare"}
    target = {"a0": "h1", "b0": "h0", "a1": "h3", "c1": "h3", "b1": "h2", "a2": "h5", "b2": "h4"}
    return cpplan.Instance(hosts=hosts, vms=vms, initial=initial, target=target)


def test_finds_the_least_cost_bounces_without_greedy():
    inst = swaps_with_one_staging_host()
    truth = cpplan.plan(inst, planner="exact", time_limit=30)
    p = cp.plan(inst, time_limit=8, warm_start=False)
    check(inst, p)
    assert truth.status == "optimal" and p.found
    assert p.cost == truth.cost > inst.cost[inst.moving].sum()


def test_independent_parts_run_side_by_side():
    inst = cpplan.Instance(hosts={h: {"ram": 8} for h in "abcd"},
                           vms={"x": {"ram": 4}, "y": {"ram": 4}},
                           initial={"x": "a", "y": "c"}, target={"x": "b", "y": "d"})
    assert len(components(inst, {})) == 2
    p = cp.plan(inst, time_limit=10, warm_start=False)
    check(inst, p)
    assert p.status == "optimal" and p.n_rounds == 1 and p.stats["parts"] == 2


def test_time_limit_honoured_and_plan_valid():
    inst = generate("shuffle", 100, seed=0)
    started = time.perf_counter()
    p = cp.plan(inst, time_limit=2, warm_start=False)
    assert time.perf_counter() - started < 2 * 1.1 + 1
    check(inst, p)  # interrupted or not, what comes back is valid
    assert p.status in ("optimal", "feasible", "unknown")


def test_falls_back_to_the_hint_when_nothing_is_found_in_time():
    inst = generate("shuffle", 100, seed=0)
    greedy = cpplan.plan(inst, planner="greedy")
    p = cpplan.plan(inst, planner="cp", time_limit=0.01, hint=greedy)
    assert p.found and p.cost <= greedy.cost


def test_progress_reports_best_and_bound():
    inst = generate("tight", 20, seed=0)
    lines = []
    cp.plan(inst, time_limit=10, warm_start=False, progress=lines.append)
    models = [x for x in lines if x.startswith("cp: ")]  # what each model searches, and its size
    assert models and all("variables" in x for x in models)
    searches = [x for x in lines if not x.startswith("cp: ")]
    assert searches and all("best" in x and "bound" in x for x in searches)


def test_ctrl_c_stops_the_search_not_the_program():
    with Interrupt() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert stop.requested


def test_cp_moves_offline_at_a_higher_cost_when_that_saves_a_bounce():
    # Both full hosts swap their VMs offline in one round (5 + 5) instead of a bounce (4 + 4 + 4).
    inst = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
                           vms={"a": {"ram": 4, "offline_cost": 5}, "b": {"ram": 4, "offline_cost": 5}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
    found = cpplan.plan(inst, planner="cp", time_limit=10)
    assert (found.status, found.cost, found.n_rounds) == ("optimal", 10, 1)
    assert all(m["mode"] == "offline" for m in found.rounds[0])
    inst = inst.replace(vms={"a": {"ram": 4, "offline_cost": 7}, "b": {"ram": 4, "offline_cost": 7}})
    assert cpplan.plan(inst, planner="cp", time_limit=10).cost == 12   # now the bounce is cheaper


def test_rounded_demands_give_no_rounds_proof():
    # Thirds of RAM round up in the integer model, which then wants 3 rounds where 2 suffice.
    third = {"ram": 1 / 3, "cost": 1}
    inst = cpplan.Instance(hosts={"a": {"ram": 1}, "b": {"ram": 1}, "c": {"ram": 0.5}, "d": {"ram": 1}},
                           vms={"x1": third, "x2": third, "y": third, "w": {"ram": 0.5, "cost": 1}},
                           initial={"x1": "a", "x2": "a", "y": "b", "w": "c"},
                           target={"x1": "b", "x2": "b", "y": "c", "w": "d"}, limits={"host": 3})
    moves = [[("w", "c", "d"), ("x1", "a", "b")], [("y", "b", "c"), ("x2", "a", "d")], [("x2", "d", "b")]]
    detour = Plan("feasible", 5, [[{"vm": v, "from": a, "to": b} for v, a, b in r] for r in moves])
    found = cpplan.plan(inst, planner="cp", time_limit=10, hint=detour)
    assert found.cost == 4 and found.rounds_lower_bound <= cpplan.plan(inst, planner="exact").n_rounds == 2


def test_parts_that_may_share_a_link_through_an_allowed_host_are_planned_together():
    # x may end on b or on e behind link L; y crosses L. Planned apart, both would cross L in round 1.
    inst = cpplan.Instance(hosts={"a": {"ram": 8}, "b": {"ram": 16}, "c": {"ram": 8}, "d": {"ram": 8},
                                  "e": {"ram": 4}, "f": {"ram": 16}},
                           vms={"x": {"ram": 4}, "y": {"ram": 4}, "z": {"ram": 16}},
                           initial={"x": "a", "y": "c", "z": "b"},
                           target={"x": ["b", "e"], "y": "d", "z": "f"},
                           links={"L": {"hosts": ["d", "e"], "max_migrations": 1}})
    found = cpplan.plan(inst, planner="cp", time_limit=10)
    assert found.status == "optimal" and found.cost == 24 and "model_gap" not in found.stats


def test_a_host_that_allows_no_migration_is_no_default_target_and_hides_no_allowed_host():
    # d allows no migration; e1..e15 are full, so only e16 (once z left) takes x.
    hosts = {"a": {"ram": 8}, "d": {"ram": 64, "max_migrations": 0}, "g": {"ram": 8},
             **{f"e{i}": {"ram": 8} for i in range(1, 17)}}
    vms = {"x": {"ram": 4}, "z": {"ram": 8}, **{f"p{i}": {"ram": 6} for i in range(1, 16)}}
    initial = {"x": "a", "z": "e16", **{f"p{i}": f"e{i}" for i in range(1, 16)}}
    inst = cpplan.Instance(hosts=hosts, vms=vms, initial=initial, pinned=[f"p{i}" for i in range(1, 16)],
                           target={"x": ["d"] + [f"e{i}" for i in range(1, 17)], "z": "g"})
    assert inst.host_names[inst.target[0]] == "e16"
    found = cpplan.plan(inst, planner="cp", time_limit=10)
    assert (found.status, found.cost, found.lower_bound) == ("optimal", 12, 12)


@pytest.mark.parametrize("factor", [1e17, 1e297])  # the RAM moved sums to 1.6e299, within MAX_TOTAL_COST
def test_sizes_and_costs_past_the_solvers_integers_give_valid_plans_and_no_false_proof(factor):
    # the models scale such numbers down, rounding demands up and capacities down: valid, not proven
    spec = cpplan.load_instance(MODELS / "swap-deadlock.yaml").to_dict()
    for item in [*spec["hosts"].values(), *spec["vms"].values()]:
        for key in ("ram", "cpu", "cost"):
            if key in item:
                item[key] *= factor
    inst = cpplan.Instance(**spec)
    truth = cpplan.plan(inst, planner="exact")
    p = cpplan.plan(inst, planner="cp", time_limit=10)
    assert p.found and cpplan.validate(inst, p) == []
    assert p.cost >= truth.cost and p.lower_bound <= truth.cost
    goal = cpplan.choose_target(inst, goal="consolidate", time_limit=10)
    assert goal.plan.found and cpplan.validate(goal.instance, goal.plan) == []


def test_cp_keeps_searching_past_a_cost_cap_it_could_neither_fill_nor_rule_out():
    # a VM with offline cost 1 makes the caps climb slowly; v10 must step aside for v3 to bounce
    inst = cpplan.Instance(
        hosts={"h0": {"disk": 75}, "h2": {"disk": 53}, "h3": {"ram": 11}, "h4": {"ram": 6}, "h5": {"ram": 4}},
        vms={"v2": {"ram": 8, "disk": 67}, "v3": {"ram": 8, "disk": 80}, "v5": {"ram": 8, "disk": 49},
             "v9": {"ram": 16}, "v10": {"ram": 8}, "v11": {"ram": 8, "disk": 40, "offline_cost": 1}},
        initial={"v2": "h0", "v3": "h2", "v5": "h4", "v9": "h3", "v10": "h5", "v11": "h0"},
        target={"v5": "h2", "v3": "h4"}, allocation_ratio={"ram": 2.0, "disk": 2.0})
    assert not cpplan.plan(inst, planner="greedy").found
    # about 6 s on an idle 2-core machine; the margin is for a loaded one (cp ends when its caps do)
    p = cpplan.plan(inst, planner="cp", time_limit=30)
    assert p.found and p.cost >= cpplan.plan(inst, planner="exact").cost == 40


def test_sizes_past_2_to_the_31_give_no_false_bound(tiny_cases):
    # CP-SAT's presolve wrongly proved such models infeasible: cp stated a lower bound above its plan
    spec = cpplan.load_instance(tiny_cases / "bounce-005.yaml").to_dict()
    for vm in spec["vms"].values():
        vm["cost"] = vm["ram"]
    for item in [*spec["hosts"].values(), *spec["vms"].values()]:
        item["ram"] = int(item["ram"] * 3e8 + 1)
    inst = cpplan.Instance(**spec)
    p = cpplan.plan(inst, planner="cp", time_limit=10)
    assert p.found and p.lower_bound <= p.cost == tiny_truth()["bounce-005"]["min_cost"]


def test_ram_in_bytes_is_scaled_exactly_and_proven():
    spec = cpplan.load_instance(MODELS / "swap-deadlock.yaml").to_dict()
    for item in [*spec["hosts"].values(), *spec["vms"].values()]:
        if "ram" in item:
            item["ram"] *= 2**30  # GiB in bytes: far past the models' integers, with a common divisor
    p = cpplan.plan(cpplan.Instance(**spec), planner="cp", time_limit=10)
    assert (p.status, p.cost) == ("optimal", 160 * 2**30)
