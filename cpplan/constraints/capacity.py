"""Capacity during a round: a receiving host holds its VMs plus all arrivals.

VMs leaving a host still count on it for the whole round (a live migration
holds resources on both ends), so the load checked on a receiving host is
its load at the start of the round plus everything arriving.
"""

from __future__ import annotations

import numpy as np

# Capacities and demands may be fractional; this absorbs float summation noise.
TOLERANCE = 1e-9


def fits(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Elementwise ``load <= capacity`` with a float tolerance."""
    return load <= capacity + TOLERANCE * np.maximum(1.0, np.abs(capacity))


class Capacity:
    name = "capacity"

    def check(self, inst, rnd) -> list[str]:
        receivers = np.unique(rnd.dst)
        during = rnd.load[receivers].copy()
        np.add.at(during, np.searchsorted(receivers, rnd.dst), inst.demand[rnd.vms])
        over = ~fits(during, inst.effective[receivers])
        out = []
        for i, r in zip(*np.nonzero(over), strict=True):
            h = int(receivers[i])
            arriving = [inst.vm_names[v] for v in rnd.vms[rnd.dst == h]]
            out.append(f"round {rnd.number}: host {inst.host_names[h]} over {inst.resources[r]} "
                       f"capacity during the round: {during[i, r]:g} > {inst.effective[h, r]:g} "
                       f"(arriving: {', '.join(arriving)})")
        return out
