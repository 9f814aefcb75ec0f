"""Choosing B: each goal gives a target that meets its definition, obeys every rule, and is reached
by a valid plan; budgets hold; bad goal arguments are one-line errors with exit 2."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model
from strategies import tiny_clouds

import cpplan
from cpplan.cli import main
from cpplan.constraints.capacity import fits
from cpplan.cpsat import BIG_MODEL, Scaled, solve
from cpplan.generate import generate
from cpplan.goals import GOALS, Slack, Tradeoff
from cpplan.goals.consolidate import first_fit_decreasing
from cpplan.goals.metrics import emptying_cost_bound, hosts_lower_bound, ideal_utilisation, utilisation
from cpplan.goals.placement import IntegerCloud, Rules, Window, receiving_limit
from cpplan.goals.rebalance import balance_objectives
from cpplan.goals.stopping import Stage
from cpplan.io import save_instance

PLANNER = "greedy"
MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture(scope="module")
def cloud():
    return generate("rebalance", 5, seed=3)


def guarded():
    """Six hosts; an anti-affinity group spread over three of them and a pinned VM on a light host."""
    hosts = {f"h{i}": {"ram": 32, "cpu": 8} for i in range(6)}
    vms, initial = {}, {}
    for i in range(18):
        vms[f"v{i}"] = {"ram": 4, "cpu": 1}
        initial[f"v{i}"] = f"h{i % 6}"
    return cpplan.Instance(hosts=hosts, vms=vms, initial=initial,
                           groups={"web": {"vms": ["v0", "v1", "v2"], "anti_affinity": True}},
                           pinned=["v5"])


def check_target(inst, result):
    """The chosen B is a legal target with a valid plan from A that reaches it."""
    new = result.instance
    assert new.initial.tolist() == inst.initial.tolist()
    receiving = np.zeros(new.n_hosts, dtype=bool)
    receiving[new.target[new.moving]] = True
    assert fits(new.load(new.target), new.effective)[receiving].all()
    for g in new.groups:
        if g.anti_affinity:
            assert len(set(new.target[g.vms].tolist())) == g.vms.size
    assert not new.moving[new.pinned].any()
    assert result.plan.found, result.plan.reason
    assert cpplan.validate(new, result.plan) == []
    assert result.cost == pytest.approx(float(new.cost[new.moving].sum()))
    assert result.moves == int(new.moving.sum())


def test_consolidate_frees_hosts_down_to_the_bound(cloud):
    result = cpplan.choose_target(cloud, goal="consolidate", time_limit=3, planner=PLANNER)
    check_target(cloud, result)
    used = len(set(result.instance.target.tolist()))
    assert used == result.after["hosts_used"] < result.before["hosts_used"]
    assert hosts_lower_bound(cloud) <= result.bound <= used <= result.bound + 1


def test_consolidate_never_costs_more_than_a_plain_repack_for_as_many_hosts(cloud):
    result = cpplan.choose_target(cloud, goal="consolidate", time_limit=3, planner=PLANNER)
    ffd = first_fit_decreasing(cloud)
    ffd_cost = float(cloud.cost[ffd != cloud.initial].sum())
    assert result.after["hosts_used"] <= len(set(ffd.tolist()))
    assert result.cost <= ffd_cost


def test_rebalance_reaches_near_the_ideal(cloud):
    result = cpplan.choose_target(cloud, goal="rebalance", time_limit=3, planner=PLANNER)
    check_target(cloud, result)
    top = float(utilisation(cloud, result.instance.target).max())
    assert top == pytest.approx(result.after["max_utilisation"], abs=1e-4)
    assert ideal_utilisation(cloud) - 1e-9 <= result.bound <= top <= ideal_utilisation(cloud) + 0.02
    assert top < result.before["max_utilisation"]


def test_evacuate_empties_the_drained_hosts_at_their_cost(cloud):
    result = cpplan.choose_target(cloud, goal="evacuate", drain=["h1"], time_limit=3, planner=PLANNER)
    check_target(cloud, result)
    assert not (result.instance.target == cloud.host_index["h1"]).any()
    on_h1 = cloud.initial == cloud.host_index["h1"]
    assert result.cost == pytest.approx(float(cloud.cost[on_h1].sum()))


@pytest.mark.parametrize("goal", ["consolidate", "rebalance", "evacuate"])
def test_goals_keep_anti_affinity_and_pinned_vms(goal):
    inst = guarded()
    drain = ["h0"] if goal == "evacuate" else None
    result = cpplan.choose_target(inst, goal=goal, drain=drain, time_limit=3, planner=PLANNER)
    check_target(inst, result)
    assert result.instance.target[inst.vm_index["v5"]] == inst.host_index["h5"]


def test_consolidate_hosts_bound_counts_the_anti_affinity_group():
    inst = guarded()
    result = cpplan.choose_target(inst, goal="consolidate", time_limit=3, planner=PLANNER)
    assert result.after["hosts_used"] == 3 == result.bound


@pytest.mark.parametrize("goal", ["consolidate", "rebalance"])
def test_budgets_hold(cloud, goal):
    by_moves = cpplan.choose_target(cloud, goal=goal, max_moves=5, time_limit=2, planner=PLANNER)
    check_target(cloud, by_moves)
    assert by_moves.moves <= 5
    by_cost = cpplan.choose_target(cloud, goal=goal, max_cost=40, time_limit=2, planner=PLANNER)
    check_target(cloud, by_cost)
    assert by_cost.cost <= 40


def test_a_heavy_move_weight_keeps_a_when_nothing_is_worth_its_cost(cloud):
    result = cpplan.choose_target(cloud, goal="consolidate", move_weight=1.0, time_limit=2, planner=PLANNER)
    assert result.moves == 0 and result.after["hosts_used"] == result.before["hosts_used"]
    light = cpplan.choose_target(cloud, goal="consolidate", move_weight=1e-3, time_limit=2, planner=PLANNER)
    assert light.after["hosts_used"] < light.before["hosts_used"]


def test_an_unreachable_b_gives_way_to_the_next_best(cloud, monkeypatch):
    import cpplan.target as target

    calls = []
    real = target.run_planner

    def first_fails(inst, planner, **kw):
        calls.append(int(inst.moving.sum()))
        if len(calls) == 1:
            return cpplan.Plan("unknown", 0, [], planner=planner, reason="test: pretend no plan")
        return real(inst, planner, **kw)

    monkeypatch.setattr(target, "run_planner", first_fails)
    result = cpplan.choose_target(cloud, goal="consolidate", time_limit=2, planner=PLANNER)
    assert result.attempts == 2 and result.plan.found
    assert result.budget["headroom"] > 0 and result.moves <= calls[0] // 2


# ----------------------------------------------------------------------------- command line
@pytest.fixture()
def cloud_file(tmp_path, cloud):
    path = tmp_path / "cloud.yaml"
    save_instance(cloud, path)
    return path


def test_cli_target_writes_the_instance_and_plan_goal_writes_a_valid_plan(cloud_file, tmp_path, capsys):
    out = tmp_path / "b.yaml"
    code = main(["target", str(cloud_file), "--goal", "evacuate", "--drain", "h0", "--planner", PLANNER,
                 "--time-limit", "3", "-o", str(out)])
    assert code == 0
    assert "drained h0" in capsys.readouterr().err
    new = cpplan.load_instance(out)
    assert not (new.target == new.host_index["h0"]).any() and new.moving.any()
    plan_path = tmp_path / "plan.json"
    code = main(["plan", str(cloud_file), "--goal", "rebalance", "--max-moves", "10", "--planner", PLANNER,
                 "--time-limit", "3", "-o", str(plan_path), "-q"])
    assert code == 0
    plan = cpplan.load_plan(plan_path)
    assert 0 < plan.n_migrations and json.loads(plan_path.read_text())["status"] in ("optimal", "feasible")


@pytest.mark.parametrize("args, words", [
    (["--goal", "evacuate", "--drain", "nowhere"], "unknown host 'nowhere'"),
    (["--goal", "evacuate", "--drain", "h0", "h1", "h2", "h3", "h4"], "cannot drain every host"),
    (["--goal", "evacuate"], "needs the hosts to drain"),
    (["--goal", "consolidate", "--drain", "h0"], "only the evacuate goal"),
    (["--goal", "rebalance", "--max-cost", "-1"], "--max-cost: must be a non-negative number"),
    (["--goal", "consolidate", "--max-moves", "-2"], "--max-moves: must be a non-negative number"),
    (["--goal", "evacuate", "--drain", "h0", "--max-moves", "1"], "--max-moves: 1 is below"),
    (["--goal", "rebalance", "--gap-limit", "-0.1"], "--gap-limit: must be a non-negative number"),
])
def test_bad_goal_arguments_exit_2_with_one_line(cloud_file, capsys, args, words):
    for command in ("target", "plan"):
        assert main([command, str(cloud_file), *args]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1


def test_an_unknown_goal_is_a_usage_error(cloud_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["target", str(cloud_file), "--goal", "shrink"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_evacuate_moves_a_receiver_vm_when_the_drained_vm_fits_nowhere_directly():
    inst = cpplan.Instance(hosts={"h0": {"ram": 10}, "h1": {"ram": 10}, "h2": {"ram": 10}},
                           vms={"a": {"ram": 6}, "b": {"ram": 5}, "c": {"ram": 4}, "d": {"ram": 5}},
                           initial={"a": "h0", "b": "h1", "c": "h1", "d": "h2"})
    result = cpplan.choose_target(inst, goal="evacuate", drain=["h0"], time_limit=3, planner="exact")
    check_target(inst, result)
    assert result.stats["direct_fit"] is False
    assert result.instance.vm(0).target == "h1" and result.cost == 11


def test_first_fit_decreasing_repacks_without_overloading():
    inst = guarded()
    place = first_fit_decreasing(inst)
    assert fits(inst.load(place), inst.effective).all()
    assert len(set(place[[0, 1, 2]].tolist())) == 3 and place[inst.vm_index["v5"]] == inst.host_index["h5"]


def test_evacuate_drains_the_hosts_the_instance_lists_by_default(cloud):
    inst = cloud.replace(target=None, drain=["h2"])
    result = cpplan.choose_target(inst, goal="evacuate", time_limit=2, planner=PLANNER)
    assert result.budget["drain"] == ["h2"] and not (result.instance.target == inst.host_index["h2"]).any()
    with pytest.raises(cpplan.InputError, match="evacuate goal"):
        cpplan.choose_target(inst, goal="rebalance", time_limit=2, planner=PLANNER)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_clouds(service_levels=True, sharing=True), st.sampled_from(GOALS))
def test_every_goal_gives_a_legal_b_on_random_tiny_clouds(inst, goal):
    drain = [inst.host_names[0]] if goal == "evacuate" else None
    try:
        result = cpplan.choose_target(inst, goal=goal, drain=drain, time_limit=1, planner="exact")
    except cpplan.InputError as e:  # only evacuation and repair can be impossible, and they say why
        assert ((goal == "evacuate" and "--drain" in str(e)) or (goal == "repair" and "repair" in str(e))
                or "separate them with --goal repair" in str(e))  # other goals refuse a broken start
        return
    new = result.instance  # built by the Instance constructor: fits receiving hosts, anti-affinity
    assert not new.moving[new.pinned].any()
    if result.plan.found:
        assert cpplan.validate(new, result.plan) == []
    if goal == "consolidate":
        assert result.after["hosts_used"] <= result.before["hosts_used"]
    elif goal == "rebalance":
        assert result.after["max_utilisation"] <= result.before["max_utilisation"] + 1e-9
    elif goal == "repair":
        assert (new.load(new.target) <= new.effective + 1e-9).all()
    else:
        assert not (new.target == 0).any()


@pytest.mark.parametrize("goal", GOALS)
def test_no_vm_is_sent_across_a_link_that_allows_no_migration(goal):
    inst = guarded().replace(links={"closed": {"hosts": ["h0", "h1", "h2"], "max_migrations": 0}},
                             groups=None, pinned=None)
    drain = ["h3"] if goal == "evacuate" else None
    result = cpplan.choose_target(inst, goal=goal, drain=drain, time_limit=2, planner=PLANNER)
    check_target(inst, result)
    side = np.isin(np.arange(6), [0, 1, 2])
    assert (side[result.instance.target] == side[inst.initial]).all()
    assert result.moves > 0 or goal in ("rebalance", "repair")  # guarded() is balanced and within capacity


# ----------------------------------------------------------------------------- stopping early
@settings(max_examples=60, deadline=None)
@given(tiny_clouds(service_levels=True))
def test_emptying_cost_bound_holds_for_every_placement_of_a_tiny_cloud(inst):
    stays = inst.pinned | (inst.host_limit[inst.initial] <= 0)
    for g in inst.groups:
        if g.max_migrating == 0:
            stays[g.vms] = True
    for place in itertools.product(range(inst.n_hosts), repeat=inst.n_vms):
        place = np.array(place)
        if (place[stays] != inst.initial[stays]).any():
            continue
        cost = float(inst.cost[place != inst.initial].sum())
        assert cost >= emptying_cost_bound(inst, len(set(place.tolist()))) - 1e-9


def test_consolidating_the_rack_proves_its_cost_and_says_so():
    inst = cpplan.load_instance(MODELS / "evacuate-rack.yaml")
    result = cpplan.choose_target(inst, goal="consolidate", time_limit=30, planner=PLANNER)
    check_target(inst, result)
    assert result.after["hosts_used"] == result.bound
    assert result.proven and result.cost == emptying_cost_bound(inst, int(result.bound))
    assert f"cost at {int(result.bound)} hosts proven optimal" in result.summary()


def test_the_summary_says_how_far_the_second_objective_is_proven(cloud):
    result = cpplan.choose_target(cloud, goal="rebalance", time_limit=2, planner=PLANNER)
    phrases = {
        (True, None, ""): "spread proven optimal",
        (False, 0.0, "gap"): "spread at its lower bound",
        (False, 0.004, "gap"): "spread within 0.4% of its lower bound (gap limit 1%)",
        (False, None, "stall"): "spread not proven optimal (search ended: no better solution for a while)",
        (False, None, ""): "spread not proven optimal (search ended: time limit)"}
    for (proven, gap, stopped), words in phrases.items():
        told = dataclasses.replace(result, proven=proven, gap=gap, stopped=stopped).summary()
        assert f"; {words}; plan " in told


def test_a_stage_that_stops_improving_ends_with_its_best_solution_unproven():
    inst = cpplan.load_instance(MODELS / "evacuate-rack.yaml")
    w = Window(inst, inst.initial, np.arange(inst.n_hosts))
    stages = balance_objectives(w, inst.initial, None, time_limit=30)
    stall = dataclasses.replace(stages[0], patience=0.2)
    w.model.minimize(stall.expr)
    sol = w.solve(30, stage=stall)
    assert sol.stopped == "stall" and sol.status == "feasible" and sol.gap is None
    assert fits(inst.load(sol.placement), inst.effective).all()


def test_a_stage_at_a_proven_bound_stops_there():
    inst = cpplan.load_instance(MODELS / "evacuate-rack.yaml")
    w = Window(inst, inst.initial, np.arange(inst.n_hosts))
    moved = w.moved_cost()
    w.model.minimize(moved)
    sol = w.solve(30, stage=Stage(moved, lower=0, patience=None))
    assert sol.status == "optimal" and sol.gap == 0 and sol.objective == 0
    assert sol.placement.tolist() == inst.initial.tolist()


@pytest.mark.parametrize("goal", GOALS)
def test_a_search_stopped_at_its_gap_is_within_the_callers_limit(cloud, goal):
    drain = ["h1"] if goal == "evacuate" else None
    result = cpplan.choose_target(cloud, goal=goal, drain=drain, gap_limit=0.3, time_limit=3, planner=PLANNER)
    check_target(cloud, result)
    assert result.stats["gap_limit"] == 0.3
    if result.stopped == "gap":
        assert result.gap is not None and 0 <= result.gap <= 0.3
    if result.gap not in (None, 0) and not result.proven:
        assert "(gap limit 30%)" in result.summary()


# ----------------------------------------------------------------------------- trade-off and CP-SAT plumbing
def test_a_tradeoff_takes_at_most_one_of_weight_cost_and_moves(cloud):
    assert Tradeoff(max_cost=40).max_cost == 40 and Tradeoff().move_weight is None
    for two in ({"move_weight": 0.1, "max_cost": 40}, {"max_cost": 40, "max_moves": 3},
                {"move_weight": 0.1, "max_moves": 3}):
        with pytest.raises(cpplan.InputError, match="at most one of --move-weight, --max-cost and --max-mo"):
            Tradeoff(**two)
        with pytest.raises(cpplan.InputError, match="at most one"):
            cpplan.choose_target(cloud, goal="consolidate", time_limit=1, planner=PLANNER, **two)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Tradeoff().max_moves = 3


def test_a_next_best_b_caps_the_moves_within_the_tradeoffs_budget():
    assert Slack(max_moves=2).capped(Tradeoff(max_moves=5)) == 2
    assert Slack(max_moves=9).capped(Tradeoff(max_moves=5)) == 5
    assert Slack().capped(Tradeoff(max_moves=5)) == 5
    assert Slack(max_moves=3).capped(Tradeoff(move_weight=0.1)) == 3 and Slack().capped(Tradeoff()) is None
    rules = Rules.of(Tradeoff(max_cost=40), Slack(headroom=0.05, max_moves=3), forbid=np.array([2, 0]))
    assert rules == Rules(headroom=0.05, max_cost=40, max_moves=3, forbid=(2, 0))


def test_the_fallback_passes_a_capped_move_budget_to_the_goal(cloud, monkeypatch):
    import cpplan.target as target

    seen, moved = [], []
    real = target.GOAL_MODULES["consolidate"].choose

    def record(inst, **kw):
        seen.append(kw)
        choice = real(inst, **kw)
        moved.append(int((choice.placement != inst.initial).sum()))
        return choice

    monkeypatch.setattr(target.GOAL_MODULES["consolidate"], "choose", record)
    monkeypatch.setattr(target, "run_planner", lambda inst, planner, **kw: cpplan.Plan(
        "unknown", 0, [], planner=planner, reason="test: pretend no plan"))
    result = cpplan.choose_target(cloud, goal="consolidate", max_moves=50, time_limit=1, planner=PLANNER)
    assert len(seen) == result.attempts >= 2 and moved[0] > 0
    assert all(kw["tradeoff"] == Tradeoff(max_moves=50) for kw in seen)
    assert [kw["slack"].headroom for kw in seen] == [0.0, 0.05, 0.10][:len(seen)]
    assert seen[0]["slack"].max_moves is None and seen[1]["slack"].max_moves == int(moved[0] * 0.5)
    assert result.budget["moves_budget"] == min(50, seen[-1]["slack"].max_moves)
    assert result.budget["max_moves"] == 50 and result.moves == moved[-1]


@pytest.mark.parametrize("inst", [generate("tight", 6, seed=2), cpplan.Instance(
    hosts={"h1": {"ram": 2.5 * 2**40, "cpu": 6.5}, "h2": {"ram": 3 * 2**40, "cpu": 4}},
    vms={"a": {"ram": 2**40, "cpu": 0.25}, "b": {"ram": 3 * 2**39, "cpu": 1e-12}},
    initial={"a": "h1", "b": "h2"})],
    ids=["tight", "bytes-and-fractions"])
def test_goal_models_round_demands_and_capacities_as_the_planners_do(inst):
    ints, sc = IntegerCloud.of(inst, inst.effective), Scaled(inst)
    assert ints.demand.tolist() == sc.demand.tolist() and ints.limit.tolist() == sc.capacity.tolist()
    assert (ints.demand[inst.demand > 0] >= 1).all()
    eased = IntegerCloud.of(inst, receiving_limit(inst, 0.3))  # a receiving host keeps 30 % free
    assert (eased.limit <= ints.limit).all() and eased.scale.tolist() == ints.scale.tolist()
    assert (eased.limit / eased.scale <= np.maximum(receiving_limit(inst, 0.3), 0) + 1e-9).all()


def test_a_window_holds_each_stage_at_its_best_while_it_minimises_the_next():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
                           vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"})
    w = Window(inst, inst.initial, [0, 1])
    sol = w.solve_lex([-w.host_load(1, 0), w.moved_count()], time_limit=5)
    assert sol.placement.tolist() == [1, 1] and sol.status == "optimal"
    assert sol.objective == -8  # the first stage's objective; the second could not undo it


def test_goal_solver_settings_hold_on_big_models():
    model = cp_model.CpModel()
    xs = [model.new_bool_var(f"x{i}") for i in range(BIG_MODEL + 1)]
    model.add(sum(xs) >= 3)
    model.minimize(sum(xs))
    default, _ = solve(model, 5, seed=0)
    assert default.parameters.num_workers == (os.cpu_count() or 1)
    assert not default.parameters.cp_model_presolve
    goal, status = solve(model, 5, seed=0, workers=2, presolve=True)
    assert goal.parameters.num_workers == 2 and goal.parameters.cp_model_presolve
    assert status == cp_model.OPTIMAL and goal.objective_value == 3
