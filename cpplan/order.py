"""Which migration waits for which: the ``after`` order of a plan and its safety (SPEC section 7.3-7.4).

Migrations are numbered 0, 1, ... round by round, each round in listed order;
``after[m]`` lists the migrations ``m`` waits for, all numbered below ``m``.
*p precedes m* (``p < m`` below) when a chain of ``after`` leads from ``m``
back to ``p``. A VM's *stay* on a host begins when the migration to it starts
(or at the start, for placement A) and ends when the migration away ends (or
never). While ``m`` is in flight, a VM is *possibly on* host ``h`` unless each
of its stays there ends with a migration ``p < m`` or begins with one ``q``
with ``m < q``. :func:`order_violations` is SPEC 7.4's check, exactly: the VMs
possibly on ``m``'s destination fit it (page sharing by its rule; here an
offline migration holds its source until it ends), no two members of an
anti-affinity group have stays on one host that may overlap (two stays may
overlap unless one ends with a migration that precedes the one that begins
the other; two stays that both begin in A may: a start that breaks anti-affinity
is legal, SPEC section 8, and only an arrival can make it worse), and each hop
of a VM precedes its next.

The order :func:`derive_after` gives a valid round plan. Let ``m`` move to ``d``
in round ``t``. It waits for

1. every migration of an earlier round that touches ``d`` (leaving or reaching it),
2. its VM's previous hop,
3. every offline migration of round ``t`` that leaves ``d`` and is listed before ``m``.

Why it is safe, whatever the durations. *Capacity*: take a stay on ``d``. If
it ended with a migration of a round before ``t``, that migration touches
``d``, so it precedes ``m`` (rule 1): not possibly on. If it begins with a
migration ``q`` of a round after ``t``, ``q`` reaches ``d`` and ``m`` is of an
earlier round touching ``d``, so ``m < q`` (rule 1 for ``q``): not possibly
on. Every other stay holds a VM that the round model counts on ``d`` in round
``t``: there at the start of the round (a leaver included) or arriving in it;
an offline leaver of round ``t``, which the round model does not count, is
not possibly on when it is listed before ``m`` (rule 3). So the VMs possibly on
``d`` are among those that SPEC section 4 found to fit, and a use that grows
with the set of VMs (page sharing's does) fits too. *Anti-affinity*: the round
model never has two members on one host in one round, counting a migrating
member on both its hosts (but those it held at the start of the round, when A
broke the rule), so two members' stays on ``h`` that do not both begin in A
occupy disjoint runs of rounds; the earlier stay ends with a migration leaving ``h`` in a round
before the one whose migration to ``h`` begins the later stay, and rule 1 makes
the first precede the second (an offline leaver, which the round model counts on
its destination only, is ordered before an arrival of its round by rule 3).
*Own hops*: rule 2. Only rule 3 can fail to
give what it needs (an offline leaver listed after the arrival that needs its
room, or two offline migrations trading places in one round, which no order
makes safe since an offline migration holds its source, as neither does it for
a member arriving, in the round another leaves offline, on a host that keeps a
third since A): then, and only then,
:func:`derive_after` returns None and the plan keeps SPEC's barrier order.

The lists are then cut to their transitive reduction (a predecessor that
another one already implies goes: the order is the same), and each remaining
predecessor of rules 1 and 3 is dropped, latest migration first, when SPEC
7.4's check still holds without it (on plans of at most
:data:`PRUNE_MAX_MIGRATIONS` migrations). The check only gets stricter as the
order loses pairs, so every predecessor kept is needed: without it alone the
order is unsafe. ``m`` then waits only for the room it needs on its
destination, its own previous hop, and anti-affinity partners leaving.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 6}, "b": {"ram": 6}, "c": {"ram": 2}},
...                 initial={"a": "h1", "b": "h2", "c": "h3"}, target={"a": "h2", "b": "h3"})
>>> plan = Plan("feasible", 12, [[{"vm": "b", "from": "h2", "to": "h3"}],
...                              [{"vm": "a", "from": "h1", "to": "h2"}]])
>>> derive_after(inst, plan)            # a needs b gone from h2
[[], [0]]
>>> plan.rounds[1][0]["after"] = []
>>> order_violations(inst, plan)        # doctest: +NORMALIZE_WHITESPACE
['order: migration 1 (a h1 -> h2) may run before migration 0 (b h2 -> h3) ends:
  host h2 may hold 12 ram, capacity 8']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constraints.capacity import fits
from .constraints.page_sharing import usage_on

PRUNE_MAX_MIGRATIONS = 200  # pruning re-checks the whole order once per predecessor it tries


@dataclass(frozen=True)
class Migrations:
    """A plan's migrations in SPEC's numbering, as index arrays (rounds 0-based)."""

    vm: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    round: np.ndarray
    offline: np.ndarray

    @classmethod
    def of(cls, inst, plan) -> Migrations:
        """The migrations of ``plan``, whose names ``inst`` knows (a plan the validator replayed)."""
        rows = [(inst.vm_index[m["vm"]], inst.host_index[m["from"]], inst.host_index[m["to"]], t,
                 m.get("mode") == "offline") for t, r in enumerate(plan.rounds) for m in r]
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        return cls(*(np.array(c, dtype=np.int64) for c in cols[:4]), np.array(cols[4], dtype=bool))

    def __len__(self) -> int:
        return len(self.vm)

    def describe(self, inst, i: int) -> str:
        return (f"migration {i} ({inst.vm_names[self.vm[i]]} {inst.host_names[self.src[i]]} -> "
                f"{inst.host_names[self.dst[i]]})")


@dataclass(frozen=True)
class Stay:
    """VM ``vm`` on ``host`` from the start of migration ``begin`` (None: placement A) to the end of
    migration ``end`` (None: for good)."""

    vm: int
    host: int
    begin: int | None
    end: int | None


def stays(inst, moves: Migrations) -> list[Stay]:
    """Every stay of every VM, in VM order, each VM's in time order."""
    hops: list[list[int]] = [[] for _ in range(inst.n_vms)]
    for i, v in enumerate(moves.vm.tolist()):
        hops[v].append(i)
    out = []
    for v in range(inst.n_vms):
        begin, host = None, int(inst.initial[v])
        for i in hops[v]:
            out.append(Stay(v, host, begin, i))
            begin, host = i, int(moves.dst[i])
        out.append(Stay(v, host, begin, None))
    return out


