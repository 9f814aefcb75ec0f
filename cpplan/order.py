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

*Each host's own order.* Every check above is about one host ``h``: the
migrations that reach it, the stays on it, and a VM's hops in and out of it.
Host ``h``'s own order is the order among the migrations touching ``h`` by
two kinds of edges alone: the ``after`` lists of the migrations reaching
``h`` (rules 1 and 3 put only migrations touching ``h`` there, so ``h``
decides them), and each migration leaving ``h`` after its VM's previous hop
(rule 2; never dropped). It is a part of the whole order, and the checks only
get stricter as an order loses pairs, so an order is safe when every host's
own order passes the checks of that host: :meth:`HostOrders.safe`. That is
what makes the order lean at scale: each host changes only its own edges,
and a host whose own order is safe stays safe whatever the others do.

The lists are cut to each host's transitive reduction (a predecessor its own
order already implies through another goes: the order is the same). Then each
host touched by at most :data:`PRUNE_MAX_EVENTS` migrations prunes the lists of
the migrations reaching it (:meth:`HostOrders.prune`), the largest VM's first,
since a long migration that waits costs the schedule most. ``m`` first loses
every predecessor but its previous hop at once (every migration reaching the
host tries that together first: the same result, sooner); else each one in
turn, in one of :data:`WAIT_ORDERS` (the largest VM's first, or the latest
migration's first: which ends sooner differs from plan to plan, so
:func:`cpplan.schedule.ordered_estimate` tries both), and when ``m`` cannot do without it, ``m`` tries
instead to wait for what that predecessor waits for in the host's own order.
Each change stays when the host's own order still passes. A last pass tries
each kept predecessor once more, since waiting for what a predecessor waits for
can make another wait needless. An order that loses pairs only gets stricter,
so every predecessor kept is needed by its host: without it alone, the host's
own order is unsafe. ``m`` then waits only for the room it needs on its
destination, its own previous hop, and anti-affinity partners leaving.

