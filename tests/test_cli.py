"""The command line of SPEC section 6: `cpplan plan` outputs and exit codes, bad input as one
stderr line with exit 2 and no output file, `--help` everywhere."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys

import pytest
from helpers import MODELS
from test_loader import BAD_YAML

import cpplan
from cpplan.cli import build_parser, main

SWAP = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
        "vms": {"a": {"ram": 4}, "b": {"ram": 4}},
        "initial": {"a": "h1", "b": "h2"}, "target": {"a": "h2", "b": "h1"}}
# h2 accepts no migration at all, so a can never reach it.
FROZEN = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4, "max_migrations": 0}},
          "vms": {"a": {"ram": 1}}, "initial": {"a": "h1"}, "target": {"a": "h2"}}
# Too many VMs for the exact planner, which says so instead of searching for hours.
CROWD = {"hosts": {"h1": {}, "h2": {}}, "vms": {f"v{i}": {"ram": 1} for i in range(60)},
         "initial": {f"v{i}": "h1" for i in range(60)}, "target": {"v0": "h2"}}


def plan_cli(capsys, *args):
    """Run `cpplan plan ...`; returns (exit code, stdout, stderr)."""
    code = main(["plan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_writes_valid_json_to_output_file(write_instance, tmp_path, capsys):
    instance = write_instance(SWAP)
    output = tmp_path / "plan.json"
    code, out, err = plan_cli(capsys, instance, "--planner", "exact", "-o", output)
    assert code == 0 and out == ""
    data = json.loads(output.read_text())
    assert data["status"] == "optimal" and data["cost"] == 12
    assert cpplan.validate(cpplan.load_instance(instance), cpplan.load_plan(output)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml", "plan.json"]  # no temp file left
    assert main(["validate", str(instance), str(output)]) == 0


def test_output_file_gets_the_usual_permissions(write_instance, tmp_path, capsys):
    """The atomic write must not leave the plan private to its owner (mkstemp's 0600)."""
    output = tmp_path / "plan.json"
    old_umask = os.umask(0o022)
    try:
        assert plan_cli(capsys, write_instance(SWAP), "--planner", "exact", "-q", "-o", output)[0] == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(output.stat().st_mode) == 0o644


def test_plan_writes_json_to_stdout_and_summary_to_stderr(write_instance, capsys):
    code, out, err = plan_cli(capsys, write_instance(SWAP), "--planner", "exact")
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"status", "cost", "rounds", "planner", "lower_bound"}
    assert data["lower_bound"] == 12 and data["cost"] == 12
    summary = err.strip().splitlines()[-1]
    for words in ("optimal", "cost 12", "rounds", "migrations"):
        assert words in summary
    assert "{" not in err


def test_quiet_plan_prints_nothing_on_stderr(write_instance, capsys):
    code, out, err = plan_cli(capsys, write_instance(SWAP), "--planner", "exact", "-q")
    assert code == 0 and err == "" and json.loads(out)["status"] == "optimal"


def test_plan_exit_3_when_proven_infeasible(write_instance, tmp_path, capsys):
    output = tmp_path / "plan.json"
    code, out, err = plan_cli(capsys, write_instance(FROZEN), "--planner", "exact", "-o", output)
    assert code == 3
    data = json.loads(output.read_text())
    assert data["status"] == "infeasible" and data["rounds"] == []
    assert "infeasible" in err and "max_migrations 0" in err


def test_plan_exit_4_when_no_plan_is_found(write_instance, capsys):
    code, out, err = plan_cli(capsys, write_instance(CROWD), "--planner", "exact")
    assert code == 4
    assert json.loads(out)["status"] == "unknown"
    assert "unknown" in err


def test_plan_exit_0_when_nothing_moves(write_instance, capsys):
    code, out, _ = plan_cli(capsys, write_instance({**SWAP, "target": {}}), "--planner", "exact")
    assert code == 0 and json.loads(out) | {"stats": {}} == {
        "status": "optimal", "cost": 0, "rounds": [], "planner": "exact", "lower_bound": 0,
        "rounds_lower_bound": 0, "makespan": 0, "makespan_lower_bound": 0,
        "reason": "every VM is already on its target", "stats": {}}


@pytest.mark.parametrize("text", [c[1] for c in BAD_YAML], ids=[c[0] for c in BAD_YAML])
def test_bad_input_exits_2_with_one_line_and_no_output_file(write_instance, tmp_path, capsys, text):
    output = tmp_path / "plan.json"
    code, out, err = plan_cli(capsys, write_instance(text), "--planner", "exact", "-o", output)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cpplan: cloud.yaml: ")
    assert "Traceback" not in err
    assert not output.exists()