def closure(after: list[list[int]]) -> list[int]:
    """Per migration, the bit set (an int) of the migrations that precede it."""
    ancestors: list[int] = []
    for preds in after:
        bits = 0
        for p in preds:
            bits |= ancestors[p] | (1 << p)
        ancestors.append(bits)
    return ancestors


def derive_after(inst, plan, *, prune: bool = True) -> list[list[int]] | None:
    """A safe ``after`` list per migration of the valid round ``plan`` (module docstring), or None when
    rule 3 cannot give what the plan needs (then it keeps the barrier order); ``prune=False`` stops
    at the transitive reduction (see :func:`pruned`)."""
    moves = Migrations.of(inst, plan)
    after = _by_rounds(inst, moves)
    if _violations(inst, moves, closure(after), stays(inst, moves)):
        return None
    after = _reduced(after)
    return pruned(inst, plan, after) if prune else after


def pruned(inst, plan, after: list[list[int]]) -> list[list[int]]:
    """A copy of the safe order ``after`` of ``plan`` without the predecessors SPEC 7.4 does not need,
    on plans of at most :data:`PRUNE_MAX_MIGRATIONS` migrations (else ``after`` itself)."""
    moves = Migrations.of(inst, plan)
    if len(moves) > PRUNE_MAX_MIGRATIONS:
        return after
    lean = [list(preds) for preds in after]
    _prune(inst, moves, lean)
    return lean


