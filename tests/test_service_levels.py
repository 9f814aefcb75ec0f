"""Service-level keys beyond SPEC's: affinity groups, offline moves and page sharing."""

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import tiny_clouds

import cpplan
from cpplan.plan import Plan


def cloud(**extra):
    spec = dict(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}},
                vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"},
                     "c": {"ram": 6}},
                initial={"a": "h1", "b": "h2", "c": "h2"}, target={"a": "h2"})
    spec.update(extra)
    return cpplan.Instance(**spec)


def move(vm, src, dst, mode=None):
    m = {"vm": vm, "from": src, "to": dst}
    if mode:
        m["mode"] = mode
    return m


def test_without_page_sharing_the_target_overloads_h2():
    with pytest.raises(cpplan.InputError, match="overloads host h2"):
        cloud()


def test_page_sharing_counts_shared_pages_once_during_the_round():
    # On h2 during the round: b (8) + c (6) + a (8) = 22, sharing 0.5 of (16 - 8) -> 18 > 16.
    with pytest.raises(cpplan.InputError, match="overloads host h2"):
        cloud(page_sharing={"ratio": 0.5})
    inst = cloud(page_sharing={"ratio": 0.75}, vms={"a": {"ram": 8, "image": "u"},
                                                     "b": {"ram": 8, "image": "u"}, "c": {"ram": 4}})
    plan = Plan("feasible", 8, [[move("a", "h1", "h2")]])
    assert cpplan.validate(inst, plan) == []  # 20 - 0.75 * 8 = 14 <= 16
    assert cpplan.plan(inst, planner="exact").cost == 8


def test_page_sharing_applies_per_image():
    inst = cloud(page_sharing={"ratio": 0.75, "images": {"u": 0.0}},
                 vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}, "c": {"ram": 0}})
    plan = Plan("feasible", 8, [[move("a", "h1", "h2")]])
    assert cpplan.validate(inst, plan) == []  # 16 exactly fits without sharing
    over = cloud(page_sharing={"ratio": 0.9, "images": {"u": 0.0}},
                 hosts={"h1": {"ram": 16}, "h2": {"ram": 14}},
                 vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 7, "image": "u"}, "c": {"ram": 0}},
                 target={})
    bad = Plan("feasible", 8, [[move("a", "h1", "h2")], [move("a", "h2", "h1")]])
    assert any("over ram capacity" in v for v in cpplan.validate(over, bad))


def swap(**vm_keys):
    """Two full hosts swap VMs; the direct swap fits only if the VMs do not count on both ends."""
    vms = {"a": {"ram": 4, **vm_keys}, "b": {"ram": 4, **vm_keys}}
    return cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}}, vms=vms,
                           initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"},
                           limits={"host": 2})


def test_offline_moves_do_not_hold_their_source():
    inst = swap(offline_cost=10, live=False)
    both = [[move("a", "h1", "h2", "offline"), move("b", "h2", "h1", "offline")]]
    assert cpplan.validate(inst, Plan("feasible", 20, both)) == []
    live = [[move("a", "h1", "h2"), move("b", "h2", "h1")]]
    violations = cpplan.validate(inst, Plan("feasible", 8, live))
    assert any("may not migrate live" in v for v in violations)


def test_live_swap_of_full_hosts_is_over_capacity():
    inst = swap(offline_cost=10)
    live = [[move("a", "h1", "h2"), move("b", "h2", "h1")]]
    assert any("over ram capacity" in v for v in cpplan.validate(inst, Plan("feasible", 8, live)))


def test_offline_needs_an_offline_cost_or_live_false():
    inst = swap()
    offline = [[move("a", "h1", "h2", "offline"), move("b", "h2", "h1", "offline")]]
    assert any("may not migrate offline" in v for v in cpplan.validate(inst, Plan("feasible", 8, offline)))


def test_planner_uses_the_cheaper_mode_and_states_it():
    inst = swap(offline_cost=1)
    plan = cpplan.plan(inst, planner="exact")
    assert plan.cost == 2 and all(m["mode"] == "offline" for r in plan.rounds for m in r)
    assert cpplan.validate(inst, plan) == []


def test_offline_cost_is_what_the_validator_sums():
    inst = swap(offline_cost=10, live=False)
    cheap = [[move("a", "h1", "h2", "offline"), move("b", "h2", "h1", "offline")]]
    assert any("states cost" in v for v in cpplan.validate(inst, Plan("feasible", 8, cheap)))


def test_affinity_group_must_share_a_host_in_the_target():
    spec = dict(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}}, vms={"a": {"ram": 2}, "b": {"ram": 2}},
                initial={"a": "h1", "b": "h2"})
    with pytest.raises(cpplan.InputError, match="groups.db: affinity broken by the target"):
        cpplan.Instance(**spec, groups={"db": {"vms": ["a", "b"], "affinity": True}})
    # a member free to end on several hosts could leave the others: refused rather than unchecked
    together = {"db": {"vms": ["a", "b"], "affinity": True}}
    with pytest.raises(cpplan.InputError, match="groups.db: affinity needs one target host per member"):
        cpplan.Instance(**spec, target={"b": ["h1", "h2"]}, groups=together)
    inst = cpplan.Instance(**spec, target={"b": "h1"},
                           groups={"db": {"vms": ["a", "b"], "affinity": True}})
    assert cpplan.plan(inst, planner="exact").status == "optimal"


def test_affinity_and_anti_affinity_together_is_bad_input():
    with pytest.raises(cpplan.InputError, match="both affinity and anti_affinity"):
        cpplan.Instance(hosts={"h": {}}, vms={"a": {}}, initial={"a": "h"},
                        groups={"g": {"vms": ["a"], "affinity": True, "anti_affinity": True}})


def test_offline_member_of_anti_affinity_group_is_only_on_its_destination():
    inst = cpplan.Instance(hosts={"h1": {}, "h2": {}, "h3": {}},
                           vms={"a": {"ram": 1, "live": False}, "b": {"ram": 1}},
                           initial={"a": "h1", "b": "h2"}, target={"a": "h3", "b": "h1"},
                           limits={"host": 2}, groups={"g": {"vms": ["a", "b"], "anti_affinity": True}})
    round_ = [[move("a", "h1", "h3", "offline"), move("b", "h2", "h1")]]
    assert cpplan.validate(inst, Plan("feasible", 2, round_)) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(tiny_clouds(sharing=True))
def test_exact_plans_with_sharing_and_offline_moves_validate(inst):
    plan = cpplan.plan(inst, planner="exact")
    assert plan.status in ("optimal", "infeasible")
    assert cpplan.validate(inst, plan) == []
