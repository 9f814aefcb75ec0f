"""Lower bounds on cost and rounds, and certificates that no plan exists.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 2}},
...                 initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"})
>>> cost_lower_bound(inst), rounds_lower_bound(inst)
(6.0, 2)
>>> infeasibility(inst) is None
True
"""

from __future__ import annotations

import numpy as np

from .certificates import certificate
from .constraints import service_levels
from .constraints.concurrency import directional_rounds, host_touches
from .durations import CONVERGENCE, hop_bound


def reaches(cost: float, bound: float) -> bool:
    """Whether ``cost`` is at the lower ``bound`` (so it is least), up to the rounding of float sums.

    >>> reaches(0.1 + 0.2, 0.3), reaches(2e-10, 1e-10)
    (True, False)
    """
    return cost <= bound + 1e-9 * abs(bound)


def cost_lower_bound(inst) -> float:
    """Every VM whose host must change migrates at least once."""
    return float(inst.cost[inst.moving].sum())


def rounds_lower_bound(inst, vms: np.ndarray | None = None) -> int:
    """Rounds needed by the direct moves alone under the per-host, directional and total limits and
    every service level (e.g. ``ceil(m / outgoing limit)`` for the ``m`` VMs that must leave a host).

    ``vms`` (default: every VM that must move) restricts the count to a part of
    the cloud. A VM with several allowed targets counts only at its source: it
    may end anywhere allowed.
    """
    moving = np.flatnonzero(inst.moving) if vms is None else np.asarray(vms, dtype=np.int64)
    if moving.size == 0:
        return 0
    fixed = moving[inst.domain_of[moving] < 0]
    touches = host_touches(inst, inst.initial[fixed], inst.target[fixed]) + np.bincount(
        inst.initial[np.setdiff1d(moving, fixed)], minlength=inst.n_hosts)
    busy = touches > 0
    with np.errstate(divide="ignore"):
        need = [int(np.max(np.ceil(touches[busy] / np.maximum(inst.host_limit[busy], 1)))), 1]
    if inst.total_limit:
        need.append(-(-moving.size // inst.total_limit))
    need.append(directional_rounds(inst, inst.initial[moving], inst.target[fixed]))
    need += [rule.rounds_bound(inst, moving) for rule in service_levels()]
    return max(need)


def makespan_lower_bound(inst) -> float:
    """Seconds every plan takes, whatever its order and bandwidths (SPEC 7.2's durations).

    *Through a NIC*: a host ``h`` sends the RAM of every VM that must leave it and receives that of
    every VM whose one target it is. A migration given ``b`` MiB/s holds ``b`` of both its hosts'
    bandwidth for ``setup + ram / (b - dirty_rate) >= setup + ram / b`` seconds, of which at least
    ``ram / b`` lie after the first ``setup`` seconds, so after them ``h`` carries at least the sum of
    those RAMs: the plan lasts at least ``setup + data(h) / bandwidth(h)``. *One migration*: a VM
    that must move has a hop given at most :func:`cpplan.durations.hop_bound` MiB/s, which lasts at
    least its duration there, live or offline, whichever mode it may use is shorter. *Turns*: each
    migration lasts at least ``setup``, and at most ``max_migrations`` of them touch a host at once
    (its outgoing and incoming limits those leaving and reaching it, ``limits.total`` in the
    cloud), so ``n`` of them take at least ``ceil(n / limit) x setup``. *Slots and bandwidth*
    (:func:`_slots_and_bandwidth`): on a host whose migrations get ``b_i``, at most ``L``
    (``max_migrations``) in flight and at most its bandwidth ``B`` summed, a plan of length ``T``
    has ``L T >= sum(setup + r_i / b_i)`` and ``B T >= sum(b_i setup + r_i)``, so for every
    ``lam`` in (0, 1), ``T >= min over b of lam x the first / L + (1 - lam) x the second / B``,
    whose least is at ``b_i = min(hop bound, sqrt(lam r_i B / ((1 - lam) L setup)))``; the bound
    takes the best ``lam`` per host (any ``lam`` gives a bound, so the search need not be exact).
    With ``L = 1`` it is ``n x setup + data / B``: one migration at a time, each with its setup.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {}, "h2": {}, "h3": {"bandwidth": 100}},
    ...                 vms={"a": {"ram": 2500}, "b": {"ram": 2500}, "c": {"ram": 1000}},
    ...                 initial={"a": "h1", "b": "h1", "c": "h1"}, target={"a": "h2", "b": "h2", "c": "h3"})
    >>> round(makespan_lower_bound(inst), 6)   # h1 runs one at a time: 3 x 2 + 5000 / 1250 + 1000 / 100
    20.0
    >>> inst = Instance(hosts={"h1": {"max_migrations": 3}, "h2": {}, "h3": {"bandwidth": 100}},
    ...                 vms={"a": {"ram": 2500}, "b": {"ram": 2500}, "c": {"ram": 1000}},
    ...                 initial={"a": "h1", "b": "h1", "c": "h1"}, target={"a": "h2", "b": "h2", "c": "h3"})
    >>> makespan_lower_bound(inst)   # c at h3's 100 MiB/s: 2 + 1000 / 100 (h1's NIC: 2 + 6000 / 1250)
    12.0
    """
    moving = np.flatnonzero(inst.moving)
    if not moving.size:
        return 0.0
    d = inst.durations
    fixed = moving[inst.domain_of[moving] < 0]
    data = (np.bincount(inst.initial[moving], d.ram_mib[moving], minlength=inst.n_hosts)
            + np.bincount(inst.target[fixed], d.ram_mib[fixed], minlength=inst.n_hosts))
    touched = np.zeros(inst.n_hosts, dtype=bool)
    touched[inst.initial[moving]] = touched[inst.target[fixed]] = True
    nic = d.setup + data[touched] / d.host_bandwidth[touched]
    count = (np.bincount(inst.initial[moving], minlength=inst.n_hosts)
             + np.bincount(inst.target[fixed], minlength=inst.n_hosts))[touched]
    turns = [*(np.ceil(count / np.maximum(inst.host_limit[touched], 1)) * d.setup).tolist(),
             np.ceil(moving.size / max(inst.total_limit or moving.size, 1)) * d.setup,
             directional_rounds(inst, inst.initial[moving], inst.target[fixed]) * d.setup]
    b, ram, dirty = hop_bound(inst)[moving], d.ram_mib[moving], d.dirty_rate[moving]
    converges = inst.can_live[moving] & (dirty < CONVERGENCE * b)
    with np.errstate(divide="ignore"):
        live = np.where(converges, d.setup + ram / (b - dirty), np.inf)
    offline = np.where(np.isfinite(inst.offline_cost[moving]), d.setup + ram / b, np.inf)
    single = np.minimum(live, offline)
    return float(max(nic.max(), max(turns), single[np.isfinite(single)].max(initial=0.0),
                     _slots_and_bandwidth(inst, moving, fixed)))


def _slots_and_bandwidth(inst, moving: np.ndarray, fixed: np.ndarray, steps: int = 60) -> float:
    """The *slots and bandwidth* bound of :func:`makespan_lower_bound`, by a golden-section search
    for each host's best ``lam`` (the bound is concave in it)."""
    d = inst.durations
    hosts = np.concatenate([inst.initial[moving], inst.target[fixed]])
    vms = np.concatenate([moving, fixed])
    limit = inst.host_limit[hosts].astype(float)
    keep = limit > 0  # a host that allows no migration is a certificate, not a bound
    hosts, vms, limit = hosts[keep], vms[keep], limit[keep]
    if not hosts.size:
        return 0.0
    ram, bandwidth = d.ram_mib[vms], d.host_bandwidth[hosts]
    cap = np.minimum(hop_bound(inst)[vms], bandwidth)

    def bound(lam: np.ndarray) -> np.ndarray:
        lam = lam[hosts]
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.minimum(cap, np.sqrt(lam * ram * bandwidth / ((1 - lam) * limit * d.setup)))
        b = np.where(np.isfinite(b) & (b > 0), b, cap)
        terms = lam * (d.setup + ram / b) / limit + (1 - lam) * (b * d.setup + ram) / bandwidth
        return np.bincount(hosts, terms, minlength=inst.n_hosts)

    ratio = (np.sqrt(5) - 1) / 2
    lo, hi = np.full(inst.n_hosts, 1e-9), np.full(inst.n_hosts, 1 - 1e-9)
    for _ in range(steps):
        a, c = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        higher = bound(a) >= bound(c)
        lo, hi = np.where(higher, lo, a), np.where(higher, c, hi)
    return float(np.maximum(bound(lo), bound(hi)).max())


def infeasibility(inst) -> str | None:
    """A reason, checkable by hand, why no plan can exist; None when none is known.

    Certificates: a VM that must move but whose host, or target host, allows
    no migration (or no outgoing, or incoming, one); limits.total 0; a VM that must move, cannot converge live
    (:func:`cpplan.durations.non_converging`) and has no offline mode; and what a
    service level rules out (e.g. a VM that must cross a link, or belongs to a
    group, that allows no migration); then the capacity certificates of
    :func:`cpplan.certificates.certificate` (no first migration fits, a cycle of full hosts
    with no staging room, a VM no host can ever receive). (A target that overloads a receiving
    host is bad input, refused when the instance is built.)
    """
    moving = np.flatnonzero(inst.moving)
    fixed = moving[inst.domain_of[moving] < 0]
    for vms, hosts, end, way, limit in (
            (moving, inst.initial[moving], "its host", "outgoing", inst.outgoing_limit),
            (fixed, inst.target[fixed], "its target host", "incoming", inst.incoming_limit)):
        frozen = inst.host_limit[hosts] == 0
        if frozen.any():
            v = int(vms[frozen][0])
            return (f"VM {inst.vm_names[v]} must move but {end} "
                    f"{inst.host_names[hosts[frozen][0]]} allows no migration (max_migrations 0)")
        closed = limit[hosts] == 0
        if closed.any():
            v = int(vms[closed][0])
            return (f"VM {inst.vm_names[v]} must move but {end} {inst.host_names[hosts[closed][0]]} "
                    f"allows no {way} migration ({way} limit 0)")
    if inst.total_limit == 0 and moving.size:
        return "VMs must move but limits.total is 0"
    stuck = moving[inst.stuck_live[moving]]
    if stuck.size:
        v = int(stuck[0])
        return (f"VM {inst.vm_names[v]} must move but cannot converge live: dirty_rate "
                f"{inst.durations.dirty_rate[v]:g} MiB/s >= {CONVERGENCE:g} x {hop_bound(inst)[v]:g} MiB/s, "
                f"the most bandwidth one of its hops can get, and it has no offline mode (offline_cost)")
    for rule in service_levels():
        reason = rule.infeasibility(inst, moving)
        if reason is not None:
            return reason
    return certificate(inst)
