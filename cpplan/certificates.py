"""Fast proofs that no plan exists: VMs that can never leave their host, and what follows.

**The argument.** Call a set ``L`` of VMs *locked* when no VM ``u`` of ``L`` that may migrate at all
fits on any other host ``e`` that may receive VMs, even with only the VMs of ``L`` there::

    floor(L, e) + added(u) > effective(e)      in some resource,

where ``floor(L, e)`` is the use (page sharing applied) of the VMs of ``L`` whose host in A is ``e``
and that can never move offline, and ``added(u)`` the least ``u`` adds to a host it arrives on: its
demand, of which only the private part ``(1 - R) ram`` counts for a VM of a shared image. Then no VM
of ``L`` ever migrates in a valid plan. In the first round in which some ``u`` of ``L`` would, every
VM of ``L`` is still on its host of A, so ``u``'s destination ``e`` holds during that round at least
the VMs of ``L`` there that do not leave offline (SPEC 4.2: a live leaver still counts), plus ``u``:
over capacity. Page sharing never makes a set use less than a subset of it, so the bound holds.

Locked sets are closed under union, so there is a largest one. It is found from the set of every VM
by releasing, pass by pass, each VM that fits on some other host over the floors of the VMs still
locked (a release only lowers the floors), until a pass releases none. VMs that may not migrate at all
(pinned, on a host that allows no migration, in a group that allows none, ``limits.total`` 0, or unable
to converge live without an offline mode) are never released.

**The certificates.** A VM that must move but is in ``L`` can never leave its host: no host can
ever receive it, even with only the VMs there that can never leave either. Such a VM ``v`` always lies
on a cycle of them: its target ``t`` fits every VM that ends there, so the VMs of ``L`` on ``t`` that
push ``v`` over cannot all stay; one of them must move, is in ``L`` too, and so on. :func:`certificate`
says it in one of two ways:

- *no first migration fits* (the fragmentation of BtrPlace's issue #307): the first pass releases no
  VM, so as things stand at A no VM that may migrate fits on any other host (the VMs that may move
  offline counted as gone), and a VM must move;
- *a cycle of full hosts with no staging room*: otherwise, the hosts of such a cycle and its VMs
  (each waits for the next host), none of which fits on any other host even once every VM that may
  leave has left.

None claims ``infeasible`` when a plan exists: each is the argument above. Rules that would only
strengthen them are left out (per-round limits, links, anti-affinity: a VM is assumed able to go to
any host that may receive), so they stay sound whatever those rules say.

**Cost.** A pass is near-linear: a VM fits on some host other than its own exactly when it fits on one
of two *frontiers* of the hosts' distinct room vectors (those no other dominates, then those no other
of the rest dominates; a host's own row counts when another host shares it), tried roomiest first.
The passes stop early once no VM that must move is locked, and give up (no claim) past
:data:`SECONDS`.

>>> from cpplan.model import Instance
>>> frag = Instance(hosts={f"h{i}": {"ram": 10} for i in range(3)},
...                 vms={"a": {"ram": 6}, "b": {"ram": 3}, "c": {"ram": 6}, "d": {"ram": 3},
...                      "e": {"ram": 6}, "f": {"ram": 3}},
...                 initial={"a": "h0", "b": "h0", "c": "h1", "d": "h1", "e": "h2", "f": "h2"},
...                 target={"a": "h1", "c": "h2", "e": "h0"})
>>> import textwrap
>>> print(textwrap.fill(certificate(frag), 100))
no first migration fits: as things stand, no VM that may migrate fits on any other host and no VM
may go offline, e.g. a (h0→h1) needs 6 ram and the roomiest other host for it, h1, has 1 free
>>> certificate(frag.replace(hosts={**{f"h{i}": {"ram": 10} for i in range(3)}, "spare": {"ram": 6}}))
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .constraints.page_sharing import shared_fraction, usage
from .graphs import functional_cycles, strongly_connected
from .plan import plain_number

__all__ = ["certificate", "largest_locked_set", "never_migrate"]

SECONDS = 2.0  # past this, no claim: the largest locked set is not known yet
ROOM_TOLERANCE = 1e-7  # relative: a VM is "over" only when clearly so (the validator's own is 1e-9)
FRONTIER_CAP = 4096  # distinct room vectors kept per frontier; past it, no claim
CHUNK = 1 << 21  # comparisons per numpy step
BLOCK = 256  # rows a frontier takes in at a time


def never_migrate(inst) -> np.ndarray:
    """Mask of the VMs that no valid round ever migrates, whatever the others do."""
    frozen = inst.pinned | (inst.host_limit[inst.initial] <= 0) | inst.stuck_live
    frozen[inst.member_vm[inst.group_cap[inst.member_group] <= 0]] = True
    if inst.total_limit == 0:
        frozen[:] = True
    return frozen


@dataclass
class Locked:
    """The largest locked set (``vms``, a mask), the room it leaves on each host, and whether the first
    pass released a VM."""

    vms: np.ndarray
    room: np.ndarray  # [hosts x resources]: effective - floor (-inf on hosts that may not receive)
    first_pass_released: bool


class _Search:
    """The passes of the module docstring, for one instance."""

    def __init__(self, inst, deadline: float):
        self.inst, self.deadline = inst, deadline
        self.frozen = never_migrate(inst)
        self.may_offline = np.isfinite(inst.offline_cost) & ~self.frozen
        self.receives = inst.host_limit > 0
        added = np.array(inst.demand, dtype=float)
        if inst.share_ratio.size:
            added[:, inst.share_resource] *= 1 - shared_fraction(inst)
        self.added = added
        eff = inst.effective
        self.slack = np.where(np.isfinite(eff), ROOM_TOLERANCE * np.maximum(1.0, np.abs(eff)), 0.0)

    def room(self, locked: np.ndarray) -> np.ndarray:
        """Room per host over the floors of ``locked`` (its VMs that cannot move offline)."""
        inst = self.inst
        vms = np.flatnonzero(locked & ~self.may_offline)
        with np.errstate(invalid="ignore"):
            room = inst.effective - usage(inst, vms, inst.initial[vms])
        return np.where(self.receives[:, None], room, -np.inf)

    def run(self, stop_early: bool = True) -> Locked | None:
        inst = self.inst
        locked = np.ones(inst.n_vms, dtype=bool)
        first = None
        while True:
            room = self.room(locked)
            if stop_early and first is not None and not (locked & inst.moving).any():
                return Locked(locked, room, first)
            candidates = np.flatnonzero(locked & ~self.frozen)
            fits = fits_elsewhere(self.added[candidates], inst.initial[candidates], room + self.slack,
                                  self.deadline)
            if fits is None:
                return None
            released = candidates[fits]
            first = bool(released.size) if first is None else first
            if not released.size:
                return Locked(locked, room, first)
            locked[released] = False


def largest_locked_set(inst, seconds: float = SECONDS) -> Locked | None:
    """The largest locked set of ``inst`` (module docstring), or None when not found in time.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 2}},
    ...                 vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 1}},
    ...                 initial={"a": "h1", "b": "h2", "c": "h3"}, target={"a": "h2", "b": "h1"})
    >>> largest_locked_set(inst).vms.tolist()       # a and b fill h1 and h2; c fits on neither
    [True, True, True]
    >>> roomier = inst.replace(hosts={"h1": {"ram": 5}, "h2": {"ram": 4}, "h3": {"ram": 4}})
    >>> largest_locked_set(roomier).vms.tolist()     # c fits on h1, then b on h3, then a on h2
    [False, False, False]
    """
    return _Search(inst, time.perf_counter() + seconds).run(stop_early=False)


def fits_elsewhere(need: np.ndarray, home: np.ndarray, room: np.ndarray,
                   deadline: float) -> np.ndarray | None:
    """Mask of the VMs (demand rows ``need``, on hosts ``home``) that fit on a host other than their own
    (``need <= room`` there in every resource); None when out of time or the frontiers grow too big.

    A host ``h != home`` that fits is dominated by (or is) a row of the first frontier, which is another
    row than ``home``'s or shared by two hosts, or else by a row of the second frontier (of the rows not
    in the first): so trying those rows is exact.
    """
    rows, row_of, counts = np.unique(room, axis=0, return_inverse=True, return_counts=True)
    row_of = row_of.reshape(-1)
    first = _frontier(rows, np.arange(len(rows)))
    if first is None:
        return None
    rest = np.setdiff1d(np.arange(len(rows)), first)
    second = _frontier(rows, rest) if rest.size else rest
    if second is None:
        return None
    tried = np.concatenate([first, second])
    finite = np.nan_to_num(rows[tried], posinf=1e300, neginf=-1e300)
    tried = tried[np.argsort(-finite.sum(axis=1), kind="stable")]  # roomiest first: most VMs fit early
    out = np.zeros(len(need), dtype=bool)
    own = np.where(home >= 0, row_of[np.maximum(home, 0)], -1)
    left = np.arange(len(need))
    for r in tried.tolist():
        if time.perf_counter() > deadline:
            return None
        ok = (need[left] <= rows[r]).all(axis=1) & ((own[left] != r) | (counts[r] >= 2))
        out[left[ok]] = True
        left = left[~ok]
        if not left.size:
            break
    return out


def _frontier(points: np.ndarray, among: np.ndarray) -> np.ndarray | None:
    """Indices (of ``among``, distinct rows of ``points``) of the rows no other of them dominates."""
    if not points.shape[1]:  # no resources: the one (empty) row
        return among[:1]
    order = among[np.lexsort(points[among].T[::-1])[::-1]]  # a row's dominators come before it
    kept = np.zeros(0, dtype=np.int64)
    for start in range(0, len(order), BLOCK):
        idx = order[start:start + BLOCK]
        p = points[idx]
        if kept.size:
            dominated = np.zeros(len(idx), dtype=bool)
            step = max(1, CHUNK // max(1, len(idx) * points.shape[1]))
            for k in range(0, kept.size, step):
                dominated |= (points[kept[k:k + step]][None] >= p[:, None]).all(axis=2).any(axis=1)
            idx, p = idx[~dominated], p[~dominated]
        inner = (p[None] >= p[:, None]).all(axis=2)  # inner[i, j]: row j >= row i (distinct rows)
        np.fill_diagonal(inner, False)
        kept = np.concatenate([kept, idx[~inner.any(axis=1)]])
        if kept.size > FRONTIER_CAP:
            return None
    return kept


def certificate(inst, seconds: float = SECONDS) -> str | None:
    """Why no plan exists, from the largest locked set (module docstring); None when it proves nothing."""
    if not inst.moving.any():
        return None
    search = _Search(inst, time.perf_counter() + seconds)
    found = search.run()
    if found is None:
        return None
    stuck = np.flatnonzero(found.vms & inst.moving & ~search.frozen)
    words = _Words(inst, search, found)
    if not stuck.size:
        return None
    return words.no_first_move(stuck) if not found.first_pass_released else words.cycle(stuck)


class _Words:
    """The reasons, in words naming VMs, hosts and amounts."""

    def __init__(self, inst, search: _Search, found: Locked):
        self.inst, self.search, self.found = inst, search, found
        self.offline = ("the VMs that may go offline counted as gone" if search.may_offline.any()
                        else "no VM may go offline")

    def _roomiest(self, v: int, hosts: np.ndarray) -> tuple[int, str]:
        """Of ``hosts``, the one that comes closest to fitting ``v``, and what it lacks there."""
        inst, need, room = self.inst, self.search.added[v], self.found.room[hosts]
        scale = np.maximum(need, 1e-12)
        with np.errstate(invalid="ignore"):
            short = np.nan_to_num((need - room) / scale, nan=np.inf, posinf=np.inf).max(axis=1)
        k = int(np.argmin(short))
        h = int(hosts[k])
        with np.errstate(invalid="ignore"):
            r = int(np.argmax(np.nan_to_num((need - room[k]) / scale, nan=-np.inf)))
        free = plain_number(round(max(self.found.room[h, r], 0.0), 9))
        return h, (f"needs {plain_number(round(need[r], 9))} {inst.resources[r]} and the roomiest "
                   f"{{}}for it, {inst.host_names[h]}, has {free} free")

    def _others(self, v: int) -> np.ndarray:
        hosts = np.flatnonzero(self.search.receives)
        return hosts[hosts != self.inst.initial[v]]

    def _vm(self, v: int) -> str:
        inst = self.inst
        return f"{inst.vm_names[v]} ({inst.host_names[inst.initial[v]]}→{inst.host_names[inst.target[v]]})"

    def no_first_move(self, stuck: np.ndarray) -> str:
        v = int(stuck[0])
        others = self._others(v)
        if not others.size:
            return f"no first migration fits: no host but {self._vm(v)}'s own may receive VMs"
        _, lack = self._roomiest(v, others)
        return (f"no first migration fits: as things stand, no VM that may migrate fits on any other host "
                f"and {self.offline}, e.g. {self._vm(v)} {lack.format('other host ')}")

    def cycle(self, stuck: np.ndarray) -> str | None:
        """The cycle of the VMs ``stuck`` (each to its target, or default target), when they form one."""
        inst = self.inst
        src, dst = inst.initial[stuck], inst.target[stuck]
        comp = strongly_connected(inst.n_hosts, src, dst)
        sizes = np.bincount(comp, minlength=inst.n_hosts)
        inside = np.flatnonzero((comp[src] == comp[dst]) & (sizes[comp[src]] >= 2))
        if not inside.size:
            return None
        edge = np.full(inst.n_hosts, -1, dtype=np.int64)
        tails, first = np.unique(src[inside], return_index=True)  # the first such VM of each host
        edge[tails] = inside[first]
        cycle = functional_cycles(edge, dst)[0]
        hosts = " → ".join(inst.host_names[h] for h in [*src[cycle].tolist(), int(src[cycle[0]])])
        vms = ", ".join(self._vm(int(stuck[k])) for k in cycle[:4]) + (" ..." if len(cycle) > 4 else "")
        v = int(stuck[cycle[0]])
        _, lack = self._roomiest(v, self._others(v))
        return (f"a cycle of full hosts with no staging room anywhere: {hosts}; its VMs {vms} fit on no "
                f"other host, even once every VM that may leave has left, and {self.offline}: e.g. "
                f"{inst.vm_names[v]} {lack.format('other host ')}")
