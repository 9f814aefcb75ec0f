"""What the commands write: never one of their own inputs, and any refusal is one short line, exit 2.

Every command that writes a file is tried with an output that is its input by name, through a
symlink, through a hard link and through a path with ``..``; the input must come out untouched and
the refusal must come before any planning (the planner is replaced by one that fails the test).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import cpplan
import cpplan.cli
from cpplan.cli import main

SWAP = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
        "vms": {"a": {"ram": 8}, "b": {"ram": 8}}, "initial": {"a": "h1", "b": "h2"},
        "target": {"a": "h2", "b": "h1"}}


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_refusal(code: int, err: str, *words: str) -> bool:
    return code == 2 and err.count("\n") == 1 and err.startswith("cpplan: ") and all(w in err for w in words)


@pytest.fixture
def cloud(tmp_path) -> Path:
    path = tmp_path / "cloud.yaml"
    cpplan.save_instance(cpplan.Instance(**SWAP), path)
    return path


@pytest.fixture
def plan_file(tmp_path, cloud) -> Path:
    path = tmp_path / "plan.json"
    cpplan.save_plan(cpplan.plan(cpplan.load_instance(cloud), "exact"), path)
    return path


def aliases(path: Path) -> list[Path]:
    """``path`` itself and three other names for it: a symlink, a hard link and a path through ``..``."""
    (path.parent / "sub").mkdir(exist_ok=True)
    symlink, hard = path.with_name(f"link-{path.name}"), path.with_name(f"hard-{path.name}")
    for link, make in ((symlink, os.symlink), (hard, os.link)):
        if not link.exists():
            make(path, link)
    return [path, symlink, hard, path.parent / "sub" / ".." / path.name]


@pytest.fixture
def no_planning(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("planned before checking the output")
    monkeypatch.setattr(cpplan.cli, "plan", fail)
    monkeypatch.setattr(cpplan.cli, "choose_target", fail)


@pytest.mark.parametrize("command", [["plan"], ["plan", "--goal", "consolidate"],
                                     ["target", "--goal", "consolidate"]], ids=" ".join)
def test_plan_and_target_never_overwrite_their_instance(capsys, cloud, no_planning, command):
    before = cloud.read_bytes()
    for output in aliases(cloud):
        code, out, err = run(capsys, command[0], cloud, *command[1:], "-o", output)
        assert one_refusal(code, err, "-o", "is the input file cloud.yaml"), err
        assert out == "" and cloud.read_bytes() == before


def test_show_never_draws_over_the_instance_or_the_plan(capsys, cloud, plan_file):
    pytest.importorskip("matplotlib")
    for source in (cloud, plan_file):
        before = source.read_bytes()
        for output in aliases(source):
            code, out, err = run(capsys, "show", cloud, plan_file, "--png", output)
            assert one_refusal(code, err, "--png", f"is the input file {source.name}"), err
            assert out == "" and source.read_bytes() == before


def test_an_output_that_is_not_an_input_is_still_written(capsys, cloud, tmp_path):
    code, _, err = run(capsys, "plan", cloud, "--planner", "exact", "-o", tmp_path / "sub-plan.json", "-q")
    assert code == 0, err
    assert cpplan.load_plan(tmp_path / "sub-plan.json").status == "optimal"


def experiment_file(tmp_path: Path, instance: Path, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"name: e\ninstances:\n  - file: {instance}\nplanners: [exact]\ntime_limit: 5\n")
    return path


@pytest.mark.parametrize("written", ["results.csv", "summary.md", "plans/cloud__exact.json",
                                     "cost_ratio.png"])
def test_experiment_never_writes_over_a_file_it_reads(capsys, tmp_path, cloud, monkeypatch, written):
    def fail(*args, **kwargs):
        raise AssertionError("ran before checking the outputs")
    monkeypatch.setattr("cpplan.experiments.run_experiment", fail)
    out = tmp_path / "out"
    (out / "plans").mkdir(parents=True)
    exp = experiment_file(tmp_path, cloud)
    if written.endswith(".png"):  # a plot's name only matters for an input of that name
        reads = out / written
        reads.write_text(cloud.read_text())
        exp = experiment_file(tmp_path, reads)
    else:
        for source in (cloud, exp):
            os.link(source, out / written)
            before = source.read_bytes()
            code, _, err = run(capsys, "experiment", exp, "-o", out)
            assert one_refusal(code, err, "-o", f"is the input file {source.name}"), err
            assert source.read_bytes() == before
            os.unlink(out / written)
        os.symlink(exp, out / written)
        reads = exp
    before = reads.read_bytes()
    code, _, err = run(capsys, "experiment", exp, "-o", out)
    assert one_refusal(code, err, "-o", f"is the input file {reads.name}"), err
    assert reads.read_bytes() == before


def test_experiment_into_an_existing_file_is_one_line_before_any_progress(capsys, tmp_path, cloud):
    exp = experiment_file(tmp_path, cloud)
    code, out, err = run(capsys, "experiment", exp, "-o", cloud)
    assert one_refusal(code, err, "cloud.yaml: -o: is a file, not a folder"), err
    assert out == ""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "plans").write_text("a file where the plans folder goes")
    code, out, err = run(capsys, "experiment", exp, "-o", tmp_path / "out")
    assert one_refusal(code, err, "plans: File exists"), err


@pytest.mark.parametrize("command", [["plan", "{cloud}", "-o"],
                                     ["target", "{cloud}", "--goal", "consolidate", "-o"],
                                     ["show", "{cloud}", "{plan}", "--png"], ["experiment", "{exp}", "-o"]],
                         ids=lambda c: c[0])
def test_an_empty_output_path_is_refused_not_stdout(capsys, tmp_path, cloud, plan_file, no_planning, command):
    if command[0] == "show":
        pytest.importorskip("matplotlib")
    exp = experiment_file(tmp_path, cloud)
    argv = [a.format(cloud=cloud, plan=plan_file, exp=exp) for a in command]
    code, out, err = run(capsys, *argv, "")
    assert one_refusal(code, err, "is empty"), err
    assert out == ""


def test_a_full_device_names_the_file(capsys, cloud):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    code, out, err = run(capsys, "plan", cloud, "--planner", "exact", "-o", "/dev/full", "-q")
    assert one_refusal(code, err, "cpplan: /dev/full: No space left on device"), err


def test_a_full_disk_names_the_file_not_the_temporary_one(capsys, cloud, tmp_path, monkeypatch):
    def full(fd, *args, **kwargs):
        raise OSError(28, "No space left on device")  # what a write on a full disk raises: no file named
    monkeypatch.setattr(os, "fdopen", full)
    code, out, err = run(capsys, "plan", cloud, "--planner", "exact", "-o", tmp_path / "p.json", "-q")
    assert one_refusal(code, err, "p.json: No space left on device"), err
    assert not (tmp_path / "p.json").exists() and not list(tmp_path.glob(".p.json.*"))


@pytest.mark.parametrize("name", ["a\nb/plan.json", "new\rline\x1b[2J/plan.json",
                                  "x" * 300_000 + "/plan.json", "y" * 300_000],
                         ids=["newline", "control characters", "huge folder", "huge name"])
def test_a_strange_or_huge_output_path_is_one_short_line(capsys, cloud, tmp_path, name):
    code, out, err = run(capsys, "plan", cloud, "--planner", "exact", "-o", tmp_path / name, "-q")
    assert one_refusal(code, err), err
    assert len(err) < 2000 and "\x1b" not in err and "\r" not in err


@pytest.mark.parametrize("where", ["top-level key", "host", "plan status", "plan vm"])
def test_a_megabyte_name_gives_a_short_line(capsys, tmp_path, cloud, plan_file, where):
    huge = "n" * 1_000_000
    data = dict(SWAP)
    plan = json.loads(plan_file.read_text())
    if where == "top-level key":
        data = {**data, huge: 1}
    elif where == "host":
        data = {**data, "initial": {"a": huge, "b": "h2"}}
    elif where == "plan status":
        plan["status"] = huge
    else:
        plan["rounds"][0][0]["vm"] = huge
    cloud.write_text(json.dumps(data))  # JSON is YAML
    plan_file.write_text(json.dumps(plan))
    code, out, err = run(capsys, "validate", cloud, plan_file)
    assert code in (1, 2) and "Traceback" not in err
    assert max(map(len, err.splitlines())) < 2000, len(err)
    assert code == 1 or err.count("\n") == 1
