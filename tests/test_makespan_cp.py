"""cp's makespan objective (cpplan.planners.cp.makespan): CP-SAT reschedules a plan's migrations with
its moves and order fixed, choosing each one's bandwidth among its levels; the schedule is valid
(SPEC 7.4), never longer than the list schedule, and the rounds and the order stay as they were."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import cpplan
from cpplan import Instance, Plan
from cpplan.generate import generate
from cpplan.objective import add_schedule
from cpplan.order import Migrations
from cpplan.planners.cp.makespan import bandwidth_levels, improve
from cpplan.schedule import POLICIES, Limits, estimate, schedule_violations

GIB = {"ram_unit": "GiB", "bandwidth": 1250, "setup": 2}


def _sized(inst: Instance, seed: int, limited: bool) -> Instance:
    """``inst`` with RAM drawn in 1-64 GiB (capacities grown to keep A and B), dirty VMs and, when
    ``limited``, two migrations per host, five in the cloud and a rack link."""
    rng = np.random.default_rng(seed)
    spec = inst.to_dict()
    ram = rng.choice([1, 2, 4, 8, 16, 32, 64], size=inst.n_vms)
    for j, name in enumerate(inst.vm_names):
        spec["vms"][name]["ram"] = int(ram[j])
        spec["vms"][name]["dirty_rate"] = float(rng.choice([0.0, 0.0, 80.0]))
    load = np.maximum(np.bincount(inst.initial, ram, minlength=inst.n_hosts),
                      np.bincount(inst.target, ram, minlength=inst.n_hosts))
    for h, name in enumerate(inst.host_names):
        spec["hosts"][name]["ram"] = int(load[h] * 1.1) + 64
    if limited:
        names = list(spec["hosts"])
        spec["limits"] = {"host": 2, "total": 5}
        spec["links"] = {"rack": {"hosts": names[: len(names) // 2], "max_migrations": 2, "bandwidth": 1500}}
    spec["migration"] = GIB
    return Instance(**spec)


def _without_times(plan: Plan) -> list:
    return [[{k: v for k, v in m.items() if k not in ("start", "end", "bandwidth")} for m in r]
            for r in plan.rounds]


CLOUDS = [("rebalance", 8, 1, 0.0), ("tight", 8, 2, 0.0), ("evacuate", 12, 3, 0.3), ("shuffle", 6, 4, 0.3)]


@pytest.mark.parametrize("family, hosts, seed, groups", CLOUDS)
@pytest.mark.parametrize("limited", [False, True])
def test_the_cp_schedule_is_valid_not_longer_and_keeps_moves_and_order(family, hosts, seed, groups, limited):
    inst = _sized(generate(family, hosts, seed, groups=groups), seed, limited)
    plan = cpplan.plan(inst, planner="greedy")
    before = copy.deepcopy(plan)
    report = improve(inst, plan, seconds=5)
    assert report["status"] in ("OPTIMAL", "FEASIBLE") and report["list_makespan"] == before.makespan
    assert plan.makespan <= before.makespan and report["makespan"] == plan.makespan
    assert _without_times(plan) == _without_times(before)
    assert schedule_violations(inst, plan) == [] and cpplan.validate(inst, plan) == []
    listed = [m for r in before.rounds for m in r]
    moves = Migrations.of(inst, before)
    levels = bandwidth_levels(inst, moves, Limits(inst, moves), listed)
    now = [m["bandwidth"] for r in plan.rounds for m in r]
    assert all(any(b == level for level, _ in choices) for b, choices in zip(now, levels, strict=True))
    changed = sum(b != m["bandwidth"] for b, m in zip(now, listed, strict=True))
    assert report.get("rebandwidthed", 0) == changed


def test_the_cp_schedule_lets_a_short_migration_go_first_where_the_list_schedule_waits():
    # every host runs one migration at a time; the list schedule starts b and c at once, so a (which
    # needs b's room on h1) waits for c to free h0, d for a, and e for d; CP-SAT starts d first
    inst = Instance(hosts={"h0": {"ram": 15000}, "h1": {"ram": 15000}, "h2": {"ram": 20000},
                           "h3": {"ram": 10000}, "h4": {"ram": 15000}},
                    vms={"a": {"ram": 2500}, "b": {"ram": 5000}, "c": {"ram": 5000}, "d": {"ram": 2500},
                         "e": {"ram": 7500}, "f": {"ram": 1250}},
                    initial={"a": "h0", "b": "h1", "c": "h3", "d": "h4", "e": "h4", "f": "h1"},
                    target={"a": "h1", "b": "h2", "c": "h0", "d": "h0", "e": "h1", "f": "h1"},
                    limits={"host": 1})
    hop = lambda vm, a, b: {"vm": vm, "from": a, "to": b}  # noqa: E731
    plan = Plan("feasible", 22500, [[hop("b", "h1", "h2"), hop("c", "h3", "h0")], [hop("a", "h0", "h1")],
                                    [hop("d", "h4", "h0")], [hop("e", "h4", "h1")]])
    add_schedule(inst, plan, "rounds")  # the order of these rounds, as the planner found them
    assert plan.makespan == pytest.approx(22.0)
    assert improve(inst, plan, seconds=5)["makespan"] == pytest.approx(18.0)
    assert schedule_violations(inst, plan) == [] and cpplan.validate(inst, plan) == []


def test_cp_gives_a_big_migration_the_whole_nic_and_runs_small_ones_side_by_side():
    # h1 may run two migrations at once: at the shares big (8 GiB) takes 18.4 s beside the small ones
    # (1 GiB), with the free bandwidth everything runs one after the other (19.3 s); CP-SAT sends big
    # alone at the whole 1000 MiB/s, one small VM likewise, and the last two side by side at half
    vms = ("big", "s1", "s2", "s3")
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}},
                    vms={v: {"ram": 8 if v == "big" else 1} for v in vms}, initial={v: "h1" for v in vms},
                    target={v: "h2" for v in vms}, limits={"host": 2},
                    migration={**GIB, "bandwidth": 1000})
    hop = lambda vm: {"vm": vm, "from": "h1", "to": "h2"}  # noqa: E731
    plan = Plan("feasible", 11, [[hop("big"), hop("s1")], [hop("s2"), hop("s3")]])
    add_schedule(inst, plan)
    by_policy = [estimate(inst, plan, [[]] * 4, "plan", p).makespan for p in POLICIES]
    assert by_policy == pytest.approx([2 + 8192 / 500, 4 * 2 + 11264 / 1000])
    assert plan.makespan == pytest.approx(min(by_policy))
    report = improve(inst, plan, seconds=5)
    big, *small = (m for r in plan.rounds for m in r)
    assert big["bandwidth"] == 1000 and sorted(m["bandwidth"] for m in small) == [500, 500, 1000]
    one_then_two = 2 + 8192 / 1000 + 2 + 1024 / 1000 + 2 + 1024 / 500
    assert report["makespan"] == plan.makespan == pytest.approx(one_then_two, abs=0.03)
    assert report["rebandwidthed"] == 2 and schedule_violations(inst, plan) == []
    assert cpplan.validate(inst, plan) == []


def test_cp_gives_the_last_migration_its_whole_hop_once_it_runs_alone():
    # a and b (32 GiB each) leave h2 side by side at the shares, the shortest list schedule; c waits for
    # a's room on h2 and then runs alone, at the whole NIC in cp's schedule
    inst = Instance(hosts={"h1": {"ram": 64}, "h2": {"ram": 64}, "h3": {"ram": 64}},
                    vms={"a": {"ram": 32}, "b": {"ram": 32}, "c": {"ram": 1}},
                    initial={"a": "h2", "b": "h2", "c": "h3"}, target={"a": "h1", "b": "h3", "c": "h2"},
                    limits={"host": 2}, migration={**GIB, "bandwidth": 1000})
    plan = cpplan.plan(inst, planner="greedy")
    listed = {m["vm"]: m for r in plan.rounds for m in r}
    assert listed["c"]["bandwidth"] == 500 and listed["c"]["start"] >= listed["a"]["end"]
    report = improve(inst, plan, seconds=5)
    timed = {m["vm"]: m for r in plan.rounds for m in r}
    assert timed["c"]["bandwidth"] == 1000 and report["makespan"] < report["list_makespan"] - 1
    assert schedule_violations(inst, plan) == [] and cpplan.validate(inst, plan) == []


@pytest.mark.parametrize("planner", ["cp", "auto"])
def test_the_dispatcher_gives_cp_and_auto_the_cp_schedule(planner):
    inst = _sized(generate("tight", 8, 4), 4, False)   # greedy's list schedule: 1.21 x the bound
    p = cpplan.plan(inst, planner=planner, time_limit=10)
    assert p.stats["schedule"]["status"] in ("OPTIMAL", "FEASIBLE")
    assert p.makespan <= p.stats["schedule"]["list_makespan"] and cpplan.validate(inst, p) == []
    assert "schedule" not in cpplan.plan(inst, planner="greedy").stats


def test_a_list_schedule_close_to_the_bound_is_kept_without_cp_sat():
    inst = _sized(generate("tight", 8, 2), 2, False)   # greedy's list schedule: 1.01 x the bound
    p = cpplan.plan(inst, planner="cp", time_limit=10)
    assert p.stats["schedule"]["status"] == "within 5% of the lower bound"
    assert p.makespan == p.stats["schedule"]["list_makespan"] <= 1.05 * p.makespan_lower_bound


def test_a_plan_with_barriers_keeps_them():
    inst = _sized(generate("rebalance", 8, 1), 1, False)
    plan = cpplan.plan(inst, planner="greedy")
    timed = estimate(inst, plan, None)
    number, rounds = 0, []
    for moves in plan.rounds:  # the same rounds without an after order: SPEC's barriers
        rounds.append([])
        for m in moves:
            rounds[-1].append({"vm": m["vm"], "from": m["from"], "to": m["to"], **timed.migrations[number]})
            number += 1
    barred = Plan(plan.status, plan.cost, rounds)
    barred.makespan = timed.makespan
    improve(inst, barred, seconds=5)
    assert barred.makespan <= timed.makespan and schedule_violations(inst, barred) == []
    ends = [max(m["end"] for m in r) for r in barred.rounds]
    starts = [min(m["start"] for m in r) for r in barred.rounds]
    assert all(s >= e - 1e-9 for e, s in zip(ends, starts[1:], strict=False))


def test_no_time_leaves_the_list_schedule():
    inst = _sized(generate("tight", 8, 2), 2, False)
    plan = cpplan.plan(inst, planner="greedy")
    before = copy.deepcopy(plan.rounds)
    assert improve(inst, plan, seconds=0)["status"] == "skipped" and plan.rounds == before
