"""Among rules (``groups.G.among``, SPEC section 8): members end within one host set, moving only to it.

The set is fixed when the instance is read (the one holding every fixed target,
then most members now); the validator names a member that leaves it (a group
ending split across two sets), every planner keeps to it, exact, greedy and cp
agree on random tiny clouds with an among rule, a start outside the set is
legal, the goals choose B inside it, and bad rules are one-line input errors.
"""

from __future__ import annotations

import pytest
import yaml
from agreement import cp_agrees_with_exact
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from strategies import tiny_clouds

import cpplan
from cpplan import InputError, Instance
from cpplan.allowed import end_hosts
from cpplan.cli import main
from cpplan.plan import Plan

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
PLANNERS = ("greedy", "cp", "exact", "auto")
FOUR = {h: {"ram": 8} for h in ("h1", "h2", "h3", "h4")}


def moves(plan: Plan) -> list[tuple[str, str, str]]:
    return [(m["vm"], m["from"], m["to"]) for r in plan.rounds for m in r]


def chosen_set(inst: Instance, k: int = 0) -> list[str]:
    g = inst.groups[k]
    return [inst.host_names[h] for h in g.among[inst.among_set[k]]]


def test_the_set_holds_every_fixed_target_then_most_members_now():
    sets = [["h1", "h2"], ["h2", "h3"], ["h3", "h4"]]
    vms = {"a": {"ram": 2}, "b": {"ram": 2}, "c": {"ram": 2}}
    inst = Instance(hosts=FOUR, vms=vms, initial={"a": "h1", "b": "h3", "c": "h4"}, target={"a": "h3"},
                    groups={"web": {"vms": ["a", "b", "c"], "among": sets}})
    assert chosen_set(inst) == ["h3", "h4"]  # the only set holding a's target, b's and c's hosts
    flexible = Instance(hosts=FOUR, vms=vms, initial={"a": "h1", "b": "h3", "c": "h4"},
                        target={"a": ["h2", "h3"], "b": ["h2", "h3"], "c": ["h2", "h3"]},
                        groups={"web": {"vms": ["a", "b", "c"], "among": sets}})
    # every set meets the allowed hosts {h2, h3}; {h3, h4} holds two members now, b and c
    assert chosen_set(flexible) == ["h3", "h4"]
    assert [flexible.host_names[h] for h in flexible.target] == ["h3", "h3", "h3"]


def test_validator_names_a_group_ending_split_across_two_sets():
    inst = Instance(hosts=FOUR, vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h3"},
                    target={"a": ["h2", "h4"], "b": ["h2", "h4"]},
                    groups={"web": {"vms": ["a", "b"], "among": [["h1", "h2"], ["h3", "h4"]]}})
    kept = chosen_set(inst)
    split = Plan("feasible", 8, [[{"vm": "a", "from": "h1", "to": "h2"},
                                  {"vm": "b", "from": "h3", "to": "h4"}]])
    other = "b" if kept == ["h1", "h2"] else "a"
    host = "h4" if other == "b" else "h2"
    violations = cpplan.validate(inst, split)
    assert violations[0] == (f"round 1: VM {other} moves to host {host}, outside the set of among group web "
                             f"({', '.join(kept)})")
    together = cpplan.plan(inst, planner="exact")
    assert together.found and cpplan.validate(inst, together) == []
    assert {to for _, _, to in moves(together)} <= set(kept)


