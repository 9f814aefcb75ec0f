"""Clean-up of a greedy plan: drop steps aside that turned out unnecessary, then pull migrations earlier.

1. A VM that went A->C and later C->B goes straight A->B in the later round
   when A can keep it meanwhile (every round in between that sends VMs to A
   still fits, A has a free touch and an outgoing migration left, and the links
   allow it); A->C->A vanishes.
   A VM with several allowed hosts stops on the first allowed host it reaches
   when that host can keep it to the end: its later migrations vanish.
2. A migration moves one round earlier when that round still admits it
   (:class:`~.round.RoundBuilder` checks); the round it leaves only
   gets lighter, so the plan stays valid. Emptied rounds disappear.

A migration keeps its mode (live or offline) wherever it goes. Room is
checked as if VMs leaving offline stayed on their source for the round:
that only over-counts, so a round that relies on an offline leaver is never
made fuller.

Room is counted as plain sums of demands. With page sharing that only
over-counts (sharing never makes a set of VMs use more); where the sums say
no, the host is replayed with the exact rule
(:func:`cpplan.constraints.page_sharing.usage_on`).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}}, initial={"a": "h1"}, target={"a": "h2"})
>>> detour = [(np.array([0]), np.array([0]), np.array([2])), (np.array([0]), np.array([2]), np.array([1]))]
>>> rounds, dropped = clean_up(inst, detour)
>>> dropped, [(v.tolist(), s.tolist(), d.tolist(), off.tolist()) for v, s, d, off in rounds]
(1, [([0], [0], [1], [False])])
"""

from __future__ import annotations

import numpy as np

from ...arrays import run_starts
from ...constraints import anti_affinity_members
from ...constraints.capacity import fits
from ...constraints.page_sharing import shift_load, usage_on
from .round import RoundBuilder

MAX_SWEEPS = 4


def clean_up(inst, rounds: list) -> tuple[list, int]:
    """The cleaned rounds ``(vms, src, dst, offline)`` and the number of migrations dropped.

    A round given without its ``offline`` mask moves the VMs ``inst.offline`` marks offline.
    """
    rounds = [(v, s, d, rest[0] if rest else inst.offline[v]) for v, s, d, *rest in rounds]
    rounds, dropped = drop_detours(inst, rounds)
    for _ in range(MAX_SWEEPS):
        before = len(rounds)
        rounds, moved = pull_earlier(inst, rounds)
        if not moved and len(rounds) == before:
            break
    return rounds, dropped


# ------------------------------------------------------------------ detours
def drop_detours(inst, rounds: list) -> tuple[list, int]:
    """Drop the migrations of VMs that could have waited (see the module doc) where that stays valid."""
    if not rounds:
        return rounds, 0
    t_of = np.concatenate([np.full(len(v), t) for t, (v, *_) in enumerate(rounds)]).astype(np.int64)
    vm, src, dst, offline = (np.concatenate(column) for column in zip(*rounds, strict=True))
    order = np.lexsort((t_of, vm))
    starts = np.flatnonzero(run_starts(vm[order]))
    counts = np.diff(np.r_[starts, len(order)])
    vms = vm[order[starts]]
    candidates = (counts > 1) | ((inst.domain_of[vms] >= 0) & inst.at_target(inst.initial)[vms])
    if inst.groups:
        candidates &= ~anti_affinity_members(inst)[vms]
    if not candidates.any():
        return rounds, 0
    stays = np.unique(src[np.isin(vm, vms[candidates])])
    removed = np.zeros(len(vm), dtype=bool)
    timeline = _Timeline(inst, len(rounds), (vm, src, dst, t_of, removed), stays)
    for first, n in zip(starts[candidates].tolist(), counts[candidates].tolist(), strict=True):
        moves = order[first:first + n].tolist()
        moves = _stop_early(inst, timeline, moves, vm, src, dst, t_of, removed)
        _skip_returns(inst, timeline, moves, vm, src, dst, t_of, removed)
    out = []
    for t in range(len(rounds)):
        keep = (t_of == t) & ~removed
        if keep.any():
            out.append((vm[keep], src[keep], dst[keep], offline[keep]))
    return out, int(removed.sum())


