"""Concurrency: per-host migrations (both ends count) and the cloud-wide total per round."""

from __future__ import annotations

import numpy as np


def host_touches(inst, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Migrations touching each host (as source or destination)."""
    return (np.bincount(src, minlength=inst.n_hosts) + np.bincount(dst, minlength=inst.n_hosts))


class Concurrency:
    name = "concurrency"

    def check(self, inst, rnd) -> list[str]:
        out = []
        touches = host_touches(inst, rnd.src, rnd.dst)
        for h in np.flatnonzero(touches > inst.host_limit):
            out.append(f"round {rnd.number}: host {inst.host_names[h]} touched by {touches[h]} "
                       f"migrations, limit {inst.host_limit[h]}")
        if inst.total_limit is not None and len(rnd.vms) > inst.total_limit:
            out.append(f"round {rnd.number}: {len(rnd.vms)} migrations, total limit "
                       f"{inst.total_limit}")
        return out
