"""--workers N: cp's independent parts solved side by side give a plan as good as one by one.

The clouds here are racks (helpers.racks): copies of a small cloud on disjoint hosts, so that cp's
decomposition (planners/cp/decompose.py) finds one part per rack.
"""

from __future__ import annotations

import json
import sys

import pytest
from helpers import racks, write_file

import cpplan
from cpplan.cli import main
from cpplan.errors import InputError
from cpplan.generate import generate
from cpplan.model import Instance
from cpplan.parallel import Workers
from cpplan.planners import cp

# One plan only: y must leave b before x can arrive (a live migration holds both ends).
CHAIN = {"hosts": {"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 4}},
         "vms": {"x": {"ram": 4}, "y": {"ram": 4}},
         "initial": {"x": "a", "y": "b"}, "target": {"x": "b", "y": "c"}}


@pytest.fixture(scope="module")
def tight_racks(tmp_path_factory):
    """Three racks of a tight cloud where greedy needs a round more than the bound, so cp solves
    every rack's direct moves."""
    cloud = racks([generate("tight", 6, seed=4).to_dict()] * 3)
    return write_file(tmp_path_factory.mktemp("racks") / "tight-racks.json", cloud)


def _plan_cli(path, tmp_path, capsys, *options):
    out = tmp_path / f"plan{len(options)}.json"
    code = main(["plan", str(path), "-o", str(out), "--time-limit", "60", *options])
    return code, json.loads(out.read_text()), capsys.readouterr().err


def test_plan_with_two_workers_costs_the_same_in_no_more_rounds(tight_racks, tmp_path, capsys):
    code1, one, _ = _plan_cli(tight_racks, tmp_path, capsys)
    code2, two, err = _plan_cli(tight_racks, tmp_path, capsys, "--workers", "2")
    assert code1 == code2 == 0
    assert "cp: direct moves of 3 independent parts, 2 at a time (local workers)" in err
    assert two["stats"]["parts"] == one["stats"]["parts"] == 3
    assert two["cost"] == one["cost"]
    assert len(two["rounds"]) <= len(one["rounds"])
    assert two["status"] == one["status"] == "optimal"
    assert cpplan.validate(cpplan.load_instance(tight_racks), cpplan.Plan.from_dict(two)) == []


def test_parts_solved_side_by_side_give_the_same_plan_as_one_by_one():
    inst = Instance(**racks([CHAIN] * 4))
    one = cp.plan(inst, time_limit=60, warm_start=False)  # no greedy plan: cp solves each rack
    two = cp.plan(inst, time_limit=60, warm_start=False, parallel=Workers(2))
    assert two.stats["parts"] == one.stats["parts"] == 4
    assert two.stats["variables"] == one.stats["variables"] > 0  # the same models were built
    assert two.routes() == one.routes()
    assert [[m["vm"] for m in r] for r in two.rounds] == [[f"r{k}-y" for k in range(4)],
                                                            [f"r{k}-x" for k in range(4)]]
    full = cpplan.plan(inst, "cp", time_limit=60, workers=2)  # greedy's plan, already optimal
    assert [sorted(m["vm"] for m in r) for r in full.rounds] == [[m["vm"] for m in r] for r in one.rounds]
    assert full.makespan == pytest.approx(cpplan.plan(inst, "cp", time_limit=60).makespan)


def test_target_with_two_workers_chooses_the_same_b_and_plan(tmp_path, capsys):
    # per rack, x (ram 3) fits beside y: consolidation frees a by moving x, the cheaper VM, to b
    rack = {"hosts": {"a": {"ram": 8}, "b": {"ram": 8}}, "vms": {"x": {"ram": 3}, "y": {"ram": 4}},
            "initial": {"x": "a", "y": "b"}}
    path = write_file(tmp_path / "racks.yaml", racks([rack] * 3))
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"b{workers}.yaml"
        assert main(["target", str(path), "--goal", "consolidate", "--workers", workers, "-o", str(out)]) == 0
        outputs.append(cpplan.load_instance(out))
    assert outputs[0].to_dict()["target"] == outputs[1].to_dict()["target"] == {
        f"r{k}-x": f"r{k}-b" for k in range(3)}
    api = [cpplan.choose_target(cpplan.load_instance(path), goal="consolidate", workers=w) for w in (1, 2)]
    assert api[0].cost == api[1].cost == 9
    assert api[1].plan.cost == api[0].plan.cost and api[1].plan.n_rounds <= api[0].plan.n_rounds


@pytest.mark.parametrize("command", ["plan", "target"])
@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "two"])
def test_bad_workers_exit_2_with_one_line(command, bad, tmp_path, capsys):
    path = write_file(tmp_path / "chain.yaml", CHAIN)
    goal = ["--goal", "consolidate"] if command == "target" else []
    out = tmp_path / "never.json"
    with pytest.raises(SystemExit) as exit_:
        main([command, str(path), *goal, f"--workers={bad}", "-o", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--workers" in err and bad in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("workers, executor, key", [(0, "local", "workers"), (-2, "local", "workers"),
                                                    (1.5, "local", "workers"), (True, "local", "workers"),
                                                    (2, "spark", "executor")])
def test_bad_workers_in_python_raise_one_line(workers, executor, key):
    inst = Instance(**CHAIN)
    with pytest.raises(InputError) as plan_error:
        cpplan.plan(inst, workers=workers, executor=executor)
    with pytest.raises(InputError) as target_error:
        cpplan.choose_target(inst, goal="consolidate", workers=workers, executor=executor)
    for error in (plan_error, target_error):
        assert error.value.key == key and "\n" not in str(error.value)


def test_ray_without_ray_exits_2_naming_the_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # an import of ray fails, installed or not
    path = write_file(tmp_path / "chain.yaml", CHAIN)
    assert main(["plan", str(path), "--workers", "2", "--ray", "-o", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "--ray" in err and "pip install cpplan[ray]" in err
    assert not (tmp_path / "p.json").exists()
