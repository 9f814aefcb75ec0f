"""The estimated schedule: durations as SPEC 7.2 says, limits in flight, barriers, the makespan bound,
and the plan file's time keys."""

from __future__ import annotations

import copy
import itertools
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds

import cpplan
from cpplan import InputError, Instance, Plan
from cpplan.bounds import makespan_lower_bound
from cpplan.cli import main, summary
from cpplan.io import load_plan
from cpplan.order import Migrations
from cpplan.schedule import POLICIES, PRIORITIES, estimate, schedule_violations, scheduled

GIB = {"ram_unit": "GiB", "bandwidth": 1000, "setup": 2}


def database_and_webs() -> Instance:
    """A 64 GiB database (h1 -> h2) and a 2 GiB web VM (h3 -> h4) that share no host."""
    return Instance(hosts={"h1": {"ram": 256}, "h2": {"ram": 256}, "h3": {"ram": 256}, "h4": {"ram": 256}},
                    vms={"db": {"ram": 64}, "w1": {"ram": 2}},
                    initial={"db": "h1", "w1": "h3"}, target={"db": "h2", "w1": "h4"},
                    limits={"host": 1}, migration=GIB)


def test_durations_match_the_model_exactly():
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64, "bandwidth": 500}},
                    vms={"a": {"ram": 8, "dirty_rate": 100},
                         "b": {"ram": 4, "offline_cost": 1, "live": False}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"},
                    limits={"host": 2}, migration=GIB)
    plan = cpplan.plan(inst, "greedy")
    moves = [m for r in plan.rounds for m in r]
    for m in moves:
        v = inst.vm_index[m["vm"]]
        copy_rate = m["bandwidth"] - (0 if m.get("mode") == "offline" else inst.durations.dirty_rate[v])
        assert m["end"] - m["start"] == pytest.approx(2 + inst.durations.ram_mib[v] / copy_rate, rel=1e-12)
        assert m["bandwidth"] == 500   # the free policy: h2's whole 500 MiB/s, one after the other
    assert plan.makespan == max(m["end"] for m in moves) == pytest.approx(2 + 8192 / 400 + 2 + 4096 / 500)
    assert cpplan.validate(inst, plan) == []
    shared = estimate(inst, plan, [m.get("after", []) for m in moves], policy="share")
    assert [m["bandwidth"] for m in shared.migrations] == [250, 250]   # h2's 500 MiB/s halved: longer
    assert shared.makespan == pytest.approx(2 + 8192 / 150) and shared.makespan > plan.makespan


def test_a_later_round_starts_before_an_earlier_one_ends_where_the_order_allows():
    inst = database_and_webs()
    rounds = [[{"vm": "db", "from": "h1", "to": "h2"}], [{"vm": "w1", "from": "h3", "to": "h4"}]]
    plan = Plan("feasible", 66, rounds)
    barrier = estimate(inst, plan, None)
    ordered = estimate(inst, plan, [[], []])
    db, web = 2 + 65536 / 1000, 2 + 2048 / 1000
    assert barrier.makespan == pytest.approx(db + web) and ordered.makespan == pytest.approx(db)
    assert ordered.migrations[1]["start"] == 0.0


def test_limits_in_flight_hold_the_schedule_back():
    inst = database_and_webs().replace(initial={"db": "h1", "w1": "h1"}, target={"db": "h2", "w1": "h4"})
    plan = Plan("feasible", 66, [[{"vm": "db", "from": "h1", "to": "h2"}],
                                 [{"vm": "w1", "from": "h1", "to": "h4"}]])
    timed = estimate(inst, plan, [[], []])     # h1 runs one migration at a time
    assert timed.migrations[1]["start"] == timed.migrations[0]["end"]


