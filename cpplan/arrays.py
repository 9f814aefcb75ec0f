"""Vectorised helpers on key arrays: runs of equal keys, ranks and running sums within them.

A *run* is a maximal stretch of equal consecutive keys: ``[3, 3, 1, 3]``
has three runs, starting at positions 0, 2 and 3. Sorted keys have one run
per distinct value, which is how the planners group migrations by host.

- :func:`run_starts`: mask of the positions where a run starts;
- :func:`group_cumsum`: running sums of rows within each run;
- :func:`rank_within`: per element, how many earlier elements share its key;
- :func:`first_of_each`: mask of the first element of each key value.

>>> import numpy as np
>>> run_starts(np.array([3, 3, 1, 3])).tolist()
[True, False, True, True]
"""

from __future__ import annotations

import numpy as np

__all__ = ["first_of_each", "group_cumsum", "rank_within", "run_starts"]


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Mask of the positions where a run of equal consecutive keys starts.

    Parameters
    ----------
    keys : numpy.ndarray, one-dimensional
        Any comparable values.

    Returns
    -------
    numpy.ndarray of bool, same length as ``keys``
        True at position 0 and wherever ``keys[i] != keys[i - 1]``; empty
        for empty ``keys``.

    Examples
    --------
    >>> import numpy as np
    >>> run_starts(np.array([0, 0, 2, 2, 2, 5])).tolist()
    [True, False, True, False, False, True]
    >>> run_starts(np.zeros(0, dtype=int)).tolist()
    []

    Notes
    -----
    Sort the keys first (stably, to keep an order among equals) for a
    mask of the first element of each key value in that order.
    """
    if len(keys) == 0:
        return np.zeros(0, dtype=bool)
    return np.r_[True, keys[1:] != keys[:-1]]


def group_cumsum(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Running sums of the rows of ``values`` within each run of equal ``keys``.

    Parameters
    ----------
    values : numpy.ndarray, shape (m, k)
        One row per element.
    keys : numpy.ndarray, length m
        Usually sorted, so that each key value is one run.

    Returns
    -------
    numpy.ndarray, shape (m, k)
        Row ``i`` is the sum of the rows of its run up to and including ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> group_cumsum(np.array([[1.0], [2.0], [4.0], [8.0]]), np.array([0, 0, 1, 1])).tolist()
    [[1.0], [3.0], [4.0], [12.0]]

    Notes
    -----
    One cumulative sum over all rows, minus the total before each run's
    start: O(m k) time, no Python loop.
    """
    if len(keys) == 0:
        return values
    total = np.cumsum(values, axis=0)
    starts = np.flatnonzero(run_starts(keys))
    before = np.vstack([np.zeros((1, values.shape[1])), total[:-1]])[starts]
    return total - np.repeat(before, np.diff(np.r_[starts, len(keys)]), axis=0)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements share its key.

    Parameters
    ----------
    keys : numpy.ndarray of int, one-dimensional
        Need not be sorted.

    Returns
    -------
    numpy.ndarray of int64, same length
        0 for the first element of each key value, 1 for the second, ...

    Examples
    --------
    >>> import numpy as np
    >>> rank_within(np.array([7, 3, 7, 7, 3])).tolist()
    [0, 0, 1, 2, 1]

    Notes
    -----
    A stable sort groups equal keys in their given order; the rank is then
    the position within the run. O(m log m) time.
    """
    order = np.argsort(keys, kind="stable")
    starts = np.flatnonzero(run_starts(keys[order]))
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - run_start
    return rank


def first_of_each(keys: np.ndarray) -> np.ndarray:
    """Mask of the first element of each key value, in the given order.

    Parameters
    ----------
    keys : numpy.ndarray, one-dimensional
        Need not be sorted.

    Returns
    -------
    numpy.ndarray of bool, same length
        True exactly where :func:`rank_within` would be 0.

    Examples
    --------
    >>> import numpy as np
    >>> first_of_each(np.array([7, 3, 7, 5, 3])).tolist()
    [True, True, False, True, False]
    """
    _, first = np.unique(keys, return_index=True)
    mask = np.zeros(len(keys), dtype=bool)
    mask[first] = True
    return mask