def _stop_early(inst, timeline, moves, vm, src, dst, t_of, removed) -> list:
    """A flexible VM stays on the first allowed host of its path that can keep it to the end."""
    v = int(vm[moves[0]])
    if inst.domain_of[v] < 0:
        return moves
    allowed = inst.domains[inst.domain_of[v]]
    for k, m in enumerate(moves):
        a = int(src[m])
        if allowed[a] and timeline.can_keep(v, a, int(t_of[m]), timeline.n_rounds - 1):
            for later in moves[k:]:
                timeline.drop(v, int(src[later]), int(dst[later]), int(t_of[later]))
                removed[later] = True
            return moves[:k]
    return moves


def _skip_returns(inst, timeline, moves, vm, src, dst, t_of, removed) -> None:
    """Replace A->C (round i) then C->B (round j) by A->B in round j, or by nothing when B is A."""
    k = 0
    while k + 1 < len(moves):
        m1, m2 = moves[k], moves[k + 1]
        v, a, c, b = int(vm[m1]), int(src[m1]), int(dst[m1]), int(dst[m2])
        i, j = int(t_of[m1]), int(t_of[m2])
        last = j if b != a else j - 1
        if not (timeline.can_keep(v, a, i, last) and (b == a or timeline.can_leave(a, b, c, j))):
            k += 1
            continue
        timeline.drop(v, a, c, i)
        timeline.drop(v, c, b, j)
        removed[m1] = True
        if b == a:
            removed[m2] = True
            del moves[k:k + 2]
        else:
            timeline.add(v, a, b, j)
            src[m2] = a
            del moves[k]


