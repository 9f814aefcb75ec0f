"""The example clouds in models/ say what the exact planner finds on them; hold them to it."""

from __future__ import annotations

import json

import pytest
from helpers import MODELS

import cpplan
from cpplan.bounds import cost_lower_bound, infeasibility
from cpplan.cli import main

SMALL = {  # model: (status, minimum cost, cost lower bound, VM that must move twice)
    "swap-deadlock": ("optimal", 160, 112, "db-b"),
    "step-aside": ("optimal", 130, 90, "cache"),
    "infeasible": ("infeasible", None, 64, None),
}


@pytest.mark.parametrize("path", sorted(MODELS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_model_loads_and_explains_itself(path):
    inst = cpplan.load_instance(path)
    assert inst.moving.any()
    assert path.read_text().startswith("# ")


def test_the_promised_models_exist():
    assert {p.stem for p in MODELS.glob("*.yaml")} >= {*SMALL, "evacuate-rack"}


@pytest.mark.parametrize("name", SMALL)
def test_exact_planner_confirms_the_claim(name, tmp_path, capsys):
    status, cost, lower_bound, bounced = SMALL[name]
    path, output = MODELS / f"{name}.yaml", tmp_path / "plan.json"
    code = main(["plan", str(path), "--planner", "exact", "-o", str(output)])
    capsys.readouterr()
    inst, result = cpplan.load_instance(path), cpplan.load_plan(output)
    assert (code, result.status) == ({"optimal": 0, "infeasible": 3}[status], status)
    assert cost_lower_bound(inst) == lower_bound
    assert cpplan.validate(inst, result) == []
    if cost is not None:
        assert result.cost == cost > lower_bound
        moves = [m["vm"] for r in result.rounds for m in r]
        assert moves.count(bounced) == 2


def test_the_step_aside_vm_has_no_target_of_its_own():
    inst = cpplan.load_instance(MODELS / "step-aside.yaml")
    cache = inst.vm_index["cache"]
    assert not inst.moving[cache]


def test_infeasible_model_needs_the_search_not_a_certificate():
    assert infeasibility(cpplan.load_instance(MODELS / "infeasible.yaml")) is None


def test_evacuate_rack_is_a_medium_cloud_with_every_kind_of_rule():
    inst = cpplan.load_instance(MODELS / "evacuate-rack.yaml")
    assert inst.n_hosts >= 24 and 200 <= inst.n_vms <= 500 and inst.moving.sum() >= 50
    assert set(inst.resources) == {"ram", "cpu", "disk"}
    assert inst.ratio[:, inst.resource_index["cpu"]].min() > 1
    assert inst.total_limit is not None and len(inst.links) >= 1
    assert any(g.anti_affinity for g in inst.groups) and inst.pinned.any()
    rack_a = {inst.host_index[h] for h in inst.host_names if h.startswith("a")}
    assert {int(h) for h in inst.initial[inst.moving]} == rack_a
    assert not set(inst.target.tolist()) & rack_a


def test_exact_planner_refuses_the_medium_cloud(capsys):
    code = main(["plan", str(MODELS / "evacuate-rack.yaml"), "--planner", "exact", "--time-limit", "5"])
    out, err = capsys.readouterr()
    assert code == 4 and json.loads(out)["status"] == "unknown"
    assert "exact" in err