@pytest.mark.parametrize("args, words", [
    (["plan", "MISSING.yaml"], "no such instance file"),
    (["plan", "{instance}", "--time-limit", "soon"], "--time-limit"),
    (["plan", "{instance}", "--time-limit", "0"], "must be positive"),
    (["plan", "{instance}", "--planner", "magic"], "invalid choice"),
    (["plan", "{instance}", "--planner", "exact", "-o", "{tmp}/no/dir/plan.json"], "no such folder"),
    (["plan", "{instance}", "-o", "{tmp}"], "is a directory"),
    (["target", "{instance}", "--goal", "consolidate", "-o", "{tmp}/no/dir/b.yaml"], "no such folder"),
    (["plan", "{instance}", "--drain", "h1"], "--drain: chooses B, so it needs --goal"),
    (["plan", "{instance}", "--max-moves", "3"], "--max-moves: chooses B, so it needs --goal"),
    (["plan"], "required"),
    (["validate", "{instance}"], "required"),
    (["launch"], "invalid choice"),
    ([], "required"),
])
def test_usage_and_file_errors_exit_2_with_one_line(write_instance, tmp_path, capsys, args, words):
    instance = write_instance(SWAP)
    argv = [a.format(instance=instance, tmp=tmp_path) for a in args]
    try:
        code = main(argv)
    except SystemExit as e:  # argparse usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and "Traceback" not in err
    assert err.count("\n") == 1


def subcommands() -> list[str]:
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


def test_plan_and_validate_are_subcommands():
    assert {"plan", "validate"} <= set(subcommands())


@pytest.mark.parametrize("command", [[]] + [[name] for name in subcommands()], ids=lambda c: " ".join(c))
def test_help_exits_0(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: cpplan")


def run_module(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cpplan", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_bad_input_is_one_line_and_writes_nothing(write_instance, tmp_path):
    instance = write_instance("hosts: {h1: {ram: 8}}\nvms: {a: {ram: -4}}\ninitial: {a: h1}\n")
    run = run_module("plan", instance, "--planner", "exact", "-o", "out.json", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == "cpplan: cloud.yaml: vms.a.ram: must be a non-negative number, got -4\n"
    assert run.stdout == ""
    assert not (tmp_path / "out.json").exists()


def test_subprocess_plan_then_validate(write_instance, tmp_path):
    instance = write_instance(SWAP)
    run = run_module("plan", instance, "--planner", "exact", "-o", "out.json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "optimal" in run.stderr and "Traceback" not in run.stderr
    check = run_module("validate", instance, "out.json", cwd=tmp_path)
    assert check.returncode == 0 and check.stderr.startswith("valid: ") and check.stderr.count("\n") == 1


def test_output_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("{}")
    link.symlink_to(real)
    args = ["plan", str(MODELS / "swap-deadlock.yaml"), "--planner", "greedy", "-q", "-o", str(link)]
    assert main(args) == 0
    assert link.is_symlink() and json.loads(real.read_text())["cost"] == 160


def test_output_to_a_device_writes_through_it_and_leaves_it_a_device():
    assert main(["plan", str(MODELS / "swap-deadlock.yaml"), "--planner", "greedy", "-q",
                 "-o", os.devnull]) == 0
    assert not os.path.isfile(os.devnull)


def test_a_plan_file_may_state_its_rounds_bound_as_a_whole_float(tmp_path, capsys):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"status": "feasible", "cost": 0, "rounds": [], "rounds_lower_bound": 1.0}))
    # a well-formed file whose plan does not finish: invalid (1), not bad input (2)
    assert main(["validate", str(MODELS / "swap-deadlock.yaml"), str(path)]) == 1
    assert "rounds_lower_bound" not in capsys.readouterr().err


@pytest.mark.parametrize("key, text, problem", [
    ("lower_bound", '"x"', "lower_bound: must be a finite number, got 'x'"),
    ("lower_bound", "NaN", "lower_bound: must be a finite number, got nan"),
    ("cost", "1" + "0" * 400, "cost: must be a finite number, got 1" + "0" * 39 + "..."),
    ("cost", "Infinity", "cost: must be a finite number, got inf"),
    ("rounds_lower_bound", "1.5", "rounds_lower_bound: must be a whole number of rounds, got 1.5"),
    ("rounds_lower_bound", "-1", "rounds_lower_bound: must be a whole number of rounds, got -1"),
])
@pytest.mark.parametrize("command", ["show", "validate"])
def test_a_plan_file_with_a_bad_number_is_bad_input(tmp_path, capsys, command, key, text, problem):
    path = tmp_path / "plan.json"
    plan = {"status": "feasible", "cost": 0, "rounds": [], key: "@"}
    path.write_text(json.dumps(plan).replace('"@"', text))
    assert main([command, str(MODELS / "swap-deadlock.yaml"), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.strip().endswith(f"plan.json: {problem}")


@pytest.mark.parametrize("value", ["-1", "99999999999999999999", "x"])
def test_a_seed_out_of_range_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["plan", str(MODELS / "swap-deadlock.yaml"), "--seed", value])
    assert stop.value.code == 2 and "--seed: must be an integer from 0" in capsys.readouterr().err
