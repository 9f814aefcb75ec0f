"""Clean-up of a greedy plan: drop steps aside that turned out unnecessary, then pull migrations earlier.

1. A VM that went A->C and later C->B goes straight A->B in the later round
   when A can keep it meanwhile (every round in between that sends VMs to A
   still fits, A has a free touch and the links allow it); A->C->A vanishes.
2. A migration moves one round earlier when that round still admits it
   (:class:`~.greedy_round.RoundBuilder` checks); the round it leaves only
   gets lighter, so the plan stays valid. Emptied rounds disappear.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}}, initial={"a": "h1"}, target={"a": "h2"})
>>> detour = [(np.array([0]), np.array([0]), np.array([2])), (np.array([0]), np.array([2]), np.array([1]))]
>>> rounds, dropped = clean_up(inst, detour)
>>> dropped, [(v.tolist(), s.tolist(), d.tolist()) for v, s, d in rounds]
(1, [([0], [0], [1])])
"""

from __future__ import annotations

import numpy as np

from ..constraints.capacity import fits
from .greedy_round import RoundBuilder

MAX_SWEEPS = 4


def clean_up(inst, rounds: list) -> tuple[list, int]:
    """The cleaned rounds and the number of migrations dropped.

    With page sharing a host's use depends on which VMs share it, which the
    running sums here cannot follow: the rounds are then kept as they are.
    """
    if inst.share_ratio.size:
        return rounds, 0
    rounds, dropped = drop_detours(inst, rounds)
    for _ in range(MAX_SWEEPS):
        before = len(rounds)
        rounds, moved = pull_earlier(inst, rounds)
        if not moved and len(rounds) == before:
            break
    return rounds, dropped


# ------------------------------------------------------------------ detours
def drop_detours(inst, rounds: list) -> tuple[list, int]:
    """Replace A->C (round i) then C->B (round j) by A->B in round j where that stays valid."""
    if not rounds:
        return rounds, 0
    t_of = np.concatenate([np.full(len(v), t) for t, (v, _, _) in enumerate(rounds)]).astype(np.int64)
    vm = np.concatenate([v for v, _, _ in rounds])
    src = np.concatenate([s for _, s, _ in rounds])
    dst = np.concatenate([d for _, _, d in rounds])
    order = np.lexsort((t_of, vm))
    first, second = order[:-1], order[1:]
    pairs = vm[first] == vm[second]
    if inst.groups:
        in_anti = np.zeros(inst.n_vms, dtype=bool)
        for g in inst.groups:
            in_anti[g.vms] |= g.anti_affinity
        pairs &= ~in_anti[vm[first]]
    first, second = first[pairs], second[pairs]
    if first.size == 0:
        return rounds, 0
    timeline = _Timeline(inst, len(rounds), t_of, vm, src, dst, np.unique(src[first]))
    removed = np.zeros(len(vm), dtype=bool)
    dropped = 0
    for m1, m2 in zip(first.tolist(), second.tolist(), strict=True):
        if removed[m1] or removed[m2]:
            continue
        v, a, c, b, i, j = int(vm[m1]), int(src[m1]), int(dst[m1]), int(dst[m2]), int(t_of[m1]), int(t_of[m2])
        if src[m2] != c or not timeline.can_stay(v, a, b, c, i, j):
            continue
        timeline.stay(v, a, b, c, i, j)
        removed[m1] = True
        dropped += 1
        if b == a:
            removed[m2] = True
            dropped += 1
        else:
            src[m2] = a
    out = []
    for t in range(len(rounds)):
        keep = (t_of == t) & ~removed
        if keep.any():
            out.append((vm[keep], src[keep], dst[keep]))
    return out, dropped


class _Timeline:
    """Per round, for a few hosts: load at the start, arrivals, touches; per round and link: crossings."""

    def __init__(self, inst, n_rounds, t_of, vm, src, dst, hosts):
        self.inst = inst
        self.row = np.full(inst.n_hosts, -1, dtype=np.int64)
        self.row[hosts] = np.arange(len(hosts))
        self.initial = inst.load(inst.initial)[hosts]
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

    def can_stay(self, v, a, b, c, i, j) -> bool:
        inst = self.inst
        r, d = self.row[a], inst.demand[v]
        last = j if b != a else j - 1
        span = slice(i + 1, last + 1)
        start = self._start_load(r)[span] + d
        during = start + self.arrive[span, r]
        receiving = self.arrivals[span, r] > 0
        if not fits(during[receiving], inst.effective[a]).all():
            return False
        if b != a:
            if self.touches[j, r] + 1 > inst.host_limit[a]:
                return False
            for k, inside in enumerate(self.inside):
                change = int(inside[a] != inside[b]) - int(inside[c] != inside[b])
                if self.crossings[j, k] + change > inst.links[k].max_migrations:
                    return False
        return True

    def stay(self, v, a, b, c, i, j) -> None:
        d = self.inst.demand[v]
        self._move(a, i, leave=-d, touch=-1)
        self._move(c, i, arrive=-d, touch=-1, arrival=-1)
        self._move(c, j, leave=-d, touch=-1)
        if b == a:
            self._move(a, j, arrive=-d, touch=-1, arrival=-1)
        else:
            self._move(a, j, leave=d, touch=1)
        for k, inside in enumerate(self.inside):
            self.crossings[i, k] -= int(inside[a] != inside[c])
            self.crossings[j, k] += int(inside[a] != inside[b]) - int(inside[c] != inside[b])

    def _move(self, host, t, arrive=0.0, leave=0.0, touch=0, arrival=0):
        r = self.row[host]
        if r < 0:
            return
        self.arrive[t, r] += arrive
        self.leave[t, r] += leave
        self.touches[t, r] += touch
        self.arrivals[t, r] += arrival


# ------------------------------------------------------------------ compaction
def pull_earlier(inst, rounds: list) -> tuple[list, int]:
    """Move migrations one round earlier where that round admits them; drop emptied rounds."""
    placement = inst.initial.copy()
    load = inst.load(placement)
    out = [rounds[0]] if rounds else []
    moved = 0
    for later in rounds[1:]:
        vms, _, dst = out[-1]
        rb = RoundBuilder(inst, placement, load)
        rb.include(vms, dst)
        free = ~np.isin(later[0], vms)
        admitted = np.zeros(len(later[0]), dtype=bool)
        admitted[np.flatnonzero(free)] = rb.offer(later[0][free], later[2][free])
        moved += int(admitted.sum())
        out[-1] = rb.moves()
        rest = tuple(x[~admitted] for x in later)
        if len(rest[0]):
            v, s, d = out[-1]
            np.subtract.at(load, s, inst.demand[v])
            np.add.at(load, d, inst.demand[v])
            placement = placement.copy()
            placement[v] = d
            out.append(rest)
    return out, moved
