"""Partial plans (cpplan plan --partial, cpplan.plan(partial=True)): valid rounds that stop short of B
on a cloud with no plan, and the validator's rule for them."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan import Instance
from cpplan.cli import main
from cpplan.io import load_plan, save_plan
from cpplan.plan import Plan

# h1 -> h2 -> h3 -> h1: three full hosts pass their VM on, no room to stage; m may go h4 -> h5.
CYCLE = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}, "h4": {"ram": 4},
                   "h5": {"ram": 4}},
         "vms": {"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}, "m": {"ram": 2}},
         "initial": {"a": "h1", "b": "h2", "c": "h3", "m": "h4"},
         "target": {"a": "h2", "b": "h3", "c": "h1", "m": "h5"}}


def replayed(inst, p: Plan) -> np.ndarray:
    placement = inst.initial.copy()
    for vms, _, dst, _ in p.index_rounds(inst):
        placement[vms] = dst
    return placement


def test_a_deadlocked_cloud_gets_the_moves_that_fit_and_keeps_its_proof():
    inst = Instance(**CYCLE)
    plain = cpplan.plan(inst, planner="greedy")
    p = cpplan.plan(inst, planner="greedy", partial=True)
    assert plain.status == "infeasible" and not plain.partial
    assert (p.status, p.partial, p.routes()) == ("unknown", True, [[{"vm": "m", "from": "h4", "to": "h5"}]])
    assert (p.stats["reached_target"], p.stats["left_to_move"], p.stats["proven_infeasible"]) == (1, 3, True)
    assert p.cost == 2 and p.reason.startswith(plain.reason)
    assert p.reason.endswith("; partial plan: 1 VM reaches its target, 3 left")
    assert p.blocked == plain.blocked
    assert cpplan.validate(inst, p) == []


def test_an_unknown_answer_keeps_its_status_and_anti_affinity_holds_in_the_partial_plan():
    # a, b, c turn h1 -> h2 -> h3 -> h1; h4's room is barred by z, their pinned anti-affinity partner.
    # x moves h6 -> h8; w would fit on h2 beside b, but is b's partner too: it stays where it is.
    spec = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 12}, "h3": {"ram": 8}, "h4": {"ram": 16},
                      "h6": {"ram": 4}, "h8": {"ram": 4}, "h9": {"ram": 4}},
            "vms": {"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}, "z": {"ram": 1}, "w": {"ram": 4},
                    "x": {"ram": 4}},
            "initial": {"a": "h1", "b": "h2", "c": "h3", "z": "h4", "w": "h9", "x": "h6"},
            "target": {"a": "h2", "b": "h3", "c": "h1", "w": "h2", "x": "h8"},
            "groups": {"svc": {"vms": ["a", "b", "c", "z"], "anti_affinity": True},
                       "pair": {"vms": ["w", "b"], "anti_affinity": True}},
            "pinned": ["z"]}
    inst = Instance(**spec)
    p = cpplan.plan(inst, planner="greedy", partial=True)
    assert p.status == "unknown" and p.partial and "proven_infeasible" not in p.stats
    end = replayed(inst, p)
    assert [inst.vm_names[v] for v in np.flatnonzero(end != inst.initial)] == ["x"]
    assert (p.stats["reached_target"], p.stats["left_to_move"]) == (1, 4)
    assert cpplan.validate(inst, p) == []


def test_a_plan_found_is_never_made_partial():
    inst = Instance(**{**CYCLE, "hosts": {**CYCLE["hosts"], "spare": {"ram": 8}}})
    p = cpplan.plan(inst, planner="greedy", partial=True)
    assert p.found and not p.partial and "partial" not in p.to_dict()


def test_the_validator_accepts_a_partial_plan_only_with_valid_rounds_and_status_unknown():
    inst = Instance(**CYCLE)
    m = [[{"vm": "m", "from": "h4", "to": "h5"}]]
    assert cpplan.validate(inst, Plan("unknown", 2, m, partial=True)) == []
    assert cpplan.validate(inst, Plan("unknown", 2, m)) == [
        "a plan with status 'unknown' must have no rounds"]
    assert cpplan.validate(inst, Plan("feasible", 2, m, partial=True)) == [
        "a partial plan must have status 'unknown', not 'feasible'"]
    assert cpplan.validate(inst, Plan("unknown", 3, m, partial=True)) == [
        "the plan states cost 3, its migrations cost 2"]
    overload = [[{"vm": "a", "from": "h1", "to": "h2"}]]
    assert cpplan.validate(inst, Plan("unknown", 8, overload, partial=True)) == [
        "round 1: host h2 over ram capacity during the round: 16 > 8 (arriving: a)"]


def test_the_cli_writes_a_partial_plan_that_validates(write_instance, tmp_path, capsys):
    instance, output = write_instance(CYCLE), tmp_path / "plan.json"
    code = main(["plan", str(instance), "--planner", "greedy", "--partial", "-o", str(output)])
    err = capsys.readouterr().err
    data = json.loads(output.read_text())
    assert code == 4 and data["partial"] is True and data["status"] == "unknown"
    assert data["stats"]["reached_target"] == 1 and "partial plan: 1 VM reaches its target, 3 left" in err
    assert main(["validate", str(instance), str(output)]) == 0
    assert "valid: 1 migrations in 1 rounds, cost 2, a partial plan" in capsys.readouterr().err
    again = tmp_path / "again.json"
    save_plan(load_plan(output), again)
    assert load_plan(again).partial


def test_a_bad_partial_flag_is_bad_input(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"status": "unknown", "cost": 0, "rounds": [], "partial": "yes"}))
    assert main(["validate", "/dev/null", str(path)]) == 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(tiny_clouds(tight=True, service_levels=True, sharing=True, max_hosts=4, max_vms=6))
def test_every_partial_plan_on_random_tiny_clouds_is_valid_and_counts_right(inst):
    p = cpplan.plan(inst, planner="greedy", partial=True, time_limit=5)
    event("partial" if p.partial else "found")
    assert p.partial == (not p.found)
    if not p.partial:
        return
    end = replayed(inst, p)
    assert p.stats["reached_target"] == int((inst.moving & inst.at_target(end)).sum())
    assert p.stats["left_to_move"] == int((~inst.at_target(end)).sum())
    assert cpplan.validate(inst, p) == []
