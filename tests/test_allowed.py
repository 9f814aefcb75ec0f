"""Partial targets: lists of allowed hosts and drained hosts."""

import re

import pytest
from agreement import cp_agrees_with_exact
from hypothesis import HealthCheck, given, settings
from strategies import clouds_with_allowed_hosts

import cpplan
from cpplan.plan import Plan
from cpplan.planners.cp import planner as cp_planner
from cpplan.planners.cp import routes as cp_routes


def cloud(**extra):
    spec = dict(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                vms={"a": {"ram": 4}, "b": {"ram": 6}, "c": {"ram": 6}},
                initial={"a": "h1", "b": "h2", "c": "h3"})
    spec.update(extra)
    return cpplan.Instance(**spec)


def test_a_vm_already_on_an_allowed_host_need_not_move():
    inst = cloud(target={"a": ["h1", "h2"]})
    assert not inst.moving.any()
    assert cpplan.plan(inst, planner="exact").rounds == []


def test_exact_picks_the_allowed_host_where_the_vm_fits():
    # a must leave h1 for h1's new tenant c; only h3 (10, holding c's 6) has room for a's 4.
    inst = cloud(target={"a": ["h2", "h3"], "c": "h1"}, limits={"host": 2},
                 hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 10}})
    plan = cpplan.plan(inst, planner="exact")
    assert plan.status == "optimal" and plan.cost == 10
    assert cpplan.validate(inst, plan) == []


def test_validator_accepts_any_allowed_host_and_names_them_otherwise():
    inst = cloud(target={"a": ["h2", "h3"]}, vms={"a": {"ram": 2}, "b": {"ram": 6}, "c": {"ram": 6}})
    to_h3 = Plan("feasible", 2, [[{"vm": "a", "from": "h1", "to": "h3"}]])
    assert cpplan.validate(inst, to_h3) == []
    stay = Plan("feasible", 0, [])
    assert cpplan.validate(inst, stay) == ["after the last round: VM a is on h1, its target is one of h2, h3"]


def test_drain_sends_every_vm_off_the_drained_hosts():
    inst = cloud(vms={"a": {"ram": 2}, "b": {"ram": 2}, "c": {"ram": 2}}, drain=["h1", "h2"],
                 groups={"g": {"vms": ["a", "b", "c"], "anti_affinity": False}})
    plan = cpplan.plan(inst, planner="exact")
    assert plan.status == "optimal" and plan.cost == 4
    final = {m["vm"]: m["to"] for r in plan.rounds for m in r}
    assert final == {"a": "h3", "b": "h3"}


@pytest.mark.parametrize("extra, message", [
    ({"drain": ["h1", "h2", "h3"]}, "drain: cannot drain every host"),
    ({"drain": ["h9"]}, "drain[0]: unknown host 'h9'"),
    ({"target": {"a": ["h2", "h9"]}}, "target.a[1]: unknown host 'h9'"),
    ({"target": {"a": []}}, "target.a: must name at least one allowed host"),
    ({"target": {"b": "h1"}, "drain": ["h1"]}, "target.b: targets h1, which is drained"),
    ({"target": {"a": ["h1"]}, "drain": ["h1"]}, "target.a: every allowed host is drained"),
    ({"target": {"a": ["h2"], "b": ["h2"]}}, "no allowed host has room"),
])
def test_bad_partial_targets_are_bad_input(extra, message):
    with pytest.raises(cpplan.InputError, match=re.escape(message)):
        cloud(**extra)


def test_default_targets_pack_closely_when_spreading_leaves_a_vm_without_room():
    # Spreading 3, 3, 2, 2, 2 over two hosts of 6 leaves the last 2 homeless; packing fits all.
    inst = cpplan.Instance(hosts={"A": {"ram": 6}, "B": {"ram": 6}, "C": {"ram": 20}},
                           vms={v: {"ram": r} for v, r in zip("pqxyz", (3, 3, 2, 2, 2), strict=True)},
                           initial={v: "C" for v in "pqxyz"}, target={v: ["A", "B"] for v in "pqxyz"},
                           limits={"host": 5})
    plan = cpplan.plan(inst, planner="greedy")
    assert plan.found and cpplan.validate(inst, plan) == []