def _reduced(after: list[list[int]]) -> list[list[int]]:
    """The same order with no predecessor that another one already implies (its transitive reduction).

    >>> _reduced([[], [0], [0, 1]])
    [[], [0], [1]]
    """
    ancestors = closure(after)
    out = []
    for preds in after:
        kept, implied = [], 0
        for p in sorted(preds, reverse=True):  # a later predecessor may imply an earlier one, never back
            if not implied >> p & 1:
                kept.append(p)
                implied |= ancestors[p] | (1 << p)
        out.append(sorted(kept))
    return out


def _by_rounds(inst, moves: Migrations) -> list[list[int]]:
    """Rules 1-3 of the module docstring."""
    touching: list[list[int]] = [[] for _ in range(inst.n_hosts)]
    offline_leaving: dict[int, list[int]] = {}  # host -> offline migrations of this round leaving it
    previous: dict[int, int] = {}
    after, round_start = [], 0
    for i in range(len(moves)):
        v, s, d = (int(x[i]) for x in (moves.vm, moves.src, moves.dst))
        if i and moves.round[i] != moves.round[i - 1]:
            round_start, offline_leaving = i, {}
        earlier = [p for p in touching[d] if p < round_start]
        own = [previous[v]] if v in previous else []
        after.append(sorted({*earlier, *own, *offline_leaving.get(d, [])}))
        touching[s].append(i)
        touching[d].append(i)
        if moves.offline[i]:
            offline_leaving.setdefault(s, []).append(i)
        previous[v] = i
    return after


def _prune(inst, moves: Migrations, after: list[list[int]]) -> None:
    """Drop the predecessors (not a VM's previous hop) that SPEC 7.4 does not need, latest first.

    Dropping ``p`` from ``after[i]`` only loses pairs ``x < y`` with ``x`` in ``p`` and what precedes
    it and ``y`` in ``i`` and what follows it (``D``). So only the capacity checks of the migrations
    of ``D``, and of those before ``p`` that reach a host a migration of ``D`` reaches, are run
    again, with every anti-affinity pair and every VM's own hops (a VM's previous hop that the
    transitive reduction left out is implied by a chain that may run through ``p``).
    """
    every, previous = stays(inst, moves), {}
    for i, v in enumerate(moves.vm.tolist()):
        own = previous.get(v)
        for p in sorted(after[i], reverse=True):
            if p == own:
                continue
            before, trial = closure(after), after[i]
            after[i] = [x for x in trial if x != p]
            ancestors = closure(after)
            later = [j for j in range(i, len(moves)) if j == i or ancestors[j] >> i & 1]
            reached = set(moves.dst[later].tolist())
            earlier = [m for m in range(p + 1) if (m == p or before[p] >> m & 1) and moves.dst[m] in reached]
            if _violations(inst, moves, ancestors, every, only={*later, *earlier}):
                after[i] = trial
        previous[v] = i


def order_violations(inst, plan) -> list[str]:
    """SPEC 7.4's check of the ``after`` order of ``plan``, whose rounds are valid (SPEC section 4).

    A migration without ``after`` in a plan that gives it waits for nothing. Each violation names the
    two migrations and the host.
    """
    moves = Migrations.of(inst, plan)
    after, out = [], []
    for i, m in enumerate(m for r in plan.rounds for m in r):
        preds = m.get("after", [])
        if not isinstance(preds, list) or not all(
                isinstance(p, int) and not isinstance(p, bool) and 0 <= p < i for p in preds):
            out.append(f"order: {moves.describe(inst, i)} has after {preds!r}: it must list migrations "
                       f"numbered below {i}")
            preds = []
        after.append(sorted(set(preds)))
    return out + _violations(inst, moves, closure(after), stays(inst, moves))


def _violations(inst, moves: Migrations, ancestors: list[int], every: list[Stay], *,
                only: set | None = None) -> list[str]:
    """SPEC 7.4's violations of the order whose :func:`closure` is ``ancestors`` (``only``: the capacity
    checks of these migrations alone)."""

    def precedes(p: int, m: int) -> bool:
        return bool(ancestors[m] >> p & 1)

    out = _own_hops(inst, moves, precedes)
    out += _capacity(inst, moves, every, ancestors, only)
    return out + _anti_affinity(inst, moves, every, precedes)


