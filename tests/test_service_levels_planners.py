"""Planners under every service level at once, on random tiny clouds.

Groups (anti-affinity, affinity, max_migrating), pinned VMs, network links,
page sharing and offline moves: exact and greedy return only valid plans,
greedy never beats exact's proven least cost, and cp finds the same least
cost as exact.
"""

from agreement import cp_agrees_with_exact
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from strategies import tiny_clouds

import cpplan

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def service_level_clouds(draw, max_hosts: int = 4, max_vms: int = 5, page_sharing: bool = True,
                         tight: bool | None = None):
    """Moving ``tiny_clouds`` with every service level, plus an affinity or a second anti-affinity group.

    The extra group is built to hold in both placements: affinity members share
    their target host, anti-affinity members have distinct hosts at both ends.
    ``page_sharing=False`` keeps images and offline moves but no shared pages;
    ``tight`` as in ``tiny_clouds`` (None: for half the examples).
    """
    tight = draw(st.booleans()) if tight is None else tight
    inst = draw(tiny_clouds(max_hosts=max_hosts, max_vms=max_vms, service_levels=True, sharing=True,
                            tight=tight))
    assume(inst.moving.any() and (page_sharing or not (inst.share_ratio > 0).any()))
    order = draw(st.permutations(range(inst.n_vms)))
    if draw(st.booleans()):
        host = inst.target[order[0]]
        members = [v for v in order if inst.target[v] == host]
        extra = {"vms": members[:3], "affinity": True}
    else:
        members, initial, target = [], set(), set()
        for v in order:
            if inst.initial[v] not in initial and inst.target[v] not in target:
                members.append(v)
                initial.add(inst.initial[v])
                target.add(inst.target[v])
        extra = {"vms": members[:3], "anti_affinity": True}
    if len(extra["vms"]) < 2:
        note(f"instance: {inst.to_dict()}")
        return inst
    extra["vms"] = [inst.vm_names[v] for v in extra["vms"]]
    if draw(st.booleans()):
        extra["max_migrating"] = 1
    groups = dict(inst.to_dict().get("groups") or {})
    groups["extra"] = extra
    inst = inst.replace(groups=groups)
    note(f"instance: {inst.to_dict()}")
    return inst


@settings(max_examples=100, **SETTINGS)
@given(service_level_clouds())
def test_exact_and_greedy_plans_are_valid_and_greedy_never_beats_exact(inst):
    truth = cpplan.plan(inst, planner="exact", time_limit=10)
    assert truth.status in ("optimal", "infeasible")
    assert cpplan.validate(inst, truth) == []
    quick = cpplan.plan(inst, planner="greedy", time_limit=10)
    assert cpplan.validate(inst, quick) == []
    if truth.status == "infeasible":
        assert not quick.found
    elif quick.found:
        assert quick.cost >= truth.cost - 1e-9
        assert quick.status != "optimal" or quick.cost == truth.cost


@settings(max_examples=40, **SETTINGS)
@given(service_level_clouds(max_hosts=3, max_vms=4, page_sharing=False))
def test_cp_finds_exacts_least_cost(inst):
    cp_agrees_with_exact(inst)


@settings(max_examples=40, **SETTINGS)
@given(service_level_clouds(max_hosts=3, max_vms=4))
def test_cp_finds_exacts_least_cost_with_page_sharing(inst):
    cp_agrees_with_exact(inst)


def test_greedy_counts_the_shared_pages_a_leaving_vm_takes_along():
    # h0 holds 8.0 = 9 - 0.25 * (9 - 5): vm0, vm2 step aside offline, leaving vm1 + vm4 = 6 - 0.25 = 5.75,
    # so vm3 (4) cannot arrive on h0 (9) until vm1 has left.
    shared = {"image": "a", "offline_cost": 0, "live": False}
    inst = cpplan.Instance(hosts={"h0": {"ram": 9}, "h1": {"ram": 8}},
                           vms={"vm0": {"ram": 2, **shared}, "vm1": {"ram": 5, "image": "a"},
                                "vm2": {"ram": 1, **shared}, "vm3": {"ram": 4, "image": "b"},
                                "vm4": {"ram": 1, "image": "a"}},
                           initial={"vm0": "h0", "vm1": "h0", "vm2": "h0", "vm3": "h1", "vm4": "h0"},
                           target={"vm1": "h1", "vm3": "h0"}, limits={"host": 1},
                           page_sharing={"ratio": 0.25})
    assert cpplan.plan(inst, planner="exact").cost == 11
    assert cpplan.validate(inst, cpplan.plan(inst, planner="greedy")) == []


def test_cp_finds_the_plan_that_needs_shared_pages():
    # vm3 fits on h1 only thanks to sharing: 1 + 2 + 1 + 6 = 10, less 0.25 * (10 - 6) = 9 <= 9.
    shared = {"ram": 1, "image": "a", "offline_cost": 0, "live": False}
    inst = cpplan.Instance(hosts={"h0": {"ram": 2}, "h1": {"ram": 9}},
                           vms={"vm0": shared, "vm1": {"ram": 1, "image": "a"},
                                "vm2": {"ram": 2, "image": "a"}, "vm3": {"ram": 6, "image": "a"}},
                           initial={"vm0": "h0", "vm1": "h1", "vm2": "h1", "vm3": "h0"},
                           target={"vm0": "h1", "vm3": "h1"}, limits={"host": 1},
                           page_sharing={"ratio": 0.25})
    assert cpplan.plan(inst, planner="exact").cost == 6
    found = cpplan.plan(inst, planner="cp", time_limit=5)
    assert found.found and found.cost == 6
