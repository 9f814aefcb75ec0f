"""Service groups: at most ``max_migrating`` members migrate per round, and
anti-affinity (no host holds two members during a round; a member migrating
live is on both of its hosts for the round, one moved offline on its
destination only).

A start that breaks anti-affinity is legal (SPEC section 8): no round makes a
host hold more members than it held at the start of that round, and a host that
held one or none holds at most one. With ``k`` members on host ``h`` at the
start of a round, ``off`` of them leaving offline and ``arr`` arriving, the
round is valid on ``h`` when ``k - off + arr <= max(1, k)``. So hosts that held
at most one keep the usual rule, and a host that breaks the rule only loses
members, but for one case: on a host holding two or more, a member may arrive
in the round another leaves offline (:func:`offline_refill_possible`). Greedy,
cp's interval model and exact's single steps never use that case (a member
only arrives where no other is left): where it cannot arise they lose no plan;
the validator, greedy's offline rounds, exact's offline batches and cp's
time-indexed model count by the rule exactly.

Checked for all groups at once from the instance's membership arrays
(``member_group``, ``member_vm``), so a round costs the same with 3 or
30 000 groups. Greedy's budget looks a group up only when one of its
members is offered, for the same reason.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"a": {"ram": 8}, "b": {"ram": 8}, "c": {"ram": 8}},
...                 vms={"x": {"ram": 1}, "y": {"ram": 1}}, initial={"x": "a", "y": "b"},
...                 groups={"db": {"vms": ["x", "y"], "anti_affinity": True}})
>>> budget = Groups().budget(inst, inst.initial)
>>> budget.admits(0, 0, 1), budget.admits(0, 0, 2)   # y is on b
(False, True)
>>> broken = Instance(hosts={"a": {}, "b": {}}, vms={"x": {}, "y": {}}, initial={"x": "a", "y": "a"},
...                   target={"y": "b"}, groups={"db": {"vms": ["x", "y"], "anti_affinity": True}})
>>> [(g.name, broken.host_names[h], [broken.vm_names[v] for v in vms])
...  for g, h, vms in broken_anti_affinity(broken, broken.initial)]
[('db', 'a', ['x', 'y'])]
"""

from __future__ import annotations

import itertools
import weakref
from collections import defaultdict

import numpy as np

from .service_level import RoundBudget, ServiceLevel


def migrating_members(inst, vms: np.ndarray) -> np.ndarray:
    """Per group, how many of its members are among ``vms``."""
    moving = np.zeros(inst.n_vms, dtype=bool)
    moving[vms] = True
    hit = moving[inst.member_vm]
    return np.bincount(inst.member_group[hit], minlength=len(inst.groups))