@pytest.mark.parametrize("planner", PLANNERS)
def test_every_planner_bounces_within_the_set(planner):
    hosts = {"h1": {"ram": 4}, "h2": {"ram": 4}, "spare": {"ram": 6}, "big": {"ram": 64}}
    vms = {"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 2}}
    spec = dict(hosts=hosts, vms=vms, initial={"a": "h1", "b": "h2", "c": "spare"},
                target={"a": "h2", "b": "h1"})
    free = cpplan.plan(Instance(**spec), planner="greedy")
    assert ("a", "h1", "big") in moves(free)  # without the rule greedy bounces through the roomier host
    inst = Instance(**spec, groups={"web": {"vms": ["a", "b"], "among": [["big"], ["h1", "h2", "spare"]]}})
    plan = cpplan.plan(inst, planner=planner, time_limit=10)
    assert plan.found and cpplan.validate(inst, plan) == []
    assert plan.cost == 12 and all(to != "big" for _, _, to in moves(plan))


def test_a_start_outside_the_set_is_legal():
    inst = Instance(hosts=FOUR, vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h3"},
                    target={"a": "h4"},
                    groups={"web": {"vms": ["a", "b"], "among": [["h1", "h2"], ["h3", "h4"]]}})
    assert chosen_set(inst) == ["h3", "h4"]
    for planner in PLANNERS:
        plan = cpplan.plan(inst, planner=planner, time_limit=10)
        assert plan.found and cpplan.validate(inst, plan) == [] and moves(plan) == [("a", "h1", "h4")]


@pytest.mark.parametrize("goal", ["consolidate", "rebalance"])
def test_goals_choose_b_inside_the_set(goal):
    hosts = {"h1": {"ram": 16}, "h2": {"ram": 16}, "h3": {"ram": 16}, "h4": {"ram": 16}}
    vms = {f"v{i}": {"ram": 4} for i in range(6)}
    initial = {"v0": "h1", "v1": "h1", "v2": "h1", "v3": "h2", "v4": "h3", "v5": "h4"}
    member = "v3" if goal == "consolidate" else "v2"
    sets = [["h1", "h4"], ["h2", "h3"]] if goal == "consolidate" else [["h4"], ["h1", "h2", "h3"]]
    inst = Instance(hosts=hosts, vms=vms, initial=initial, groups={"web": {"vms": [member], "among": sets}})
    result = cpplan.choose_target(inst, goal=goal, time_limit=10)
    chosen = result.instance
    assert chosen.host_names[chosen.target[chosen.vm_index[member]]] in chosen_set(inst)
    assert result.plan.found and cpplan.validate(chosen, result.plan) == []


@pytest.mark.parametrize("among, key, problem", [
    ([["h9"]], "groups.web.among[0][0]", "unknown host 'h9'"),
    ([], "groups.web.among", "must be a non-empty list of host lists"),
    ("h1", "groups.web.among", "must be a non-empty list of host lists"),
    ([["h1", "h2"], []], "groups.web.among[1]", "must name at least one host"),
    ([["h1"], ["h2", "h3"]], "groups.web.among",
     "the target breaks it: no set holds every member's target (a on h2, b on h1)"),
])
def test_bad_among_rules_exit_2_with_one_line(tmp_path, capsys, among, key, problem):
    path = tmp_path / "cloud.yaml"
    inst = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
            "vms": {"a": {"ram": 4}, "b": {"ram": 4}}, "initial": {"a": "h1", "b": "h1"},
            "target": {"a": "h2"},
            "groups": {"web": {"vms": ["a", "b"], "among": among}}}
    path.write_text(yaml.safe_dump(inst), encoding="utf-8")
    out = tmp_path / "plan.json"
    assert main(["plan", str(path), "-o", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.strip() == f"cpplan: {path.name}: {key}: {problem}"
    assert not out.exists()


@st.composite
def among_clouds(draw):
    """``tiny_clouds`` with an among rule over two disjoint host sets (or one set and its overlap with
    the other): the members are the VMs whose targets lie in the set of the first member's target."""
    inst = draw(tiny_clouds(max_hosts=4, max_vms=4, tight=draw(st.booleans())))
    side = draw(st.lists(st.booleans(), min_size=inst.n_hosts, max_size=inst.n_hosts))
    first = [h for h in range(inst.n_hosts) if side[h]]
    second = [h for h in range(inst.n_hosts) if not side[h]]
    assume(first and second)
    if draw(st.booleans()):  # overlapping sets: the second also takes one host of the first
        second.append(first[0])
    names = lambda hosts: [inst.host_names[h] for h in sorted(hosts)]  # noqa: E731
    home = first if side[inst.target[0]] else second
    members = [v for v in range(inst.n_vms) if inst.target[v] in home]
    groups = {"web": {"vms": [inst.vm_names[v] for v in members], "among": [names(first), names(second)]}}
    try:
        ruled = inst.replace(groups=groups)
    except InputError:
        assume(False)
    note(f"instance: {ruled.to_dict()}")
    return ruled


@settings(max_examples=60, **SETTINGS)
@given(among_clouds())
def test_exact_greedy_and_cp_agree_under_an_among_rule(inst):
    kept = set(chosen_set(inst))
    members = {inst.vm_names[v] for v in inst.groups[0].vms}
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    greedy = cpplan.plan(inst, planner="greedy")
    for plan in (truth, greedy):
        assert cpplan.validate(inst, plan) == []
        assert all(to in kept for vm, _, to in moves(plan) if vm in members)
    if truth.status == "optimal" and greedy.found:
        assert greedy.cost >= truth.cost - 1e-9
    if truth.status == "infeasible":
        assert not greedy.found
    cp_agrees_with_exact(inst)


def test_read_to_choose_b_a_split_group_keeps_to_the_set_holding_most_members():
    spec = dict(hosts=FOUR, vms={"a": {"ram": 2}, "b": {"ram": 2}, "c": {"ram": 2}},
                initial={"a": "h1", "b": "h3", "c": "h4"},
                groups={"web": {"vms": ["a", "b", "c"], "among": [["h1", "h2"], ["h3", "h4"]]},
                        "db": {"vms": ["a"], "hosts": ["h2", "h3"]}})
    with pytest.raises(InputError, match="groups.db.hosts: the target breaks it"):
        Instance(**spec)
    inst = Instance(**spec, choosing_target=True)
    assert chosen_set(inst) == ["h3", "h4"]
    assert end_hosts(inst, inst.vm_index["a"]).tolist() == [False, False, True, False]  # both rules
    result = cpplan.choose_target(inst, goal="evacuate", drain=["h1"], time_limit=10)
    assert result.instance.host_names[result.instance.target[0]] == "h3"
    assert result.plan.found and cpplan.validate(result.instance, result.plan) == []