class _Timeline:
    """Per round, for a few hosts: load at the start, arrivals, touches; per round and link: crossings.

    Loads are plain sums of demands (an upper bound with page sharing). ``moves``
    are the plan's (vm, src, dst, round, removed) arrays, kept up to date by the caller.
    """

    def __init__(self, inst, n_rounds, moves, hosts):
        self.inst, self.n_rounds, self.moves = inst, n_rounds, moves
        vm, src, dst, t_of, _ = moves
        self.row = np.full(inst.n_hosts, -1, dtype=np.int64)
        self.row[hosts] = np.arange(len(hosts))
        self.initial = np.zeros((len(hosts), inst.demand.shape[1]))
        on = self.row[inst.initial] >= 0
        np.add.at(self.initial, self.row[inst.initial[on]], inst.demand[on])
        shape = (n_rounds, len(hosts), inst.demand.shape[1])
        self.arrive, self.leave = np.zeros(shape), np.zeros(shape)
        self.arrivals = np.zeros(shape[:2], dtype=np.int64)
        self.touches = np.zeros(shape[:2], dtype=np.int64)
        for hosts_of, amount, count in ((dst, self.arrive, True), (src, self.leave, False)):
            mine = self.row[hosts_of] >= 0
            np.add.at(amount, (t_of[mine], self.row[hosts_of[mine]]), inst.demand[vm[mine]])
            np.add.at(self.touches, (t_of[mine], self.row[hosts_of[mine]]), 1)
            if count:
                np.add.at(self.arrivals, (t_of[mine], self.row[hosts_of[mine]]), 1)
        self.inside = [np.isin(np.arange(inst.n_hosts), link.hosts) for link in inst.links]
        self.crossings = np.zeros((n_rounds, len(inst.links)), dtype=np.int64)
        for k, inside in enumerate(self.inside):
            np.add.at(self.crossings[:, k], t_of[inside[src] != inside[dst]], 1)

    def _start_load(self, r):
        """Load at the start of each round of host row ``r``."""
        change = self.arrive[:, r] - self.leave[:, r]
        return self.initial[r] + np.vstack([np.zeros((1, change.shape[1])), np.cumsum(change, axis=0)[:-1]])

    def can_keep(self, v, a, i, last) -> bool:
        """Whether host ``a``, which VM ``v`` leaves in round ``i``, can keep it through round ``last``.

        Round ``i`` is checked too: a VM leaving offline did not count on ``a`` there.
        """
        inst = self.inst
        r = self.row[a]
        span = slice(i, last + 1)
        during = self._start_load(r)[span] + self.arrive[span, r]
        during[1:] += inst.demand[v]
        receiving = self.arrivals[span, r] > 0
        if fits(during[receiving], inst.effective[a]).all():
            return True
        return bool(inst.share_ratio.size) and self._keeps_with_sharing(v, a, i, last)

    def _keeps_with_sharing(self, v, a, i, last) -> bool:
        """:meth:`can_keep` by replaying host ``a`` with page sharing (VMs leaving offline still counted)."""
        inst = self.inst
        vm, src, dst, t_of, removed = self.moves
        touching = np.flatnonzero(~removed & ((src == a) | (dst == a)) & (t_of <= last))
        touching = touching[np.argsort(t_of[touching], kind="stable")]
        on = set(np.flatnonzero(inst.initial == a).tolist())
        for t in np.unique(t_of[touching]).tolist():
            now = touching[t_of[touching] == t]
            arriving = set(vm[now][dst[now] == a].tolist())
            if t >= i and arriving:
                present = np.array(sorted(on | arriving | {v}))
                use = usage_on(inst, present, a)
                if not fits(use, inst.effective[a]).all():
                    return False
            on = (on - set(vm[now][src[now] == a].tolist())) | arriving
        return True

    def can_leave(self, a, b, c, j) -> bool:
        """Whether round ``j`` can send a VM from ``a`` instead of ``c`` to ``b`` (touches, outgoing
        migrations, links)."""
        inst = self.inst
        if self.touches[j, self.row[a]] + 1 > inst.host_limit[a]:
            return False
        if self.touches[j, self.row[a]] - self.arrivals[j, self.row[a]] + 1 > inst.outgoing_limit[a]:
            return False  # a sends one more
        for k, inside in enumerate(self.inside):
            change = int(inside[a] != inside[b]) - int(inside[c] != inside[b])
            if self.crossings[j, k] + change > inst.links[k].max_migrations:
                return False
        return True

    def drop(self, v, s, d, t) -> None:
        """Forget the migration of VM ``v`` from ``s`` to ``d`` in round ``t``."""
        self._change(v, s, d, t, -1)

    def add(self, v, s, d, t) -> None:
        """Count a migration of VM ``v`` from ``s`` to ``d`` in round ``t``."""
        self._change(v, s, d, t, 1)

    def _change(self, v, s, d, t, sign) -> None:
        demand = sign * self.inst.demand[v]
        rs, rd = self.row[s], self.row[d]
        if rs >= 0:
            self.leave[t, rs] += demand
            self.touches[t, rs] += sign
        if rd >= 0:
            self.arrive[t, rd] += demand
            self.touches[t, rd] += sign
            self.arrivals[t, rd] += sign
        for k, inside in enumerate(self.inside):
            self.crossings[t, k] += sign * int(inside[s] != inside[d])


# ------------------------------------------------------------------ compaction
def pull_earlier(inst, rounds: list) -> tuple[list, int]:
    """Move migrations one round earlier where that round admits them; drop emptied rounds."""
    placement = inst.initial.copy()
    load = inst.load(placement)
    out = [rounds[0]] if rounds else []
    moved = 0
    offline = np.zeros(inst.n_vms, dtype=bool)  # per VM, the mode of its move in the round being filled
    for later in rounds[1:]:
        vms, _, dst, modes = out[-1]
        rb = RoundBuilder(inst, placement, load)
        rb.include(vms, dst)
        free = ~np.isin(later[0], vms)
        admitted = np.zeros(len(later[0]), dtype=bool)
        admitted[np.flatnonzero(free)] = rb.offer(later[0][free], later[2][free])
        moved += int(admitted.sum())
        offline[vms] = modes
        offline[later[0][admitted]] = later[3][admitted]
        v, s, d = rb.moves()
        out[-1] = (v, s, d, offline[v])
        rest = tuple(x[~admitted] for x in later)
        if len(rest[0]):
            placement = placement.copy()
            placement[v] = d
            shift_load(inst, load, placement, v, s, d)
            out.append(rest)
    return out, moved