def test_a_dirty_vm_gets_the_whole_hop_when_its_share_would_not_converge():
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}, "h3": {"ram": 64}},
                    vms={"a": {"ram": 8, "dirty_rate": 700}, "b": {"ram": 8}},
                    initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h3"},
                    limits={"host": 2}, migration=GIB)
    plan = cpplan.plan(inst, "greedy")
    assert cpplan.validate(inst, plan) == []
    listed = [m for r in plan.rounds for m in r]
    timed = estimate(inst, plan, [m.get("after", []) for m in listed], policy="share")
    by_vm = {m["vm"]: t for m, t in zip(listed, timed.migrations, strict=True)}
    assert by_vm["a"]["bandwidth"] == 1000 and by_vm["b"]["bandwidth"] == 500
    assert by_vm["b"]["start"] >= by_vm["a"]["end"] or by_vm["a"]["start"] >= by_vm["b"]["end"]


def test_plans_without_a_safe_order_keep_barriers():
    inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
                    vms={"a": {"ram": 8, "live": False}, "b": {"ram": 8, "live": False}},
                    initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
    plan = cpplan.plan(inst, "exact")
    assert all("after" not in m and "start" in m for r in plan.rounds for m in r)
    assert plan.makespan == pytest.approx(2 + 8 / 625)   # both at once, each half a NIC


def _timed(inst) -> Plan:
    return cpplan.plan(inst, "greedy")


def _broken(plan: Plan, number: int, **changes) -> Plan:
    bad = copy.deepcopy(plan)
    [m for r in bad.rounds for m in r][number].update(changes)
    return bad


def test_hand_made_bad_schedules_are_caught():
    inst = database_and_webs().replace(initial={"db": "h1", "w1": "h1"}, target={"db": "h2", "w1": "h4"})
    plan = _timed(inst)
    assert cpplan.validate(inst, plan) == [] and plan.n_migrations == 2
    first, second = [m for r in plan.rounds for m in r]
    cases = {
        "lasts": _broken(plan, 0, end=first["end"] + 1),
        "before migration 0": _broken(plan, 1, after=[0], start=0.0, end=second["end"] - second["start"]),
        "would run 2 migrations, limit 1": _broken(plan, 1, after=[], start=0.0,
                                                   end=second["end"] - second["start"]),
        "its hop gets at most 1000": _broken(plan, 0, bandwidth=2000.0),
        "has no valid start": _broken(plan, 1, start=None),
    }
    for needle, bad in cases.items():
        assert any(needle in v for v in cpplan.validate(inst, bad)), (needle, cpplan.validate(inst, bad))
    bad = copy.deepcopy(plan)
    bad.makespan = plan.makespan + 5
    assert any("states makespan" in v for v in cpplan.validate(inst, bad))
    bad.makespan, bad.makespan_lower_bound = plan.makespan, plan.makespan + 5
    assert any("makespan lower bound" in v for v in cpplan.validate(inst, bad))


def test_a_live_migration_that_does_not_converge_at_its_bandwidth_is_caught():
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}}, vms={"a": {"ram": 8, "dirty_rate": 500}},
                    initial={"a": "h1"}, target={"a": "h2"}, migration=GIB)
    plan = _timed(inst)
    m = plan.rounds[0][0]
    slow = _broken(plan, 0, bandwidth=600.0, end=m["start"] + 2 + 8192 / 100)
    assert any("does not converge live at 600 MiB/s" in v for v in cpplan.validate(inst, slow))


def test_the_makespan_lower_bound_formula():
    inst = Instance(hosts={"h1": {}, "h2": {}, "h3": {}},
                    vms={"a": {"ram": 10}, "b": {"ram": 10}, "c": {"ram": 1}},
                    initial={"a": "h1", "b": "h1", "c": "h3"}, target={"a": "h2", "b": "h3", "c": "h2"},
                    limits={"host": 2}, migration=GIB)
    nic = 2 + 20 * 1024 / 1000                        # h1 sends a and b
    assert makespan_lower_bound(inst) == pytest.approx(nic)
    one_at_a_time = inst.replace(limits={"host": 1}, migration={**GIB, "setup": 30})
    # h1 runs a and b one after the other, each its 30 s setup and its 10 GiB at 1000 MiB/s
    assert makespan_lower_bound(one_at_a_time) == pytest.approx(2 * 30 + 20 * 1024 / 1000)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(moving_clouds(), st.sampled_from(["exact", "greedy"]), st.sampled_from([0.0, 0.5, 5.0]),
       st.integers(0, 3))
