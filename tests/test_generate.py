"""The instance generator: families, sizes, capacity, reproducibility."""

import numpy as np
import pytest

from cpplan.constraints.capacity import fits
from cpplan.generate import FAMILIES, generate


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("hosts", [2, 7, 60])
def test_every_family_fits_capacity_at_both_ends(family, hosts):
    inst = generate(family, hosts, seed=hosts)
    assert inst.n_hosts == hosts and inst.resources == ("ram", "cpu", "disk")
    assert fits(inst.load(inst.initial), inst.effective).all()
    assert fits(inst.load(inst.target), inst.effective).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_about_thirty_vms_per_host_and_some_move(family):
    inst = generate(family, 200, seed=1)
    assert 15 <= inst.n_vms / inst.n_hosts <= 40
    assert inst.moving.any()


def test_cpu_is_overcommitted_by_the_allocation_ratio():
    inst = generate("rebalance", 5)
    cpu = inst.resource_index["cpu"]
    assert (inst.effective[:, cpu] == 4 * inst.capacity[:, cpu]).all()


def test_family_shapes():
    n = 200
    rebalance = generate("rebalance", n, seed=2)
    assert 0.25 <= rebalance.moving.mean() <= 0.55

    consolidate = generate("consolidate", n, seed=2)
    emptied = np.bincount(consolidate.target, minlength=n) == 0
    assert emptied.sum() >= n // 5
    initial_ram = consolidate.load(consolidate.initial)[:, 0]
    assert initial_ram[emptied].max() <= np.sort(initial_ram)[n // 5 + 5]

    evacuate = generate("evacuate", n, seed=2)
    assert (np.bincount(evacuate.target, minlength=n) == 0).sum() >= n // 10

    shuffle = generate("shuffle", n, seed=2)
    assert shuffle.moving.mean() > 0.8

    tight = generate("tight", n, seed=2)
    assert (tight.host_limit == 1).all() and (rebalance.host_limit == 2).all()
    ram = tight.load(tight.initial)[:, 0] / tight.effective[:, 0]
    full = ram > 0.7
    assert ram[full].mean() > 0.88 and (~full).sum() == n // 20
    assert np.allclose(tight.load(tight.initial), tight.load(tight.target))
    assert 0.2 <= tight.moving[full[tight.initial]].mean() <= 0.35
    assert not tight.moving[~full[tight.initial]].any()


def test_same_seed_same_cloud_and_options():
    a, b = generate("shuffle", 30, seed=5), generate("shuffle", 30, seed=5)
    assert a.to_dict() == b.to_dict()
    assert generate("shuffle", 30, seed=6).to_dict() != a.to_dict()
    assert (generate("evacuate", 10, host_limit=3).host_limit == 3).all()


def test_unknown_family_or_size_is_refused():
    with pytest.raises(ValueError, match="unknown family"):
        generate("nope", 10)
    with pytest.raises(ValueError, match="at least 2"):
        generate("shuffle", 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_groups_cover_the_asked_fraction_apart_at_both_ends(family):
    plain, grouped = generate(family, 60, seed=3), generate(family, 60, seed=3, groups=0.3)
    assert (grouped.initial == plain.initial).all() and (grouped.target == plain.target).all()
    members = np.concatenate([g.vms for g in grouped.groups])
    assert members.size == round(0.3 * grouped.n_vms) and np.unique(members).size == members.size
    for g in grouped.groups:
        assert 2 <= len(g.vms) <= 5 and g.anti_affinity and g.max_migrating == 1
        assert np.unique(grouped.initial[g.vms]).size == len(g.vms)
        assert np.unique(grouped.target[g.vms]).size == len(g.vms)
    assert {len(g.vms) for g in grouped.groups} == {2, 3, 4, 5}


def test_groups_off_by_default_and_refused_outside_zero_to_one():
    default = generate("rebalance", 8, seed=1)
    assert generate("rebalance", 8, seed=1, groups=0.0).to_dict() == default.to_dict()
    assert default.groups == ()
    with pytest.raises(ValueError, match="fraction"):
        generate("rebalance", 8, groups=1.5)


@pytest.mark.parametrize("hosts", [2, 3])
def test_groups_on_few_hosts_are_no_larger_than_the_hosts_in_use(hosts):
    for family in FAMILIES:
        inst = generate(family, hosts, seed=4, groups=1.0)
        assert all(2 <= len(g.vms) <= hosts for g in inst.groups)
        assert sum(len(g.vms) for g in inst.groups) <= inst.n_vms