def anti_affinity_clashes(inst, rnd) -> list[tuple[int, int, int, int]]:
    """(group, host, members during the round, members at its start) where an anti-affinity group
    has more members on a host during the round than ``max(1, members at its start)``."""
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
    start = groups * inst.n_hosts + rnd.placement[vms]
    pairs = np.concatenate([start[staying], groups[arriving] * inst.n_hosts + dest[vms][arriving]])
    uniq, counts = np.unique(pairs, return_counts=True)
    held, held_counts = np.unique(start, return_counts=True)
    at = np.minimum(np.searchsorted(held, uniq), held.size - 1)
    before = np.where(held[at] == uniq, held_counts[at], 0)
    over = counts > np.maximum(1, before)
    return [(int(x // inst.n_hosts), int(x % inst.n_hosts), int(n), int(b))
            for x, n, b in zip(uniq[over], counts[over], before[over], strict=True)]


def broken_anti_affinity(inst, placement: np.ndarray) -> list[tuple]:
    """(group, host, member indices) for each host holding two or more members of an
    anti-affinity group in ``placement``."""
    if not inst.group_anti.any():
        return []
    keep = inst.group_anti[inst.member_group]
    groups, vms = inst.member_group[keep], inst.member_vm[keep]
    pairs = groups * inst.n_hosts + placement[vms]
    uniq, counts = np.unique(pairs, return_counts=True)
    out = []
    for x in uniq[counts > 1].tolist():
        g, h = inst.groups[x // inst.n_hosts], x % inst.n_hosts
        out.append((g, int(h), g.vms[placement[g.vms] == h]))
    return out


def offline_refill_possible(inst) -> bool:
    """Whether a member on a host that breaks its group in A may move offline (it is not pinned and
    has an offline mode): only then may a round bring a member to a host that keeps another one (the
    module docstring), which greedy, cp's interval model and exact's single steps never do."""
    for _, _, vms in broken_anti_affinity(inst, inst.initial):
        if (np.isfinite(inst.offline_cost[vms]) & ~inst.pinned[vms]).any():
            return True
    return False


def _held_at_start(inst, g) -> dict[int, int]:
    """Host -> members of anti-affinity group ``g`` on it in A, for the hosts holding two or more."""
    hosts, counts = np.unique(inst.initial[g.vms], return_counts=True)
    return {int(h): int(n) for h, n in zip(hosts.tolist(), counts.tolist(), strict=True) if n > 1}


class Groups(ServiceLevel):
    name = "groups"

    def check(self, inst, rnd) -> list[str]:
        if not inst.groups:
            return []
        out = []
        counts = migrating_members(inst, rnd.vms)
        for i in np.flatnonzero(counts > inst.group_cap):
            out.append(f"round {rnd.number}: group {inst.groups[i].name} has {counts[i]} members "
                       f"migrating, limit {inst.groups[i].max_migrating}")
        for i, h, during, before in anti_affinity_clashes(inst, rnd):
            if before <= 1:
                out.append(f"round {rnd.number}: anti-affinity group {inst.groups[i].name} has two "
                           f"members on host {inst.host_names[h]}")
            else:
                out.append(f"round {rnd.number}: anti-affinity group {inst.groups[i].name} has "
                           f"{during} members on host {inst.host_names[h]}, which held {before} at "
                           f"the start of the round")
        return out

    def budget(self, inst, placement) -> RoundBudget | None:
        return GroupBudget(inst, placement) if inst.groups else None

    def rounds_bound(self, inst, vms) -> int:
        """Each group's moving members, ``max_migrating`` a round."""
        counts = migrating_members(inst, vms)
        caps = inst.group_cap
        limited = (counts > 0) & (caps > 0) & np.isfinite(caps)
        return max(1, int(np.max(-(-counts[limited] // caps[limited]), initial=1)))

    def infeasibility(self, inst, vms) -> str | None:
        counts = migrating_members(inst, vms)
        for i in np.flatnonzero((counts > 0) & (inst.group_cap == 0)):
            g = inst.groups[i]
            v = int(g.vms[np.isin(g.vms, vms)][0])
            return f"VM {inst.vm_names[v]} must move but group {g.name} allows no member to migrate"
        return None

    def coupled(self, inst, vms) -> list[np.ndarray]:
        """Per group with a limit or anti-affinity, its moving members."""
        return [g.vms[np.isin(g.vms, vms)] for g in inst.groups
                if g.anti_affinity or g.max_migrating is not None]

    def encode_intervals(self, view) -> None:
        """``max_migrating``: a cumulative over the members' hops; anti-affinity: per host, a
        no-overlap of the members' stays (a member that never moves stays for the whole horizon).

        Hops and stays are indexed by VM first, so each group costs the size of its members' routes.
        """
        inst, m, T = view.inst, view.model, view.horizon
        if not inst.groups:
            return
        hops_of = defaultdict(list)  # vm -> (position in the model, hop)
        for i, hop in enumerate(view.hops):
            hops_of[hop.vm].append((i, hop))
        stays_of = defaultdict(list)  # vm -> (host rank, position on the host, host, stay)
        for rank, (h, stays) in enumerate(view.stays.items()):
            for pos, stay in enumerate(stays):
                stays_of[stay.vm].append((rank, pos, h, stay))
        for g in inst.groups:
            members = set(g.vms.tolist())
            if g.max_migrating is not None:
                ivs = [hop.interval for _, hop in sorted(x for v in members for x in hops_of.get(v, ()))]
                if len(ivs) > g.max_migrating:
                    m.add_cumulative(ivs, [1] * len(ivs), int(g.max_migrating))
            if not g.anti_affinity:
                continue
            still = [v for v in g.vms.tolist() if v not in view.in_model]
            fixed_hosts = set(inst.initial[still].tolist())
            on_host = sorted((x for v in members for x in stays_of.get(v, ())), key=lambda x: x[:2])
            for h, items in itertools.groupby(on_host, key=lambda x: x[2]):
                mine = [stay for *_, stay in items]
                if not any(stay.arrives for stay in mine):
                    continue
                fixed = [m.new_fixed_size_interval_var(0, T, f"member_stays{h}")] if h in fixed_hosts else []
                _apart_on_host(m, mine, fixed)

    def encode_round(self, view, t: int) -> None:
        """Members moving in round ``t`` at most ``max_migrating``; per host, at most one member
        holding room on it during the round (none where a pinned member sits), or, on a host that
        breaks the group in A, at most as many as it holds at the start of the round (the module
        docstring's rule, exactly)."""
        inst, m = view.inst, view.model
        for g in inst.groups:
            members = [v for v in g.vms.tolist() if not inst.pinned[v]]
            if g.max_migrating is not None:
                m.add(sum(view.moved[v, t] for v in members) <= int(g.max_migrating))
            if not g.anti_affinity:
                continue
            pinned_on = np.bincount(inst.initial[g.vms[inst.pinned[g.vms]]], minlength=inst.n_hosts)
            broken = _held_at_start(inst, g)
            for h in range(inst.n_hosts):
                during = sum(view.occupies(v, h, t) for v in members) + int(pinned_on[h])
                if h not in broken:
                    m.add(during <= 1)
                    continue
                there = [view.at[v, h, t] for v in members if (v, h, t) in view.at]
                empty = m.new_bool_var(f"no_member{g.name}_{h}_{t}")  # may be 1 only when h holds none
                for x in there:
                    m.add_implication(x, ~empty)
                if pinned_on[h]:
                    m.add(empty == 0)
                m.add(during <= sum(there) + int(pinned_on[h]) + empty)


def _apart_on_host(m, stays: list, fixed: list) -> None:
    """No member's stay on a host may overlap another's, but for the stays that begin at the start
    (``fixed``: those of members outside the model): on a host that breaks the group in A they may
    overlap each other, and each arriving stay must avoid every one of them."""
    first = [stay for stay in stays if not stay.arrives]
    if len({stay.vm for stay in first}) + len(fixed) <= 1:
        ivs = [stay.interval for stay in stays] + fixed
        if len(ivs) > 1:
            m.add_no_overlap(ivs)
        return
    arriving = [stay.interval for stay in stays if stay.arrives]
    for iv in [stay.interval for stay in first] + fixed:
        m.add_no_overlap([*arriving, iv])


class GroupBudget(RoundBudget):
    """Members left to migrate per group, and the hosts an anti-affinity group holds, in one round."""

    def __init__(self, inst, placement):
        self.inst, self.placement = inst, placement
        self.groups_of = _groups_of(inst)
        self.used: dict[int, int] = {}  # group -> members migrating in this round
        self.hosts: dict[int, set] = {}  # anti-affinity group -> hosts holding a member

    def _hosts_of(self, k) -> set:
        """Hosts holding a member of group ``k`` during the round so far."""
        if k not in self.hosts:
            self.hosts[k] = set(self.placement[self.inst.groups[k].vms].tolist())
        return self.hosts[k]

    def admits(self, v, s, d) -> bool:
        inst = self.inst
        groups = self.groups_of.get(v, ())
        return not (any(inst.group_cap[k] - self.used.get(k, 0) <= 0 for k in groups)
                    or any(bool(inst.group_anti[k]) and d in self._hosts_of(k) for k in groups))

    def take(self, v, s, d) -> None:
        for k in self.groups_of.get(v, ()):
            self.used[k] = self.used.get(k, 0) + 1
            if self.inst.group_anti[k]:
                self._hosts_of(k).add(d)


_GROUPS_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _groups_of(inst) -> dict[int, list[int]]:
    """The groups each VM belongs to (computed once per instance)."""
    if inst not in _GROUPS_OF:
        groups_of: dict[int, list[int]] = {}
        for k, g in enumerate(inst.groups):
            for v in g.vms.tolist():
                groups_of.setdefault(v, []).append(k)
        _GROUPS_OF[inst] = groups_of
    return _GROUPS_OF[inst]
