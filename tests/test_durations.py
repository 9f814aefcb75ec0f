"""The duration model: keys, defaults, units, convergence and bad values (SPEC section 7.1-7.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import MODELS

import cpplan
from cpplan import InputError, Instance
from cpplan.bounds import infeasibility
from cpplan.cli import main
from cpplan.durations import non_converging


def cloud(**extra) -> dict:
    spec = {"hosts": {"h1": {"ram": 64}, "h2": {"ram": 64}},
            "vms": {"a": {"ram": 8}, "b": {"ram": 4}},
            "initial": {"a": "h1", "b": "h1"}, "target": {"a": "h2"}}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {name: {**spec[key].get(name, {}), **v} if isinstance(v, dict) else v
                         for name, v in {**spec[key], **value}.items()}
        else:
            spec[key] = value
    return spec


def test_defaults_are_spec_s():
    d = Instance(**cloud()).durations
    assert (d.ram_unit, d.setup, d.max_bandwidth) == ("MiB", 2.0, 1250.0)
    assert d.host_bandwidth.tolist() == [1250.0, 1250.0] and d.dirty_rate.tolist() == [0.0, 0.0]
    assert d.duration(0, 1250.0, offline=False) == 2 + 8 / 1250


def test_units_of_ram():
    for unit, mib in (("MiB", 8), ("GiB", 8 * 1024), ("MB", 8e6 / 2**20), ("GB", 8e9 / 2**20)):
        d = Instance(**cloud(migration={"ram_unit": unit})).durations
        assert d.ram_mib[0] == pytest.approx(mib, rel=1e-12)


def test_live_and_offline_durations_follow_the_formula():
    inst = Instance(**cloud(migration={"ram_unit": "GiB", "setup": 5, "bandwidth": 1000},
                            vms={"a": {"dirty_rate": 200}}))
    d = inst.durations
    assert d.duration(0, 1000.0, offline=False) == pytest.approx(5 + 8192 / 800)
    assert d.duration(0, 1000.0, offline=True) == pytest.approx(5 + 8192 / 1000)
    assert d.converges(0, 251.0) and not d.converges(0, 250.0)  # 200 < 0.8 b


def test_max_bandwidth_hosts_and_links_bound_a_hop():
    inst = Instance(**cloud(migration={"max_bandwidth": 900}, hosts={"h2": {"bandwidth": 2000}},
                            links={"up": {"hosts": ["h2"], "max_migrations": 2, "bandwidth": 300}}))
    d = inst.durations
    assert d.max_bandwidth == 900 and d.host_bandwidth.tolist() == [1250, 2000]
    assert d.best_bandwidth(0, 1, []) == 900 and d.best_bandwidth(0, 1, [0]) == 300
    assert "bandwidth" not in inst.resources and "dirty_rate" not in inst.resources


def test_max_bandwidth_defaults_to_bandwidth():
    assert Instance(**cloud(migration={"bandwidth": 600})).durations.max_bandwidth == 600


def test_the_new_keys_round_trip_through_to_dict():
    spec = cloud(migration={"ram_unit": "GiB", "setup": 1}, hosts={"h1": {"bandwidth": 500}},
                 vms={"b": {"dirty_rate": 3}}, links={"up": {"hosts": ["h1"], "bandwidth": 100}})
    inst = Instance(**spec)
    again = Instance(**inst.to_dict())
    assert again.to_dict() == inst.to_dict() and again.to_dict()["migration"] == spec["migration"]
    for field in ("host_bandwidth", "link_bandwidth", "dirty_rate", "ram_mib"):
        assert getattr(again.durations, field).tolist() == getattr(inst.durations, field).tolist()


@pytest.mark.parametrize("extra, key", [
    ({"migration": {"ram_unit": "TiB"}}, "migration.ram_unit"),
    ({"migration": {"ram_unit": 1024}}, "migration.ram_unit"),
    ({"migration": {"bandwith": 10}}, "migration.bandwith"),
    ({"migration": {"bandwidth": -1}}, "migration.bandwidth"),
    ({"migration": {"bandwidth": 0}}, "migration.bandwidth"),
    ({"migration": {"max_bandwidth": math.nan}}, "migration.max_bandwidth"),
    ({"migration": {"setup": math.inf}}, "migration.setup"),
    ({"migration": {"setup": -2}}, "migration.setup"),
    ({"migration": [1]}, "migration"),
    ({"migration": []}, "migration"),
    ({"hosts": {"h1": {"bandwidth": math.inf}}}, "hosts.h1.bandwidth"),
    ({"hosts": {"h2": {"bandwidth": "fast"}}}, "hosts.h2.bandwidth"),
    ({"vms": {"b": {"dirty_rate": -5}}}, "vms.b.dirty_rate"),
    ({"vms": {"b": {"dirty_rate": math.nan}}}, "vms.b.dirty_rate"),
    ({"links": {"up": {"hosts": ["h1"], "bandwidth": -3}}}, "links.up.bandwidth"),
])
def test_bad_values_are_one_line_input_errors_naming_the_key(extra, key):
    with pytest.raises(InputError) as e:
        Instance(**cloud(**extra), source="c.yaml")
    assert (e.value.source, e.value.key) == ("c.yaml", key) and "\n" not in str(e.value)


def test_bad_migration_key_in_a_file_exits_2(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("hosts: {h1: {ram: 8}, h2: {ram: 8}}\nvms: {a: {ram: 4}}\ninitial: {a: h1}\n"
                    "target: {a: h2}\nmigration: {ram_unit: KiB}\n")
    assert main(["plan", str(path), "-o", str(tmp_path / "p.json"), "--planner", "greedy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "c.yaml: migration.ram_unit: unknown unit 'KiB'" in err[0]
    assert not (tmp_path / "p.json").exists()


def test_a_vm_that_cannot_converge_with_an_offline_mode_moves_offline():
    inst = Instance(**cloud(hosts={"h2": {"bandwidth": 100}},
                            vms={"a": {"dirty_rate": 80, "offline_cost": 20}}))
    assert non_converging(inst).tolist() == [True, False]
    assert not inst.can_live[0] and inst.offline[0]
    for planner in ("greedy", "exact", "cp"):
        plan = cpplan.plan(inst, planner, time_limit=5)
        assert plan.found and plan.rounds[0][0]["mode"] == "offline" and plan.cost == 20


def test_a_live_move_of_a_vm_that_cannot_converge_is_refused_for_that_reason():
    inst = Instance(**cloud(hosts={"h2": {"bandwidth": 100}},
                            vms={"a": {"dirty_rate": 80, "offline_cost": 20}}))
    live = cpplan.Plan("feasible", 8, [[{"vm": "a", "from": "h1", "to": "h2"}]])
    violations = cpplan.validate(inst, live)
    assert any("may not migrate live (it cannot converge: dirty_rate)" in v for v in violations)
    refused = Instance(**cloud(vms={"a": {"live": False, "offline_cost": 20}}))
    assert any("(live: false)" in v for v in cpplan.validate(refused, live))


def test_a_vm_that_must_move_and_cannot_converge_without_offline_mode_is_infeasible():
    inst = Instance(**cloud(hosts={"h1": {"bandwidth": 100}}, vms={"a": {"dirty_rate": 80}}))
    reason = infeasibility(inst)
    assert reason.startswith("VM a must move but cannot converge live") and "80" in reason
    plan = cpplan.plan(inst, "greedy")
    assert plan.status == "infeasible" and plan.reason == reason


def test_a_vm_that_need_not_move_and_cannot_converge_is_never_moved():
    inst = Instance(**cloud(vms={"b": {"dirty_rate": 1000}}))   # 1000 >= 0.8 x 1250
    assert inst.pinned.tolist() == [False, True] and infeasibility(inst) is None


def test_a_link_every_path_crosses_bounds_the_convergence():
    spec = cloud(links={"up": {"hosts": ["h2"], "max_migrations": 1, "bandwidth": 50}},
                 vms={"a": {"dirty_rate": 45}, "b": {"dirty_rate": 45}})
    inst = Instance(**spec)
    assert non_converging(inst).tolist() == [True, False]   # b stays: its hops need not cross the link


def test_allowed_target_hosts_take_the_fastest():
    spec = cloud(hosts={"h2": {"bandwidth": 50}, "h3": {"ram": 64}}, target={"a": ["h2", "h3"]},
                 vms={"a": {"dirty_rate": 60}})
    spec["initial"]["c"], spec["vms"]["c"] = "h1", {"ram": 1}
    inst = Instance(**spec)
    assert not non_converging(inst)[0]
    assert np.isfinite(inst.durations.host_bandwidth).all()


def test_a_plan_that_bounces_a_vm_through_a_host_too_slow_for_it_says_so(tmp_path, capsys):
    spec = cpplan.load_instance(MODELS / "swap-deadlock.yaml").to_dict()
    spec["hosts"]["h3"]["bandwidth"] = 100          # the only spare host is too slow for db-b
    spec["vms"]["db-b"]["dirty_rate"] = 90          # which converges at 1250 MiB/s, not at 100
    inst = Instance(**spec)
    assert not non_converging(inst).any()
    for planner in ("greedy", "exact"):
        plan = cpplan.plan(inst, planner)
        assert plan.status == "unknown" and plan.rounds == [] and cpplan.validate(inst, plan) == []
        assert "VM db-b live from h2 to h3, where it cannot converge" in plan.reason
