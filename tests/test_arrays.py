"""Key-array helpers (cpplan.arrays) against plain Python loops."""

import numpy as np
import pytest

from cpplan.arrays import first_of_each, group_cumsum, rank_within, run_starts


def random_keys(seed, sort=False):
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 5, int(rng.integers(0, 20)))
    return np.sort(keys) if sort else keys


@pytest.mark.parametrize("seed", range(20))
def test_run_starts_marks_each_change(seed):
    keys = random_keys(seed)
    expected = [i == 0 or keys[i] != keys[i - 1] for i in range(len(keys))]
    assert run_starts(keys).tolist() == expected
    assert run_starts(keys).dtype == bool


@pytest.mark.parametrize("seed", range(20))
def test_group_cumsum_sums_within_runs(seed):
    keys = random_keys(seed, sort=True)
    values = np.random.default_rng(seed + 100).integers(0, 9, (len(keys), 2)).astype(float)
    expected = np.zeros_like(values)
    for i in range(len(keys)):
        j = i
        while j > 0 and keys[j - 1] == keys[i]:
            j -= 1
        expected[i] = values[j:i + 1].sum(axis=0)
    assert np.array_equal(group_cumsum(values, keys), expected)


@pytest.mark.parametrize("seed", range(20))
def test_rank_within_counts_earlier_equal_keys(seed):
    keys = random_keys(seed)
    expected = [int((keys[:i] == keys[i]).sum()) for i in range(len(keys))]
    assert rank_within(keys).tolist() == expected


@pytest.mark.parametrize("seed", range(20))
def test_first_of_each_is_rank_zero(seed):
    keys = random_keys(seed)
    assert first_of_each(keys).tolist() == (rank_within(keys) == 0).tolist()
    assert first_of_each(keys).sum() == len(set(keys.tolist()))


def test_empty_keys():
    empty = np.zeros(0, dtype=np.int64)
    assert run_starts(empty).shape == (0,)
    assert rank_within(empty).shape == (0,)
    assert first_of_each(empty).shape == (0,)
    assert group_cumsum(np.zeros((0, 3)), empty).shape == (0, 3)
