"""Experiments: the file format and its errors, the runner, results.csv, summary.md, plots, the CLI."""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

import cpplan
import cpplan.generate
import cpplan.plots
from cpplan.budget import Interrupt
from cpplan.cli import main
from cpplan.errors import InputError, InvalidPlanError
from cpplan.experiments import Experiment, load_experiment, run_experiment
from cpplan.results import COLUMNS, read_results

# Two hosts swap-free: a moves h1 -> h2 (cost 4); b stays.
CLOUD = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}},
         "vms": {"a": {"ram": 4}, "b": {"ram": 2}},
         "initial": {"a": "h1", "b": "h2"}, "target": {"a": "h2"}}
# A bounce: x and y swap between two full hosts, through h3.
BOUNCE = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
          "vms": {"x": {"ram": 4}, "y": {"ram": 4}},
          "initial": {"x": "h1", "y": "h2"}, "target": {"x": "h2", "y": "h1"}}


@pytest.fixture
def experiment(tmp_path):
    """An experiment file in tmp/exp/ whose instances sit one folder up (relative paths)."""
    (tmp_path / "clouds").mkdir()
    (tmp_path / "clouds" / "cloud.yaml").write_text(yaml.safe_dump(CLOUD))
    (tmp_path / "clouds" / "bounce.yaml").write_text(yaml.safe_dump(BOUNCE))
    (tmp_path / "exp").mkdir()
    path = tmp_path / "exp" / "exp.yaml"
    path.write_text(yaml.safe_dump({"name": "tiny", "instances": [{"files": "../clouds/*.yaml"}],
                                    "planners": ["exact"], "time_limit": 5, "repeat": 2}))
    return path


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_experiment_writes_results_summary_and_plans(experiment, tmp_path):
    out = tmp_path / "out"
    assert main(["experiment", str(experiment), "-o", str(out), "--quiet", "--no-plots"]) == 0
    table = _csv(out / "results.csv")
    assert tuple(table[0]) == COLUMNS
    rows = read_results(out / "results.csv")
    assert [(r["instance"], r["planner"]) for r in rows] == [("bounce", "exact")] * 2 + [
        ("cloud", "exact")] * 2
    bounce, cloud = rows[0], rows[2]
    assert (bounce["hosts"], bounce["vms"], bounce["moving"]) == (3, 2, 2)
    assert bounce["status"] == "optimal" and bounce["cost"] == 12 and bounce["valid"] is True
    assert cloud["cost"] == cloud["lower_bound"] == 4 and cloud["rounds"] == 1
    assert all(r["seconds"] >= 0 for r in rows)
    plans = sorted(p.name for p in (out / "plans").iterdir())
    assert plans == ["bounce__exact.json", "bounce__exact__r2.json", "cloud__exact.json",
                     "cloud__exact__r2.json"]
    inst = cpplan.load_instance(tmp_path / "clouds" / "bounce.yaml")
    assert cpplan.validate(inst, cpplan.load_plan(out / "plans" / "bounce__exact.json")) == []
    summary = (out / "summary.md").read_text()
    assert "# tiny" in summary and "| exact | 4 | 4 |" in summary and "**12*** · 3 r" in summary


def test_valid_is_the_validators_verdict(experiment, tmp_path, monkeypatch):
    calls = []

    def refuse(inst, plan, **kw):
        calls.append(plan)
        return ["made-up violation"]

    monkeypatch.setattr(cpplan, "validate", refuse)
    exp = load_experiment(experiment)
    results = run_experiment(exp, tmp_path / "out")
    assert len(calls) == len(results) == 4
    assert [r.plan for r in results] == calls
    assert {r.row["valid"] for r in results} == {False}
    assert {row["valid"] for row in read_results(tmp_path / "out" / "results.csv")} == {False}
    assert "made-up violation" in (tmp_path / "out" / "summary.md").read_text()