def test_every_plan_carries_a_schedule_that_respects_order_limits_and_bound(inst, planner, setup, dirty):
    spec = inst.to_dict()
    spec["migration"] = {"setup": setup, "bandwidth": 8}
    for v in spec["vms"].values():
        v["dirty_rate"] = dirty
    try:
        inst = Instance(**spec)
    except InputError:
        return
    plan = cpplan.plan(inst, planner, time_limit=5)
    if not plan.found:
        return
    moves = [m for r in plan.rounds for m in r]
    assert all({"start", "end", "bandwidth"} <= m.keys() for m in moves)
    assert schedule_violations(inst, plan) == [] and cpplan.validate(inst, plan) == []
    assert plan.makespan_lower_bound <= plan.makespan * (1 + 1e-9) + 1e-9
    numbered = Migrations.of(inst, plan)
    for i, m in enumerate(moves):
        v = int(numbered.vm[i])
        rate = m["bandwidth"] - (0 if m.get("mode") == "offline" else inst.durations.dirty_rate[v])
        assert m["end"] - m["start"] == pytest.approx(setup + inst.durations.ram_mib[v] / rate)
    routes = Plan(plan.status, plan.cost, plan.routes())
    ordered = [m["after"] for m in moves] if moves and "after" in moves[0] else None
    for after in (ordered, None):
        for priority, policy in itertools.product(PRIORITIES, POLICIES):
            timed = scheduled(routes, after, estimate(inst, routes, after, priority, policy))
            assert schedule_violations(inst, timed) == [], (priority, policy, after is None)


def test_the_free_bandwidth_ends_a_chain_of_big_migrations_sooner():
    # every host may run two migrations, so each gets half a NIC at the shares; b needs a's room on h1
    # and c needs b's on h2: alone on their hosts, each gets the whole NIC with the free policy
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}, "h3": {"ram": 128}, "h4": {"ram": 64}},
                    vms={"a": {"ram": 64}, "b": {"ram": 64}, "c": {"ram": 64}},
                    initial={"a": "h1", "b": "h2", "c": "h4"}, target={"a": "h3", "b": "h1", "c": "h2"},
                    limits={"host": 2}, migration=GIB)
    hop = lambda vm, a, b: {"vm": vm, "from": a, "to": b}  # noqa: E731
    routes = Plan("feasible", 192, [[hop("a", "h1", "h3")], [hop("b", "h2", "h1")], [hop("c", "h4", "h2")]])
    assert cpplan.validate(inst, routes) == []
    chain = [[], [0], [1]]
    share, free = (estimate(inst, routes, chain, policy=p) for p in POLICIES)
    assert [m["bandwidth"] for m in share.migrations] == [500] * 3
    assert [m["bandwidth"] for m in free.migrations] == [1000] * 3
    assert share.makespan == pytest.approx(3 * (2 + 65536 / 500))
    assert free.makespan == pytest.approx(3 * (2 + 65536 / 1000)) and free.makespan < share.makespan
    plan = cpplan.plan(inst, "greedy")
    assert plan.makespan == pytest.approx(free.makespan) and cpplan.validate(inst, plan) == []


def test_the_free_bandwidth_waits_for_its_share_when_less_is_free():
    # a (h1 -> h2) takes h1's whole NIC; b (h1 -> h3) may run beside it by the limits but finds
    # nothing free on h1 and starts when a ends, at its whole hop
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}, "h3": {"ram": 64}},
                    vms={"a": {"ram": 8}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"},
                    target={"a": "h2", "b": "h3"}, limits={"host": 2}, migration=GIB)
    routes = Plan("feasible", 12, [[{"vm": "a", "from": "h1", "to": "h2"},
                                    {"vm": "b", "from": "h1", "to": "h3"}]])
    free = estimate(inst, routes, [[], []], policy="free")
    first, second = free.migrations
    assert first == {"start": 0.0, "end": 2 + 8192 / 1000, "bandwidth": 1000.0}
    assert second["start"] == first["end"] and second["bandwidth"] == 1000.0
    assert schedule_violations(inst, scheduled(routes, [[], []], free)) == []
    with pytest.raises(ValueError, match="unknown policy"):
        estimate(inst, routes, None, policy="fastest")


