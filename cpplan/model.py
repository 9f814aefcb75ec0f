"""The cloud model: hosts, VMs, placements A and B, limits and service levels.

An :class:`Instance` is immutable and keeps every size as a numpy array with
name <-> index maps, so planners can work vectorised on large clouds. It is
read in steps, each checking its part of SPEC section 2 (:mod:`cpplan.checks`):
names (in Unicode NFC, :mod:`cpplan.names`), resources, hosts and limits, VMs
and their costs, page sharing, placements A and B, service levels. The costs of
all VMs, live and offline, must sum to at most :data:`MAX_TOTAL_COST`, so that
no sum of costs overflows.

>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
...                 vms={"a": {"ram": 4}}, initial={"a": "h1"}, target={"a": "h2"})
>>> inst.n_hosts, inst.n_vms, inst.resources
(2, 1, ('ram',))
>>> inst.moving.tolist()
[True]
>>> try:
...     Instance(hosts={"h1": {}}, vms={"a": {"cost": 1e300}, "b": {"cost": 1e300}},
...              initial={"a": "h1", "b": "h1"}, source="c.yaml")
... except InputError as e:
...     print(e.source, e.key, e.problem.split(",")[0], sep=": ")
c.yaml: vms.b.cost: the costs of the VMs up to 'b' (live and offline) sum past 1e+300
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .allowed import Domains, default_targets
from .checks import (
    boolean,
    fraction,
    given,
    mapping,
    name_list,
    number,
    positive,
    short_repr,
    string_keys,
    unknown_keys,
)
from .constraints.among import choose_sets
from .constraints.capacity import fits
from .constraints.concurrency import UNLIMITED
from .constraints.fence import restrict_targets
from .constraints.groups import broken_anti_affinity
from .constraints.page_sharing import usage
from .durations import HOST_KEYS, VM_KEYS, Durations, non_converging
from .errors import InputError
from .names import nfc_names

DIRECTIONAL_KEYS = {"max_incoming": "incoming", "max_outgoing": "outgoing"}  # host key -> limits key
HOST_RESERVED = ("max_migrations", "allocation_ratio", *DIRECTIONAL_KEYS, *HOST_KEYS)
VM_RESERVED = ("cost", "offline_cost", "live", "image", *VM_KEYS)
# The most the VMs' costs may sum to, every VM's live and offline cost counted once. A plan's cost
# and the bounds are float64 sums of these costs, and float64 ends at 1.8e308: below 1e300, a plan
# that migrates each VM up to 10**8 times (bounces, step-asides, offline moves) still sums to a
# finite number, as do the planners' scaled and weighted objectives, and a float64 sum keeps its
# relative precision (2**-53 per addition), which the validator's relative cost tolerance absorbs.
# Past it a sum could overflow to infinity: a false "infeasible" or an infinite lower bound.
MAX_TOTAL_COST = 1e300


@dataclass(frozen=True)
class Link:
    """A shared network link: at most ``max_migrations`` migrations cross it per round."""

    name: str
    hosts: np.ndarray  # host indices
    max_migrations: int


@dataclass(frozen=True)
class Group:
    """A service: anti-affinity and/or a cap on members migrating in one round."""

    name: str
    vms: np.ndarray  # VM indices
    anti_affinity: bool
    max_migrating: int | None
    affinity: bool = False
    no_downtime: bool = False  # members never move offline, not even in a relaxation (cpplan.relax)
    hosts: np.ndarray | None = None  # a fence: the only hosts members are moved to (constraints.fence)
    among: tuple = ()  # host index arrays: members end within one and move only to it (constraints.among)


class Instance:
    """A cloud with its placements A (``initial``) and B (``target``), as in SPEC section 2.

    Arrays (read-only): ``capacity`` and ``ratio`` [hosts x resources] (a
    resource a host does not list is ``inf``), ``effective`` = capacity x
    ratio, ``demand`` [vms x resources], ``cost`` [vms], ``initial`` and
    ``target`` [vms] host indices, ``host_limit`` [hosts], ``pinned`` [vms];
    ``incoming_limit`` and ``outgoing_limit`` [hosts] (SPEC section 8; ``UNLIMITED`` of
    :mod:`cpplan.constraints.concurrency` where neither the host nor ``limits`` sets one).
    """

    def __init__(self, hosts: Mapping, vms: Mapping, initial: Mapping, target: Mapping | None = None,
                 limits: Mapping | None = None, allocation_ratio: Mapping | None = None,
                 links: Mapping | None = None, groups: Mapping | None = None,
                 pinned: list | None = None, page_sharing: Mapping | None = None,
                 drain: list | None = None, migration: Mapping | None = None, *, source: str = "",
                 choosing_target: bool = False):
        self.source = source
        self.choosing_target = choosing_target  # read to choose B: its own B may break the rules
        spec = nfc_names({k: v for k, v in dict(
            hosts=hosts, vms=vms, initial=initial, target=target, limits=limits,
            allocation_ratio=allocation_ratio, links=links, groups=groups, pinned=pinned,
            page_sharing=page_sharing, drain=drain, migration=migration).items() if v is not None}, source)
        self._spec = _copy(spec)
        hosts, vms = self._names(spec.get("hosts"), spec.get("vms"))
        self._resources(hosts, vms)
        self._hosts(hosts, spec.get("allocation_ratio"), spec.get("limits"))
        images = self._vms(vms)
        self.share_ratio, self.share_resource = self._page_sharing(spec.get("page_sharing"), images)
        self._placements(spec.get("initial"), spec.get("target"), spec.get("drain"))
        self._service_levels(spec.get("links"), spec.get("groups"), spec.get("pinned"))
        self._host_rules()
        self.target = default_targets(self, self.target, source)
        self._check_placements()
        self._durations(spec)
        self._freeze()

    # ------------------------------------------------------ parsing steps
    def _names(self, hosts, vms) -> tuple[Mapping, Mapping]:
        """Host and VM names, in file order, with their index maps."""
        src = self.source
        hosts = string_keys(mapping(hosts, src, "hosts"), src, "hosts.")
        vms = string_keys(mapping(vms, src, "vms"), src, "vms.")
        if not hosts:
            raise InputError(src, "hosts", "must list at least one host")
        self.host_names = tuple(str(h) for h in hosts)
        self.vm_names = tuple(str(v) for v in vms)
        self.host_index = {h: i for i, h in enumerate(self.host_names)}
        self.vm_index = {v: i for i, v in enumerate(self.vm_names)}
        return hosts, vms

    def _resources(self, hosts: Mapping, vms: Mapping) -> None:
        """Resources: every key of a host or VM that is not reserved, in file order."""
        src = self.source
        resources: dict[str, None] = {}
        for kind, specs, reserved in (("hosts", hosts, HOST_RESERVED), ("vms", vms, VM_RESERVED)):
            for name, spec in specs.items():
                for k in string_keys(mapping(spec, src, f"{kind}.{name}"), src, f"{kind}.{name}."):
                    if k not in reserved:
                        resources[str(k)] = None
        self.resources = tuple(resources)
        self.resource_index = {r: i for i, r in enumerate(self.resources)}

    def _hosts(self, hosts: Mapping, allocation_ratio, limits) -> None:
        """Capacity, allocation ratio and migration limit per host (defaults: top-level keys)."""
        src, H, R = self.source, len(self.host_names), len(self.resources)
        ratio_default = np.ones(R)
        for r, x in mapping(given(allocation_ratio, {}), src, "allocation_ratio").items():
            x = positive(x, src, f"allocation_ratio.{r}")
            if r in self.resource_index:
                ratio_default[self.resource_index[r]] = x
        default_limit, directional = self._limits(limits)
        capacity = np.full((H, R), np.inf)
        ratio = np.tile(ratio_default, (H, 1))
        host_limit = np.full(H, default_limit, dtype=np.int64)
        directional = {k: np.full(H, x, dtype=np.int64) for k, x in directional.items()}
        for i, (h, spec) in enumerate(hosts.items()):
            for k, x in spec.items():
                key = f"hosts.{h}.{k}"
                if k in HOST_KEYS:
                    continue  # read by the duration model
                if k == "max_migrations":
                    host_limit[i] = number(x, src, key, integer=True)
                elif k in DIRECTIONAL_KEYS:
                    directional[DIRECTIONAL_KEYS[k]][i] = number(x, src, key, integer=True)
                elif k == "allocation_ratio":
                    for r, y in mapping(x, src, key).items():
                        y = positive(y, src, f"{key}.{r}")
                        if r in self.resource_index:
                            ratio[i, self.resource_index[r]] = y
                else:
                    capacity[i, self.resource_index[k]] = number(x, src, key)
        self.capacity, self.ratio, self.effective = capacity, ratio, capacity * ratio
        self.host_limit = host_limit
        self.incoming_limit, self.outgoing_limit = directional["incoming"], directional["outgoing"]

    def _limits(self, limits) -> tuple[int, dict[str, int]]:
        """``limits``: sets ``total_limit`` (None: unlimited); returns the default per-host limit and
        the default incoming and outgoing limits (``UNLIMITED`` when not given)."""
        src = self.source
        limits = mapping(given(limits, {}), src, "limits")
        unknown_keys(limits, ("host", "total", *DIRECTIONAL_KEYS.values()), src, "limits.")
        default_limit = number(limits.get("host", 1), src, "limits.host", integer=True)
        total = limits.get("total")
        self.total_limit = None if total is None else number(total, src, "limits.total", integer=True)
        directional = {k: number(limits[k], src, f"limits.{k}", integer=True) if k in limits else UNLIMITED
                       for k in DIRECTIONAL_KEYS.values()}
        return default_limit, directional

    def _vms(self, vms: Mapping) -> dict[str, int]:
        """Demand, costs, live or offline, and image per VM; returns the images' indices by name."""
        src, V = self.source, len(self.vm_names)
        demand = np.zeros((V, len(self.resources)))
        live_cost = np.zeros(V)
        offline_cost = np.full(V, np.nan)
        can_live = np.ones(V, dtype=bool)
        images: dict[str, int] = {}
        image = np.full(V, -1, dtype=np.int64)
        ram = self.resource_index.get("ram")
        for j, (v, spec) in enumerate(vms.items()):
            for k, x in spec.items():
                if k not in VM_RESERVED:
                    demand[j, self.resource_index[k]] = number(x, src, f"vms.{v}.{k}")
            if "cost" in spec:
                live_cost[j] = number(spec["cost"], src, f"vms.{v}.cost")
            else:
                live_cost[j] = demand[j, ram] if ram is not None else 0.0
            if "live" in spec:
                can_live[j] = boolean(spec["live"], src, f"vms.{v}.live")
            if "offline_cost" in spec:
                offline_cost[j] = number(spec["offline_cost"], src, f"vms.{v}.offline_cost")
            elif not can_live[j]:
                offline_cost[j] = live_cost[j]
            if "image" in spec:
                if not isinstance(spec["image"], str):
                    raise InputError(src, f"vms.{v}.image",
                                     f"must be an image name, got {short_repr(spec['image'])}")
                image[j] = images.setdefault(spec["image"], len(images))
        self.demand, self.image, self.can_live, self.offline_cost = demand, image, can_live, offline_cost
        self._limit_total_cost(live_cost, lambda j: _cost_key(
            self.vm_names[j], vms[self.vm_names[j]], live_cost[j], offline_cost[j]))
        self._set_live_cost(live_cost)
        return images

    def _limit_total_cost(self, live_cost: np.ndarray, key_of: Callable[[int], str]) -> None:
        """Refuse costs that sum past :data:`MAX_TOTAL_COST` (every cost a plan may pay: the live cost
        of a VM that may move live, the offline cost of one that may move offline), at ``key_of(j)``
        for the VM ``j`` where they do."""
        live = np.where(self.can_live, live_cost, 0.0)
        with np.errstate(over="ignore"):
            running = np.cumsum(live + np.where(np.isfinite(self.offline_cost), self.offline_cost, 0.0))
        over = np.flatnonzero(running > MAX_TOTAL_COST)
        if over.size:
            j = int(over[0])
            raise InputError(self.source, key_of(j), f"the costs of the VMs up to "
                             f"{short_repr(self.vm_names[j])} (live and offline) sum past "
                             f"{MAX_TOTAL_COST:g}, where plan costs could overflow: use a larger unit")

    def _placements(self, initial, target, drain) -> None:
        """Placements A (``initial``: every VM once) and B (``target``: a host, or a list of
        allowed hosts; VMs left out stay), and ``drain``."""
        src, H = self.source, len(self.host_names)
        start = self._initial(initial)
        end = start.copy()
        domains = Domains(H, len(self.vm_names))
        for v, h in mapping(given(target, {}), src, "target").items():
            if v not in self.vm_index:
                raise InputError(src, f"target.{v}", "unknown VM")
            if isinstance(h, list):
                names = name_list(h, src, f"target.{v}", self.host_index, "host")
                if not names:
                    raise InputError(src, f"target.{v}", "must name at least one allowed host")
                mask = np.zeros(H, dtype=bool)
                mask[[self.host_index[x] for x in names]] = True
                domains.allow(self.vm_index[v], mask)
            elif not isinstance(h, str) or h not in self.host_index:
                raise InputError(src, f"target.{v}", f"unknown host {short_repr(h)}")
            else:
                end[self.vm_index[v]] = self.host_index[h]
        self._drain(drain, start, end, domains)
        self.domain_of, self.domains = domains.domain_of, domains.matrix()
        self.initial, self.target = start, end

    def _initial(self, initial) -> np.ndarray:
        """Placement A as a host index per VM."""
        src = self.source
        start = np.full(len(self.vm_names), -1, dtype=np.int64)
        for v, h in mapping(initial, src, "initial").items():
            if v not in self.vm_index:
                raise InputError(src, f"initial.{v}", "unknown VM")
            if not isinstance(h, str) or h not in self.host_index:
                raise InputError(src, f"initial.{v}", f"unknown host {short_repr(h)}")
            start[self.vm_index[v]] = self.host_index[h]
        if (start < 0).any():
            missing = self.vm_names[int(np.flatnonzero(start < 0)[0])]
            raise InputError(src, "initial", f"VM {short_repr(missing)} has no initial host")
        return start

    def _service_levels(self, links, groups, pinned) -> None:
        """Links, groups (also as parallel arrays, for vectorised checks) and pinned VMs."""
        src = self.source
        links = string_keys(mapping(given(links, {}), src, "links"), src, "links.")
        groups = string_keys(mapping(given(groups, {}), src, "groups"), src, "groups.")
        self.links = tuple(self._link(name, spec) for name, spec in links.items())
        self.groups = tuple(self._group(name, spec) for name, spec in groups.items())
        # Membership as parallel arrays (group index, VM index).
        self.member_group = np.repeat(np.arange(len(self.groups)), [len(g.vms) for g in self.groups])
        self.member_vm = (np.concatenate([g.vms for g in self.groups]) if self.groups
                          else np.zeros(0, dtype=np.int64))
        self.group_cap = np.array([np.inf if g.max_migrating is None else g.max_migrating
                                   for g in self.groups], dtype=float)
        self.group_anti = np.array([g.anti_affinity for g in self.groups], dtype=bool)
        self.pinned = np.zeros(len(self.vm_names), dtype=bool)
        for v in name_list(given(pinned, []), src, "pinned", self.vm_index, "VM"):
            self.pinned[self.vm_index[v]] = True

    def _host_rules(self) -> None:
        """Fences and among rules (SPEC section 8) kept by B: a fixed target that breaks one is bad input,
        and the allowed hosts of a VM with several shrink to them (:mod:`cpplan.constraints.fence`,
        :mod:`cpplan.constraints.among`, which also fixes each among rule's set: ``among_set``)."""
        self.among_set = np.full(len(self.groups), -1, dtype=np.int64)
        if not any(g.hosts is not None or g.among for g in self.groups):
            return
        domains = Domains(self.n_hosts, self.n_vms)
        for v in np.flatnonzero(self.domain_of >= 0).tolist():
            domains.allow(v, self.domains[self.domain_of[v]])
        restrict_targets(self, domains)
        self.among_set = choose_sets(self, domains)
        self.domain_of, self.domains = domains.domain_of, domains.matrix()

    def _freeze(self) -> None:
        for a in (self.capacity, self.ratio, self.effective, self.demand, self.host_limit,
                  self.incoming_limit, self.outgoing_limit, self.initial, self.target, self.pinned,
                  self.member_group, self.member_vm, self.group_cap, self.group_anti, self.image,
                  self.share_ratio, self.can_live, self.offline_cost, self.domain_of, self.domains,
                  self.among_set):
            a.setflags(write=False)

    def _drain(self, drain, start, end, domains: Domains) -> None:
        """``drain: [hosts]``: every VM must end off these hosts."""
        src = self.source
        drained = name_list(given(drain, []), src, "drain", self.host_index, "host")
        if not drained:
            return
        keep = np.ones(self.n_hosts, dtype=bool)
        keep[[self.host_index[h] for h in drained]] = False
        if not keep.any():
            raise InputError(src, "drain", "cannot drain every host: the VMs would have nowhere to go")
        fixed = domains.domain_of < 0
        for v in np.flatnonzero(fixed & ~keep[end] & (end != start)):
            raise InputError(src, f"target.{self.vm_names[v]}",
                             f"targets {self.host_names[end[v]]}, which is drained")
        for v in np.flatnonzero(~fixed | ~keep[end]):
            if not domains.allow(int(v), keep).any():
                raise InputError(src, f"target.{self.vm_names[v]}", "every allowed host is drained")

    def _set_live_cost(self, live_cost: np.ndarray) -> None:
        """Costs per VM: a VM moves offline when it may not move live or offline is cheaper; a *dual*
        VM moves live by default but may also move offline, at its (higher) ``offline_cost``."""
        self.live_cost = live_cost
        self.offline = ~self.can_live | (self.offline_cost < live_cost)
        self.dual = self.can_live & ~self.offline & np.isfinite(self.offline_cost)
        self.cost = np.where(self.offline, self.offline_cost, live_cost)
        for a in (self.live_cost, self.offline, self.dual, self.cost):
            a.setflags(write=False)

    def _page_sharing(self, spec, images: dict) -> tuple[np.ndarray, int]:
        """Shared RAM fraction per image (empty when no page sharing) and the resource it applies to."""
        src = self.source
        if spec is None:
            return np.zeros(0), -1
        spec = mapping(spec, src, "page_sharing")
        unknown_keys(spec, ("ratio", "images", "resource"), src, "page_sharing.")
        resource = spec.get("resource", "ram")
        if not isinstance(resource, str) or resource not in self.resource_index:
            raise InputError(src, "page_sharing.resource", f"unknown resource {short_repr(resource)}")
        default = fraction(spec.get("ratio", 0.0), src, "page_sharing.ratio")
        ratios = np.full(len(images), default)
        for name, x in mapping(spec.get("images", {}), src, "page_sharing.images").items():
            x = fraction(x, src, f"page_sharing.images.{name}")
            if name in images:
                ratios[images[name]] = x
        return ratios, self.resource_index[resource]

    def _link(self, name, spec) -> Link:
        src = self.source
        spec = mapping(spec, src, f"links.{name}")
        unknown_keys(spec, ("hosts", "max_migrations", "bandwidth"), src, f"links.{name}.")
        members = name_list(spec.get("hosts", []), src, f"links.{name}.hosts", self.host_index, "host")
        cap = number(spec.get("max_migrations", 1), src, f"links.{name}.max_migrations", integer=True)
        return Link(str(name), np.array([self.host_index[h] for h in members], dtype=np.int64), cap)

    def _group(self, name, spec) -> Group:
        src = self.source
        spec = mapping(spec, src, f"groups.{name}")
        unknown_keys(spec, ("vms", "anti_affinity", "affinity", "max_migrating", "no_downtime", "hosts",
                            "among"), src, f"groups.{name}.")
        members = name_list(spec.get("vms", []), src, f"groups.{name}.vms", self.vm_index, "VM")
        anti = boolean(spec.get("anti_affinity", False), src, f"groups.{name}.anti_affinity")
        together = boolean(spec.get("affinity", False), src, f"groups.{name}.affinity")
        if anti and together:
            raise InputError(src, f"groups.{name}", "cannot be both affinity and anti_affinity")
        cap = spec.get("max_migrating")
        if cap is not None:
            cap = number(cap, src, f"groups.{name}.max_migrating", integer=True)
        no_downtime = boolean(spec.get("no_downtime", False), src, f"groups.{name}.no_downtime")
        fence = None if "hosts" not in spec else _host_list(spec["hosts"], src, f"groups.{name}.hosts",
                                                            self.host_index)
        among = () if "among" not in spec else _host_sets(spec["among"], src, f"groups.{name}.among",
                                                          self.host_index)
        return Group(str(name), np.array([self.vm_index[v] for v in members], dtype=np.int64),
                     anti, cap, together, no_downtime, hosts=fence, among=among)

    def _check_placements(self) -> None:
        """Refuse placements no plan could serve: affinity broken at either end, anti-affinity broken
        by the target, a target that overloads a receiving host, a pinned VM with another target.
        Anti-affinity broken by A is legal (SPEC section 8): ``warnings`` says where. An instance read
        to choose B (``choosing_target``) keeps a B that breaks anti-affinity or overloads a host."""
        src = self.source
        self.warnings = tuple(
            f"{src + ': ' if src else ''}groups.{g.name}: anti-affinity broken by the initial placement: "
            f"{', '.join(self.vm_names[v] for v in vms[:3])}{' ...' if vms.size > 3 else ''} on "
            f"{self.host_names[h]}; the plan never adds a member there and B must separate them"
            for g, h, vms in broken_anti_affinity(self, self.initial))
        for g in self.groups:
            if g.affinity and (self.domain_of[g.vms] >= 0).any():
                v = self.vm_names[g.vms[self.domain_of[g.vms] >= 0][0]]
                raise InputError(src, f"groups.{g.name}", f"affinity needs one target host per member, "
                                 f"but {v} may end on several (a list of hosts, or a drained host)")
            apart = np.unique(self.target[g.vms])
            if g.affinity and apart.size > 1:
                raise InputError(src, f"groups.{g.name}", "affinity broken by the target placement: "
                                 f"members on {', '.join(self.host_names[h] for h in apart[:3])}")
        for g, h, vms in [] if self.choosing_target else broken_anti_affinity(self, self.target):
            raise InputError(src, f"groups.{g.name}", f"anti-affinity broken by the target placement: "
                             f"{self.vm_names[vms[0]]} and {self.vm_names[vms[1]]} both on "
                             f"{self.host_names[h]}")
        self._check_loads()

    def _check_loads(self) -> None:
        """Refuse a target that overloads a receiving host (unless ``choosing_target``), and a pinned
        VM with another target."""
        src = self.source
        final = self.load(self.target)
        receiving = np.zeros(self.n_hosts, dtype=bool)
        receiving[self.target[self.moving]] = True
        over = ~fits(final, self.effective) & receiving[:, None]
        if over.any() and not self.choosing_target:
            h, r = (int(x[0]) for x in np.nonzero(over))
            raise InputError(src, "target", f"overloads host {self.host_names[h]}: it would hold "
                             f"{final[h, r]:g} {self.resources[r]}, capacity {self.effective[h, r]:g}")
        bad = np.flatnonzero(self.pinned & (self.initial != self.target))
        if bad.size:
            v = int(bad[0])
            raise InputError(src, f"target.{self.vm_names[v]}",
                             f"VM is pinned to {self.host_names[self.initial[v]]} but its target "
                             f"is {self.host_names[self.target[v]]}")

    def _durations(self, spec: Mapping) -> None:
        """The duration model (``migration``, hosts' and links' ``bandwidth``, VMs' ``dirty_rate``), and
        what follows for a VM that cannot converge live (:func:`cpplan.durations.non_converging`): it
        moves offline when it has an offline mode, never moves when it need not, and else is left to
        :func:`cpplan.bounds.infeasibility`, which names it."""
        ram = self.resource_index.get("ram")
        self.durations = Durations.read(spec, self.demand[:, ram] if ram is not None
                                        else np.zeros(self.n_vms), self.source)
        stuck = non_converging(self) & self.can_live
        self.cannot_converge = stuck  # live allowed by its keys, but its dirty rate outruns every hop
        self.stuck_live = stuck & ~np.isfinite(self.offline_cost)  # and no offline mode to fall back on
        if not stuck.any():
            return
        can_live = self.can_live.copy()
        can_live[stuck & np.isfinite(self.offline_cost)] = False
        self.can_live = can_live
        pinned = self.pinned.copy()
        pinned[stuck & ~np.isfinite(self.offline_cost) & ~self.moving] = True
        self.pinned = pinned
        self._set_live_cost(np.array(self.live_cost))

    # ----------------------------------------------------------------- views
    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_vms(self) -> int:
        return len(self.vm_names)

    def at_target(self, placement: np.ndarray) -> np.ndarray:
        """Mask of VMs whose host in ``placement`` is (one of) their target host(s)."""
        ok = placement == self.target
        flexible = np.flatnonzero(self.domain_of >= 0)
        ok[flexible] = self.domains[self.domain_of[flexible], placement[flexible]]
        return ok

    @property
    def moving(self) -> np.ndarray:
        """Boolean mask of VMs whose host must change."""
        return self.initial != self.target

    def load(self, placement: np.ndarray) -> np.ndarray:
        """Use per host and resource for a placement (host index per VM), page sharing applied."""
        return usage(self, np.arange(self.n_vms), placement)

    def to_dict(self) -> dict:
        """The instance as the mapping of SPEC section 2 (what the loader reads)."""
        return _copy(self._spec)

    def replace(self, **changes) -> Instance:
        """A new instance with some top-level keys replaced, e.g. ``replace(target={...})``."""
        spec = self.to_dict()
        spec.update(changes)
        return Instance(**spec, source=self.source,
                        choosing_target=self.choosing_target and "target" not in changes)

    def with_cost(self, cost_of) -> Instance:
        """A copy whose migration cost per VM is ``cost_of(vm)`` for each :class:`VM` view: non-negative
        numbers that, with the offline costs, sum to at most :data:`MAX_TOTAL_COST`.

        >>> inst = Instance(hosts={"h": {}}, vms={"a": {"ram": 4}}, initial={"a": "h"})
        >>> inst.with_cost(lambda vm: 1 + vm.demand.get("ram", 0)).cost.tolist()
        [5.0]
        """
        clone = copy.copy(self)
        try:
            values = np.array([cost_of(self.vm(j)) for j in range(self.n_vms)], dtype=float)
        except OverflowError:  # an int past float range
            values = np.array([np.inf])
        if values.size and (not np.isfinite(values).all() or (values < 0).any()):
            raise InputError(self.source, "cost", "a cost function must return non-negative numbers")
        self._limit_total_cost(values, lambda j: "cost")
        clone._set_live_cost(values)
        return clone

    def vm(self, j: int) -> VM:
        """A readable view of VM ``j``."""
        return VM(self.vm_names[j], {r: float(self.demand[j, i]) for i, r in enumerate(self.resources)},
                  float(self.cost[j]), self.host_names[self.initial[j]], self.host_names[self.target[j]])

    def __repr__(self) -> str:
        return (f"Instance({self.n_hosts} hosts, {self.n_vms} VMs, {int(self.moving.sum())} moving, "
                f"resources={list(self.resources)})")


