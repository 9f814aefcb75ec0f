"""Capacity during a round: a receiving host holds its VMs plus all arrivals.

VMs leaving a host live still count on it for the whole round (a live
migration holds resources on both ends), so the load checked on a receiving
host is its load at the start of the round plus everything arriving. A VM
moved offline counts on its destination only.

With page sharing, VMs of one image on one host share part of their RAM:
a set S of such VMs uses ``sum(ram) - ratio * (sum(ram) - max(ram))``,
the shared pages of the largest counted once. The same rule holds at every
moment: at the start, during a round (VMs present = those there at the start,
minus offline leavers, plus arrivals) and at the end.
"""

from __future__ import annotations

import numpy as np

# Capacities and demands may be fractional; this absorbs float summation noise.
TOLERANCE = 1e-9


def fits(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Elementwise ``load <= capacity`` with a float tolerance."""
    return load <= capacity + TOLERANCE * np.maximum(1.0, np.abs(capacity))


def usage(inst, vms: np.ndarray, hosts: np.ndarray) -> np.ndarray:
    """[hosts x resources] use when each ``vms[i]`` is present on ``hosts[i]`` (page sharing applied).

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h": {"ram": 16}}, vms={"a": {"ram": 8, "image": "u"},
    ...                 "b": {"ram": 4, "image": "u"}}, initial={"a": "h", "b": "h"},
    ...                 page_sharing={"ratio": 0.5})
    >>> usage(inst, np.array([0, 1]), np.array([0, 0])).tolist()   # 12 - 0.5 * (12 - 8)
    [[10.0]]
    """
    out = np.zeros((inst.n_hosts, len(inst.resources)))
    np.add.at(out, hosts, inst.demand[vms])
    if inst.share_ratio.size:
        images = inst.image[vms]
        keep = images >= 0
        n = inst.share_ratio.size
        key = hosts[keep] * n + images[keep]
        ram = inst.demand[vms[keep], inst.share_resource]
        total = np.bincount(key, ram, minlength=inst.n_hosts * n)
        peak = np.zeros(inst.n_hosts * n)
        np.maximum.at(peak, key, ram)
        saved = (np.tile(inst.share_ratio, inst.n_hosts) * (total - peak)).reshape(inst.n_hosts, n)
        out[:, inst.share_resource] -= saved.sum(axis=1)
    return out


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