def test_a_failing_planner_is_recorded_not_fatal(experiment, tmp_path, monkeypatch):
    real_plan = cpplan.plan

    def flaky(inst, planner, **kw):
        if inst.n_hosts == 3:
            raise RuntimeError("solver crashed")
        if kw.get("seed") == 1:
            raise InvalidPlanError(planner, ["round 1: host h1 over capacity"])
        return real_plan(inst, planner, **kw)

    monkeypatch.setattr(cpplan, "plan", flaky)
    results = run_experiment(load_experiment(experiment), tmp_path / "out")
    assert [(r.row["status"], r.row["valid"]) for r in results] == [
        ("error", ""), ("error", ""), ("optimal", True), ("error", False)]
    assert results[0].row["cost"] == "" and "solver crashed" in results[0].error
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "RuntimeError: solver crashed" in summary and "over capacity" in summary


def test_unknown_and_infeasible_rows_have_no_cost(tmp_path, monkeypatch):
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump(CLOUD))
    monkeypatch.setattr(cpplan, "plan", lambda inst, planner, **kw: cpplan.Plan(
        "unknown", 0, [], planner=planner, lower_bound=4, rounds_lower_bound=1, reason="too big"))
    exp = Experiment.from_dict({"instances": [{"file": "cloud.yaml"}], "planners": ["exact"]},
                               base_dir=tmp_path)
    (result,) = run_experiment(exp, tmp_path / "out")
    assert result.row | {"seconds": 0} == {
        "instance": "cloud", "hosts": 2, "vms": 2, "moving": 1, "planner": "exact", "status": "unknown",
        "cost": "", "rounds": "", "lower_bound": 4, "rounds_lower_bound": 1, "seconds": 0, "valid": True}


def test_generated_instances_are_named_by_family_size_and_seed():
    exp = Experiment.from_dict({"instances": [{"generate": {"family": "rebalance", "hosts": 3, "seed": 2}},
                                              {"generate": {"family": "tight", "hosts": 4}, "name": "t4"}],
                                "planners": ["greedy", "cp"]})
    assert [spec.label for spec in exp.instances] == ["rebalance-3-s2", "t4"]
    assert exp.instances[0].load().n_hosts == 3
    assert [r.name for r in exp.runs][:2] == ["rebalance-3-s2__greedy", "rebalance-3-s2__cp"]


def test_generate_lists_sweep_every_combination():
    exp = Experiment.from_dict({"instances": [{"generate": {"family": ["shuffle", "tight"], "hosts": [4, 10],
                                                            "seed": 3}}], "planners": ["greedy"]})
    assert [spec.label for spec in exp.instances] == ["shuffle-4-s3", "shuffle-10-s3", "tight-4-s3",
                                                      "tight-10-s3"]



def test_generate_groups_adds_anti_affinity_groups_and_names_them():
    exp = Experiment.from_dict({"instances": [{"generate": {"family": "rebalance", "hosts": 10, "seed": 1,
                                                            "groups": [0, 0.3]}}], "planners": ["greedy"]})
    plain, grouped = exp.instances
    assert [plain.label, grouped.label] == ["rebalance-10-s1", "rebalance-10-s1-g0.3"]
    assert not plain.load().groups and grouped.load().groups

