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
