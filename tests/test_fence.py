"""Fences (``groups.G.hosts``, SPEC section 8): members are only ever moved to the fence's hosts.

The validator names every migration that leaves the fence, every planner keeps
to it (bounces and steps aside included), exact, greedy and cp agree on random
tiny fenced clouds, a start outside the fence is legal and repaired by B, the
goals choose B inside it, and bad fences are one-line input errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from agreement import cp_agrees_with_exact
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from strategies import tiny_clouds

import cpplan
from cpplan import InputError, Instance
from cpplan.bounds import infeasibility
from cpplan.budget import Budget
from cpplan.cli import main
from cpplan.constraints import allowed_by_service_levels
from cpplan.cpsat import Scaled
from cpplan.plan import Plan
from cpplan.planners.cp.intervals import IntervalModel
from cpplan.planners.cp.timeindexed import TimeIndexedModel

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
PLANNERS = ("greedy", "cp", "exact", "auto")


def swap(groups=None) -> Instance:
    """Two full hosts swap their VMs: one must bounce. ``big`` is the roomiest spare host, ``spare``
    (which holds a small VM) the other."""
    return Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "spare": {"ram": 6}, "big": {"ram": 64}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 2}},
                    initial={"a": "h1", "b": "h2", "c": "spare"}, target={"a": "h2", "b": "h1"},
                    groups=groups)


def moves(plan: Plan) -> list[tuple[str, str, str]]:
    return [(m["vm"], m["from"], m["to"]) for r in plan.rounds for m in r]


def test_validator_names_a_bounce_through_a_host_outside_the_fence():
    inst = swap({"db": {"vms": ["a", "b"], "hosts": ["h1", "h2", "spare"]}})
    through_big = Plan("feasible", 12, [[{"vm": "a", "from": "h1", "to": "big"}],
                                        [{"vm": "b", "from": "h2", "to": "h1"}],
                                        [{"vm": "a", "from": "big", "to": "h2"}]])
    assert cpplan.validate(inst, through_big) == [
        "round 1: VM a moves to host big, outside the hosts of group db (h1, h2, spare)"]
    through_spare = Plan("feasible", 12, [[{"vm": "a", "from": "h1", "to": "spare"}],
                                          [{"vm": "b", "from": "h2", "to": "h1"}],
                                          [{"vm": "a", "from": "spare", "to": "h2"}]])
    assert cpplan.validate(inst, through_spare) == []


@pytest.mark.parametrize("planner", PLANNERS)
def test_every_planner_bounces_through_the_fenced_spare_not_the_roomier_host(planner):
    free = cpplan.plan(swap(), planner="greedy")
    assert ("a", "h1", "big") in moves(free)  # without the fence greedy bounces through the roomier host
    inst = swap({"db": {"vms": ["a", "b"], "hosts": ["h1", "h2", "spare"]}})
    plan = cpplan.plan(inst, planner=planner, time_limit=10)
    assert plan.found and cpplan.validate(inst, plan) == []
    assert plan.cost == 12 and all(to != "big" for _, _, to in moves(plan))


def test_a_start_outside_the_fence_is_legal_and_repaired_by_b():
    groups = {"db": {"vms": ["a"], "hosts": ["h2", "h3"]}}
    hosts = {"h1": {"ram": 8}, "h2": {"ram": 4}, "h3": {"ram": 8}}
    inst = Instance(hosts=hosts, vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h1"}, groups=groups)
    for planner in PLANNERS:
        plan = cpplan.plan(inst, planner=planner, time_limit=10)
        assert plan.found and cpplan.validate(inst, plan) == []
        assert all(to in ("h2", "h3") for vm, _, to in moves(plan) if vm == "a")
    with pytest.raises(InputError, match="groups.db.hosts: the target breaks it: VM a ends on h1"):
        Instance(hosts=hosts, vms={"a": {"ram": 4}}, initial={"a": "h1"}, groups=groups)


def test_partial_targets_shrink_to_the_fence():
    inst = Instance(hosts={h: {"ram": 8} for h in ("h1", "h2", "h3", "h4")}, vms={"a": {"ram": 4}},
                    initial={"a": "h1"}, target={"a": ["h2", "h3", "h4"]},
                    groups={"db": {"vms": ["a"], "hosts": ["h1", "h3"]}})
    assert inst.domains[inst.domain_of[0]].tolist() == [False, False, True, False]
    assert inst.host_names[inst.target[0]] == "h3"
    drained = Instance(hosts={h: {"ram": 8} for h in ("h1", "h2", "h3")}, vms={"a": {"ram": 4}},
                       initial={"a": "h1"}, drain=["h1"],
                       groups={"db": {"vms": ["a"], "hosts": ["h1", "h3"]}})
    assert drained.host_names[drained.target[0]] == "h3"


def test_two_fences_keep_a_vm_to_the_hosts_of_both():
    inst = Instance(hosts={h: {"ram": 8} for h in ("h1", "h2", "h3")}, vms={"a": {"ram": 4}},
                    initial={"a": "h1"}, target={"a": ["h2", "h3"]},
                    groups={"f": {"vms": ["a"], "hosts": ["h1", "h2", "h3"]},
                            "g": {"vms": ["a"], "hosts": ["h1", "h3"]}})
    allowed = allowed_by_service_levels(inst, np.zeros(3, dtype=int), np.zeros(3, dtype=int), np.arange(3))
    assert allowed.tolist() == [True, False, True] and inst.host_names[inst.target[0]] == "h3"


def test_a_fence_whose_hosts_allow_no_migration_is_a_certificate():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8, "max_migrations": 0}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 4}}, initial={"a": "h1"}, drain=["h1"],
                    groups={"db": {"vms": ["a"], "hosts": ["h1", "h2"]}})
    assert infeasibility(inst) == (
        "VM a must move but no host of the hosts of group db (h1, h2) that it may end on allows "
        "migrations and has room for it alone")
    plan = cpplan.plan(inst, planner="greedy")
    assert plan.status == "infeasible" and "group db" in plan.reason


GOAL_CASES = {  # goal -> (members, fence, drain); without the fence each goal moves a member outside it
    "consolidate": (["v3"], ["h2", "h3"], None),
    "rebalance": (["v2"], ["h1", "h2", "h3"], None),
    "evacuate": (["v0", "v1"], ["h1", "h2"], ["h1"]),
}


@pytest.mark.parametrize("goal", list(GOAL_CASES))
def test_goals_choose_b_inside_the_fence(goal):
    members, fence, drain = GOAL_CASES[goal]
    hosts = {"h1": {"ram": 16}, "h2": {"ram": 16}, "h3": {"ram": 16}, "h4": {"ram": 16}}
    vms = {f"v{i}": {"ram": 4} for i in range(6)}
    initial = {"v0": "h1", "v1": "h1", "v2": "h1", "v3": "h2", "v4": "h3", "v5": "h4"}
    free = cpplan.choose_target(Instance(hosts=hosts, vms=vms, initial=initial, drain=drain), goal=goal,
                                time_limit=10).instance
    assert any(free.host_names[free.target[free.vm_index[v]]] not in fence for v in members)
    inst = Instance(hosts=hosts, vms=vms, initial=initial, groups={"db": {"vms": members, "hosts": fence}},
                    drain=drain)
    result = cpplan.choose_target(inst, goal=goal, time_limit=10)
    chosen = result.instance
    assert all(chosen.host_names[chosen.target[chosen.vm_index[v]]] in fence for v in members)
    assert result.plan.found and cpplan.validate(chosen, result.plan) == []


@pytest.mark.parametrize("groups, key, problem", [
    ({"db": {"vms": ["a"], "hosts": ["h9"]}}, "groups.db.hosts[0]", "unknown host 'h9'"),
    ({"db": {"vms": ["a"], "hosts": []}}, "groups.db.hosts", "must name at least one host"),
    ({"db": {"vms": ["a"], "hosts": "h1"}}, "groups.db.hosts", "must be a list of host names"),
    ({"f": {"vms": ["a"], "hosts": ["h1", "h2"]}, "g": {"vms": ["a"], "hosts": ["h3"]}}, "groups.f.hosts",
     "VM a is also in the fence of group g and the two share no host"),
    ({"db": {"vms": ["a"], "hosts": ["h1", "h3"]}}, "groups.db.hosts",
     "the target breaks it: VM a ends on h2, outside the fence"),
])
def test_bad_fences_exit_2_with_one_line(tmp_path, capsys, groups, key, problem):
    path = tmp_path / "cloud.yaml"
    inst = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}}, "vms": {"a": {"ram": 4}},
            "initial": {"a": "h1"}, "target": {"a": "h2"}, "groups": groups}
    path.write_text(yaml.safe_dump(inst), encoding="utf-8")
    out = tmp_path / "plan.json"
    assert main(["plan", str(path), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cpplan: {path.name}: {key}: {problem}"
    assert not out.exists()


@st.composite
def fenced_clouds(draw, tight: bool | None = None):
    """``tiny_clouds`` with a fence round some VMs: the hosts of their targets and a few more (their
    start may lie outside it)."""
    tight = draw(st.booleans()) if tight is None else tight
    inst = draw(tiny_clouds(max_hosts=4, max_vms=4, tight=tight))
    members = draw(st.lists(st.sampled_from(range(inst.n_vms)), min_size=1, unique=True))
    extra = draw(st.lists(st.sampled_from(range(inst.n_hosts)), unique=True))
    hosts = sorted({*inst.target[members].tolist(), *extra})
    groups = {"f": {"vms": [inst.vm_names[v] for v in members], "hosts": [inst.host_names[h] for h in hosts]}}
    try:
        fenced = inst.replace(groups=groups)
    except InputError:
        assume(False)
    note(f"instance: {fenced.to_dict()}")
    return fenced


def assert_fenced(inst: Instance, plan: Plan) -> None:
    """Every migration of a fenced VM ends on a host of its fence."""
    fence = inst.groups[0]
    for vm, _, to in moves(plan):
        if inst.vm_index[vm] in fence.vms:
            assert inst.host_index[to] in fence.hosts


@settings(max_examples=60, **SETTINGS)
@given(fenced_clouds())
def test_exact_greedy_and_cp_agree_on_fenced_clouds(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    greedy = cpplan.plan(inst, planner="greedy")
    for plan in (truth, greedy):
        assert cpplan.validate(inst, plan) == []
        assert_fenced(inst, plan)
    if truth.status == "optimal" and greedy.found:
        assert greedy.cost >= truth.cost - 1e-9
    if truth.status == "infeasible":
        assert not greedy.found
    cp_agrees_with_exact(inst)


def test_both_cp_models_keep_hops_inside_the_fence():
    inst = swap({"db": {"vms": ["a", "b"], "hosts": ["h1", "h2", "spare"]}})
    h = inst.host_index
    routes = {0: [(h["h1"], h["big"], h["h2"])], 1: [(h["h2"], h["h1"])]}
    through_big = IntervalModel(inst, Scaled(inst), routes, horizon=3).run(Budget(10), seed=0)
    assert through_big.hops is None and through_big.infeasible
    routes[0].append((h["h1"], h["spare"], h["h2"]))
    either = IntervalModel(inst, Scaled(inst), routes, horizon=3).run(Budget(10), seed=0)
    assert {move.dst for _, move in either.hops} == {h["spare"], h["h2"], h["h1"]}
    anywhere = TimeIndexedModel(inst, Scaled(inst), horizon=3).run(Budget(10), seed=0)
    assert anywhere.cost_proven and h["big"] not in {move.dst for _, move in anywhere.hops}
