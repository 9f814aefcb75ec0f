"""The cloud model built from Python: arrays, defaults, costs, immutability, round trips."""

from __future__ import annotations

import numpy as np
import pytest

import cpplan
from cpplan import InputError, Instance, Plan


def small() -> Instance:
    return Instance(
        hosts={"h1": {"ram": 16, "cpu": 4}, "h2": {"ram": 16, "max_migrations": 3,
                                                  "allocation_ratio": {"cpu": 1.0}},
               "h3": {"disk": 100}},
        vms={"a": {"ram": 4, "cpu": 2}, "b": {"ram": 8, "cost": 3}, "c": {"disk": 10}},
        initial={"a": "h1", "b": "h1", "c": "h3"}, target={"b": "h2"},
        limits={"host": 2, "total": 5}, allocation_ratio={"cpu": 2.0})


def test_names_and_resources_keep_file_order():
    inst = small()
    assert inst.host_names == ("h1", "h2", "h3") and inst.vm_names == ("a", "b", "c")
    assert inst.resources == ("ram", "cpu", "disk")
    assert inst.host_index["h3"] == 2 and inst.vm_index["b"] == 1
    assert (inst.n_hosts, inst.n_vms) == (3, 3)


def test_unlisted_capacity_is_unlimited_and_unlisted_demand_is_zero():
    inst = small()
    assert np.isinf(inst.capacity[2, 0]) and inst.capacity[2, 2] == 100
    assert inst.demand[2].tolist() == [0, 0, 10]
    assert inst.demand[1].tolist() == [8, 0, 0]


def test_allocation_ratio_default_and_per_host_override():
    inst = small()
    assert inst.ratio[0].tolist() == [1.0, 2.0, 1.0]
    assert inst.ratio[1].tolist() == [1.0, 1.0, 1.0]
    assert inst.effective[0, 1] == 8


def test_limits():
    inst = small()
    assert inst.host_limit.tolist() == [2, 3, 2] and inst.total_limit == 5
    bare = Instance(hosts={"h": {}}, vms={}, initial={})
    assert bare.host_limit.tolist() == [1] and bare.total_limit is None


def test_placements_and_moving_mask():
    inst = small()
    assert inst.initial.tolist() == [0, 0, 2] and inst.target.tolist() == [0, 1, 2]
    assert inst.moving.tolist() == [False, True, False]
    assert inst.load(inst.initial)[0].tolist() == [12, 2, 0]


def test_default_cost_is_ram_unless_cost_is_given():
    assert small().cost.tolist() == [4, 3, 0]


def test_pluggable_cost():
    inst = small().with_cost(lambda vm: 1 + vm.demand.get("disk", 0))
    assert inst.cost.tolist() == [1, 1, 11]
    assert small().cost.tolist() == [4, 3, 0]  # the original is untouched
    result = cpplan.plan(small(), planner="exact", cost=lambda vm: 7)
    assert result.status == "optimal" and result.stats["objective"] == 7
    assert result.cost == 3  # the plan states SPEC's cost, so any validator accepts it


def test_cost_function_must_return_non_negative_numbers():
    with pytest.raises(InputError, match="non-negative"):
        small().with_cost(lambda vm: -1)


def test_vm_view():
    view = small().vm(1)
    assert (view.name, view.cost, view.initial, view.target) == ("b", 3.0, "h1", "h2")
    assert view.demand["ram"] == 8


def test_arrays_are_read_only():
    inst = small()
    for array in (inst.capacity, inst.effective, inst.demand, inst.cost, inst.initial, inst.target,
                  inst.host_limit, inst.pinned):
        with pytest.raises(ValueError):
            array[0] = 0


def test_to_dict_and_replace_round_trip():
    inst = small()
    again = Instance(**inst.to_dict())
    assert again.to_dict() == inst.to_dict()
    assert (again.effective == inst.effective).all()
    moved = inst.replace(target={"a": "h2"})
    assert moved.moving.tolist() == [True, False, False]
    assert inst.moving.tolist() == [False, True, False]


def test_to_dict_is_a_copy():
    inst = small()
    inst.to_dict()["hosts"]["h1"]["ram"] = 1
    assert inst.to_dict()["hosts"]["h1"]["ram"] == 16


def test_links_and_groups_hold_indices():
    inst = small().replace(links={"up": {"hosts": ["h3"], "max_migrations": 2}},
                           groups={"g": {"vms": ["a", "c"], "anti_affinity": True}}, pinned=["a"])
    (link,) = inst.links
    assert (link.name, link.hosts.tolist(), link.max_migrations) == ("up", [2], 2)
    (group,) = inst.groups
    assert (group.name, group.vms.tolist(), group.anti_affinity, group.max_migrating) == \
        ("g", [0, 2], True, None)
    assert inst.pinned.tolist() == [True, False, False]


def test_link_limit_defaults_to_one():
    inst = small().replace(links={"up": {"hosts": ["h3"]}})
    assert inst.links[0].max_migrations == 1


def test_python_construction_errors_have_no_file_name():
    with pytest.raises(InputError) as info:
        Instance(hosts={"h": {"ram": -1}}, vms={}, initial={})
    assert str(info.value) == "hosts.h.ram: must be a non-negative number, got -1"


def test_repr():
    assert repr(small()) == "Instance(3 hosts, 3 VMs, 1 moving, resources=['ram', 'cpu', 'disk'])"


def test_plan_round_trip_and_index_rounds():
    inst = small()
    rounds = [(np.array([1]), np.array([0]), np.array([1]))]
    p = Plan.from_index_rounds(inst, rounds, "feasible", planner="test")
    assert p.rounds == [[{"vm": "b", "from": "h1", "to": "h2"}]] and p.cost == 3
    assert Plan.from_dict(p.to_dict()) == p
    (vms, src, dst, offline), = p.index_rounds(inst)
    assert (vms.tolist(), src.tolist(), dst.tolist(), offline.tolist()) == ([1], [0], [1], [False])
    assert cpplan.validate(inst, p) == []


def test_a_plan_for_a_custom_cost_states_spec_cost_and_validates():
    inst = cpplan.Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4, "disk": 100}},
                           initial={"a": "h1"}, target={"a": "h2"})
    plan = cpplan.plan(inst, planner="exact", cost=lambda vm: vm.demand["ram"] + vm.demand["disk"] / 10)
    assert (plan.cost, plan.stats["objective"], plan.status) == (4, 14, "optimal")
    assert cpplan.validate(inst, plan) == []


def test_names_may_hold_any_printable_text_and_spaces_of_other_scripts():
    # OpenStack server names become VM names as they are: a no-break space must not be refused
    inst = cpplan.Instance(hosts={"rack 1/h\u3000a": {"ram": 8}}, vms={"web\xa0db": {"ram": 1}},
                           initial={"web\xa0db": "rack 1/h\u3000a"})
    assert inst.vm_names == ("web\xa0db",)
