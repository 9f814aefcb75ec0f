"""How long a migration lasts (SPEC section 7.1-7.2): bandwidths, dirty rates, setup, RAM units.

The keys, all optional::

    migration: {ram_unit: MiB, bandwidth: 1250, max_bandwidth: 1250, setup: 2}
    hosts.H.bandwidth     MiB/s host H sends plus receives for migrations (default migration.bandwidth)
    vms.V.dirty_rate      MiB/s V writes while it migrates (default 0)
    links.L.bandwidth     MiB/s link L carries (default unlimited)

``ram_unit`` is the unit of the ``ram`` resource: ``MiB`` (default, 1), ``GiB``
(1024 MiB), ``MB`` (10^6 bytes = 0.95367... MiB) or ``GB`` (10^9 bytes). Every
bandwidth must be positive (a host or link that carries nothing is
``max_migrations: 0``), ``setup`` and ``dirty_rate`` non-negative, all finite;
``max_bandwidth`` defaults to ``bandwidth``.

A migration of VM ``v`` (``r`` MiB of RAM, dirty rate ``w``) given ``b`` MiB/s
lasts::

    live:    setup + r / (b - w)       converges only when w < 0.8 b
    offline: setup + r / b

The largest bandwidth a hop ``s -> d`` can get is ``min(max_bandwidth,
bandwidth(s), bandwidth(d), bandwidth of every link it crosses)``. A VM
*cannot converge* (:func:`non_converging`) when its dirty rate reaches 0.8 x
an upper bound on the bandwidth of one of its hops: its first hop leaves its
initial host and its last hop reaches a target host (the best of them), and a
path from one side of a link to the other crosses it. Such a VM never moves
live: :class:`~cpplan.model.Instance` moves it offline when it has an offline
mode, pins it when it need not move, and :func:`cpplan.bounds.infeasibility`
names it when it must move and has no offline mode.

>>> d = Durations.read({"migration": {"ram_unit": "GiB", "setup": 2},
...                     "hosts": {"h1": {}, "h2": {"bandwidth": 625}},
...                     "vms": {"db": {"ram": 64, "dirty_rate": 100}}, "links": {}},
...                    np.array([64.0]), "c.yaml")
>>> d.best_bandwidth(0, 1, [])      # h2's NIC is the narrowest
625.0
>>> round(d.duration(0, 625.0, offline=False), 3)   # 2 + 65536 / (625 - 100)
126.83
>>> d.converges(0, 100.0)
False
>>> Durations.read({"migration": {"ram_unit": "TiB"}}, np.zeros(0), "c.yaml")
Traceback (most recent call last):
...
cpplan.errors.InputError: c.yaml: migration.ram_unit: unknown unit 'TiB' (expected one of: MiB, GiB, MB, GB)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .checks import given, mapping, number, short_repr, unknown_keys
from .errors import InputError

RAM_UNITS = {"MiB": 1.0, "GiB": 1024.0, "MB": 1e6 / 2**20, "GB": 1e9 / 2**20}  # MiB per unit
MIGRATION_KEYS = ("ram_unit", "bandwidth", "max_bandwidth", "setup")
DEFAULT_BANDWIDTH = 1250.0  # MiB/s, 10 Gbit/s
DEFAULT_SETUP = 2.0  # seconds
CONVERGENCE = 0.8  # a live migration converges when dirty_rate < CONVERGENCE x bandwidth
HOST_KEYS = ("bandwidth",)  # reserved keys on a host, never resources
VM_KEYS = ("dirty_rate",)  # reserved keys on a VM


@dataclass(frozen=True)
class Durations:
    """The duration model of one instance: per-host, per-link and per-VM arrays in index order."""

    ram_unit: str
    setup: float
    max_bandwidth: float
    host_bandwidth: np.ndarray  # MiB/s per host
    link_bandwidth: np.ndarray  # MiB/s per link (inf: unlimited)
    dirty_rate: np.ndarray  # MiB/s per VM
    ram_mib: np.ndarray  # RAM per VM in MiB

    @classmethod
    def read(cls, spec: Mapping, ram: np.ndarray, source: str = "") -> Durations:
        """The model from the raw instance mapping ``spec`` (its ``migration``, ``hosts``, ``vms`` and
        ``links``, in file order) and each VM's ``ram`` demand in ``ram_unit``s."""
        top = mapping(given(spec.get("migration"), {}), source, "migration")
        unknown_keys(top, MIGRATION_KEYS, source, "migration.")
        unit = top.get("ram_unit", "MiB")
        if not isinstance(unit, str) or unit not in RAM_UNITS:
            raise InputError(source, "migration.ram_unit",
                             f"unknown unit {short_repr(unit)} (expected one of: {', '.join(RAM_UNITS)})")
        bandwidth = _rate(top.get("bandwidth", DEFAULT_BANDWIDTH), source, "migration.bandwidth")
        max_bandwidth = _rate(top.get("max_bandwidth", bandwidth), source, "migration.max_bandwidth")
        setup = number(top.get("setup", DEFAULT_SETUP), source, "migration.setup")
        hosts = [_rate(h.get("bandwidth", bandwidth), source, f"hosts.{name}.bandwidth")
                 for name, h in (spec.get("hosts") or {}).items()]
        dirty = [number(v.get("dirty_rate", 0), source, f"vms.{name}.dirty_rate")
                 for name, v in (spec.get("vms") or {}).items()]
        links = [_rate(link.get("bandwidth", math.inf), source, f"links.{name}.bandwidth", unlimited=True)
                 for name, link in (spec.get("links") or {}).items()]
        return cls(unit, float(setup), max_bandwidth, np.array(hosts, dtype=float),
                   np.array(links, dtype=float), np.array(dirty, dtype=float),
                   np.asarray(ram, dtype=float) * RAM_UNITS[unit])

    def best_bandwidth(self, src: int, dst: int, links: list[int]) -> float:
        """The most MiB/s a hop ``src -> dst`` can get, crossing the ``links`` (indices)."""
        best = min(self.max_bandwidth, self.host_bandwidth[src], self.host_bandwidth[dst])
        return float(min([best, *self.link_bandwidth[links].tolist()]))

    def converges(self, v: int, bandwidth: float) -> bool:
        """Whether a live migration of ``v`` at ``bandwidth`` MiB/s converges (``dirty_rate < 0.8 b``)."""
        return bool(self.dirty_rate[v] < CONVERGENCE * bandwidth)

    def duration(self, v: int, bandwidth: float, *, offline: bool) -> float:
        """Seconds a migration of ``v`` at ``bandwidth`` MiB/s lasts (live: it must converge there)."""
        copy_rate = bandwidth if offline else bandwidth - self.dirty_rate[v]
        return float(self.setup + self.ram_mib[v] / copy_rate)


