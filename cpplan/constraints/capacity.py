"""Capacity during a round: a receiving host holds its VMs plus all arrivals.

VMs leaving a host live still count on it for the whole round (a live
migration holds resources on both ends), so the load checked on a receiving
host is its load at the start of the round plus everything arriving. A VM
moved offline counts on its destination only. Use is counted by
:func:`cpplan.constraints.page_sharing.usage`: plain sums of demands, less the
RAM that VMs of one image share on a host.

Capacity is a core resource, a view encoded by each model, not a
:class:`~cpplan.constraints.service_level.ServiceLevel` (greedy admits it in
vectorised passes, the CP models share their intervals with its cumulatives).
Its faces:

- the validator: :class:`Capacity` here, on :func:`during_round`;
- greedy: ``RoundBuilder.room``, ``offer`` and ``_with_room``
  (``planners/greedy/round.py``), the offline break's mode choice
  (``planners/greedy/offline.py``) and the clean-up's ``can_keep``
  (``planners/greedy/cleanup.py``);
- exact: ``_fits`` (``planners/exact.py``), and the validator's rules on packed rounds;
- cp: one cumulative per host and resource over the stays in the interval model
  (``planners/cp/intervals.py``, ``_capacity``), a linear bound per host,
  resource and round in the time-indexed model (``planners/cp/timeindexed.py``,
  ``_round`` and ``_load``).

Page sharing changes what a set of VMs uses; its rule and each model's
encoding of it are in :mod:`cpplan.constraints.page_sharing`.

>>> from cpplan.constraints import Round
>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}, "b": {"ram": 6}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> one = np.array([0])
>>> rnd = Round(1, inst.initial, inst.load(inst.initial), one, one, one + 1)   # a: h1 -> h2
>>> during_round(inst, rnd, np.array([1])).tolist()                          # 6 + 4 arriving
[[10.0]]
>>> Capacity().check(inst, rnd)
['round 1: host h2 over ram capacity during the round: 10 > 8 (arriving: a)']
"""

from __future__ import annotations

import numpy as np

from .page_sharing import usage

# Capacities and demands may be fractional; this absorbs float summation noise.
TOLERANCE = 1e-9


def fits(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Elementwise ``load <= capacity`` with a float tolerance."""
    return load <= with_tolerance(capacity)


def with_tolerance(capacity: np.ndarray) -> np.ndarray:
    """The largest load that :func:`fits` ``capacity``."""
    return capacity + TOLERANCE * np.maximum(1.0, np.abs(capacity))


def during_round(inst, rnd, receivers: np.ndarray) -> np.ndarray:
    """Use of each receiving host during the round, rows in the order of ``receivers``."""
    offline = rnd.offline is not None and rnd.offline.any()
    if not inst.share_ratio.size and not offline:
        during = rnd.load[receivers].copy()
        np.add.at(during, np.searchsorted(receivers, rnd.dst), inst.demand[rnd.vms])
        return during
    present = np.isin(rnd.placement, receivers)
    if offline:
        present[rnd.vms[rnd.offline]] = False
    staying = np.flatnonzero(present)
    vms = np.concatenate([staying, rnd.vms])
    hosts = np.concatenate([rnd.placement[staying], rnd.dst])
    return usage(inst, vms, hosts)[receivers]


class Capacity:
    name = "capacity"

    def check(self, inst, rnd) -> list[str]:
        receivers = np.unique(rnd.dst)
        during = during_round(inst, rnd, receivers)
        over = ~fits(during, inst.effective[receivers])
        out = []
        for i, r in zip(*np.nonzero(over), strict=True):
            h = int(receivers[i])
            arriving = [inst.vm_names[v] for v in rnd.vms[rnd.dst == h]]
            out.append(f"round {rnd.number}: host {inst.host_names[h]} over {inst.resources[r]} "
                       f"capacity during the round: {during[i, r]:g} > {inst.effective[h, r]:g} "
                       f"(arriving: {', '.join(arriving)})")
        return out
