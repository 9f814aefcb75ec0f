"""The blocked VMs of answers without a plan (cpplan/blockers.py): who is stuck, in which cycle, and why."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import MODELS, tiny_case_paths, tiny_truth
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from strategies import moving_clouds, tiny_clouds

import cpplan
from cpplan.blockers import blocked_vms, describe
from cpplan.cli import main, summary
from cpplan.constraints.capacity import fits
from cpplan.durations import non_converging
from cpplan.errors import InputError
from cpplan.io import load_plan, save_plan
from cpplan.model import Instance

# h1 -> h2 -> h3 -> h1: three full hosts pass their VM on; h4 and h5 have room for m only.
CYCLE = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}, "h4": {"ram": 4},
                   "h5": {"ram": 4}},
         "vms": {"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}, "m": {"ram": 2}},
         "initial": {"a": "h1", "b": "h2", "c": "h3", "m": "h4"},
         "target": {"a": "h2", "b": "h3", "c": "h1", "m": "h5"}}

# h1 <-> h2 swap (a, b); c on h3 waits for h1, and e on h5 waits for h3, which c must leave.
CHAIN = {"hosts": {"h1": {"ram": 10}, "h2": {"ram": 9}, "h3": {"ram": 2}, "h5": {"ram": 2}},
         "vms": {"a": {"ram": 9}, "b": {"ram": 8}, "c": {"ram": 2}, "e": {"ram": 2}},
         "initial": {"a": "h1", "b": "h2", "c": "h3", "e": "h5"},
         "target": {"a": "h2", "b": "h1", "c": "h1", "e": "h3"}}


def names(entries) -> list[str]:
    return [e["vm"] for e in entries]


def test_a_cycle_of_full_hosts_names_its_vms_and_not_the_one_that_can_move():
    p = cpplan.plan(Instance(**CYCLE), planner="exact")
    assert p.status == "infeasible"
    assert p.blocked == [{"cycle": ["h1", "h2", "h3"], "waiting": [], "vms": [
        {"vm": "a", "from": "h1", "to": "h2", "short": {"ram": 8}},
        {"vm": "b", "from": "h2", "to": "h3", "short": {"ram": 8}},
        {"vm": "c", "from": "h3", "to": "h1", "short": {"ram": 8}}]}]


def test_chains_into_a_cycle_are_waiting_on_it_with_what_they_lack():
    groups = blocked_vms(Instance(**CHAIN))
    assert len(groups) == 1
    assert groups[0]["cycle"] == ["h1", "h2"] and names(groups[0]["vms"]) == ["a", "b"]
    assert groups[0]["waiting"] == [{"vm": "c", "from": "h3", "to": "h1", "short": {"ram": 1}},
                                    {"vm": "e", "from": "h5", "to": "h3", "short": {"ram": 2}}]


def test_vms_freed_by_moves_that_fit_are_not_blocked():
    # d leaves h1 first (h4 has room); then c fits on h1, and only the h2 <-> h3 swap is stuck.
    inst = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 8}, "h3": {"ram": 8}, "h4": {"ram": 4}},
                    vms={"d": {"ram": 4}, "c": {"ram": 4}, "x": {"ram": 4}, "y": {"ram": 8}},
                    initial={"d": "h1", "c": "h2", "x": "h2", "y": "h3"},
                    target={"d": "h4", "c": "h1", "x": "h3", "y": "h2"})
    groups = blocked_vms(inst)
    assert [(g["cycle"], names(g["vms"]), g["waiting"]) for g in groups] == [(["h2", "h3"], ["x", "y"], [])]


def test_a_vm_with_another_allowed_host_with_room_is_not_blocked():
    spec = {**CYCLE, "target": {**CYCLE["target"], "m": ["h1", "h5"]}}
    groups = blocked_vms(Instance(**spec))
    assert sorted(e["vm"] for g in groups for e in g["vms"] + g["waiting"]) == ["a", "b", "c"]


def test_a_vm_that_may_not_migrate_is_blocked_outside_every_cycle_with_nothing_short():
    spec = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4, "max_migrations": 0}},
            "vms": {"a": {"ram": 1}}, "initial": {"a": "h1"}, "target": {"a": "h2"}}
    p = cpplan.plan(Instance(**spec), planner="greedy")
    assert p.status == "infeasible"
    assert p.blocked == [{"cycle": [], "vms": [],
                          "waiting": [{"vm": "a", "from": "h1", "to": "h2", "short": {}}]}]
    assert "a h1→h2 may not migrate at all" in describe(p.blocked)


@pytest.mark.parametrize("limit", [{"h1": {"ram": 4, "max_outgoing": 0}},
                                   {"h2": {"ram": 4, "max_incoming": 0}}])
def test_a_vm_whose_host_may_send_none_or_target_receive_none_may_not_migrate_at_all(limit):
    hosts = {"h1": {"ram": 4}, "h2": {"ram": 4}, **limit}
    inst = Instance(hosts=hosts, vms={"a": {"ram": 1}}, initial={"a": "h1"}, target={"a": "h2"})
    p = cpplan.plan(inst, planner="greedy")
    assert p.status == "infeasible"
    assert "a h1→h2 may not migrate at all" in describe(p.blocked)


def test_the_summary_line_counts_the_cycles_and_names_the_first_vms():
    inst = Instance(**CHAIN)
    p = cpplan.plan(inst, planner="exact")
    line = summary(inst, p, 0.5)
    assert line.startswith("infeasible (exact): 2 VMs deadlocked in 1 cycle (2 more wait on it), "
                           "e.g. a h1→h2 lacks 8 ram on h2; ")
    assert p.reason in line


@pytest.mark.parametrize("planner", ["greedy", "auto"])
def test_unknown_answers_carry_blocked_too(planner):
    # Three full hosts in a cycle, one that has room for no VM: greedy cannot bounce; auto proves it.
    p = cpplan.plan(Instance(**CYCLE), planner=planner, time_limit=5)
    assert p.status in ("unknown", "infeasible")
    assert sorted(names(p.blocked[0]["vms"])) == ["a", "b", "c"]


def test_plans_that_reach_the_target_carry_no_blocked():
    inst = cpplan.load_instance(MODELS / "swap-deadlock.yaml")
    for planner in ("greedy", "exact"):
        p = cpplan.plan(inst, planner=planner)
        assert p.found and p.blocked is None and "blocked" not in p.to_dict()


def test_every_infeasible_tiny_case_names_a_deadlocked_cycle_of_vms_that_lack_room():
    truth = tiny_truth()
    for path in tiny_case_paths():
        if truth[path.stem]["feasible"]:
            continue
        inst = cpplan.load_instance(path)
        p = cpplan.plan(inst, planner="exact")
        assert p.status == "infeasible" and p.blocked, path.stem
        entries = [e for g in p.blocked for e in g["vms"] + g["waiting"]]
        assert p.blocked[0]["cycle"] and all(e["short"] for e in entries), path.stem
        assert {e["vm"] for e in entries} <= {inst.vm_names[v] for v in inst.moving.nonzero()[0]}


def test_a_plan_file_with_blocked_round_trips_and_validates(tmp_path, write_instance, capsys):
    instance = write_instance(CHAIN)
    output = tmp_path / "plan.json"
    assert main(["plan", str(instance), "--planner", "exact", "-o", str(output)]) == 3
    assert "2 VMs deadlocked in 1 cycle" in capsys.readouterr().err
    written = json.loads(output.read_text())
    assert names(written["blocked"][0]["waiting"]) == ["c", "e"]
    again = load_plan(output)
    assert again.blocked == written["blocked"]
    save_plan(again, tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == written
    assert main(["validate", str(instance), str(output)]) == 0


@pytest.mark.parametrize(("blocked", "key"), [
    ("stuck", "blocked"),
    ([["h1"]], "blocked[0]"),
    ([{"cycle": "h1"}], "blocked[0].cycle"),
    ([{"cycle": [], "vms": {"vm": "a"}}], "blocked[0].vms"),
    ([{"cycle": [], "vms": [{"vm": "a", "from": "h1"}]}], "blocked[0].vms[0]"),
    ([{"cycle": [], "waiting": [{"vm": "a", "from": "h1", "to": "h2", "short": {"ram": -1}}]}],
     "blocked[0].waiting[0].short"),
    ([{"cycle": [], "vms": [{"vm": "a", "from": "h1", "to": "h2", "short": {"ram": "lots"}}]}],
     "blocked[0].vms[0].short"),
])
def test_bad_blocked_values_are_bad_input_naming_the_key(tmp_path, blocked, key):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"status": "unknown", "cost": 0, "rounds": [], "blocked": blocked}))
    with pytest.raises(InputError) as error:
        load_plan(path)
    assert f": {key}: " in str(error.value) and "\n" not in str(error.value)


# A cycle of full hosts h1 -> h2 -> h3 -> h1 beside 40 pinned VMs (too many for exact). Only h4 has
# room to stage, but it holds z, pinned, and the cycle's VMs may not share a host with z: no capacity
# certificate sees that, so greedy and cp give up with time left (cp's models take about 1 s).
ANTI_CYCLE = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}, "h4": {"ram": 16},
                        "park": {"ram": 40}},
              "vms": {"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}, "z": {"ram": 1},
                      **{f"p{i}": {"ram": 1} for i in range(40)}},
              "initial": {"a": "h1", "b": "h2", "c": "h3", "z": "h4", **{f"p{i}": "park" for i in range(40)}},
              "target": {"a": "h2", "b": "h3", "c": "h1"},
              "groups": {"svc": {"vms": ["a", "b", "c", "z"], "anti_affinity": True}},
              "pinned": ["z", *(f"p{i}" for i in range(40))]}


NOTHING_LEFT = "nothing was left to try with time to spare, so more time will not help: try "
NEXT = "--relax (the least change to the instance that reaches B) or a spare host with room for a (8 ram)"


def test_unknown_says_nothing_was_left_to_try_and_auto_never_points_at_itself():
    inst = Instance(**ANTI_CYCLE)
    by_greedy, by_cp, by_auto = (cpplan.plan(inst, planner=name, time_limit=10)
                                 for name in ("greedy", "cp", "auto"))
    assert by_greedy.status == by_cp.status == by_auto.status == "unknown"
    assert by_greedy.reason.endswith(f"; {NOTHING_LEFT}--planner cp or auto (they search bounces and "
                                     f"step-asides more widely), {NEXT}")
    # 44 VMs: too many for the exhaustive search, so cp is not sent to auto either
    assert by_cp.reason == f"no plan found by cp's models, with time left; {NOTHING_LEFT}{NEXT}"
    assert by_auto.reason.startswith("greedy: no migration possible: 3 VMs wait")
    assert f"; cp: no plan found by cp's models, with time left; {NOTHING_LEFT}{NEXT}" in by_auto.reason
    assert "--planner" not in by_auto.reason
    assert by_auto.blocked == by_cp.blocked and by_auto.blocked[0]["cycle"] == ["h1", "h2", "h3"]


def test_cp_alone_is_sent_to_auto_on_a_cloud_small_enough_for_the_exhaustive_search():
    small = {**ANTI_CYCLE, "hosts": {h: c for h, c in ANTI_CYCLE["hosts"].items() if h != "park"},
             "vms": {v: d for v, d in ANTI_CYCLE["vms"].items() if not v.startswith("p")},
             "initial": {v: h for v, h in ANTI_CYCLE["initial"].items() if not v.startswith("p")},
             "pinned": ["z"]}
    p = cpplan.plan(Instance(**small), planner="cp", time_limit=10)
    assert p.status == "unknown"
    assert p.reason.endswith(f"{NOTHING_LEFT}--planner auto (it also searches exhaustively on small "
                             f"clouds), {NEXT}")
    assert cpplan.plan(Instance(**small), planner="auto", time_limit=10).status == "infeasible"


def test_unknown_says_when_the_time_limit_ran_out():
    # Twelve VMs rotate around twelve full hosts; one spare host makes a plan exist but exact does not
    # get through its placements in a hundredth of a second.
    hosts = {**{f"h{i}": {"ram": 4} for i in range(12)}, "spare": {"ram": 4}}
    spec = {"hosts": hosts, "vms": {f"v{i}": {"ram": 4} for i in range(12)},
            "initial": {f"v{i}": f"h{i}" for i in range(12)},
            "target": {f"v{i}": f"h{(i + 1) % 12}" for i in range(12)}}
    p = cpplan.plan(Instance(**spec), planner="exact", time_limit=0.01)
    assert p.status == "unknown" and "(time limit)" in p.reason
    assert p.reason.endswith("; the time limit ran out, so more time may help: try a longer --time-limit, "
                             "--relax (the least change to the instance that reaches B) or a spare host "
                             "with room for v0 (4 ram)")


def test_a_vm_leaving_a_host_another_vm_waits_for_takes_the_contested_room_first():
    # x (on u) and v (on w) both fit on t, but not together; L waits for x to leave u. Moving v
    # first would leave x and L stuck; moving x first lets L, then v, through.
    inst = Instance(hosts={"t": {"ram": 10}, "u": {"ram": 5}, "w": {"ram": 5}},
                    vms={"v": {"ram": 5}, "x": {"ram": 5}, "L": {"ram": 5}},
                    initial={"v": "w", "x": "u", "L": "t"}, target={"v": "t", "x": "t", "L": "u"})
    assert blocked_vms(inst) == []


@st.composite
def full_clouds(draw, levels: bool = True):
    """Tight tiny clouds with every host shrunk to its larger use in A and B: no slack, many deadlocks."""
    inst = draw(tiny_clouds(tight=True, service_levels=draw(st.booleans()) if levels else False,
                            max_hosts=5, max_vms=7))
    need = np.maximum(inst.load(inst.initial), inst.load(inst.target))
    spec = inst.to_dict()
    spec["hosts"] = {h: {**caps, **{r: float(need[i, k]) for k, r in enumerate(inst.resources) if r in caps}}
                     for i, (h, caps) in enumerate(spec["hosts"].items())}
    try:
        return Instance(**spec)
    except InputError:
        assume(False)


def may_not_migrate(inst, j: int) -> bool:
    ends = {int(inst.initial[j]), int(inst.target[j])}
    return bool(inst.pinned[j] or inst.total_limit == 0 or any(inst.host_limit[h] == 0 for h in ends)
                or any(link.max_migrations == 0 and ends & set(link.hosts.tolist()) for link in inst.links)
                or any(g.max_migrating == 0 and j in g.vms for g in inst.groups)
                or (non_converging(inst)[j] and inst.can_live[j]))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(moving_clouds(), full_clouds(),
                 tiny_clouds(tight=True, service_levels=True, sharing=True, max_hosts=5, max_vms=7)))
def test_on_random_clouds_no_listed_vm_fits_where_the_others_have_gone(inst):
    """Rebuild the stuck state independently (listed VMs at home, every other VM at its target) and
    check that no listed VM fits on its target there, by exactly what ``short`` says, and that each
    cycle is one: every hop of it carries a listed VM."""
    assume((inst.domain_of < 0).all())
    groups = blocked_vms(inst)
    listed = {e["vm"]: e for g in groups for e in g["vms"] + g["waiting"]}
    event(f"blocked VMs: {min(len(listed), 3)}{'+' if len(listed) >= 3 else ''}")
    assert len(listed) == sum(len(g["vms"]) + len(g["waiting"]) for g in groups)
    index = [inst.vm_index[v] for v in listed]
    assert inst.moving[index].all()
    placement = np.array(inst.target)
    placement[index] = inst.initial[index]
    load = inst.load(placement)
    for v, e in listed.items():
        j, t = inst.vm_index[v], inst.host_index[e["to"]]
        assert (e["from"], e["to"]) == (inst.host_names[inst.initial[j]], inst.host_names[t])
        lacking = ~fits(load[t] + inst.demand[j], inst.effective[t])
        if may_not_migrate(inst, j):
            assert e["short"] == {}
            continue
        assert lacking.any(), f"{v} fits on {e['to']} in the stuck state"
        assert set(e["short"]) == {inst.resources[r] for r in np.flatnonzero(lacking)}
        for r, x in e["short"].items():
            k = inst.resource_index[r]
            assert x == pytest.approx(load[t, k] + inst.demand[j, k] - inst.effective[t, k])
    for g in groups:
        hops = {(e["from"], e["to"]) for e in g["vms"]}
        cycle = g["cycle"]
        assert all((a, b) in hops for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(full_clouds(levels=False))
def test_when_exact_proves_no_plan_some_vm_is_blocked(inst):
    """Without service levels the stuck state's moves are a valid plan of one migration a round, so
    an empty ``blocked`` means a plan exists: never empty when exact proves there is none."""
    p = cpplan.plan(inst, planner="exact", time_limit=10)
    event(p.status)
    if p.status == "infeasible":
        assert p.blocked
    assert p.blocked == (None if p.found else blocked_vms(inst))
