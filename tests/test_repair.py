"""The repair goal: the least-cost B with every host within its limit and every service level right."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cpplan
from cpplan.cli import main
from cpplan.errors import InputError
from cpplan.goals import Search, repair
from cpplan.model import Instance


def least_repair(inst: Instance, share: float = 1.0) -> float | None:
    """Brute force over every placement: the least cost of a B with every host within ``share`` of its
    effective capacity, anti-affinity holding and pinned VMs in place (None: no such B)."""
    best = None
    pinned = np.flatnonzero(inst.pinned)
    for place in itertools.product(range(inst.n_hosts), repeat=inst.n_vms):
        place = np.array(place)
        if (place[pinned] != inst.initial[pinned]).any():
            continue
        if (inst.load(place) > inst.effective * share + 1e-9).any():
            continue
        if any(len(set(place[g.vms].tolist())) < g.vms.size for g in inst.groups if g.anti_affinity):
            continue
        cost = float(inst.cost[place != inst.initial].sum())
        best = cost if best is None else min(best, cost)
    return best


@st.composite
def overloaded_clouds(draw):
    """3 hosts, up to 5 VMs piled up so that hosts are often over capacity, maybe a broken group."""
    hosts = {f"h{i}": {"ram": draw(st.integers(4, 10)), "cpu": draw(st.integers(2, 6))} for i in range(3)}
    vms = {f"v{j}": {"ram": draw(st.integers(1, 5)), "cpu": draw(st.integers(0, 3)),
                     "cost": draw(st.integers(0, 9))} for j in range(draw(st.integers(1, 5)))}
    initial = {v: draw(st.sampled_from(["h0", "h0", "h1", "h2"])) for v in vms}
    spec = {"hosts": hosts, "vms": vms, "initial": initial}
    members = draw(st.lists(st.sampled_from(sorted(vms)), max_size=3, unique=True))
    if len(members) > 1:
        spec["groups"] = {"g": {"vms": members, "anti_affinity": True}}
    if draw(st.booleans()):
        spec["pinned"] = [draw(st.sampled_from(sorted(vms)))]
    return Instance(**spec, choosing_target=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overloaded_clouds(), st.sampled_from([1.0, 0.85]))
def test_repair_is_the_least_cost_repair_found_by_brute_force(inst, share):
    truth = least_repair(inst, share)
    mu = None if share == 1.0 else share
    if truth is None:
        with pytest.raises(InputError):
            repair.choose(inst, search=Search(time_limit=5), max_utilisation=mu)
        return
    choice = repair.choose(inst, search=Search(time_limit=5), max_utilisation=mu)
    place = choice.placement
    assert (inst.load(place) <= inst.effective * share + 1e-9).all()
    assert choice.stats["cost"] == pytest.approx(truth)
    assert choice.proven  # the whole cloud fits the CP model: solved to optimality
    assert choice.bound <= truth + 1e-9
    assert (place[inst.pinned] == inst.initial[inst.pinned]).all()


def test_an_overloaded_host_sheds_its_cheapest_fix_and_nothing_else_moves():
    inst = Instance(hosts={f"h{i}": {"ram": 100} for i in range(6)},
                    vms={**{f"a{j}": {"ram": 30, "cost": 10 + j} for j in range(4)},  # 120 on h0
                         **{f"b{j}": {"ram": 40} for j in range(2)}, "c": {"ram": 90}},
                    initial={**{f"a{j}": "h0" for j in range(4)}, "b0": "h1", "b1": "h2", "c": "h3"})
    result = cpplan.choose_target(inst, goal="repair", time_limit=5)
    moved = {inst.vm_names[v] for v in np.flatnonzero(result.instance.target != inst.initial)}
    assert moved == {"a0"}  # the cheapest VM that brings h0 within 100
    assert result.stats["over"] == [{"host": "h0", "resource": "ram", "load": 120.0, "limit": 100.0}]
    assert result.proven and result.cost == 10 and result.plan.status == "optimal"
    assert result.instance.target[inst.vm_index["a0"]] in (inst.host_index["h4"], inst.host_index["h5"])
    assert "1 host over its limit (h0 ram 120/100); moved a0 h0->" in result.summary()


def test_max_utilisation_caps_every_host_including_those_that_receive_nothing():
    inst = Instance(hosts={f"h{i}": {"ram": 100, "cpu": 10} for i in range(4)},
                    vms={"a": {"ram": 50, "cpu": 1}, "b": {"ram": 40, "cpu": 1}, "c": {"ram": 10, "cpu": 5},
                         "e": {"ram": 10, "cpu": 4, "cost": 1}, "d": {"ram": 20, "cpu": 1}},
                    initial={"a": "h0", "b": "h0", "c": "h1", "e": "h1", "d": "h2"})
    plain = repair.choose(inst, search=Search(time_limit=5))
    assert plain.stats["moved"] == [] and plain.stats["cost"] == 0  # 90 % and 90 % fit 100 %
    capped = repair.choose(inst, search=Search(time_limit=5), max_utilisation=0.85)
    load = inst.load(capped.placement)
    assert (load <= 0.85 * inst.effective + 1e-9).all()
    assert {m["vm"] for m in capped.stats["moved"]} == {"b", "e"}  # b off h0 (ram), e off h1 (cpu)
    assert {(x["host"], x["resource"]) for x in capped.stats["over"]} == {("h0", "ram"), ("h1", "cpu")}


def test_repair_keeps_partial_targets_drains_and_page_sharing():
    inst = Instance(hosts={f"h{i}": {"ram": 16} for i in range(4)},
                    vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"},
                         "c": {"ram": 8, "image": "u"}, "d": {"ram": 6}},
                    initial={"a": "h0", "b": "h0", "c": "h0", "d": "h1"},
                    target={"a": ["h0", "h2"]}, drain=["h1"], page_sharing={"ratio": 0.5},
                    choosing_target=True)
    # h0: 24 - 0.5 * (24 - 8) = 16 with sharing: within 16; d must leave the drained h1
    choice = repair.choose(inst, drain=[inst.host_index["h1"]], search=Search(time_limit=5))
    place = choice.placement
    assert not (place == inst.host_index["h1"]).any()
    assert place[inst.vm_index["a"]] in (inst.host_index["h0"], inst.host_index["h2"])
    assert (inst.load(place) <= inst.effective + 1e-9).all()
    assert [m["vm"] for m in choice.stats["moved"]] == ["d"] and choice.stats["must_leave"] == ["d"]


@pytest.mark.parametrize("rule", [{"hosts": ["h0", "h1"]}, {"among": [["h0", "h1"], ["h2", "h3"]]}])
def test_repair_keeps_fences_and_among_sets(rule):
    # h0 holds 120 of 100; the roomiest host is h3, but the members may only end on h0 or h1
    inst = Instance(hosts={"h0": {"ram": 100}, "h1": {"ram": 100}, "h2": {"ram": 100}, "h3": {"ram": 200}},
                    vms={"a": {"ram": 60, "cost": 1}, "b": {"ram": 60, "cost": 2}, "c": {"ram": 30}},
                    initial={"a": "h0", "b": "h0", "c": "h1"},
                    groups={"db": {"vms": ["a", "b"], **rule}})
    result = cpplan.choose_target(inst, goal="repair", time_limit=5)
    target = result.instance.target
    assert target[inst.vm_index["a"]] == inst.host_index["h1"] and target[inst.vm_index["b"]] == 0
    assert cpplan.validate(result.instance, result.plan) == []


def test_a_pinned_overload_or_the_trade_off_is_bad_input():
    inst = Instance(hosts={"h0": {"ram": 4}, "h1": {"ram": 8}}, vms={"a": {"ram": 6}},
                    initial={"a": "h0"}, pinned=["a"])
    with pytest.raises(InputError, match="cannot bring host h0 within 4 ram"):
        repair.choose(inst)
    with pytest.raises(InputError, match="--move-weight"):
        cpplan.choose_target(inst, goal="repair", max_cost=3)
    with pytest.raises(InputError, match="--max-utilisation: only the repair goal"):
        cpplan.choose_target(inst, goal="consolidate", max_utilisation=0.8)
    with pytest.raises(InputError, match=r"--max-utilisation: must be a share in \(0, 1\]"):
        cpplan.choose_target(inst, goal="repair", max_utilisation=1.5)


def test_cli_target_repair_writes_a_valid_b(tmp_path, capsys):
    cloud = {"hosts": {f"h{i}": {"ram": 64, "cpu": 16} for i in range(4)},
             "vms": {**{f"w{j}": {"ram": 20, "cpu": 2} for j in range(4)}, "x": {"ram": 8, "cpu": 2}},
             "initial": {"w0": "h0", "w1": "h0", "w2": "h0", "w3": "h1", "x": "h1"},
             "groups": {"web": {"vms": ["w0", "w1"], "anti_affinity": True}}}
    path = tmp_path / "cloud.yaml"
    path.write_text(yaml.safe_dump(cloud))
    out = tmp_path / "fixed.yaml"
    code = main(["target", str(path), "--goal", "repair", "--max-utilisation", "0.85", "-o", str(out),
                 "--time-limit", "5"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "warning:" in err and "anti-affinity broken by the initial placement: w0, w1 on h0" in err
    assert "anti-affinity broken 1 time (web on h0: w0 w1)" in err
    fixed = cpplan.load_instance(out)  # a B that loads as a planning instance: separated and within capacity
    assert fixed.target[fixed.vm_index["w0"]] != fixed.target[fixed.vm_index["w1"]]
    assert (fixed.load(fixed.target) <= 0.85 * fixed.effective + 1e-9).all()
    assert main(["target", str(path), "--goal", "rebalance", "--max-utilisation", "0.85"]) == 2
