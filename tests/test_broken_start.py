"""A start that breaks anti-affinity (SPEC 8): legal, never made worse by any round, fixed by B."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_file
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cpplan
from cpplan.cli import main
from cpplan.constraints.groups import offline_refill_possible
from cpplan.errors import InputError
from cpplan.model import Instance
from cpplan.order import derive_after, order_violations
from cpplan.plan import Plan
from cpplan.simulate import simulate

PLANNERS = ("greedy", "cp", "exact", "auto")


def mv(vm, src, dst, **extra):
    return {"vm": vm, "from": src, "to": dst, **extra}


def made_worse(inst: Instance, rounds: list) -> list[str]:
    """SPEC 8 read literally: per round, group and host, the members there during the round (at its
    start, offline leavers excepted, plus arrivals) against max(1, the members there at its start)."""
    place = {v: inst.host_names[h] for v, h in zip(inst.vm_names, inst.initial, strict=True)}
    out = []
    for t, moves in enumerate(rounds, 1):
        for g in inst.groups:
            if not g.anti_affinity:
                continue
            members = [inst.vm_names[v] for v in g.vms]
            for h in inst.host_names:
                held = sum(place[v] == h for v in members)
                off = sum(m["from"] == h and m["vm"] in members and m.get("mode") == "offline" for m in moves)
                arriving = sum(m["to"] == h and m["vm"] in members for m in moves)
                if held - off + arriving > max(1, held):
                    out.append(f"round {t}: {g.name} on {h}")
        for m in moves:
            place[m["vm"]] = m["to"]
    return out


def round_violations(inst: Instance, rounds: list) -> list[str]:
    """The validator's complaints about the rounds themselves (the plan need not reach B)."""
    cost = sum(float(inst.cost[inst.vm_index[m["vm"]]]) for r in rounds for m in r)
    return [v for v in cpplan.validate(inst, Plan("feasible", cost, rounds)) if v.startswith("round")]


def broken_cloud(**extra) -> Instance:
    """h1 holds three members of web; B spreads them over h1, h2, h3 (h2 is full until d leaves)."""
    return Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 8}, "h3": {"ram": 16}, "h4": {"ram": 16}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 4}, "d": {"ram": 8}},
                    initial={"a": "h1", "b": "h1", "c": "h1", "d": "h2"},
                    target={"b": "h2", "c": "h3", "d": "h4"},
                    groups={"web": {"vms": ["a", "b", "c"], "anti_affinity": True}}, **extra)


def test_a_broken_start_loads_with_a_warning_and_a_broken_target_is_bad_input():
    inst = broken_cloud()
    assert inst.warnings == ("groups.web: anti-affinity broken by the initial placement: a, b, c on h1; "
                             "the plan never adds a member there and B must separate them",)
    with pytest.raises(InputError, match="anti-affinity broken by the target placement: a and b both on h1"):
        broken_cloud().replace(target={"c": "h3"})


def test_cli_warns_on_a_broken_start_and_exits_2_on_a_broken_target(tmp_path, capsys):
    cloud = broken_cloud().to_dict()
    path = write_file(tmp_path / "cloud.yaml", cloud)
    assert main(["plan", str(path), "-o", str(tmp_path / "plan.json"), "--planner", "greedy"]) == 0
    err = capsys.readouterr().err
    assert "cpplan: warning: " in err and "groups.web: anti-affinity broken by the initial placement" in err
    bad = write_file(tmp_path / "bad.yaml", {**cloud, "target": {"c": "h3"}})
    assert main(["plan", str(bad), "-o", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cpplan: bad.yaml: groups.web: anti-affinity broken by the target placement: a and b "
                   "both on h1"]
    assert not (tmp_path / "bad.json").exists()


def test_the_validator_lets_a_broken_host_lose_members_only():
    inst = broken_cloud(limits={"host": 3})
    ok = [[mv("b", "h1", "h4")]]
    assert round_violations(inst, ok) == []
    worse = [[mv("d", "h2", "h4")], [mv("b", "h1", "h2"), mv("c", "h1", "h2")]]
    assert round_violations(inst, worse) == [
        "round 2: anti-affinity group web has two members on host h2"]
    back = [[mv("b", "h1", "h3")], [mv("b", "h3", "h1")]]  # h1 held 2 at the start of round 2: 3 is worse
    assert round_violations(inst, back) == [
        "round 2: anti-affinity group web has 3 members on host h1, which held 2 at the start of the round"]


def test_an_offline_leaver_makes_room_for_one_arrival_on_a_broken_host():
    inst = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}, "h3": {"ram": 16}},
                    vms={"a": {"ram": 4, "live": False}, "b": {"ram": 4}, "c": {"ram": 4}},
                    initial={"a": "h1", "b": "h1", "c": "h3"}, target={"a": "h2", "c": "h1", "b": "h3"},
                    groups={"web": {"vms": ["a", "b", "c"], "anti_affinity": True}}, limits={"host": 2})
    assert offline_refill_possible(inst)
    swap = [[mv("a", "h1", "h2", mode="offline"), mv("c", "h3", "h1")]]  # h1: 2 - 1 + 1 = 2, not worse
    assert round_violations(inst, swap) == []
    both = [[mv("c", "h3", "h1")]]
    assert round_violations(inst, both) != []
    exact = cpplan.plan(inst, "exact", time_limit=10)  # its steps miss such rounds: it claims no proof
    assert exact.status == "unknown" and "does not try" in exact.reason
    plan = cpplan.plan(inst, "cp", time_limit=10)  # the time-indexed model counts by the rule exactly
    assert plan.status == "optimal" and plan.cost == 12 and cpplan.validate(inst, plan) == []
    assert [(m["vm"], m["to"], m.get("mode")) for m in plan.rounds[0]] == [("a", "h2", "offline"),
                                                                         ("c", "h1", None)]
    assert made_worse(inst, plan.rounds) == [] and not plan.has_order  # no order makes it safe: barriers


