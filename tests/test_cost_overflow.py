"""Costs that could overflow: an instance whose VMs' costs (live and offline) sum past
MAX_TOTAL_COST is bad input, wherever the costs come from, never a false proof or an infinite bound."""

from __future__ import annotations

import json

import pytest

import cpplan
from cpplan import InputError, Instance
from cpplan.cli import main
from cpplan.generate import generate
from cpplan.model import MAX_TOTAL_COST

HUGE = MAX_TOTAL_COST * 0.6  # one is fine, two are too many

# A swap through a third host: the cheapest plan bounces one VM, so its cost is 3 costs.
SWAP = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
        "initial": {"a": "h1", "b": "h2"}, "target": {"a": "h2", "b": "h1"}}


def swap(a: dict, b: dict) -> dict:
    return {**SWAP, "vms": {"a": {"ram": 4, **a}, "b": {"ram": 4, **b}}}


CASES = {  # the key named, and the VMs' specs
    "cost": ("vms.b.cost", swap({"cost": HUGE}, {"cost": HUGE})),
    "offline_cost": ("vms.b.offline_cost", swap({"offline_cost": HUGE}, {"offline_cost": HUGE})),
    "live and offline": ("vms.a.offline_cost", swap({"cost": HUGE, "offline_cost": 1.1 * HUGE}, {})),
    "ram, the default cost": ("vms.b.ram", {**swap({}, {}), "hosts": {h: {} for h in SWAP["hosts"]},
                                            "vms": {"a": {"ram": HUGE}, "b": {"ram": HUGE}}}),
    "live: false": ("vms.b.cost", swap({"live": False, "cost": HUGE}, {"live": False, "cost": HUGE})),
    "one VM past float range": ("vms.a.cost", swap({"cost": 1.7e308}, {})),
}


@pytest.mark.parametrize("case", CASES)
def test_costs_that_could_overflow_are_bad_input(case):
    key, spec = CASES[case]
    with pytest.raises(InputError) as info:
        Instance(**spec, source="cloud.yaml")
    assert str(info.value).startswith(f"cloud.yaml: {key}: the costs of the VMs up to ")
    assert f"sum past {MAX_TOTAL_COST:g}" in str(info.value)


@pytest.mark.parametrize("command", ["plan", "validate", "show", "target"])
@pytest.mark.parametrize("name", ["cloud.json", "cloud.yaml"])
def test_the_command_line_refuses_them_in_one_line(tmp_path, capsys, command, name):
    """Two VMs of cost 1e308: exit 2 and one line, never 'infeasible', no plan written."""
    path = tmp_path / name
    spec = swap({"cost": 1e308}, {"cost": 1e308})
    path.write_text(json.dumps(spec).replace("1e+308", "1.0e+308"))  # JSON is YAML too (with a dot)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text('{"status": "unknown", "rounds": []}')
    args = {"plan": ["-o", str(tmp_path / "out.json")], "validate": [str(plan_file)],
            "show": [str(plan_file)], "target": ["--goal", "consolidate", "-o", str(tmp_path / "out.yaml")]}
    assert main([command, str(path), *args[command]]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and f"{name}: vms.a.cost: the costs of the VMs" in err
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize("cost", [lambda vm: 1e308, lambda vm: HUGE, lambda vm: 10**400])
def test_a_cost_function_whose_costs_could_overflow_is_refused(cost):
    inst = Instance(**swap({}, {}))
    with pytest.raises(ValueError, match="^cost: ") as info:
        cpplan.plan(inst, planner="exact", cost=cost)
    assert isinstance(info.value, InputError)


def test_offline_costs_count_with_a_cost_function():
    inst = Instance(**swap({"offline_cost": HUGE}, {}))
    assert inst.with_cost(lambda vm: 1).cost.tolist() == [1, 1]
    with pytest.raises(InputError, match="up to 'a'"):
        inst.with_cost(lambda vm: HUGE)


def test_generated_clouds_are_checked_too():
    inst = generate("rebalance", 4, 1)
    assert inst.with_cost(lambda vm: MAX_TOTAL_COST / inst.n_vms / 2).n_vms == inst.n_vms
    with pytest.raises(InputError, match="sum past"):
        inst.with_cost(lambda vm: MAX_TOTAL_COST / 2)
    with pytest.raises(InputError, match="sum past"):
        inst.replace(vms={v: {"ram": 1, "cost": MAX_TOTAL_COST / 2} for v in inst.vm_names})


@pytest.mark.parametrize("planner", ["exact", "greedy", "cp", "auto"])
def test_costs_just_under_the_bound_give_finite_proven_plans(planner):
    """Each VM costs a third of the bound and the plan bounces one: its cost, 3 costs, stays finite."""
    third = MAX_TOTAL_COST / 3.01
    inst = Instance(**swap({"cost": third}, {"cost": third}))
    result = cpplan.plan(inst, planner=planner, time_limit=10)
    assert result.status in ("optimal", "feasible") and cpplan.validate(inst, result) == []
    assert result.cost == pytest.approx(3 * third) and 0 < result.lower_bound <= result.cost
    assert json.loads(json.dumps(result.to_dict()))["lower_bound"] == pytest.approx(result.lower_bound)
