"""The timeline (cpplan.timeline) and the second objective (cpplan.objective): the same migrations
re-timed, re-ordered and re-cut in rounds, valid by SPEC 4 and 7.4, its order safe under any
durations, and the plan keeping the rounds' order whenever the timeline is no shorter or stops."""

from __future__ import annotations

import json
import random

import pytest
from helpers import replay, write_file
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds

import cpplan
from cpplan import Instance, Plan
from cpplan.cli import main
from cpplan.generate import generate
from cpplan.objective import add_schedule, makespan
from cpplan.schedule import POLICIES
from cpplan.timeline import PRIORITIES, retimed, shortest_retimed
from cpplan.validate import validate


def hop(vm, src, dst):
    return {"vm": vm, "from": src, "to": dst}


def hops_by_vm(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """Each VM's hops in plan order (what a re-timed plan must keep)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in plan.rounds:
        for m in r:
            out.setdefault(m["vm"], []).append((m["from"], m["to"]))
    return out


def bounce_and_late_arrival() -> tuple[Instance, Plan]:
    """``x`` bounces through ``s`` while ``z`` takes its place; ``y`` reaches ``s`` for good, last."""
    inst = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 5}, "s": {"ram": 5}},
                    vms={"x": {"ram": 4}, "y": {"ram": 5}, "z": {"ram": 4}},
                    initial={"x": "h1", "y": "h3", "z": "h2"}, target={"x": "h2", "y": "s", "z": "h1"})
    rounds = [[hop("x", "h1", "s")], [hop("z", "h2", "h1")], [hop("x", "s", "h2")], [hop("y", "h3", "s")]]
    return inst, Plan("feasible", 17, rounds)


CLOUDS = moving_clouds()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(CLOUDS, st.integers(0, 2**32), st.sampled_from(PRIORITIES), st.sampled_from(POLICIES))
def test_a_retimed_plan_is_valid_and_its_order_survives_random_durations(inst, seed, priority, policy):
    plan = cpplan.plan(inst, "greedy", time_limit=5, objective="rounds")
    if not plan.found:
        return
    timed = retimed(inst, plan, priority, policy)
    event("page sharing" if inst.share_ratio.size else "no timeline" if timed is None else "timeline")
    if timed is None:
        return
    assert timed.cost == plan.cost and hops_by_vm(timed) == hops_by_vm(plan)
    assert validate(inst, timed) == []   # rounds (SPEC 4), order (7.4) and schedule
    listed = [m for r in timed.rounds for m in r]
    rng = random.Random(seed)
    for _ in range(5):
        assert replay(inst, timed, [m["after"] for m in listed], rng) == []


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(CLOUDS)
def test_the_makespan_objective_is_never_longer_than_the_rounds_order(inst):
    plan = cpplan.plan(inst, "greedy", time_limit=5, objective="rounds")
    if not plan.found:
        return
    by_makespan = cpplan.plan(inst, "greedy", time_limit=5)
    assert by_makespan.cost == plan.cost
    assert by_makespan.makespan <= plan.makespan * (1 + 1e-9)
    assert by_makespan.stats["order"] in ("rounds", "timeline")


def test_a_timeline_that_gives_the_room_away_stops_and_the_rounds_order_stays():
    inst, plan = bounce_and_late_arrival()
    assert retimed(inst, plan, "largest") is None   # y takes s first: x never bounces, z never lands
    by_plan_order = retimed(inst, plan, "plan")
    assert validate(inst, by_plan_order) == []
    assert [m["vm"] for r in by_plan_order.rounds for m in r] == ["x", "z", "x", "y"]


def test_the_rounds_order_stays_when_no_timeline_exists(monkeypatch):
    inst, plan = bounce_and_late_arrival()
    monkeypatch.setattr("cpplan.objective.shortest_retimed", lambda inst, plan: None)
    add_schedule(inst, plan)
    assert plan.stats["order"] == "rounds" and validate(inst, plan) == []


def test_page_sharing_keeps_the_rounds_order():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
                    vms={"a": {"ram": 4, "image": "u"}, "b": {"ram": 4, "image": "u"}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"},
                    page_sharing={"ratio": 0.5})
    plan = Plan("feasible", 8, [[hop("a", "h1", "h2"), hop("b", "h1", "h2")]])
    assert retimed(inst, plan) is None and shortest_retimed(inst, plan) is None


def test_the_timeline_shortens_a_shuffle():
    inst = generate("shuffle", 10, seed=1)
    by_rounds = cpplan.plan(inst, "greedy", objective="rounds")
    timed = shortest_retimed(inst, by_rounds)
    assert timed.makespan < by_rounds.makespan
    assert makespan(inst, by_rounds) == pytest.approx(timed.makespan)


def test_an_unknown_objective_is_refused():
    inst, _ = bounce_and_late_arrival()
    with pytest.raises(ValueError, match="unknown objective 'fast'"):
        cpplan.plan(inst, objective="fast")


def test_cpplan_plan_objective_rounds_keeps_the_planners_rounds(tmp_path, capsys):
    instance, out = write_file(tmp_path / "shuffle.yaml", generate("shuffle", 10, seed=1).to_dict()), {}
    for objective in ("rounds", "makespan"):
        path = tmp_path / f"{objective}.json"
        args = ["plan", str(instance), "--planner", "greedy", "--objective", objective, "-o", str(path)]
        assert main(args) == 0
        out[objective] = json.loads(path.read_text())
        cut = "; cut by its timeline)" in capsys.readouterr().err   # the summary line says whose rounds
        assert cut == (objective == "makespan")
    assert out["makespan"]["cost"] == out["rounds"]["cost"]
    assert out["makespan"]["makespan"] < out["rounds"]["makespan"]
    assert out["makespan"]["stats"]["order"] == "timeline" and out["rounds"]["stats"]["order"] == "rounds"
    with pytest.raises(SystemExit) as exit_:
        main(["plan", str(instance), "--objective", "fast"])
    assert exit_.value.code == 2 and "invalid choice: 'fast'" in capsys.readouterr().err