def _rate(value, source: str, key: str, *, unlimited: bool = False) -> float:
    """A positive, finite bandwidth (``unlimited``: the default ``inf`` is accepted, never written)."""
    if unlimited and value == math.inf and not isinstance(value, bool):
        return math.inf
    x = number(value, source, key)
    if not x > 0:
        raise InputError(source, key, f"must be a positive bandwidth in MiB/s, got {short_repr(value)}")
    return float(x)


def hop_bound(inst) -> np.ndarray:
    """Per VM, an upper bound on the bandwidth any of its hops can get (see the module docstring):
    ``max_bandwidth``, its initial host's, the best of its target hosts', and every link each path
    from its initial host to a target host crosses."""
    d = inst.durations
    flexible = inst.domain_of >= 0
    domain = np.maximum(inst.domain_of, 0)
    best_end = d.host_bandwidth[inst.target]
    if flexible.any():
        best_end = np.where(flexible, np.where(inst.domains, d.host_bandwidth, 0.0).max(axis=1)[domain],
                            best_end)
    bound = np.minimum(np.minimum(d.max_bandwidth, d.host_bandwidth[inst.initial]), best_end)
    for k, link in enumerate(inst.links):
        inside = np.zeros(inst.n_hosts, dtype=bool)
        inside[link.hosts] = True
        start_in = inside[inst.initial]
        must_cross = start_in != inside[inst.target]
        if flexible.any():
            end_in = (inst.domains & inside).any(axis=1)[domain]
            end_out = (inst.domains & ~inside).any(axis=1)[domain]
            must_cross = np.where(flexible, np.where(start_in, ~end_in, ~end_out), must_cross)
        bound = np.where(must_cross, np.minimum(bound, d.link_bandwidth[k]), bound)
    return bound


def non_converging(inst) -> np.ndarray:
    """Mask of the VMs that cannot converge live on any hop (``dirty_rate >= 0.8 x`` :func:`hop_bound`).

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {}, "h2": {"bandwidth": 100}},
    ...                 vms={"a": {"ram": 4, "dirty_rate": 90}, "b": {"ram": 4, "dirty_rate": 70}},
    ...                 initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"})
    >>> non_converging(inst).tolist()
    [True, False]
    """
    return inst.durations.dirty_rate >= CONVERGENCE * hop_bound(inst)