def _default_target_is_a_detour():
    # x may end on h2 or h3. Its default, h2 (roomiest at the end), is full until y leaves for
    # x's own host: aiming there costs a bounce (16), while h3 takes x at once (12).
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 4}},
                           vms={"x": {"ram": 4}, "y": {"ram": 8}}, initial={"x": "h1", "y": "h2"},
                           target={"x": ["h2", "h3"], "y": "h1"})
    assert inst.host_names[inst.target[0]] == "h2"
    return inst


def test_planners_choose_the_allowed_host_that_avoids_a_detour():
    inst = _default_target_is_a_detour()
    for planner in ("exact", "cp", "auto"):
        found = cpplan.plan(inst, planner=planner, time_limit=10)
        assert (found.status, found.cost) == ("optimal", 12)
        assert found.routes()[0] == [{"vm": "x", "from": "h1", "to": "h3"}]


def test_cp_claims_no_proof_beyond_the_allowed_hosts_it_tried(monkeypatch):
    monkeypatch.setattr(cp_routes, "MAX_ENDS", 1)  # the interval models aim at the default target only
    monkeypatch.setattr(cp_planner, "MAX_TIME_INDEXED", 0)  # and the model that tries every host is off
    moves = [("x", "h1", "h3"), ("y", "h2", "h1"), ("x", "h3", "h2")]  # x bounces to reach h2
    bounce = Plan("feasible", 16, [[{"vm": v, "from": a, "to": b}] for v, a, b in moves])
    found = cpplan.plan(_default_target_is_a_detour(), planner="cp", time_limit=10, hint=bounce)
    assert found.stats["all_allowed_hosts"] is False
    assert (found.status, found.cost, found.lower_bound, found.rounds_lower_bound) == ("feasible", 16, 12, 2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(clouds_with_allowed_hosts(max_hosts=3, max_vms=4, tight=None))
def test_exact_plans_with_allowed_lists_validate_and_beat_fixed_choices(inst):
    plan = cpplan.plan(inst, planner="exact")
    assert cpplan.validate(inst, plan) == []
    # Fixing every VM to its default target can only cost more (or be infeasible).
    fixed = inst.replace(target={v: inst.host_names[inst.target[j]] for j, v in enumerate(inst.vm_names)})
    other = cpplan.plan(fixed, planner="exact")
    if other.status == "optimal":
        assert plan.status == "optimal" and plan.cost <= other.cost


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(clouds_with_allowed_hosts(max_hosts=3, max_vms=4, tight=None))
def test_cp_finds_exacts_least_cost_with_allowed_lists(inst):
    cp_agrees_with_exact(inst)


def test_every_planner_handles_a_partial_target_in_a_cloud_without_resources():
    inst = cpplan.Instance(hosts={"a": {}, "b": {}, "c": {}}, vms={"x": {"cost": 1}, "y": {"cost": 1}},
                           initial={"x": "a", "y": "a"}, target={"x": ["b", "c"], "y": "b"})
    for planner in ("greedy", "cp", "exact", "auto"):
        assert cpplan.plan(inst, planner=planner, time_limit=10).cost == 2


def test_cp_knows_when_its_candidate_hosts_leave_an_allowed_host_out(monkeypatch):
    # x sits on d, allowed and closed to migrations: its default. With 2 candidates, d takes one slot.
    inst = cpplan.Instance(hosts={"d": {"ram": 8, "max_migrations": 0}, "e1": {"ram": 8}, "e2": {"ram": 8}},
                           vms={"x": {"ram": 4}}, initial={"x": "d"}, target={"x": ["d", "e1", "e2"]})
    monkeypatch.setattr(cp_routes, "MAX_ENDS", 2)
    ends, complete = cp_routes.final_hosts(inst)
    assert len(ends[0]) == 2 and ends[0][0] == 0 and not complete
    monkeypatch.setattr(cp_routes, "MAX_ENDS", 3)
    assert cp_routes.final_hosts(inst) == ({0: [0, 1, 2]}, True)


def test_a_host_without_a_resource_has_unlimited_room_for_it(recwarn):
    # h2 declares no ram: unlimited ram, the roomiest host for a drained VM (and no NaN on the way)
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"cpu": 4}, "h3": {"ram": 64}},
                           vms={"a": {"ram": 4}}, initial={"a": "h1"}, drain=["h1"])
    assert inst.host_names[inst.target[0]] == "h2"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
