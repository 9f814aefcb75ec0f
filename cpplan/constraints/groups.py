"""Service groups: at most ``max_migrating`` members migrate per round, and
anti-affinity (no host holds two members during a round; a migrating member
is on both of its hosts for the round)."""

from __future__ import annotations

import numpy as np


def occupied_hosts(group, rnd) -> np.ndarray:
    """Hosts holding each member during the round, with repeats: start hosts plus arrivals."""
    arriving = rnd.dst[np.isin(rnd.vms, group.vms)]
    return np.concatenate([rnd.placement[group.vms], arriving])


class Groups:
    name = "groups"

    def check(self, inst, rnd) -> list[str]:
        out = []
        for g in inst.groups:
            migrating = int(np.isin(rnd.vms, g.vms).sum())
            if g.max_migrating is not None and migrating > g.max_migrating:
                out.append(f"round {rnd.number}: group {g.name} has {migrating} members migrating, "
                           f"limit {g.max_migrating}")
            if g.anti_affinity and migrating:
                hosts, counts = np.unique(occupied_hosts(g, rnd), return_counts=True)
                for h in hosts[counts > 1]:
                    out.append(f"round {rnd.number}: anti-affinity group {g.name} has two members "
                               f"on host {inst.host_names[h]}")
        return out