:func:`order_violations` (SPEC 7.4's check of any given order) runs each check
by the order among the migrations touching the host concerned first (all the
``after`` edges between them), and by the whole order (:class:`Reach`) only
where that finds a problem: linear in the plan on safe orders.

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
from typing import NamedTuple

import numpy as np

from .constraints.capacity import fits, with_tolerance
from .constraints.page_sharing import usage_on

# a host touched by more migrations keeps its reduced order: pruning tries each of its waits and
# re-checks the arrivals each change touches (cubic in the host's migrations at worst)
PRUNE_MAX_EVENTS = 200
# the orders in which a migration tries to do without each of its waits: the largest VM's first (the
# longest migration's), or the latest migration's first
WAIT_ORDERS = ("largest", "latest")
# a host touched by more migrations checks its room stay by stay (:class:`Room` holds a square matrix
# of its migrations)
ROOM_MAX_EVENTS = 1024


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


class Stay(NamedTuple):
    """VM ``vm`` on ``host`` from the start of migration ``begin`` (None: placement A) to the end of
    migration ``end`` (None: for good)."""

    vm: int
    host: int
    begin: int | None
    end: int | None


def stays(inst, moves: Migrations) -> list[Stay]:
    """Every stay of every VM the plan moves, in VM order, each VM's in time order (those it does not
    move stay on their initial hosts: :class:`HostOrders` counts them as a fixed load)."""
    hops: dict[int, list[int]] = {}
    for i, v in enumerate(moves.vm.tolist()):
        hops.setdefault(v, []).append(i)
    out, dst = [], moves.dst.tolist()
    for v in sorted(hops):
        begin, host = None, int(inst.initial[v])
        for i in hops[v]:
            out.append(Stay(v, host, begin, i))
            begin, host = i, dst[i]
        out.append(Stay(v, host, begin, None))
    return out


def derive_after(inst, plan, *, prune: bool = True) -> list[list[int]] | None:
    """A safe ``after`` list per migration of the valid round ``plan`` (module docstring), or None when
    rule 3 cannot give what the plan needs (then it keeps the barrier order); ``prune=False`` stops
    at each host's transitive reduction (see :func:`pruned`)."""
    moves = Migrations.of(inst, plan)
    after, hosts = _by_rounds(inst, moves), HostOrders(inst, moves)
    if moves.offline.any() and _violations(inst, moves, after, hosts):  # only rule 3 can fail
        return None
    for h in range(inst.n_hosts):
        hosts.reduce(h, after)
    if prune:
        for h in range(inst.n_hosts):
            hosts.prune(h, after)
    return after


def pruned(inst, plan, after: list[list[int]], waits: str = "largest") -> list[list[int]]:
    """A copy of the safe order ``after`` of ``plan`` without the predecessors that no host's own order
    needs (module docstring), each migration trying its waits in the order ``waits`` (one of
    :data:`WAIT_ORDERS`). It is safe when ``after`` is by each host's own order (derive_after's is):
    the validator, which every plan passes before it leaves the package, checks it once more."""
    if waits not in WAIT_ORDERS:
        raise ValueError(f"unknown wait order {waits!r} (choose from {', '.join(WAIT_ORDERS)})")
    moves = Migrations.of(inst, plan)
    lean, hosts = [list(preds) for preds in after], HostOrders(inst, moves)
    for h in range(inst.n_hosts):
        hosts.prune(h, lean, waits)
    return lean


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


class LocalOrder:
    """The order among ``events`` (migrations touching one host, ascending) by the edges ``preds(i)``
    between them alone: a part of the whole order, so it never orders a pair the whole order leaves
    unordered."""

    def __init__(self, events: list[int], preds):
        self.events = events
        self.index = {g: k for k, g in enumerate(events)}
        self.preds = [[k for k in map(self.index.get, preds(g)) if k is not None] for g in events]
        self.ancestors: list[int] = []  # per event, the bit set of the local events preceding it
        self._close(0)

    def _close(self, start: int) -> None:
        """The ancestors of the events from number ``start`` on (those before it are kept)."""
        del self.ancestors[start:]
        ancestors = self.ancestors
        for preds in self.preds[start:]:
            bits = 0
            for k in preds:
                bits |= ancestors[k] | (1 << k)
            ancestors.append(bits)

    def with_preds(self, m: int, preds: list[int]) -> LocalOrder:
        """A copy in which event ``m`` waits for ``preds`` instead (those among the events)."""
        out = LocalOrder.__new__(LocalOrder)
        out.events, out.index = self.events, self.index
        start = self.index[m]
        out.preds = list(self.preds)
        out.preds[start] = [k for k in map(self.index.get, preds) if k is not None]
        out.ancestors = self.ancestors[:start]
        out._close(start)
        return out

    def precedes(self, p: int, m: int) -> bool:
        return bool(self.ancestors[self.index[m]] >> self.index[p] & 1)


class Reach:
    """The whole order's ``p precedes m``, each migration's predecessors found once, when first asked."""

    def __init__(self, after: list[list[int]]):
        self.after, self.found = after, {}

    def precedes(self, p: int, m: int) -> bool:
        if p >= m:
            return False
        if m not in self.found:
            seen, stack = set(), list(self.after[m])
            while stack:
                q = stack.pop()
                if q not in seen:
                    seen.add(q)
                    stack.extend(self.after[q])
            self.found[m] = seen
        return p in self.found[m]


class HostOrders:
    """Per host ``h``: the migrations touching it, the stays on it, the anti-affinity pairs of stays on
    it, and its own order (:meth:`own`): the edges into the migrations reaching ``h`` and each
    migration leaving ``h`` after its VM's previous hop. Only ``h`` changes the first (:meth:`reduce`,
    :meth:`prune`), and the second never changes, so what one host's own order makes safe stays safe
    whatever the others do."""

    def __init__(self, inst, moves: Migrations):
        self.inst, self.moves = inst, moves
        self.events: list[list[int]] = [[] for _ in range(inst.n_hosts)]
        for i, (s, d) in enumerate(zip(moves.src.tolist(), moves.dst.tolist(), strict=True)):
            self.events[s].append(i)
            self.events[d].append(i)
        dst = moves.dst.tolist()  # the migrations reaching each host:
        self.reaching = [[m for m in events if dst[m] == h] for h, events in enumerate(self.events)]
        every = stays(inst, moves)
        self.stays_on: list[list[Stay]] = [[] for _ in range(inst.n_hosts)]
        for stay in every:
            self.stays_on[stay.host].append(stay)
        still = np.ones(inst.n_vms, dtype=bool)
        still[moves.vm] = False
        self.still = np.flatnonzero(still)  # the VMs the plan does not move, on their initial hosts
        self.still_load = np.zeros((inst.n_hosts, len(inst.resources)))
        np.add.at(self.still_load, inst.initial[self.still], inst.demand[self.still])
        self.pairs = _anti_affinity_pairs(inst, every, self.still)
        self.rooms: dict[int, Room] = {}  # per host, when first asked
        self.previous, last = [-1] * len(moves), {}
        for i, v in enumerate(moves.vm.tolist()):
            self.previous[i] = last.get(v, -1)
            last[v] = i

    def use(self, h: int, moved: set[int]) -> np.ndarray:
        """Use per resource of ``h`` with the VMs ``moved`` (of those the plan moves) on it."""
        inst, vms = self.inst, np.fromiter(moved, dtype=np.int64, count=len(moved))
        if inst.share_ratio.size:  # page sharing: the use of a set is not a sum
            return usage_on(inst, np.concatenate([vms, self.still[inst.initial[self.still] == h]]), h)
        return self.still_load[h] + inst.demand[vms].sum(axis=0)

    def own(self, h: int, after: list[list[int]]) -> LocalOrder:
        dst, previous = self.moves.dst, self.previous
        return LocalOrder(self.events[h], lambda i: after[i] if dst[i] == h else [previous[i]])

    def overloading(self, h: int, local: LocalOrder) -> list[int]:
        """The migrations reaching ``h`` that overload it by ``local``: by :class:`Room`'s sums, or stay
        by stay with page sharing (the use of a set is not a sum) or past :data:`ROOM_MAX_EVENTS`."""
        if not self.reaching[h]:
            return []
        if self.inst.share_ratio.size or len(self.events[h]) > ROOM_MAX_EVENTS:
            return [m for m in self.reaching[h] if self.overload(h, m, local.precedes) is not None]
        if h not in self.rooms:
            self.rooms[h] = Room(self, h)
        room = self.rooms[h]
        over = (room.during(local.ancestors) > room.limit).any(axis=1)
        return [self.reaching[h][k] for k in np.flatnonzero(over).tolist()]

    def overload(self, h: int, m: int, precedes) -> tuple | None:
        """``(stays possibly on h, use, resources over)`` while ``m`` (reaching ``h``) is in flight, by
        the order ``precedes``, when they overload ``h``; None when they fit."""
        possible = [s for s in self.stays_on[h] if not (s.end is not None and precedes(s.end, m))
                    and not (s.begin is not None and precedes(m, s.begin))]
        use = self.use(h, {s.vm for s in possible})
        over = ~fits(use, self.inst.effective[h])
        return (possible, use, over) if over.any() else None

    def safe(self, h: int, local: LocalOrder) -> bool:
        """Whether what reaches ``h`` fits it and its anti-affinity pairs stay apart, by ``local``."""
        return (not self.overloading(h, local)
                and not any(_together(sa, sb, local.precedes) for _, sa, sb in self.pairs[h]))

    def reduce(self, h: int, after: list[list[int]]) -> None:
        """Drop from the lists of the migrations reaching ``h`` each predecessor its own order already
        implies through another (the order does not change)."""
        local = self.own(h, after)
        for m in self.reaching[h]:
            kept, implied = [], 0
            for p in sorted(after[m], reverse=True):
                k = local.index.get(p)
                if k is None or p == self.previous[m]:
                    kept.append(p)
                elif not implied >> k & 1:
                    kept.append(p)
                    implied |= local.ancestors[k] | (1 << k)
            after[m] = sorted(kept)

    def prune(self, h: int, after: list[list[int]], waits: str = "largest") -> None:
        """Drop the predecessors of the migrations reaching ``h`` that its own order does not need
        (module docstring), when its own order is safe, trying them in the order ``waits``."""
        local = self.own(h, after)
        if len(self.events[h]) > PRUNE_MAX_EVENTS or not self.safe(h, local):
            return
        ram = self.inst.durations.ram_mib[self.moves.vm]
        kept = {m: after[m] for m in self.reaching[h]}
        for m in kept:  # first every migration reaching h at once without its waits for room
            after[m] = [self.previous[m]] if self.previous[m] >= 0 else []
        if self.safe(h, self.own(h, after)):
            return
        for m, preds in kept.items():
            after[m] = preds
        longest_first = sorted(kept, key=lambda m: -ram[m])  # a long migration waiting costs most
        for m in longest_first:
            own = [self.previous[m]] if self.previous[m] >= 0 else []
            tried: set[int] = set()
            queue = [p for p in after[m] if p not in own]
            if queue and (trial := self._try(h, after, local, m, own)):
                local = trial
                continue
            while queue:
                queue.sort(key=(lambda p: (ram[p], p)) if waits == "largest" else None)  # popped last first
                p = queue.pop()
                if p in tried or p not in after[m]:
                    continue
                tried.add(p)
                rest = [x for x in after[m] if x != p]
                if trial := self._try(h, after, local, m, rest):
                    local = trial
                    continue
                instead = [q for q in self._local_preds(h, after, p) if q not in rest]
                if instead and (trial := self._try(h, after, local, m, sorted(rest + instead))):
                    local = trial
                    queue += instead
        for m in longest_first:  # a wait that a later one's change made needless goes too
            for p in [x for x in after[m] if x != self.previous[m]]:
                if trial := self._try(h, after, local, m, [x for x in after[m] if x != p]):
                    local = trial

    def _try(self, h: int, after: list[list[int]], local: LocalOrder, m: int,
             preds: list[int]) -> LocalOrder | None:
        """Give ``m`` the list ``preds`` when the host's own order (``local`` before) stays safe with
        it: then its new own order, else None."""
        before, after[m] = after[m], preds
        trial = local.with_preds(m, preds)
        if self.safe(h, trial):
            return trial
        after[m] = before
        return None

    def _local_preds(self, h: int, after: list[list[int]], p: int) -> list[int]:
        """What ``p`` waits for in host ``h``'s own order."""
        preds = after[p] if self.moves.dst[p] == h else [self.previous[p]]
        return [q for q in preds if q >= 0 and (self.moves.src[q] == h or self.moves.dst[q] == h)]


class Room:
    """The use of one host while each migration reaching it is in flight, as sums over its local order.

    While arrival ``k`` is in flight, a stay on the host is possibly on unless it ends with an event
    that precedes ``k`` or begins with one that ``k`` precedes (never both: the stay's own begin
    precedes its end). With ``M[k, j] = 1`` when event ``j`` precedes event ``k``, ``L[j]`` the demand
    of the stay that event ``j`` ends and ``B[j]`` that of the stay it begins, the use during ``k`` is

        still + sum of the stays' demands - (M @ L)[k] - (M.T @ B)[k]

    for the VMs with one stay on the host; a VM with more than one counts once while any of them is
    possibly on (rare: a VM that comes back). Without page sharing only (its use is not a sum).
    """

    def __init__(self, hosts: HostOrders, h: int):
        inst, index = hosts.inst, {g: k for k, g in enumerate(hosts.events[h])}
        self.n = n = len(index)
        self.arrivals = np.array([index[m] for m in hosts.reaching[h]], dtype=np.int64)
        self.limit = with_tolerance(inst.effective[h])  # the most it may hold, per resource
        self.ends, self.begins = np.zeros((n, len(inst.resources))), np.zeros((n, len(inst.resources)))
        self.base = hosts.still_load[h].copy()
        by_vm: dict[int, list[Stay]] = {}
        for stay in hosts.stays_on[h]:
            by_vm.setdefault(stay.vm, []).append(stay)
        self.returning = []  # (demand, [(end, begin) local index or -1, per stay]) of VMs that come back
        for vm, its in by_vm.items():
            demand = inst.demand[vm]
            if len(its) > 1:
                self.returning.append((demand, [(index.get(s.end, -1), index.get(s.begin, -1)) for s in its]))
                continue
            (stay,) = its
            self.base += demand
            if stay.end is not None:
                self.ends[index[stay.end]] += demand
            if stay.begin is not None:
                self.begins[index[stay.begin]] += demand

    def during(self, ancestors: list[int]) -> np.ndarray:
        """Use per arrival (rows in the order of the host's reaching migrations) and resource, by the
        local order whose per-event ancestor bit sets are ``ancestors``."""
        if self.n <= 64:  # one machine word per event
            raw = np.array(ancestors, dtype="<u8").view(np.uint8)
        else:
            width = (self.n + 7) // 8
            raw = np.frombuffer(b"".join(a.to_bytes(width, "little") for a in ancestors), dtype=np.uint8)
        precedes = np.unpackbits(raw.reshape(self.n, -1), axis=1, count=self.n, bitorder="little")
        precedes = precedes.astype(np.float64)
        arrivals = self.arrivals
        use = self.base - precedes[arrivals] @ self.ends - precedes[:, arrivals].T @ self.begins
        for demand, its in self.returning:
            on = np.zeros(len(arrivals), dtype=bool)
            for end, begin in its:
                on |= ((precedes[arrivals, end] == 0) if end >= 0 else True) & (
                    (precedes[begin, arrivals] == 0) if begin >= 0 else True)
            use += on[:, None] * demand
        return use


def _anti_affinity_pairs(inst, every: list[Stay], still: np.ndarray) -> list[list[tuple[str, Stay, Stay]]]:
    """Per host, each pair of stays on it of two members of an anti-affinity group (group name, stays;
    ``every``: the stays of the VMs the plan moves, ``still``: the VMs it does not), but for two that
    both begin in A (a legal start, never made worse)."""
    out: list[list[tuple[str, Stay, Stay]]] = [[] for _ in range(inst.n_hosts)]
    groups = [g for g in inst.groups if g.anti_affinity]
    if not groups:
        return out
    in_group = np.zeros(inst.n_vms, dtype=bool)
    for g in groups:
        in_group[g.vms] = True
    by_vm: dict[int, list[Stay]] = {v: [Stay(v, int(inst.initial[v]), None, None)]
                                    for v in still[in_group[still]].tolist()}
    for stay in every:
        if in_group[stay.vm]:
            by_vm.setdefault(stay.vm, []).append(stay)
    for g in groups:
        members = g.vms.tolist()
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                for sa in by_vm.get(a, []):
                    for sb in by_vm.get(b, []):
                        if sa.host == sb.host and not (sa.begin is None and sb.begin is None):
                            out[sa.host].append((g.name, sa, sb))
    return out


def _together(sa: Stay, sb: Stay, precedes) -> bool:
    """Whether the two stays on one host may overlap by the order ``precedes``."""
    return not _apart(sa, sb, precedes) and not _apart(sb, sa, precedes)


def _apart(first: Stay, second: Stay, precedes) -> bool:
    """Whether ``first`` ends with a migration that precedes the one that begins ``second``."""
    return first.end is not None and second.begin is not None and precedes(first.end, second.begin)


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
    return out + _violations(inst, moves, after, HostOrders(inst, moves))


def _violations(inst, moves: Migrations, after: list[list[int]], hosts: HostOrders) -> list[str]:
    """SPEC 7.4's violations of the order ``after``: each check by the order among the migrations
    touching the host concerned first (a part of the whole order: what it finds safe is), and by the
    whole order (:class:`Reach`) only where that finds a problem."""
    reach = Reach(after)
    local = [LocalOrder(events, lambda i: after[i]) for events in hosts.events]

    def exact(h: int):
        return lambda p, m: local[h].precedes(p, m) or reach.precedes(p, m)

    out = []
    for i, p in enumerate(hosts.previous):
        h = int(moves.src[i])
        if p >= 0 and not exact(h)(p, i):
            out.append(f"order: {moves.describe(inst, i)} does not wait for its VM's previous hop, "
                       f"{moves.describe(inst, p)} (host {inst.host_names[h]})")
    suspects = sorted(m for h in range(inst.n_hosts) for m in hosts.overloading(h, local[h]))
    for m in suspects:
        h = int(moves.dst[m])
        found = hosts.overload(h, m, exact(h))
        if found is not None:
            out.append(_capacity_message(inst, moves, m, h, *found))
    for h, pairs in enumerate(hosts.pairs):
        for group, sa, sb in pairs:
            if _together(sa, sb, local[h].precedes) and _together(sa, sb, exact(h)):
                out.append(_clash_message(inst, moves, group, sa, sb))
    return out


def _capacity_message(inst, moves: Migrations, m: int, h: int, possible: list[Stay], use, over) -> str:
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
    return (f"order: {moves.describe(inst, m)} {where}: host {inst.host_names[h]} may hold "
            f"{use[r]:g} {inst.resources[r]}, capacity {inst.effective[h, r]:g}")


def _clash_message(inst, moves: Migrations, group: str, sa: Stay, sb: Stay) -> str:
    one, two = (sa.end, sb.begin) if sa.end is not None and sb.begin is not None else (sb.end, sa.begin)
    pair = " and ".join(moves.describe(inst, i) for i in (one, two) if i is not None)
    return (f"order: anti-affinity group {group}: {inst.vm_names[sa.vm]} and {inst.vm_names[sb.vm]} may "
            f"both be on host {inst.host_names[sa.host]} ({pair} not ordered)")
