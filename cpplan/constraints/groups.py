"""Service groups: at most ``max_migrating`` members migrate per round, and
anti-affinity (no host holds two members during a round; a member migrating
live is on both of its hosts for the round, one moved offline on its
destination only).

Checked for all groups at once from the instance's membership arrays
(``member_group``, ``member_vm``), so a round costs the same with 3 or
30 000 groups.
"""

from __future__ import annotations

import numpy as np


def migrating_members(inst, vms: np.ndarray) -> np.ndarray:
    """Per group, how many of its members are among ``vms``."""
    moving = np.zeros(inst.n_vms, dtype=bool)
    moving[vms] = True
    hit = moving[inst.member_vm]
    return np.bincount(inst.member_group[hit], minlength=len(inst.groups))


def anti_affinity_clashes(inst, rnd) -> list[tuple[int, int]]:
    """(group, host) pairs where an anti-affinity group has two members during the round."""
    if not inst.group_anti.any():
        return []
    keep = inst.group_anti[inst.member_group]
    groups, vms = inst.member_group[keep], inst.member_vm[keep]
    dest = np.full(inst.n_vms, -1, dtype=np.int64)
    dest[rnd.vms] = rnd.dst
    arriving = dest[vms] >= 0
    staying = np.ones(vms.size, dtype=bool)
    if rnd.offline is not None and rnd.offline.any():
        gone = np.zeros(inst.n_vms, dtype=bool)
        gone[rnd.vms[rnd.offline]] = True
        staying = ~gone[vms]
    pairs = np.concatenate([groups[staying] * inst.n_hosts + rnd.placement[vms][staying],
                            groups[arriving] * inst.n_hosts + dest[vms][arriving]])
    uniq, counts = np.unique(pairs, return_counts=True)
    return [(int(x // inst.n_hosts), int(x % inst.n_hosts)) for x in uniq[counts > 1]]


class Groups:
    name = "groups"

    def check(self, inst, rnd) -> list[str]:
        if not inst.groups:
            return []
        out = []
        counts = migrating_members(inst, rnd.vms)
        for i in np.flatnonzero(counts > inst.group_cap):
            out.append(f"round {rnd.number}: group {inst.groups[i].name} has {counts[i]} members "
                       f"migrating, limit {inst.groups[i].max_migrating}")
        for i, h in anti_affinity_clashes(inst, rnd):
            out.append(f"round {rnd.number}: anti-affinity group {inst.groups[i].name} has two "
                       f"members on host {inst.host_names[h]}")
        return out