@dataclass(frozen=True)
class VM:
    """What a cost function sees of a VM."""

    name: str
    demand: dict
    cost: float
    initial: str
    target: str


def _host_list(value, source: str, key: str, host_index) -> np.ndarray:
    """A non-empty list of known host names at ``key`` (a fence), as sorted host indices."""
    names = name_list(value, source, key, host_index, "host")
    if not names:
        raise InputError(source, key, "must name at least one host")
    return np.array(sorted(host_index[h] for h in names), dtype=np.int64)


def _host_sets(value, source: str, key: str, host_index) -> tuple:
    """A non-empty list of host lists at ``key`` (an among rule), each as in :func:`_host_list`."""
    if not isinstance(value, (list, tuple)) or not value:
        raise InputError(source, key, "must be a non-empty list of host lists")
    return tuple(_host_list(hosts, source, f"{key}[{i}]", host_index) for i, hosts in enumerate(value))


def _copy(spec: dict) -> dict:
    """A deep copy of a mapping of plain values (twice as fast as ``copy.deepcopy`` on big clouds)."""
    return pickle.loads(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))


def _cost_key(name: str, spec: Mapping, live_cost: float, offline_cost: float) -> str:
    """The key that gives a VM's larger cost: ``offline_cost``, ``cost``, or ``ram`` (the default cost)."""
    if "offline_cost" in spec and offline_cost > live_cost:
        return f"vms.{name}.offline_cost"
    return f"vms.{name}.cost" if "cost" in spec else f"vms.{name}.ram"
