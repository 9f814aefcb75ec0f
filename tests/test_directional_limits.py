"""Directional limits (SPEC section 8): per-host ``max_incoming`` / ``max_outgoing`` and the cloud-wide
``limits.incoming`` / ``limits.outgoing``, read, checked by the validator, honoured by every planner,
counted by the rounds lower bound and, in a schedule, in flight."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import tiny_clouds

import cpplan
from cpplan import InputError, Instance
from cpplan.bounds import infeasibility, rounds_lower_bound
from cpplan.checks import MAX_COUNT
from cpplan.cli import main
from cpplan.constraints.concurrency import UNLIMITED
from cpplan.plan import Plan
from cpplan.simulate import simulate

PLANNERS = ["greedy", "cp", "exact", "auto"]

# h0 sends four VMs, two to h2 and two to h3; h1 sends two to h3. Roomy hosts: only limits bind.
FAN = {"hosts": {"h0": {"ram": 100}, "h1": {"ram": 100}, "h2": {"ram": 100}, "h3": {"ram": 100}},
       "vms": {f"v{i}": {"ram": 10} for i in range(6)},
       "initial": {"v0": "h0", "v1": "h0", "v2": "h0", "v3": "h0", "v4": "h1", "v5": "h1"},
       "target": {"v0": "h2", "v1": "h2", "v2": "h3", "v3": "h3", "v4": "h3", "v5": "h3"},
       "limits": {"host": 6}}


def fan(**changes) -> Instance:
    spec = copy.deepcopy(FAN)
    for key, value in changes.items():
        if key.startswith("h"):
            spec["hosts"][key].update(value)
        else:
            spec["limits"].update(value)
    return Instance(**spec, source="fan.yaml")


def one_round(inst) -> Plan:
    """Every migration of ``inst`` at once, in one round."""
    moving = np.flatnonzero(inst.moving)
    return Plan("feasible", float(inst.cost[moving].sum()), [[
        {"vm": inst.vm_names[v], "from": inst.host_names[inst.initial[v]],
         "to": inst.host_names[inst.target[v]]}
        for v in moving]])


def counts(inst, plan) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per round, migrations leaving and reaching each host."""
    out = []
    for moves in plan.rounds:
        src = [inst.host_index[m["from"]] for m in moves]
        dst = [inst.host_index[m["to"]] for m in moves]
        out.append((np.bincount(src, minlength=inst.n_hosts), np.bincount(dst, minlength=inst.n_hosts)))
    return out


# ------------------------------------------------------------------ reading
def test_the_keys_are_read_per_host_and_by_default_and_are_no_resources():
    inst = fan(h3={"max_incoming": 1}, h0={"max_outgoing": 3}, outgoing={"outgoing": 2})
    assert inst.resources == ("ram",)
    assert inst.incoming_limit.tolist() == [UNLIMITED, UNLIMITED, UNLIMITED, 1]
    assert inst.outgoing_limit.tolist() == [3, 2, 2, 2]
    assert UNLIMITED == MAX_COUNT  # a limit given larger means the same
    plain = Instance(**FAN)
    assert (plain.incoming_limit == UNLIMITED).all() and (plain.outgoing_limit == UNLIMITED).all()


@pytest.mark.parametrize("where, value, problem", [
    ("host", -1, "must be a non-negative integer, got -1"),
    ("host", 1.5, "must be a non-negative integer, got 1.5"),
    ("host", "2", "must be a non-negative integer, got '2'"),
    ("limits", -3, "must be a non-negative integer, got -3"),
    ("limits", {"h0": 1}, "must be a non-negative integer"),
])
@pytest.mark.parametrize("direction", ["incoming", "outgoing"])
def test_bad_values_are_one_line_input_errors(where, value, problem, direction):
    spec = copy.deepcopy(FAN)
    if where == "host":
        spec["hosts"]["h2"][f"max_{direction}"] = value
        key = f"hosts.h2.max_{direction}"
    else:
        spec["limits"][direction] = value
        key = f"limits.{direction}"
    with pytest.raises(InputError) as info:
        Instance(**spec, source="fan.yaml")
    assert info.value.key == key and info.value.problem.startswith(problem)


def test_a_misspelt_limit_is_an_unknown_key():
    spec = copy.deepcopy(FAN)
    spec["limits"]["incomming"] = 1
    with pytest.raises(InputError, match="unknown key.*incoming, outgoing"):
        Instance(**spec)


