"""The validator on hand-made plans: each rule of SPEC section 4 broken once is caught, and
legal plans (an overloaded host that only loses VMs, a displacement away and back) pass."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cpplan
from cpplan import Instance, Plan
from cpplan.cli import main


def mv(vm: str, src: str, dst: str) -> dict:
    return {"vm": vm, "from": src, "to": dst}


def plan_of(inst: Instance, rounds: list[list[dict]], cost: float | None = None) -> Plan:
    """A feasible plan whose stated cost is its true cost unless ``cost`` says otherwise."""
    if cost is None:
        cost = sum(float(inst.cost[inst.vm_index[m["vm"]]]) for r in rounds for m in r)
    return Plan("feasible", cost, rounds)


def cloud(n_hosts: int = 4, ram: float = 8, vms=None, initial=None, target=None, **kw) -> Instance:
    """Hosts h1..hN with ``ram`` each (host limit 2 unless ``limits`` says otherwise)."""
    return Instance(hosts={f"h{i}": {"ram": ram} for i in range(1, n_hosts + 1)},
                    vms=vms, initial=initial, target=target or {},
                    limits=kw.pop("limits", {"host": 2}), **kw)


# a on h1 goes to h2; b sits on h2 and must leave for h3 first.
SWAP_ROOM = cloud(vms={"a": {"ram": 8}, "b": {"ram": 8}}, initial={"a": "h1", "b": "h2"},
                  target={"a": "h2", "b": "h3"})


def violations(inst, rounds, cost=None) -> list[str]:
    return cpplan.validate(inst, plan_of(inst, rounds, cost))


def test_sequential_plan_is_valid():
    assert violations(SWAP_ROOM, [[mv("b", "h2", "h3")], [mv("a", "h1", "h2")]]) == []


@pytest.mark.parametrize("rounds, expected", [
    ([[mv("a", "h2", "h3")]], "VM a is on h1, not h2"),
    ([[mv("zed", "h1", "h2")]], "unknown VM 'zed'"),
    ([[mv("a", "h1", "h9")]], "unknown host 'h9'"),
    ([[mv("a", "h0", "h2")]], "unknown host 'h0'"),
    ([[mv("a", "h1", "h1")]], "migrates from h1 to itself"),
    ([[mv("b", "h2", "h3"), mv("b", "h2", "h4")]], "VM b migrates twice in one round"),
    ([[{"vm": "a", "to": "h2"}]], "must have keys vm, from, to"),
    ([[{"vm": ["a"], "from": "h1", "to": "h2"}]], "unknown VM ['a']"),
    (["a"], "must be a list of migrations"),
], ids=["wrong from", "unknown VM", "unknown destination", "unknown source", "to equals from",
        "twice in a round", "missing key", "list as name", "round not a list"])
def test_malformed_migrations_are_caught(rounds, expected):
    found = violations(SWAP_ROOM, rounds, cost=0)
    assert any(expected in v for v in found), found


def test_capacity_counts_leaving_vms_for_the_whole_round():
    """b leaving h2 would make room for a afterwards, but not during the round."""
    found = violations(SWAP_ROOM, [[mv("b", "h2", "h3"), mv("a", "h1", "h2")]])
    assert found == ["round 1: host h2 over ram capacity during the round: 16 > 8 (arriving: a)"]


def test_capacity_sums_all_arrivals():
    inst = cloud(vms={"a": {"ram": 5}, "b": {"ram": 5}}, initial={"a": "h1", "b": "h2"},
                 target={"a": "h3", "b": "h1"}, limits={"host": 3})
    assert violations(inst, [[mv("a", "h1", "h3")], [mv("b", "h2", "h1")]]) == []
    found = violations(inst, [[mv("a", "h1", "h3"), mv("b", "h2", "h3")], [mv("b", "h3", "h1")]])
    assert any("host h3 over ram capacity during the round: 10 > 8" in v for v in found), found


def test_capacity_checks_every_resource_with_allocation_ratio():
    """a (3 cpu) may bounce through h3 (1 cpu) only while the cpu ratio makes room for it."""
    inst = Instance(hosts={"h1": {"ram": 8, "cpu": 2}, "h2": {"ram": 8, "cpu": 2},
                           "h3": {"ram": 8, "cpu": 1}},
                    vms={"a": {"ram": 1, "cpu": 3}, "b": {"ram": 1, "cpu": 1}},
                    initial={"a": "h1", "b": "h2"}, target={"a": "h2"}, allocation_ratio={"cpu": 3})
    bounce = [[mv("a", "h1", "h3")], [mv("a", "h3", "h2")]]
    assert violations(inst, bounce) == []
    tighter = inst.replace(allocation_ratio={"cpu": 2.5})
    assert violations(tighter, bounce) == [
        "round 1: host h3 over cpu capacity during the round: 3 > 2.5 (arriving: a)"]
    assert violations(tighter, [[mv("a", "h1", "h2")]]) == []


def test_overloaded_start_host_that_only_loses_vms_is_legal():
    inst = cloud(vms={"a": {"ram": 6}, "b": {"ram": 6}}, initial={"a": "h1", "b": "h1"},
                 target={"a": "h2"})
    assert violations(inst, [[mv("a", "h1", "h2")]]) == []


def test_overloaded_host_that_receives_is_caught():
    inst = cloud(vms={"a": {"ram": 6}, "b": {"ram": 6}, "c": {"ram": 1}},
                 initial={"a": "h1", "b": "h1", "c": "h3"}, target={"a": "h2"})
    found = violations(inst, [[mv("a", "h1", "h2"), mv("c", "h3", "h1")], [mv("c", "h1", "h3")]])
    assert any("host h1 over ram capacity during the round: 13 > 8" in v for v in found), found


def test_displacement_away_and_back_is_valid_and_paid_twice():
    inst = cloud(vms={"s": {"ram": 2}}, initial={"s": "h1"})
    rounds = [[mv("s", "h1", "h2")], [mv("s", "h2", "h1")]]
    assert violations(inst, rounds) == []
    assert violations(inst, rounds, cost=2) == ["the plan states cost 2, its migrations cost 4"]


def test_per_host_limit_counts_both_ends():
    inst = cloud(vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h3"},
                 target={"a": "h2", "b": "h1"}, limits={"host": 1})
    assert violations(inst, [[mv("a", "h1", "h2")], [mv("b", "h3", "h1")]]) == []
    found = violations(inst, [[mv("a", "h1", "h2"), mv("b", "h3", "h1")]])
    assert found == ["round 1: host h1 touched by 2 migrations, limit 1"]


def test_per_host_override_of_the_limit():
    inst = Instance(hosts={"h1": {"ram": 8, "max_migrations": 2}, "h2": {"ram": 8}, "h3": {"ram": 8}},
                    vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h1"},
                    target={"a": "h2", "b": "h3"}, limits={"host": 1})
    assert violations(inst, [[mv("a", "h1", "h2"), mv("b", "h1", "h3")]]) == []
    stricter = inst.replace(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}})
    found = violations(stricter, [[mv("a", "h1", "h2"), mv("b", "h1", "h3")]])
    assert found == ["round 1: host h1 touched by 2 migrations, limit 1"]


def test_total_limit():
    inst = cloud(vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h3"},
                 target={"a": "h2", "b": "h4"}, limits={"host": 1, "total": 1})
    assert violations(inst, [[mv("a", "h1", "h2")], [mv("b", "h3", "h4")]]) == []
    assert violations(inst, [[mv("a", "h1", "h2"), mv("b", "h3", "h4")]]) == [
        "round 1: 2 migrations, total limit 1"]


LINKED = cloud(vms={"a": {"ram": 1}, "b": {"ram": 1}, "c": {"ram": 1}},
               initial={"a": "h1", "b": "h3", "c": "h4"}, target={"a": "h2", "b": "h1", "c": "h3"},
               limits={"host": 4}, links={"rack": {"hosts": ["h1", "h2"], "max_migrations": 1}})


def test_link_counts_only_migrations_with_exactly_one_end_behind_it():
    # a stays inside the rack, c stays outside: only b crosses.
    assert violations(LINKED, [[mv("a", "h1", "h2"), mv("b", "h3", "h1"), mv("c", "h4", "h3")]]) == []


def test_link_limit():
    found = violations(LINKED, [[mv("a", "h1", "h3")], [mv("a", "h3", "h2"), mv("b", "h3", "h1")],
                                [mv("c", "h4", "h3")]])
    assert found == ["round 2: link rack crossed by 2 migrations, limit 1"]


def test_pinned_vm_never_migrates():
    inst = cloud(vms={"p": {"ram": 1}}, initial={"p": "h1"}, pinned=["p"])
    found = violations(inst, [[mv("p", "h1", "h2")], [mv("p", "h2", "h1")]])
    assert found == ["round 1: pinned VM p migrates", "round 2: pinned VM p migrates"]


def test_group_max_migrating():
    inst = cloud(vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h2"},
                 target={"a": "h3", "b": "h4"}, groups={"web": {"vms": ["a", "b"], "max_migrating": 1}})
    assert violations(inst, [[mv("a", "h1", "h3")], [mv("b", "h2", "h4")]]) == []
    assert violations(inst, [[mv("a", "h1", "h3"), mv("b", "h2", "h4")]]) == [
        "round 1: group web has 2 members migrating, limit 1"]


ANTI = cloud(vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h2"},
             target={"a": "h3", "b": "h1"}, groups={"web": {"vms": ["a", "b"], "anti_affinity": True}})


def test_anti_affinity_counts_a_migrating_member_on_both_hosts():
    # a is still on h1 while b arrives there: two members on h1 during the round.
    found = violations(ANTI, [[mv("a", "h1", "h3"), mv("b", "h2", "h1")]])
    assert found == ["round 1: anti-affinity group web has two members on host h1"]
    assert violations(ANTI, [[mv("a", "h1", "h3")], [mv("b", "h2", "h1")]]) == []


def test_anti_affinity_two_members_arriving_on_one_host():
    found = violations(ANTI, [[mv("a", "h1", "h4"), mv("b", "h2", "h4")], [mv("a", "h4", "h3")],
                              [mv("b", "h4", "h1")]])
    assert "round 1: anti-affinity group web has two members on host h4" in found


def test_final_placement_must_be_the_target():
    found = violations(SWAP_ROOM, [[mv("b", "h2", "h3")]])
    assert found == ["after the last round: VM a is on h1, its target is h2"]


def test_vm_without_target_must_end_where_it_started():
    inst = cloud(vms={"s": {"ram": 2}}, initial={"s": "h1"})
    assert violations(inst, [[mv("s", "h1", "h2")]]) == [
        "after the last round: VM s is on h2, its target is h1"]


def test_stated_cost_must_match():
    rounds = [[mv("b", "h2", "h3")], [mv("a", "h1", "h2")]]
    assert violations(SWAP_ROOM, rounds, cost=15) == ["the plan states cost 15, its migrations cost 16"]
    assert violations(SWAP_ROOM, rounds, cost="16") == ["the plan states cost 16, its migrations cost 16"]
    assert violations(SWAP_ROOM, rounds, cost=float("nan")) == [
        "the plan states cost nan, its migrations cost 16"]


def test_explicit_cost_key_is_the_migration_cost():
    inst = cloud(vms={"a": {"ram": 4, "cost": 100}}, initial={"a": "h1"}, target={"a": "h2"})
    assert violations(inst, [[mv("a", "h1", "h2")]], cost=100) == []
    assert violations(inst, [[mv("a", "h1", "h2")]], cost=4) != []


def test_empty_rounds_are_allowed():
    assert violations(SWAP_ROOM, [[], [mv("b", "h2", "h3")], [], [mv("a", "h1", "h2")]]) == []


def test_statuses_without_a_plan():
    assert cpplan.validate(SWAP_ROOM, Plan("infeasible", 0, [])) == []
    assert cpplan.validate(SWAP_ROOM, Plan("unknown", 0, [])) == []
    found = cpplan.validate(SWAP_ROOM, Plan("infeasible", 0, [[mv("b", "h2", "h3")]]))
    assert found == ["a plan with status 'infeasible' must have no rounds"]
    assert cpplan.validate(SWAP_ROOM, Plan("optimal", 0, [])) != []


def test_several_broken_rules_are_all_reported():
    inst = cloud(vms={"a": {"ram": 8}, "b": {"ram": 8}, "p": {"ram": 0}},
                 initial={"a": "h1", "b": "h2", "p": "h2"}, target={"a": "h2", "b": "h3"},
                 limits={"host": 1}, pinned=["p"])
    found = violations(inst, [[mv("b", "h2", "h3"), mv("a", "h1", "h2"), mv("p", "h2", "h4")]])
    kinds = {"over ram capacity", "touched by 3 migrations", "pinned VM p migrates",
             "after the last round: VM p"}
    assert all(any(k in v for v in found) for k in kinds), found


def test_max_violations_caps_the_list():
    inst = cloud(n_hosts=2, vms={f"v{i}": {"ram": 0} for i in range(80)},
                 initial={f"v{i}": "h1" for i in range(80)})
    assert len(cpplan.validate(inst, Plan("feasible", 0, [[mv("v0", "h1", "h2")]] * 80))) == 50


# ----------------------------------------------------------------- `cpplan validate` exit codes
@pytest.fixture
def swap_files(tmp_path):
    instance = tmp_path / "cloud.json"
    instance.write_text(json.dumps(SWAP_ROOM.to_dict()))

    def plan_file(rounds, cost=None, name="plan.json"):
        path = tmp_path / name
        path.write_text(json.dumps(plan_of(SWAP_ROOM, rounds, cost).to_dict()))
        return path
    return instance, plan_file


def test_cli_validate_exit_0_on_a_valid_plan(swap_files, capsys):
    instance, plan_file = swap_files
    path = plan_file([[mv("b", "h2", "h3")], [mv("a", "h1", "h2")]])
    assert main(["validate", str(instance), str(path)]) == 0
    assert capsys.readouterr().err == "valid: 2 migrations in 2 rounds, cost 16\n"


def test_cli_validate_exit_1_with_reasons(swap_files, capsys):
    instance, plan_file = swap_files
    path = plan_file([[mv("b", "h2", "h3"), mv("a", "h1", "h2")]])
    assert main(["validate", str(instance), str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["round 1: host h2 over ram capacity during the round: 16 > 8 (arriving: a)",
                   "invalid: 1 violation(s)"]


@pytest.mark.parametrize("plan_text, expected", [
    ("{not json", "plan.json: invalid JSON"),
    ('{"cost": 0, "rounds": []}', "plan.json: status: must be one of"),
    ("[]", "plan.json: must be a mapping"),
    ("", "plan.json: the plan file is empty"),
])
def test_cli_validate_exit_2_on_bad_plan_file(swap_files, capsys, plan_text, expected):
    instance, plan_file = swap_files
    path = plan_file([])
    path.write_text(plan_text)
    assert main(["validate", str(instance), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_cli_validate_exit_2_on_bad_instance(swap_files, tmp_path, capsys):
    _, plan_file = swap_files
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts: {h1: {ram: -1}}\nvms: {}\ninitial: {}\n")
    assert main(["validate", str(bad), str(plan_file([]))]) == 2
    assert capsys.readouterr().err == ("cpplan: bad.yaml: hosts.h1.ram: must be a non-negative number, "
                                       "got -1\n")
    assert main(["validate", str(tmp_path / "missing.yaml"), str(plan_file([]))]) == 2
    assert "no such instance file" in capsys.readouterr().err


# ----------------------------------------------------------------- against a literal reading of SPEC 4
def spec_verdict(spec: dict, rounds: list[list[dict]], stated_cost: float) -> bool:
    """SPEC section 4 read word for word on plain dicts: is the plan valid?"""
    hosts, vms, limits = spec["hosts"], spec["vms"], spec.get("limits", {})
    place = dict(spec["initial"])

    def capacity(h, r):
        if r not in hosts[h]:
            return float("inf")
        ratio = hosts[h].get("allocation_ratio", {}).get(r, spec.get("allocation_ratio", {}).get(r, 1.0))
        return hosts[h][r] * ratio

    def demand(v, r):
        return vms[v].get(r, 0)

    resources = {r for d in [*hosts.values(), *vms.values()] for r in d
                 if r not in ("max_migrations", "allocation_ratio", "cost")}
    cost = 0.0
    for moves in rounds:
        seen = set()
        for m in moves:
            if m["vm"] not in vms or m["to"] not in hosts or m["from"] != place[m["vm"]]:
                return False
            if m["to"] == m["from"] or m["vm"] in seen or m["vm"] in spec.get("pinned", []):
                return False
            seen.add(m["vm"])
        for h in {m["to"] for m in moves}:
            for r in resources:
                held = sum(demand(v, r) for v in vms if place[v] == h)
                held += sum(demand(m["vm"], r) for m in moves if m["to"] == h)
                if held > capacity(h, r) + 1e-9:
                    return False
        for h in hosts:
            touches = sum((m["from"] == h) + (m["to"] == h) for m in moves)
            if touches > hosts[h].get("max_migrations", limits.get("host", 1)):
                return False
        if len(moves) > limits.get("total", float("inf")):
            return False
        for link in spec.get("links", {}).values():
            crossing = sum((m["from"] in link["hosts"]) != (m["to"] in link["hosts"]) for m in moves)
            if crossing > link.get("max_migrations", 1):
                return False
        for g in spec.get("groups", {}).values():
            migrating = [m for m in moves if m["vm"] in g["vms"]]
            if len(migrating) > g.get("max_migrating", float("inf")):
                return False
            if g.get("anti_affinity"):
                for h in hosts:
                    held = sum(place[v] == h for v in g["vms"])  # SPEC 8: a broken start, never made worse
                    there = held + sum(m["to"] == h for m in migrating)
                    if there > max(1, held):
                        return False
        for m in moves:
            place[m["vm"]] = m["to"]
            cost += vms[m["vm"]].get("cost", vms[m["vm"]].get("ram", 0))
    final = {**spec["initial"], **spec.get("target", {})}
    return place == final and abs(cost - stated_cost) < 1e-6


@st.composite
def clouds_with_plans(draw):
    """A random tiny cloud (every rule of SPEC 4 in play) and a random plan for it."""
    names = [f"h{i}" for i in range(draw(st.integers(2, 4)))]
    hosts = {h: {"ram": draw(st.integers(2, 10)), "cpu": draw(st.integers(1, 4))} for h in names}
    if draw(st.booleans()):
        hosts[names[0]]["max_migrations"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        hosts[names[-1]]["allocation_ratio"] = {"cpu": 0.5}
    vms = {}
    for i in range(draw(st.integers(1, 4))):
        vms[f"v{i}"] = {"ram": draw(st.integers(0, 5)), "cpu": draw(st.integers(0, 3))}
        if draw(st.booleans()):
            vms[f"v{i}"]["cost"] = draw(st.integers(0, 7))
    spec = {"hosts": hosts, "vms": vms,
            "initial": {v: draw(st.sampled_from(names)) for v in vms},
            "target": {v: draw(st.sampled_from(names)) for v in vms if draw(st.booleans())},
            "limits": {"host": draw(st.integers(1, 3))}, "allocation_ratio": {"cpu": 2.0}}
    if draw(st.booleans()):
        spec["limits"]["total"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        spec["links"] = {"up": {"hosts": names[:2], "max_migrations": draw(st.integers(0, 2))}}
    members = draw(st.lists(st.sampled_from(sorted(vms)), max_size=3, unique=True))
    if members:
        spec["groups"] = {"g": {"vms": members, "anti_affinity": draw(st.booleans()),
                                "max_migrating": draw(st.integers(1, 2))}}
    if draw(st.booleans()):
        spec["pinned"] = [draw(st.sampled_from(sorted(vms)))]
    try:
        inst = Instance(**spec)
    except cpplan.InputError:
        assume(False)
    place, rounds = dict(spec["initial"]), []
    for _ in range(draw(st.integers(0, 3))):
        moves = []  # mostly well-formed, so that the capacity and service rules get their turn
        for v in draw(st.lists(st.sampled_from(sorted(vms)), max_size=3, unique=draw(st.integers(0, 5)) > 0)):
            src = place[v] if draw(st.integers(0, 19)) else draw(st.sampled_from(names))
            others = [h for h in names if h != src]
            dst = draw(st.sampled_from(others)) if draw(st.integers(0, 19)) else src
            moves.append(mv(v, src, dst))
        for m in moves:
            place[m["vm"]] = m["to"]
        rounds.append(moves)
    if draw(st.booleans()):  # finish the plan: one migration per round to each final host
        final = {**spec["initial"], **spec["target"]}
        rounds += [[mv(v, place[v], final[v])] for v in sorted(vms) if place[v] != final[v]]
    return spec, inst, rounds


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(clouds_with_plans(), st.integers(0, 5))
def test_validator_agrees_with_a_literal_reading_of_spec(case, cost_error):
    spec, inst, rounds = case
    true_cost = sum(float(inst.cost[inst.vm_index[m["vm"]]]) for r in rounds for m in r)
    stated = true_cost + (cost_error == 0)
    found = cpplan.validate(inst, Plan("feasible", stated, rounds))
    assert (found == []) == spec_verdict(spec, rounds, stated), found


def test_a_vm_twice_in_a_round_is_named_as_such():
    inst = Instance(hosts={"h1": {}, "h2": {}, "h3": {}}, vms={"a": {"ram": 1}},
                    initial={"a": "h1"}, target={"a": "h3"}, limits={"host": 2})
    twice = Plan("feasible", 2, [[mv("a", "h1", "h2"), mv("a", "h2", "h3")]])
    assert cpplan.validate(inst, twice)[0] == "round 1: VM a migrates twice in one round"


def test_a_lower_bound_above_the_cost_is_caught():
    inst = Instance(hosts={"h1": {}, "h2": {}}, vms={"a": {"ram": 1}},
                    initial={"a": "h1"}, target={"a": "h2"})
    claim = Plan("optimal", 1, [[mv("a", "h1", "h2")]], lower_bound=5)
    assert cpplan.validate(inst, claim) == ["the plan states lower bound 5, above its cost 1"]