def test_a_plan_file_round_trips_its_schedule(tmp_path):
    inst = database_and_webs()
    plan = cpplan.plan(inst, "greedy")
    path = tmp_path / "p.json"
    cpplan.save_plan(plan, path)
    again = load_plan(path)
    assert again.rounds == plan.rounds and again.makespan == plan.makespan
    assert again.makespan_lower_bound == plan.makespan_lower_bound and cpplan.validate(inst, again) == []


@pytest.mark.parametrize("change, key", [
    ({"makespan": -1}, "makespan"),
    ({"makespan_lower_bound": math.inf}, "makespan_lower_bound"),
    ({"migration": {"start": -1}}, "rounds[0][0].start"),
    ({"migration": {"end": "soon"}}, "rounds[0][0].end"),
    ({"migration": {"bandwidth": 0}}, "rounds[0][0].bandwidth"),
    ({"migration": {"after": [0]}}, "rounds[0][0].after"),
    ({"migration": {"after": "x"}}, "rounds[0][0].after"),
    ({"migration": {"after": [0.5]}}, "rounds[0][0].after"),
])
def test_bad_time_keys_in_a_plan_file_are_bad_input(tmp_path, capsys, change, key):
    data = {"status": "feasible", "cost": 4, "rounds": [[{"vm": "a", "from": "h1", "to": "h2"}]]}
    if "migration" in change:
        data["rounds"][0][0].update(change["migration"])
    else:
        data.update(change)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data).replace("Infinity", "1e999"))
    with pytest.raises(InputError) as e:
        load_plan(path)
    assert e.value.key == key
    instance = tmp_path / "c.yaml"
    instance.write_text("hosts: {h1: {ram: 8}, h2: {ram: 8}}\nvms: {a: {ram: 4}}\ninitial: {a: h1}\n"
                        "target: {a: h2}\n")
    assert main(["validate", str(instance), str(path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_summary_line_gives_the_makespan_and_its_bound():
    inst = database_and_webs()
    plan = cpplan.plan(inst, "greedy")
    line = summary(inst, plan, 0.1)
    assert f"makespan {plan.makespan:.1f} s (lower bound {plan.makespan_lower_bound:.1f} s)" in line


@pytest.mark.parametrize("family, hosts, seed", [("tight", 10, 1), ("tight", 20, 2), ("rebalance", 20, 3)])
def test_the_schedule_is_the_shorter_estimate_and_the_order_the_pruned_one(family, hosts, seed):
    # on the tight clouds waiting for less ends later in the estimate, on rebalance-20-s3 sooner
    from cpplan.generate import generate
    from cpplan.order import WAIT_ORDERS, derive_after, pruned

    inst = generate(family, hosts, seed)
    plan = cpplan.plan(inst, planner="greedy", objective="rounds")
    routes = Plan(plan.status, plan.cost, plan.routes())
    full = derive_after(inst, routes, prune=False)
    leans = [pruned(inst, routes, full, waits) for waits in WAIT_ORDERS]
    assert full not in leans and [m["after"] for r in plan.rounds for m in r] in leans
    estimates = [estimate(inst, routes, order).makespan for order in (full, *leans)]
    assert plan.makespan <= min(estimates) + 1e-9  # priorities other than the plan's may do better
    every = [estimate(inst, routes, order, priority, policy).makespan
             for order in (full, *leans) for priority in PRIORITIES for policy in POLICIES]
    assert plan.makespan == pytest.approx(min(every))
    assert cpplan.validate(inst, plan) == []   # its schedule respects the order it states