def test_bad_keys_exit_2_with_one_line_and_nothing_written(write_instance, tmp_path, capsys):
    spec = copy.deepcopy(FAN)
    spec["hosts"]["h3"]["max_incoming"] = -1
    instance, output = write_instance(spec), tmp_path / "plan.json"
    assert main(["plan", str(instance), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert err == "cpplan: cloud.yaml: hosts.h3.max_incoming: must be a non-negative integer, got -1\n"
    assert not output.exists()


# ------------------------------------------------------------------ the validator
@pytest.mark.parametrize("changes, message", [
    ({"h3": {"max_incoming": 3}}, "host h3 is the destination of 4 migrations, incoming limit 3"),
    ({"h0": {"max_outgoing": 2}}, "host h0 is the source of 4 migrations, outgoing limit 2"),
    ({"incoming": {"incoming": 2}}, "host h3 is the destination of 4 migrations, incoming limit 2"),
    ({"outgoing": {"outgoing": 3}}, "host h0 is the source of 4 migrations, outgoing limit 3"),
])
def test_the_validator_names_host_direction_count_and_limit(changes, message):
    plain = Instance(**FAN)
    assert cpplan.validate(plain, one_round(plain)) == []
    inst = fan(**changes)
    assert cpplan.validate(inst, one_round(inst)) == [f"round 1: {message}"]


def test_the_cloud_wide_default_yields_to_the_host_s_own_limit():
    inst = fan(h3={"max_incoming": 4}, incoming={"incoming": 1}, h2={"max_incoming": 2})
    assert cpplan.validate(inst, one_round(inst)) == []  # h2 gets 2, h3 gets 4
    inst = fan(h3={"max_incoming": 4}, incoming={"incoming": 1})
    assert cpplan.validate(inst, one_round(inst)) == [
        "round 1: host h2 is the destination of 2 migrations, incoming limit 1"]


def test_a_schedule_with_too_many_in_flight_is_invalid():
    # two VMs leave h0 one round after the other; limits.outgoing 1 holds in each round, but a
    # schedule that starts both at once has two in flight from h0
    inst = Instance(hosts={"h0": {"ram": 4000}, "h1": {"ram": 4000}, "h2": {"ram": 4000}},
                    vms={"a": {"ram": 1250}, "b": {"ram": 1250}}, initial={"a": "h0", "b": "h0"},
                    target={"a": "h1", "b": "h2"}, limits={"host": 2, "outgoing": 1},
                    migration={"setup": 0, "bandwidth": 10_000})
    plan = cpplan.plan(inst, planner="exact")
    assert plan.n_rounds == 2 and cpplan.validate(inst, plan) == []
    data = plan.to_dict()
    second = data["rounds"][1][0]
    second["after"], second["start"], second["end"] = [], 0.0, second["end"] - second["start"]
    data["makespan"] = max(second["end"], data["rounds"][0][0]["end"])
    problems = cpplan.validate(inst, Plan.from_dict(data))
    assert any("would send 2 migrations at once, outgoing limit 1" in p for p in problems), problems


# ------------------------------------------------------------------ the planners
@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize("changes, rounds", [
    ({"h3": {"max_incoming": 1}}, 4),
    ({"h0": {"max_outgoing": 1}}, 4),
    ({"incoming": {"incoming": 2}, "outgoing": {"outgoing": 2}}, 2),
    ({"h3": {"max_incoming": 2}, "h0": {"max_outgoing": 3}, "h2": {"max_incoming": 1}}, 2),
])
def test_every_planner_honours_the_limits_in_the_fewest_rounds(planner, changes, rounds):
    inst = fan(**changes)
    plan = cpplan.plan(inst, planner=planner, time_limit=10)
    assert plan.found and cpplan.validate(inst, plan) == [] and plan.cost == 60
    for leaving, reaching in counts(inst, plan):
        assert (leaving <= inst.outgoing_limit).all() and (reaching <= inst.incoming_limit).all()
    assert rounds_lower_bound(inst) == rounds
    if planner in ("cp", "auto"):  # they look for the fewest rounds at the least cost
        assert plan.n_rounds == rounds


@pytest.mark.parametrize("planner", PLANNERS)
def test_a_bounce_goes_through_a_host_that_may_receive_and_send_again(planner):
    # a and b swap full hosts; c1 may receive but never send, c2 may send but never receive,
    # so the only staging host is h3
    inst = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "c1": {"ram": 4, "max_outgoing": 0},
                           "c2": {"ram": 4, "max_incoming": 0}, "h3": {"ram": 4}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h1"})
    plan = cpplan.plan(inst, planner=planner, time_limit=10)
    assert plan.status == ("feasible" if planner == "greedy" else "optimal")  # greedy proves no least cost
    assert plan.cost == 12 and cpplan.validate(inst, plan) == []
    assert {m["to"] for r in plan.rounds for m in r} == {"h1", "h2", "h3"}


@pytest.mark.parametrize("planner", PLANNERS)
@pytest.mark.parametrize("closed", [{"h0": {"max_outgoing": 0}}, {"outgoing": {"outgoing": 0}},
                                    {"h2": {"max_incoming": 0}}])
def test_a_host_that_may_not_send_or_receive_makes_the_target_infeasible(planner, closed):
    inst = fan(**closed)
    assert infeasibility(inst) is not None
    plan = cpplan.plan(inst, planner=planner, time_limit=5)
    assert plan.status == "infeasible" and "migration (" in plan.reason


def test_the_limits_raise_the_rounds_and_makespan_lower_bounds():
    plain = Instance(**FAN)
    assert rounds_lower_bound(plain) == 1
    assert rounds_lower_bound(fan(h0={"max_outgoing": 1})) == 4  # ceil(4 leaving / 1)
    assert rounds_lower_bound(fan(outgoing={"outgoing": 3})) == 2  # ceil(4 / 3) at h0
    assert rounds_lower_bound(fan(h3={"max_incoming": 3})) == 2  # ceil(4 arriving / 3)
    assert rounds_lower_bound(fan(h3={"max_incoming": 3}, incoming={"incoming": 1})) == 2  # h3 4/3, h2 2/1
    assert rounds_lower_bound(fan(incoming={"incoming": 1})) == 4  # h3 4/1
    assert rounds_lower_bound(fan(h0={"max_outgoing": 4})) == 1  # a limit that does not bind
    # a flexible VM counts at its source only
    flexible = copy.deepcopy(FAN)
    flexible["target"] = {"v0": ["h2", "h3"], "v1": ["h2", "h3"]}
    flexible["hosts"]["h2"]["max_incoming"] = 1
    assert rounds_lower_bound(Instance(**flexible)) == 1
    setup = cpplan.bounds.makespan_lower_bound
    assert setup(fan(h0={"max_outgoing": 1})) >= 4 * plain.durations.setup


# ------------------------------------------------------------------ random clouds against exact
@st.composite
def limited_clouds(draw):
    """A tiny cloud with directional limits on some hosts and, at random, cloud-wide defaults."""
    inst = draw(tiny_clouds(service_levels=draw(st.booleans()), tight=draw(st.booleans())))
    spec = inst.to_dict()
    for name in spec["hosts"]:
        for key in ("max_incoming", "max_outgoing"):
            if draw(st.integers(0, 2)) == 0:
                spec["hosts"][name][key] = draw(st.integers(1, 2))
    limits = spec.setdefault("limits", {})
    for key in ("incoming", "outgoing"):
        if draw(st.booleans()):
            limits[key] = 1
    return Instance(**spec)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limited_clouds())
def test_greedy_and_cp_agree_with_exact_under_directional_limits(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    assert cpplan.validate(inst, truth) == []
    proven_rounds = truth.rounds_lower_bound if truth.status == "optimal" else 0
    for planner in ("greedy", "cp"):
        found = cpplan.plan(inst, planner=planner, time_limit=1 if truth.status == "infeasible" else 5)
        assert cpplan.validate(inst, found) == []
        if truth.status == "infeasible":
            assert not found.found
        elif truth.status == "optimal" and (found.found or planner == "cp"):
            assert found.found and found.cost >= truth.cost - 1e-9
            if planner == "cp":
                assert found.cost == truth.cost
            if found.cost == truth.cost:
                assert found.n_rounds >= proven_rounds
        if found.found:
            assert found.n_rounds >= rounds_lower_bound(inst)


@pytest.mark.parametrize("limits, starts", [({"host": 2}, [0.0, 0.0]),
                                            ({"host": 2, "outgoing": 1}, [0.0, 4.0])])
def test_the_replay_counts_the_limits_in_flight(limits, starts):
    # a and b leave h1 in consecutive rounds, and b waits for nothing: only limits.outgoing keeps them apart
    inst = Instance(hosts={"h1": {"ram": 8000}, "h2": {"ram": 8000}, "h3": {"ram": 8000}},
                    vms={"a": {"ram": 5000}, "b": {"ram": 2500}}, initial={"a": "h1", "b": "h1"},
                    target={"a": "h2", "b": "h3"}, limits=limits, migration={"setup": 0})
    plan = Plan("feasible", 7500, [[{"vm": "a", "from": "h1", "to": "h2", "after": []}],
                                   [{"vm": "b", "from": "h1", "to": "h3", "after": []}]])
    run = simulate(inst, plan)
    assert run.start == starts and run.overloads == []
    sending = [sum(s <= t < e for s, e in zip(run.start, run.end, strict=True)) for t in run.start]
    assert max(sending) <= inst.outgoing_limit[0]
