"""The capacity certificates of infeasibility (cpplan/certificates.py): each proves its case, none
claims a near miss, and on random tiny clouds none ever contradicts the exhaustive search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from strategies import clouds_with_allowed_hosts, moving_clouds, tiny_clouds

import cpplan
from cpplan import Instance
from cpplan.certificates import certificate, largest_locked_set
from cpplan.cli import main
from cpplan.planners import exact as exact_planner


def ring(spare: dict | None = None, **extra) -> dict:
    """Four hosts of 10 ram, each with a VM of 6 (rotating to the next host) and one of 3: 1 ram free
    each (BtrPlace's issue #307). ``spare`` adds an empty host of that capacity."""
    hosts = {f"h{i}": {"ram": 10} for i in range(4)}
    vms = {**{f"big{i}": {"ram": 6} for i in range(4)}, **{f"small{i}": {"ram": 3} for i in range(4)}}
    initial = {**{f"big{i}": f"h{i}" for i in range(4)}, **{f"small{i}": f"h{i}" for i in range(4)}}
    spec = {"hosts": hosts, "vms": vms, "initial": initial,
            "target": {f"big{i}": f"h{(i + 1) % 4}" for i in range(4)}, **extra}
    if spare is not None:
        spec["hosts"] = {**hosts, "spare": spare}
    return spec


def two_resources(spare: dict) -> dict:
    """h0, h2 hold a VM of 9 ram and 2 cpu, h1, h3 one of 2 ram and 9 cpu (10 of each per host); alike
    hosts swap VMs; ``spare`` is a fifth host."""
    hosts = {**{f"h{i}": {"ram": 10, "cpu": 10} for i in range(4)}, "spare": spare}
    vms = {f"v{i}": ({"ram": 9, "cpu": 2} if i % 2 == 0 else {"ram": 2, "cpu": 9}) for i in range(4)}
    return {"hosts": hosts, "vms": vms, "initial": {f"v{i}": f"h{i}" for i in range(4)},
            "target": {f"v{i}": f"h{(i + 2) % 4}" for i in range(4)}}


def exact(spec: dict):
    return cpplan.plan(Instance(**spec), planner="exact", time_limit=20)


def test_no_first_migration_fits_on_four_nearly_full_hosts():
    p = cpplan.plan(Instance(**ring()), planner="greedy")
    assert p.status == "infeasible"
    assert p.reason.startswith("no first migration fits: as things stand, no VM that may migrate fits on "
                               "any other host and no VM may go offline, e.g. big0 (h0→h1) needs 6 ram")
    assert "has 1 free" in p.reason
    assert exact(ring()).status == "infeasible"


def test_a_spare_host_one_unit_short_leaves_a_cycle_of_full_hosts():
    # The VMs of 3 may go to the spare host of 5, but none of 6 may: the four hosts still turn as one.
    reason = certificate(Instance(**ring(spare={"ram": 5})))
    assert reason.startswith("a cycle of full hosts with no staging room anywhere: h0 → h1 → h2 → h3 → h0; "
                             "its VMs big0 (h0→h1), big1 (h1→h2), big2 (h2→h3), big3 (h3→h0) fit on no "
                             "other host")
    assert "e.g. big0 needs 6 ram and the roomiest other host for it, spare, has 5 free" in reason
    assert exact(ring(spare={"ram": 5})).status == "infeasible"


def test_near_miss_a_spare_host_with_room_for_one_vm_is_not_claimed():
    spec = ring(spare={"ram": 6})
    assert certificate(Instance(**spec)) is None
    assert exact(spec).found and cpplan.plan(Instance(**spec), planner="greedy").found


@pytest.mark.parametrize("spare, proven", [({"ram": 8, "cpu": 8}, True), ({"ram": 9, "cpu": 8}, False),
                                           ({"ram": 8, "cpu": 9}, False)])
def test_hosts_full_in_different_resources(spare, proven):
    # Each host has 8 units free in one resource and 1 in the other: with a spare host of 8 and 8 no
    # VM fits anywhere. One unit more of either lets the VMs needing it bounce, which empties their
    # hosts for the others: a near miss that plans.
    spec = two_resources(spare)
    reason = certificate(Instance(**spec))
    assert exact(spec).status == ("infeasible" if proven else "optimal")
    if proven:
        assert reason.startswith("no first migration fits") and "spare, has 8 free" in reason
    else:
        assert reason is None


def test_pinned_vms_that_fill_the_only_staging_host_are_counted():
    # a and b swap h1 and h2, whose other halves are pinned; h3's pinned q leaves 3 ram to stage.
    spec = {"hosts": {"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
            "vms": {"a": {"ram": 4}, "b": {"ram": 4}, "p1": {"ram": 4}, "p2": {"ram": 4}, "q": {"ram": 5}},
            "initial": {"a": "h1", "p1": "h1", "b": "h2", "p2": "h2", "q": "h3"},
            "target": {"a": "h2", "b": "h1"}, "pinned": ["p1", "p2", "q"]}
    assert certificate(Instance(**spec)).endswith(
        "e.g. a (h1→h2) needs 4 ram and the roomiest other host for it, h3, has 3 free")
    assert exact(spec).status == "infeasible"
    spec["vms"]["q"] = {"ram": 4}  # one unit more room on h3: a bounces through it
    assert certificate(Instance(**spec)) is None and exact(spec).found


def test_vms_that_may_go_offline_count_as_gone_and_a_true_offline_swap_is_not_claimed():
    # The small VMs may move offline: they free too little, so the ring stays proven...
    small_offline = ring(limits={"host": 2})
    small_offline["vms"] = {v: {**d, "offline_cost": 3} if v.startswith("small") else d
                            for v, d in small_offline["vms"].items()}
    reason = certificate(Instance(**small_offline))
    assert reason is not None and "the VMs that may go offline counted as gone" in reason
    assert exact(small_offline).status == "infeasible"
    # ... while the big ones going offline turn the ring in one round.
    big_offline = ring(limits={"host": 2})
    big_offline["vms"] = {v: {**d, "offline_cost": 6} if v.startswith("big") else d
                          for v, d in big_offline["vms"].items()}
    assert certificate(Instance(**big_offline)) is None and exact(big_offline).found


def test_shared_pages_count_only_the_private_part_of_an_arrival():
    # Every VM of 6 is of one image sharing all its RAM: an arrival beside its leaving twin adds nothing.
    spec = ring(page_sharing={"ratio": 1.0})
    spec["vms"] = {v: {**d, "image": "u"} if v.startswith("big") else d for v, d in spec["vms"].items()}
    assert certificate(Instance(**spec)) is None
    assert exact(spec).found


def test_vms_released_pass_by_pass():
    # c fits on h1 only after nothing else is counted there; then b on h3, then a on h2.
    inst = Instance(hosts={"h1": {"ram": 5}, "h2": {"ram": 4}, "h3": {"ram": 4}},
                    vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 1}},
                    initial={"a": "h1", "b": "h2", "c": "h3"}, target={"a": "h2", "b": "h1"})
    assert not largest_locked_set(inst).vms.any()
    assert certificate(inst) is None


