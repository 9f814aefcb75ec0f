"""What blocks a plan: the VMs that cannot reach their target, and the deadlocked cycles they form.

Every ``infeasible`` or ``unknown`` answer carries ``blocked`` (:func:`blocked_vms`), computed
from the instance alone, so that it means the same whichever planner gave up.

**The stuck state.** Start from placement A and make *direct moves* one at a time: a VM that is
not yet on (one of) its target host(s) moves there when it fits as the cloud stands, that is
when ``load[t] + demand[v] <= effective[t]`` on every resource (the VM still holds its source, as
a migration does). Repeat until no such move is left. Where VMs compete for the room on a host,
those leaving a host that another VM waits to enter go first, then VM order, so the stuck state
is deterministic. A VM that *may not migrate at all* never moves: it is pinned, its host or
target (or a link of either) allows no migration, its group allows none, ``limits.total`` is 0,
or it cannot converge live and has no offline mode. Beyond that only capacity is counted (not
the per-round limits, and an arriving VM's full demand even where page sharing would count
less), so in the stuck state no listed VM could move directly on its own. The stuck state is
one order of direct moves among many: where arrivals compete for room a listed VM might have
moved in another order, and a bounce or an offline move may still free a cycle. ``blocked``
shows where the cloud gets stuck; it proves nothing (``infeasible`` and its ``reason`` do).

**Blocked VMs and what they lack.** The VMs still off (every one of) their target host(s) in
the stuck state are *blocked*. Each is reported with its host (``from``), its target (``to``:
its default target when it may end on several hosts, none of which has room) and ``short``: per
resource where it lacks room, ``load[to] + demand[v] - effective[to] > 0`` in the stuck state
(empty for a VM that may not migrate at all). That is how much ``to`` must free before ``v`` can
arrive, or how much a staging host or an offline move must absorb. (The room "after every VM
that may leave has left" would say nothing: the target placement is checked to fit, so by that
measure no VM with a single target ever lacks room.)

**The wait-for graph.** Its nodes are the hosts. Host ``s`` *waits for* host ``t`` when a
blocked VM that may migrate must leave ``s`` for ``t``: ``t`` has no room for it until one of
``t``'s own VMs leaves. With single targets and no page sharing, ``t`` then still holds a VM
that must leave (else it would hold only VMs of its target placement, which fits), and that VM
is blocked too (the closure moved all others), so ``t`` waits in turn or its leaver may not
migrate at all. A *deadlocked cycle* is a strongly connected component of two or more hosts: no
VM of it can leave before another of it has left, so none moves without a bounce through a third
host, an offline move or room made elsewhere. Each group of ``blocked`` is one such component:
``cycle``, the hosts of one cycle through it in wait order (``m3 → m7 → m12 → m3`` is ``["m3",
"m7", "m12"]``); ``vms``, its blocked VMs whose host and target both lie in it; and ``waiting``,
the blocked VMs of the *chains* into it: those on hosts that reach this cycle first along the
graph (breadth first from every cycle at once). The blocked VMs that
reach no cycle (those that may not migrate at all, and those waiting only on them, or on a host
filled by a VM with several allowed hosts that the closure sent there) form a last group with
an empty ``cycle``. The cycle groups come largest first.

Linear in the VMs per round of the closure (numpy), then Tarjan's algorithm on the hosts.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 10}, "h2": {"ram": 9}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 9}, "b": {"ram": 8}, "c": {"ram": 2}},
...                 initial={"a": "h1", "b": "h2", "c": "h3"},
...                 target={"a": "h2", "b": "h1", "c": "h1"})
>>> groups = blocked_vms(inst)
>>> groups[0]["cycle"], [e["vm"] for e in groups[0]["vms"]], [e["vm"] for e in groups[0]["waiting"]]
(['h1', 'h2'], ['a', 'b'], ['c'])
>>> groups[0]["vms"][0]
{'vm': 'a', 'from': 'h1', 'to': 'h2', 'short': {'ram': 8}}
>>> describe(groups)
'2 VMs deadlocked in 1 cycle (1 more waits on it), e.g. a h1→h2 lacks 8 ram on h2; b h2→h1 lacks 7 ram on h1'
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .arrays import first_of_each, group_cumsum
from .certificates import never_migrate
from .checks import finite_number, short_repr
from .constraints.capacity import fits
from .errors import InputError
from .graphs import functional_cycles, strongly_connected
from .plan import plain_number

__all__ = ["blocked_vms", "check_blocked", "describe", "stuck_state"]


def blocked_vms(inst) -> list[dict]:
    """The blocked VMs of ``inst``, grouped by the deadlocked cycle they form or wait on."""
    placement, load = stuck_state(inst)
    pending = np.flatnonzero(~inst.at_target(placement))
    if pending.size == 0:
        return []
    src, dst = placement[pending], inst.target[pending]
    free = ~_frozen(inst)[pending]  # only VMs that may migrate wait for room
    comp = strongly_connected(inst.n_hosts, src[free], dst[free])
    sizes = np.bincount(comp, minlength=inst.n_hosts)
    root = np.where(sizes[comp] >= 2, comp, -1)  # the cycle component of each host, -1 outside
    cycles = _one_cycle_each(src, dst, root)
    group_of_host = _reach(inst.n_hosts, src[free], dst[free], root, list(cycles))
    group_of_vm = np.where(free, group_of_host[src], -1)
    entry = _entries(inst, pending, src, dst, load, free)
    groups = []
    for g in [*cycles, -1]:
        members = np.flatnonzero(group_of_vm == g).tolist()
        if not members:
            continue
        cyclic = [g >= 0 and free[k] and root[src[k]] == g and root[dst[k]] == g for k in members]
        inside = [entry[k] for k, c in zip(members, cyclic, strict=True) if c]
        chain = [entry[k] for k, c in zip(members, cyclic, strict=True) if not c]
        hosts = [inst.host_names[h] for h in cycles.get(g, [])]
        groups.append({"cycle": hosts, "vms": inside, "waiting": chain})
    groups.sort(key=lambda grp: (not grp["cycle"], -len(grp["vms"]) - len(grp["waiting"])))
    return groups


def stuck_state(inst) -> tuple[np.ndarray, np.ndarray]:
    """The placement and load once every direct move that fits has been made (module docstring)."""
    placement, load = inst.initial.copy(), np.array(inst.load(inst.initial), dtype=float)
    frozen = _frozen(inst)
    while True:
        pending = np.flatnonzero(~inst.at_target(placement) & ~frozen)
        if pending.size == 0:
            return placement, load
        dest = inst.target[pending]
        awaited = np.zeros(inst.n_hosts, dtype=bool)
        awaited[dest] = True  # a VM leaving such a host makes room another VM waits for: it goes first
        order = np.lexsort((pending, ~awaited[placement[pending]], dest))
        vms, dest = pending[order], dest[order]
        admitted = fits(group_cumsum(inst.demand[vms], dest) + load[dest], inst.effective[dest]).all(1)
        if not admitted.any():  # one VM per host that fits on its own, behind one that does not
            alone = np.flatnonzero(fits(inst.demand[vms] + load[dest], inst.effective[dest]).all(1))
            admitted = np.zeros(len(vms), dtype=bool)
            admitted[alone[first_of_each(dest[alone])]] = True
        moves = (vms[admitted], dest[admitted])
        if not admitted.any():
            moves = _elsewhere(inst, pending, placement, load)
            if moves is None:
                return placement, load
        load = _moved(inst, placement, load, *moves)


def _frozen(inst) -> np.ndarray:
    """Mask of the VMs that may not migrate at all: those no round ever migrates
    (:func:`cpplan.certificates.never_migrate`: pinned, on a host that allows no migration, in a group
    that allows none, with ``limits.total`` 0, unable to converge live without an offline mode), and
    those aimed at such a host, on or aimed at a link that allows none, on a host that may send none or
    aimed at one that may receive none."""
    zero_host = inst.host_limit <= 0
    for link in inst.links:
        if link.max_migrations <= 0:
            zero_host[link.hosts] = True
    frozen = never_migrate(inst) | zero_host[inst.initial] | zero_host[inst.target]
    return frozen | (inst.outgoing_limit[inst.initial] <= 0) | (inst.incoming_limit[inst.target] <= 0)


def _elsewhere(inst, pending: np.ndarray, placement: np.ndarray, load: np.ndarray):
    """A VM with several allowed hosts that fits on one other than its default target, or None."""
    for v in pending[inst.domain_of[pending] >= 0].tolist():
        room = fits(load + inst.demand[v], inst.effective).all(1) & inst.domains[inst.domain_of[v]]
        room[placement[v]] = False
        if room.any():
            return np.array([v]), np.array([int(np.argmax(room))])
    return None


def _moved(inst, placement: np.ndarray, load: np.ndarray, vms: np.ndarray, dest: np.ndarray):
    """Move ``vms`` to ``dest`` in ``placement`` (in place) and return the new load."""
    if inst.share_ratio.size:
        placement[vms] = dest
        return np.array(inst.load(placement), dtype=float)
    np.subtract.at(load, placement[vms], inst.demand[vms])
    np.add.at(load, dest, inst.demand[vms])
    placement[vms] = dest
    return load


def _one_cycle_each(src: np.ndarray, dst: np.ndarray, root: np.ndarray) -> dict[int, list[int]]:
    """For each cycle component, the hosts of one cycle through it, in wait order."""
    internal = np.flatnonzero((root[src] >= 0) & (root[src] == root[dst]))
    edge = np.full(len(root), -1, dtype=np.int64)
    order = internal[np.argsort(src[internal], kind="stable")]
    firsts = order[first_of_each(src[order])]
    edge[src[firsts]] = firsts
    cycles: dict[int, list[int]] = {}
    for cycle in functional_cycles(edge, dst):
        cycles.setdefault(int(root[src[cycle[0]]]), src[cycle].tolist())
    return dict(sorted(cycles.items()))


def _reach(n: int, src: np.ndarray, dst: np.ndarray, root: np.ndarray, roots: list[int]) -> np.ndarray:
    """For each host, the first cycle component it reaches along the wait-for graph (-1: none)."""
    group = np.where(root >= 0, root, -1)
    order = np.argsort(dst, kind="stable")
    waiters, start = src[order].tolist(), np.r_[0, np.cumsum(np.bincount(dst, minlength=n))].tolist()
    queue = deque(np.flatnonzero(np.isin(root, roots)).tolist())
    mark = group.tolist()
    while queue:
        t = queue.popleft()
        for s in waiters[start[t]:start[t + 1]]:
            if mark[s] < 0:
                mark[s] = mark[t]
                queue.append(s)
    return np.array(mark, dtype=np.int64)


def _entries(inst, vms: np.ndarray, src: np.ndarray, dst: np.ndarray, load: np.ndarray,
             free: np.ndarray) -> list[dict]:
    """The blocked VMs: each one's host, target and what it lacks there in the stuck state (nothing
    for a VM that may not migrate at all)."""
    need = load[dst] + inst.demand[vms]
    lack = np.round(need - inst.effective[dst], 9).tolist()
    lacking = (~fits(need, inst.effective[dst]) & free[:, None]).tolist()
    names, hosts, resources = inst.vm_names, inst.host_names, inst.resources
    rows = zip(vms.tolist(), src.tolist(), dst.tolist(), lack, lacking, strict=True)
    return [{"vm": names[v], "from": hosts[s], "to": hosts[t],
             "short": {r: plain_number(x) for r, x, f in zip(resources, row, flags, strict=True) if f}}
            for v, s, t, row, flags in rows]


def describe(groups: list[dict], examples: int = 2) -> str:
    """One phrase for the summary line: how many VMs are deadlocked in how many cycles, and a few."""
    in_cycles = [g for g in groups if g["cycle"]]
    deadlocked = sum(len(g["vms"]) for g in in_cycles)
    waiting = sum(len(g["waiting"]) for g in groups)
    head = (f"{_count(deadlocked, 'VM')} deadlocked in {_count(len(in_cycles), 'cycle')}" if in_cycles
            else f"{_count(waiting, 'VM')} blocked")
    if in_cycles and waiting:
        verb, them = "waits" if waiting == 1 else "wait", "it" if len(in_cycles) == 1 else "them"
        head += f" ({waiting} more {verb} on {them})"
    entries = [g["vms"] + g["waiting"] for g in groups]
    shown = ([e[0] for e in entries] + [x for e in entries for x in e[1:]])[:examples]  # each group first
    return head + ", e.g. " + "; ".join(_lacks(e) for e in shown) if shown else head


def _lacks(e: dict) -> str:
    if not e["short"]:
        return f"{e['vm']} {e['from']}→{e['to']} may not migrate at all"
    need = " and ".join(f"{x:g} {r}" for r, x in e["short"].items())
    return f"{e['vm']} {e['from']}→{e['to']} lacks {need} on {e['to']}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def check_blocked(value, source: str) -> list[dict]:
    """Refuse a plan file's ``blocked`` unless it has the shape :func:`blocked_vms` writes."""
    if not isinstance(value, list):
        raise InputError(source, "blocked", f"must be a list of groups, got {short_repr(value)}")
    for i, group in enumerate(value):
        key = f"blocked[{i}]"
        if not isinstance(group, dict) or set(group) - {"cycle", "vms", "waiting"}:
            raise InputError(source, key, f"must be a mapping of cycle, vms and waiting, got "
                             f"{short_repr(group)}")
        cycle = group.get("cycle", [])
        if not (isinstance(cycle, list) and all(isinstance(h, str) for h in cycle)):
            raise InputError(source, f"{key}.cycle", f"must be a list of host names, got {short_repr(cycle)}")
        for part in ("vms", "waiting"):
            entries = group.get(part, [])
            if not isinstance(entries, list):
                raise InputError(source, f"{key}.{part}", f"must be a list, got {short_repr(entries)}")
            for k, e in enumerate(entries):
                _check_entry(e, source, f"{key}.{part}[{k}]")
    return value


def _check_entry(e, source: str, key: str) -> None:
    if not (isinstance(e, dict) and all(isinstance(e.get(k), str) for k in ("vm", "from", "to"))
            and set(e) <= {"vm", "from", "to", "short"}):
        raise InputError(source, key, f"must be a mapping of vm, from and to names and short, got "
                         f"{short_repr(e)}")
    short = e.get("short", {})
    if not (isinstance(short, dict) and all(isinstance(r, str) and finite_number(x) and x > 0
                                            for r, x in short.items())):
        raise InputError(source, f"{key}.short", f"must map resources to positive amounts, got "
                         f"{short_repr(short)}")