@pytest.mark.parametrize("planner", PLANNERS)
def test_every_planner_separates_a_broken_start_without_making_it_worse(planner):
    inst = broken_cloud()
    plan = cpplan.plan(inst, planner, time_limit=10)
    assert plan.found and cpplan.validate(inst, plan) == []
    assert made_worse(inst, plan.rounds) == []
    assert plan.cost == 16 and plan.status == "optimal"
    assert order_violations(inst, plan) == []  # the after order lets the stays from A overlap, no other
    assert simulate(inst, plan).overloads == []


def test_the_order_lets_only_stays_from_a_overlap():
    inst = broken_cloud(limits={"host": 3})
    plan = Plan("feasible", 16, [[mv("d", "h2", "h4")], [mv("b", "h1", "h2"), mv("c", "h1", "h3")]])
    after = derive_after(inst, plan)
    assert after is not None
    unordered = Plan("feasible", 16, [[{**m, "after": []} for m in r] for r in plan.rounds])
    clashes = [v for v in order_violations(inst, unordered) if "anti-affinity" in v]
    assert clashes == []  # b and c may leave h1 in any order
    assert any("capacity 8" in v for v in order_violations(inst, unordered))  # but not before d leaves


@st.composite
def broken_clouds(draw):
    """2-4 hosts, 2-5 VMs, one anti-affinity group piled up in A and spread out by B."""
    names = [f"h{i}" for i in range(draw(st.integers(2, 4)))]
    hosts = {h: {"ram": draw(st.integers(4, 12))} for h in names}
    n = draw(st.integers(2, 5))
    vms = {f"v{j}": {"ram": draw(st.integers(1, 4))} for j in range(n)}
    initial = {v: draw(st.sampled_from(names[:2])) for v in vms}
    target = {v: draw(st.sampled_from(names)) for v in vms if draw(st.booleans())}
    members = draw(st.lists(st.sampled_from(sorted(vms)), min_size=2, max_size=min(3, len(names)),
                            unique=True))
    spec = {"hosts": hosts, "vms": vms, "initial": initial, "target": target,
            "groups": {"g": {"vms": members, "anti_affinity": True,
                             "max_migrating": draw(st.sampled_from([1, 2, None]))}},
            "limits": {"host": draw(st.integers(1, 2))}}
    if spec["groups"]["g"]["max_migrating"] is None:
        del spec["groups"]["g"]["max_migrating"]
    try:
        inst = Instance(**spec)
    except InputError:
        assume(False)
    assume(inst.warnings)  # A breaks the group
    return inst


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(broken_clouds())
def test_no_planner_makes_a_broken_start_worse_and_they_agree(inst):
    plans = {p: cpplan.plan(inst, p, time_limit=5) for p in ("exact", "greedy", "cp")}
    for name, plan in plans.items():
        if plan.found:
            assert cpplan.validate(inst, plan) == [], name
            assert made_worse(inst, plan.rounds) == [], name
            final = np.array(inst.initial)
            for r in plan.index_rounds(inst):
                final[r[0]] = r[2]
            assert len(set(final[inst.groups[0].vms].tolist())) == inst.groups[0].vms.size
    exact = plans["exact"]
    if exact.status == "optimal":
        for name in ("greedy", "cp"):
            assert not plans[name].found or plans[name].cost >= exact.cost - 1e-9
        if plans["cp"].status == "optimal":
            assert plans["cp"].cost == pytest.approx(exact.cost)
    if exact.status == "infeasible":
        assert not any(plans[p].found for p in ("greedy", "cp"))


def test_repair_separates_a_broken_start_at_least_cost():
    inst = Instance(hosts={f"h{i}": {"ram": 16} for i in range(3)},
                    vms={"a": {"ram": 4, "cost": 9}, "b": {"ram": 4, "cost": 2}, "c": {"ram": 4, "cost": 5}},
                    initial={"a": "h0", "b": "h0", "c": "h0"},
                    groups={"web": {"vms": ["a", "b", "c"], "anti_affinity": True}}, choosing_target=True)
    result = cpplan.choose_target(inst, goal="repair", time_limit=5)
    assert result.cost == 7 and result.proven  # a, the costliest, stays; b and c leave
    target = result.instance.target
    assert target[0] == 0 and len(set(target.tolist())) == 3
    assert result.plan.found and made_worse(inst, result.plan.rounds) == []
    assert result.stats["broken"] == [{"group": "web", "host": "h0", "vms": ["a", "b", "c"]}]