def test_a_cloud_without_resources_is_never_claimed():
    inst = Instance(hosts={"h1": {}, "h2": {}}, vms={"a": {}, "b": {}}, initial={"a": "h1", "b": "h2"},
                    target={"a": "h2", "b": "h1"})
    assert certificate(inst) is None and not largest_locked_set(inst).vms.any()


def test_the_cli_says_why_and_exits_3(write_instance, capsys):
    code = main(["plan", str(write_instance(ring())), "-o", str(write_instance("", "plan.json"))])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("infeasible (auto): ") and "no first migration fits" in err


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(st.one_of(tiny_clouds(tight=True), tiny_clouds(tight=True, service_levels=True),
                 tiny_clouds(tight=True, sharing=True), moving_clouds(),
                 clouds_with_allowed_hosts(tight=True)))
def test_never_a_false_infeasible_on_random_tiny_clouds(inst):
    """Whenever a certificate claims no plan exists, the exhaustive search agrees."""
    reason = certificate(inst)
    event("claimed" if reason is not None else "not claimed")
    if reason is None:
        return
    truth = exact_planner.plan(inst, time_limit=20)
    assert truth.status == "infeasible", (reason, inst.to_dict())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.filter_too_much])
@given(tiny_clouds(tight=True, max_hosts=4, max_vms=5))
def test_hosts_shrunk_to_a_tight_fit_never_give_a_false_infeasible(inst):
    """The tightest clouds: every host exactly as big as its larger use in A and B."""
    need = np.maximum(inst.load(inst.initial), inst.load(inst.target))
    spec = inst.to_dict()
    spec["hosts"] = {h: {**caps, **{r: float(need[i, k]) for k, r in enumerate(inst.resources) if r in caps}}
                     for i, (h, caps) in enumerate(spec["hosts"].items())}
    tight = Instance(**spec)
    reason = certificate(tight)
    event("claimed" if reason is not None else "not claimed")
    if reason is not None:
        assert exact_planner.plan(tight, time_limit=20).status == "infeasible", reason
