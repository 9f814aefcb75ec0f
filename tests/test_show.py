"""cpplan show: the plan as a table per round, and its timeline picture."""

from __future__ import annotations

import json

import pytest
import yaml

import cpplan
import cpplan.plots
from cpplan.cli import main
from cpplan.plan import Plan
from cpplan.show import plan_table, replay_loads

# x and y swap between two full hosts by bouncing x through h3.
BOUNCE = {"hosts": {"h1": {"ram": 4, "cpu": 8}, "h2": {"ram": 4, "cpu": 8}, "h3": {"ram": 8}},
          "vms": {"x": {"ram": 4, "cpu": 2}, "y": {"ram": 4, "cpu": 6, "cost": 10}},
          "initial": {"x": "h1", "y": "h2"}, "target": {"x": "h2", "y": "h1"}}
ROUNDS = [[{"vm": "x", "from": "h1", "to": "h3"}],
          [{"vm": "y", "from": "h2", "to": "h1"}],
          [{"vm": "x", "from": "h3", "to": "h2"}]]


@pytest.fixture
def files(tmp_path):
    instance = tmp_path / "bounce.yaml"
    instance.write_text(yaml.safe_dump(BOUNCE, sort_keys=False))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"status": "optimal", "cost": 18, "rounds": ROUNDS, "planner": "exact",
                                "lower_bound": 18, "rounds_lower_bound": 2}))
    return instance, plan


def test_table_lists_each_round_and_the_touched_hosts_load_after_it(files):
    inst, plan = cpplan.load_instance(files[0]), cpplan.load_plan(files[1])
    lines = plan_table(inst, plan).splitlines()
    assert lines[0] == ("optimal (exact): cost 18, 3 rounds (lower bound 2), "
                        "3 migrations of 2 VMs to move")
    rounds = [i for i, line in enumerate(lines) if line.startswith("round ")]
    assert [lines[i] for i in rounds] == ["round 1: 1 migration, cost 4", "round 2: 1 migration, cost 10",
                                          "round 3: 1 migration, cost 4"]
    round2 = lines[rounds[1]:rounds[2]]
    assert round2[1].split() == ["vm", "from", "to", "cost"]
    assert round2[2].split() == ["y", "h2", "h1", "10"]
    assert round2[3].split() == ["load", "after", "round", "2", "ram", "cpu"]
    # After round 2: h1 holds y (ram 4/4, cpu 6/8), h2 is empty; h3 is untouched so not listed.
    assert round2[4].split() == ["h1", "4/4", "100%", "6/8", "75%"]
    assert round2[5].split() == ["h2", "0/4", "0%", "0/8", "0%"]
    assert not any(line.split()[:1] == ["h3"] for line in round2)
    # A host without a capacity for a resource shows the bare load.
    assert lines[rounds[0] + 5].split() == ["h3", "4/8", "50%", "2"]


def test_replayed_loads_start_at_a_and_end_at_b(files):
    inst, plan = cpplan.load_instance(files[0]), cpplan.load_plan(files[1])
    loads = replay_loads(inst, plan)
    assert len(loads) == 4
    assert (loads[0] == inst.load(inst.initial)).all() and (loads[-1] == inst.load(inst.target)).all()


def test_a_plan_without_rounds_shows_its_status_and_reason(files):
    inst = cpplan.load_instance(files[0])
    text = plan_table(inst, Plan("unknown", 0, [], planner="cp", reason="time limit reached"))
    assert text == "unknown (cp): no plan; 2 VMs to move\nreason: time limit reached"


def test_cli_show_prints_the_table(files, capsys):
    assert main(["show", str(files[0]), str(files[1])]) == 0
    out = capsys.readouterr().out
    assert out.startswith("optimal (exact): cost 18") and out.count("round ") == 3 + 3


def test_cli_show_refuses_an_invalid_plan(files, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"status": "feasible", "cost": 14, "rounds": ROUNDS[1:]}))
    assert main(["show", str(files[0]), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "invalid" in captured.err


def test_cli_show_png_draws_the_timeline(files, tmp_path):
    png = tmp_path / "timeline.png"
    assert main(["show", str(files[0]), str(files[1]), "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeline_has_one_panel_per_resource_with_every_step(files):
    inst, plan = cpplan.load_instance(files[0]), cpplan.load_plan(files[1])
    fig = cpplan.plots.timeline_figure(inst, plan)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["ram used / capacity", "cpu used / capacity"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["A", "1", "2", "3"]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["h1", "h2", "h3"]


def test_cli_show_png_without_matplotlib_says_how_to_install(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cpplan.plots, "matplotlib_available", lambda: False)
    png = tmp_path / "timeline.png"
    assert main(["show", str(files[0]), str(files[1]), "--png", str(png)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "pip install cpplan[plot]" in captured.err
    assert captured.out == "" and not png.exists()
