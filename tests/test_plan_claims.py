"""Absurd plans: empty rounds cost nothing to validate or show, and an optimal plan may not claim
a rounds lower bound above its own rounds."""

from __future__ import annotations

import importlib
import json

import pytest

import cpplan
from cpplan.cli import main
from cpplan.plan import Plan
from cpplan.show import plan_table, replay_loads

EMPTY_ROUNDS = 1_000_000
validation = importlib.import_module("cpplan.validate")  # cpplan.validate is the function


@pytest.fixture
def inst():
    return cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                           vms={"a": {"ram": 8}, "b": {"ram": 8}}, initial={"a": "h1", "b": "h2"},
                           target={"a": "h2", "b": "h1"})


def padded(plan: Plan) -> Plan:
    """``plan`` with a million empty rounds before, between and after its rounds."""
    rounds = [[] for _ in range(EMPTY_ROUNDS // 2)]
    for moves in plan.rounds:
        rounds += [moves, *([] for _ in range(EMPTY_ROUNDS // (2 * len(plan.rounds))))]
    return Plan(**{**plan.__dict__, "rounds": rounds})


def test_empty_rounds_are_valid_and_never_replayed(inst, monkeypatch):
    plan = padded(cpplan.plan(inst, "exact"))
    replayed = []
    parse = validation._parse_round
    monkeypatch.setattr(validation, "_parse_round", lambda *args: replayed.append(1) or parse(*args))
    assert validation.validate(inst, plan) == []
    assert len(plan.rounds) > EMPTY_ROUNDS and len(replayed) == plan.n_rounds == 3


def test_empty_rounds_print_one_line_per_run_and_cost_no_load(inst, monkeypatch):
    plan = padded(cpplan.plan(inst, "exact"))
    loads = []
    load = type(inst).load
    monkeypatch.setattr(type(inst), "load", lambda self, placement: loads.append(1) or load(self, placement))
    assert len(replay_loads(inst, plan)) == len(plan.rounds) + 1
    assert len(loads) == plan.n_rounds + 1
    text = plan_table(inst, plan)
    empty = [line for line in text.splitlines() if line.endswith(": empty")]
    assert empty[0] == f"rounds 1-{EMPTY_ROUNDS // 2}: empty" and len(empty) == 4
    assert len(text.splitlines()) < 60


def test_validate_and_show_read_a_plan_of_a_million_empty_rounds(inst, tmp_path, capsys):
    cloud, plan = tmp_path / "cloud.yaml", tmp_path / "plan.json"
    cpplan.save_instance(inst, cloud)
    cpplan.save_plan(padded(cpplan.plan(inst, "exact")), plan)
    assert main(["validate", str(cloud), str(plan)]) == 0
    assert capsys.readouterr().err == "valid: 3 migrations in 3 rounds, cost 24\n"
    assert main(["show", str(cloud), str(plan)]) == 0
    assert len(capsys.readouterr().out.splitlines()) < 60


def test_an_optimal_plan_may_not_claim_more_rounds_than_it_has(inst, tmp_path, capsys):
    found = cpplan.plan(inst, "exact")
    assert found.status == "optimal" and found.rounds_lower_bound <= found.n_rounds == 3
    claims = Plan(**{**found.__dict__, "rounds_lower_bound": 5})
    assert validation.validate(inst, claims) == [
        "the plan states rounds lower bound 5, above its 3 round(s), though it claims the least cost "
        "(the bound holds for every plan of least cost)"]
    cloud, plan = tmp_path / "cloud.yaml", tmp_path / "plan.json"
    cpplan.save_instance(inst, cloud)
    plan.write_text(json.dumps(claims.to_dict()))
    assert main(["validate", str(cloud), str(plan)]) == 1
    assert "rounds lower bound 5, above its 3 round(s)" in capsys.readouterr().err
    # a costlier plan may take fewer rounds than the least-cost plans: no contradiction
    assert validation.validate(inst, Plan(**{**claims.__dict__, "status": "feasible"})) == []
    # empty rounds do not count as rounds
    assert validation.validate(inst, Plan(**{**padded(found).__dict__, "rounds_lower_bound": 4})) != []