def _own_hops(inst, moves: Migrations, precedes) -> list[str]:
    out, previous = [], {}
    for i, v in enumerate(moves.vm.tolist()):
        if v in previous and not precedes(previous[v], i):
            out.append(f"order: {moves.describe(inst, i)} does not wait for its VM's previous hop, "
                       f"{moves.describe(inst, previous[v])} (host {inst.host_names[moves.src[i]]})")
        previous[v] = i
    return out


def _capacity(inst, moves: Migrations, every: list[Stay], ancestors: list[int],
              only: set | None) -> list[str]:
    on_host: list[list[Stay]] = [[] for _ in range(inst.n_hosts)]
    for stay in every:
        on_host[stay.host].append(stay)
    out = []
    for m in range(len(moves)) if only is None else sorted(only):
        h, ahead = int(moves.dst[m]), ancestors[m]  # ahead: the bits of the migrations preceding m
        possible = [s for s in on_host[h] if not (s.end is not None and ahead >> s.end & 1)
                    and not (s.begin is not None and ancestors[s.begin] >> m & 1)]
        vms = np.fromiter({s.vm for s in possible}, dtype=np.int64)
        use = usage_on(inst, vms, h) if inst.share_ratio.size else inst.demand[vms].sum(axis=0)
        over = ~fits(use, inst.effective[h])
        if not over.any():
            continue
        r = int(np.flatnonzero(over)[0])
        culprits = [s for s in possible if (s.end is not None and s.end < m)
                    or (s.begin is not None and s.begin > m)]  # stays an order could keep apart from m
        culprits.sort(key=lambda s: -inst.demand[s.vm, r])
        if culprits:
            s = culprits[0]
            if s.end is not None and s.end < m:
                where = f"may run before {moves.describe(inst, s.end)} ends"
            else:
                where = f"may run alongside {moves.describe(inst, s.begin)}"
        else:
            where = "overloads it whatever the order"
        out.append(f"order: {moves.describe(inst, m)} {where}: host {inst.host_names[h]} may hold "
                   f"{use[r]:g} {inst.resources[r]}, capacity {inst.effective[h, r]:g}")
    return out


def _anti_affinity(inst, moves: Migrations, every: list[Stay], precedes) -> list[str]:
    by_vm: dict[int, list[Stay]] = {}
    for stay in every:
        by_vm.setdefault(stay.vm, []).append(stay)
    out = []
    for g in inst.groups:
        if not g.anti_affinity:
            continue
        members = g.vms.tolist()
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                out += _clashes(inst, moves, g.name, by_vm.get(a, []), by_vm.get(b, []), precedes)
    return out


def _clashes(inst, moves: Migrations, group: str, stays_a: list[Stay], stays_b: list[Stay],
             precedes) -> list[str]:
    out = []
    for sa in stays_a:
        for sb in stays_b:
            if sa.host != sb.host or _apart(sa, sb, precedes) or _apart(sb, sa, precedes):
                continue
            if sa.begin is None and sb.begin is None:  # together in A, a legal start: never made worse
                continue
            one, two = ((sa.end, sb.begin) if sa.end is not None and sb.begin is not None
                        else (sb.end, sa.begin))
            pair = " and ".join(moves.describe(inst, i) for i in (one, two) if i is not None)
            out.append(f"order: anti-affinity group {group}: {inst.vm_names[sa.vm]} and "
                       f"{inst.vm_names[sb.vm]} may both be on host {inst.host_names[sa.host]} "
                       f"({pair} not ordered)")
    return out


def _apart(first: Stay, second: Stay, precedes) -> bool:
    """Whether ``first`` ends with a migration that precedes the one that begins ``second``."""
    return first.end is not None and second.begin is not None and precedes(first.end, second.begin)
