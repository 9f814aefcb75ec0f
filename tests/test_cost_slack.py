"""The cost-for-time trade-off (``cost_slack``, ``cpplan plan --cost-slack``): 0 is the least-cost
plan as without it; with a slack the plan costs at most the least cost found times ``1 + slack``, is
valid, and its estimated makespan is never longer than the least-cost plan's."""

from __future__ import annotations

import json

import pytest
from helpers import tiny_case_paths

import cpplan
from cpplan.cli import main
from cpplan.objective import shortest_within
from cpplan.schedule import ordered_estimate

# Two full hosts swap their VMs; h3 holds both and every host runs two migrations at once. The least
# cost bounces one VM (cost 12, three rounds one after another); bouncing both costs 16 and runs in
# two rounds: a and b go to h3 together, then both go on to their targets.
SWAP = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 8}},
        "vms": {"a": {"ram": 4}, "b": {"ram": 4}},
        "initial": {"a": "h1", "b": "h2"}, "target": {"a": "h2", "b": "h1"}, "limits": {"host": 2}}
TRADE_STATS = ("least_cost", "cost_budget", "least_cost_makespan", "makespan_gained")


@pytest.mark.parametrize("planner", ["greedy", "exact"])
def test_no_slack_is_the_plan_without_it(planner):
    for case in tiny_case_paths():
        inst = cpplan.load_instance(case)
        plain = cpplan.plan(inst, planner=planner, time_limit=10)
        zero = cpplan.plan(inst, planner=planner, time_limit=10, cost_slack=0)
        assert (zero.status, zero.cost, zero.rounds) == (plain.status, plain.cost, plain.rounds), case.name
        assert not set(TRADE_STATS) & set(zero.stats)


@pytest.mark.parametrize("planner", ["cp", "auto"])
def test_no_slack_keeps_the_least_cost_where_a_dearer_plan_is_shorter(planner):
    inst = cpplan.Instance(**SWAP)
    p = cpplan.plan(inst, planner=planner, time_limit=10)
    assert (p.status, p.cost, p.n_rounds) == ("optimal", 12, 3)
    assert not set(TRADE_STATS) & set(p.stats)


@pytest.mark.parametrize("planner", ["cp", "auto"])
def test_a_slack_buys_a_shorter_plan_within_its_budget(planner):
    inst = cpplan.Instance(**SWAP)
    least = cpplan.plan(inst, planner=planner, time_limit=10)
    p = cpplan.plan(inst, planner=planner, time_limit=10, cost_slack=0.5)
    assert cpplan.validate(inst, p) == []
    assert (p.cost, p.n_rounds) == (16, 2)
    assert p.status == "feasible" and p.lower_bound == 12  # the least cost stays proven, and is not this
    assert p.stats["least_cost"] == 12 and p.stats["cost_budget"] == pytest.approx(18)
    assert p.stats["least_cost_makespan"] == pytest.approx(least.makespan)
    assert p.stats["makespan_gained"] == pytest.approx(least.makespan - p.makespan)
    assert p.makespan < least.makespan


@pytest.mark.parametrize("planner", ["cp", "auto"])
def test_a_slack_too_small_for_the_dearer_plan_keeps_the_least_cost(planner):
    inst = cpplan.Instance(**SWAP)
    p = cpplan.plan(inst, planner=planner, time_limit=10, cost_slack=0.2)  # budget 14.4 < 16
    assert (p.cost, p.n_rounds, p.status) == (12, 3, "optimal")
    assert p.stats["makespan_gained"] == 0


@pytest.mark.parametrize("slack", [0.1, 0.5])
def test_slack_plans_of_the_tiny_cases_are_valid_within_budget_and_not_longer(slack):
    for case in tiny_case_paths():
        inst = cpplan.load_instance(case)
        p = cpplan.plan(inst, planner="auto", time_limit=10, cost_slack=slack)
        if not p.found:
            continue
        assert cpplan.validate(inst, p) == [], case.name
        if "least_cost" in p.stats:
            assert p.cost <= p.stats["least_cost"] * (1 + slack) + 1e-9, case.name
            assert p.makespan <= p.stats["least_cost_makespan"] + 1e-9, case.name
            assert p.stats["makespan_gained"] >= 0


def test_shortest_within_keeps_to_the_budget_and_picks_the_shortest():
    inst = cpplan.Instance(**SWAP)
    serial = cpplan.plan(inst, planner="greedy")
    hop = lambda vm, a, b: {"vm": vm, "from": a, "to": b}  # noqa: E731
    both = cpplan.Plan("feasible", 16, [[hop("a", "h1", "h3"), hop("b", "h2", "h3")],
                                        [hop("a", "h3", "h2"), hop("b", "h3", "h1")]])
    assert cpplan.validate(inst, both) == []
    spans = {id(p): ordered_estimate(inst, p)[1].makespan for p in (serial, both)}
    assert spans[id(both)] < spans[id(serial)]
    chosen, traded = shortest_within(inst, [serial, None, both], 0.25)  # budget 15 < 16
    assert chosen is serial and traded["makespan_gained"] == 0
    chosen, traded = shortest_within(inst, [serial, both], 1 / 3)  # budget exactly 16
    assert chosen is both and traded["least_cost"] == 12
    assert traded["makespan_gained"] == pytest.approx(spans[id(serial)] - spans[id(both)])
    assert shortest_within(inst, [None], 0.1) == (None, {})


@pytest.mark.parametrize("slack", [-0.1, float("nan"), float("inf")])
def test_a_bad_slack_is_refused(slack):
    with pytest.raises(ValueError, match="cost_slack"):
        cpplan.plan(cpplan.Instance(**SWAP), cost_slack=slack)


def test_cli_cost_slack_writes_the_traded_plan_and_says_what_it_gained(write_instance, tmp_path, capsys):
    instance, output = write_instance(SWAP), tmp_path / "plan.json"
    code = main(["plan", str(instance), "--cost-slack", "0.5", "--planner", "cp", "-o", str(output)])
    err = capsys.readouterr().err
    written = json.loads(output.read_text())
    assert code == 0 and written["cost"] == 16 and written["stats"]["least_cost"] == 12
    assert "s shorter than the least-cost plan found (cost 12)" in err


@pytest.mark.parametrize("args, words", [
    (["--cost-slack", "-1"], "--cost-slack: must be a finite number from 0"),
    (["--cost-slack", "x"], "--cost-slack: must be a finite number from 0"),
    (["--cost-slack", "0.1", "--goal", "consolidate"], "--cost-slack"),
])
def test_cli_bad_cost_slack_exits_2_with_one_line(write_instance, tmp_path, capsys, args, words):
    output = tmp_path / "plan.json"
    try:
        code = main(["plan", str(write_instance(SWAP)), "-o", str(output), *args])
    except SystemExit as e:  # argparse usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.count("\n") == 1 and not output.exists()