BAD_EXPERIMENTS = [
    ("instances: [{generate: {family: tight, hosts: 4, groups: 2}}]\nplanners: [exact]\n",
     "instances[0].generate.groups: must be a fraction between 0 and 1"),
    ("planners: [exact]\n", "instances: missing"),
    ("instances: []\nplanners: [exact]\n", "instances: must be a non-empty list"),
    ("instances: [{file: cloud.yaml}]\nplanners: [fastest]\n", "planners[0]: unknown planner 'fastest'"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\ntime_limit: -1\n",
     "time_limit: must be a positive"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\nrepeat: 0\n", "repeat: must be an integer from 1"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\nrepeat: 1000000000000\n", "repeat: must be an"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\nrepeat: 1" + "0" * 400 + "\n", "repeat: must"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\ntime_limit: 1" + "0" * 400 + "\n",
     "time_limit: must be a positive number"),
    ("instances: [{file: cloud.yaml}]\nplanners: [cp]\nseed: 2147483648\n",
     "seed: must be an integer from 0 to 2147483647"),
    ("instances: [{file: cloud.yaml}]\nplanners: [cp]\nseed: 2147483647\nrepeat: 2\n",
     "seed: must be an integer from 0 to 2147483646"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\ncolour: red\n", "colour: unknown key"),
    ("instances: [{file: nowhere.yaml}]\nplanners: [exact]\n", "instances[0].file: no such instance file"),
    ("instances: [{files: 'none/*.yaml'}]\nplanners: [exact]\n", "instances[0].files: no file matches"),
    ("instances: [{file: bad.yaml}]\nplanners: [exact]\n", "bad.yaml: vms.a.ram: must be a non-negative"),
    ("instances: [{file: cloud.yaml}, {file: cloud.yaml}]\nplanners: [exact]\n", "listed twice"),
    ("instances: [{file: cloud.yaml, generate: {family: tight, hosts: 4}}]\nplanners: [exact]\n",
     "instances[0]: must have exactly one of file, files, generate"),
    ("instances: [{generate: {family: chaos, hosts: 4}}]\nplanners: [exact]\n",
     "instances[0].generate.family: unknown family 'chaos'"),
    ("instances: [{generate: {family: tight, hosts: 1}}]\nplanners: [exact]\n",
     "hosts: must be an integer from 2 to"),
    ("instances: [{generate: {family: tight, hosts: 1000000000}}]\nplanners: [exact]\n",
     "hosts: must be an integer from 2 to 100000, got 1000000000"),
    ("instances: [{generate: {family: tight, size: 4}}]\nplanners: [exact]\n", "generate.size: unknown key"),
    ("instances: [{file: cloud.yaml}]\nplanners: [exact]\nexecutor: slurm\n", "executor: must be one of"),
    ("instances: [{generate: {family: [tight, chaos], hosts: 4}}]\nplanners: [exact]\n",
     "unknown family 'chaos'"),
    ("instances: [{generate: {family: tight, hosts: []}}]\nplanners: [exact]\n", "must not be an empty list"),
    ("instances: [{generate: {family: tight, hosts: [4, 8]}, name: t}]\nplanners: [exact]\n",
     "instances[0].name: only for a single generated cloud"),
    ("instances: [{file: cloud.yaml}\n", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_EXPERIMENTS, ids=[m for _, m in BAD_EXPERIMENTS])
def test_bad_experiment_files_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, text, message):
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump(CLOUD))
    (tmp_path / "bad.yaml").write_text("hosts: {h1: {ram: 8}}\nvms: {a: {ram: -4}}\ninitial: {a: h1}\n")
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    assert main(["experiment", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("cpplan: ")
    assert not out.exists()
    with pytest.raises(InputError):
        load_experiment(path)


def test_plots_are_written_when_asked(experiment, tmp_path):
    out = tmp_path / "out"
    assert main(["experiment", str(experiment), "-o", str(out), "--quiet", "--plots"]) == 0
    for name in ("cost_ratio.png", "seconds.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_without_matplotlib_say_how_to_install(experiment, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cpplan.plots, "matplotlib_available", lambda: False)
    assert main(["experiment", str(experiment), "-o", str(tmp_path / "out"), "--plots"]) == 2
    assert "pip install cpplan[plot]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["experiment", str(experiment), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    assert not (tmp_path / "out" / "seconds.png").exists()


def test_progress_bar_and_planner_table_go_to_stderr(experiment, tmp_path, capsys):
    assert main(["experiment", str(experiment), "-o", str(tmp_path / "out"), "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "4/4" in captured.err and "results.csv" in captured.err
    assert "cost/LB" in captured.err and any(line.split()[:2] == ["exact", "4"]
                                             for line in captured.err.splitlines())


# CI installs the ray extra, so there this test always runs; elsewhere it needs pip install cpplan[ray]
@pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
                    reason="ray is not installed (optional extra: pip install cpplan[ray])")
def test_ray_executor_gives_the_local_results(experiment, tmp_path):
    exp = load_experiment(experiment)
    local = run_experiment(exp, tmp_path / "local")
    fanned = run_experiment(exp, tmp_path / "ray", executor="ray")
    strip = lambda results: [r.row | {"seconds": None} for r in results]  # noqa: E731
    assert strip(fanned) == strip(local)


def test_ctrl_c_outside_a_planners_handler_keeps_the_finished_runs_and_marks_the_cut_one(
        experiment, tmp_path, capsys, monkeypatch):
    real_plan, calls = cpplan.plan, []

    def interrupted(inst, planner, **kw):
        calls.append(planner)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_plan(inst, planner, **kw)

    monkeypatch.setattr(cpplan, "plan", interrupted)
    out = tmp_path / "out"
    assert main(["experiment", str(experiment), "-o", str(out), "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert len(calls) == 3  # the fourth run never started
    rows = read_results(out / "results.csv")
    assert [(r["instance"], r["status"]) for r in rows] == [("bounce", "optimal")] * 2 + [
        ("cloud", "interrupted")]
    assert rows[2]["cost"] is None and rows[2]["valid"] is None
    assert sorted(p.name for p in (out / "plans").iterdir()) == [
        "bounce__exact.json", "bounce__exact__r2.json"]
    summary = (out / "summary.md").read_text()
    assert "**Interrupted** after 2 of 4 runs; cut short (status `interrupted`): `cloud__exact`." in summary
    assert "| exact | 3 | 2 | 0 | 0 | 0 | 0 | 1 | 2/3 |" in summary
    assert "| cloud | 2 | 2 | 1 |  | interrupted · " in summary


def test_ctrl_c_caught_by_a_planner_keeps_its_plan_so_far_and_stops_the_experiment(
        experiment, tmp_path, monkeypatch):
    real_plan, calls = cpplan.plan, []

    def caught(inst, planner, **kw):  # as cp does: the handler swallows Ctrl-C, the best plan comes back
        calls.append(planner)
        if len(calls) == 2:
            with Interrupt() as stop:
                os.kill(os.getpid(), signal.SIGINT)
                assert stop.requested
        return real_plan(inst, planner, **kw)

    monkeypatch.setattr(cpplan, "plan", caught)
    exp = load_experiment(experiment)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, tmp_path / "out", plots=True)
    assert len(calls) == 2
    rows = read_results(tmp_path / "out" / "results.csv")
    assert [r["status"] for r in rows] == ["optimal", "interrupted"]
    assert rows[1]["cost"] == 12 and rows[1]["valid"] is True
    assert (tmp_path / "out" / "plans" / "bounce__exact__r2.json").exists()
    assert not (tmp_path / "out" / "seconds.png").exists()


def test_ctrl_c_stops_a_real_experiment_process_during_a_long_cp_run(tmp_path):
    """SIGINT to `cpplan experiment` while cp searches (a 120 s limit): exit 130 within seconds,
    the finished row kept, the cut run marked, nothing further run."""
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump(CLOUD))
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({
        "name": "long", "planners": ["greedy", "cp"], "time_limit": 120,
        "instances": [{"generate": {"family": "tight", "hosts": 6, "seed": 1, "groups": 0.5}},
                      {"file": "cloud.yaml"}]}))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "cpplan.cli", "experiment", str(tmp_path / "exp.yaml"),
                                "-o", str(out), "--no-plots"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _rows_written(out / "results.csv") and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        assert _rows_written(out / "results.csv"), "greedy's row never came"
        time.sleep(2)  # cp is searching now (it would search for about 114 s)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert code == 130, process.stderr.read()
    assert "interrupted" in process.stderr.read()
    rows = read_results(out / "results.csv")
    assert [(r["planner"], r["status"]) for r in rows] == [("greedy", "optimal"), ("cp", "interrupted")]
    assert rows[1]["cost"] is not None and rows[1]["valid"] is True
    inst = cpplan.generate.generate(family="tight", hosts=6, seed=1, groups=0.5)
    assert cpplan.validate(inst, cpplan.load_plan(out / "plans" / "tight-6-s1-g0.5__cp.json")) == []
    assert not any(p.name.startswith("cloud") for p in (out / "plans").iterdir())
    assert "cut short (status `interrupted`): `tight-6-s1-g0.5__cp`" in (out / "summary.md").read_text()


def _rows_written(path) -> bool:
    return path.exists() and len(path.read_text().splitlines()) >= 2


def test_ray_without_ray_says_how_to_install(experiment, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # an import of ray fails, installed or not
    assert main(["experiment", str(experiment), "-o", str(tmp_path / "out"), "--ray"]) == 2
    assert "pip install cpplan[ray]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
