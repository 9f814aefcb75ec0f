"""Read a live cloud into a cpplan instance (SPEC section 2): hosts, VMs, groups, limits.

- Hosts are the nova-compute hosts in scope (all, an aggregate, or a list).
  Capacity per resource is Placement's ``total - reserved`` with its
  ``allocation_ratio``; allocations that belong to no listed server (an
  in-flight migration, a server of another cell...) are taken off the capacity.
- VMs are the servers on those hosts, sized by their flavor (``ram`` MiB,
  ``cpu`` vCPUs, ``disk`` GiB). A server that cannot live-migrate now (not
  ACTIVE or PAUSED, or busy with a task) is ``pinned``.
- Hard ``anti-affinity`` server groups become ``groups``; ``affinity`` members
  are pinned (nova would refuse to split them); soft policies are left out.
- ``limits.host`` is nova's ``max_concurrent_live_migrations`` as the operator
  gives it (``max_per_host``, default 1 like nova).
- ``limits.outgoing`` (SPEC section 8) is that same nova option read as what it
  bounds, the live migrations a compute host runs as their source, when the
  operator gives it (``max_outgoing``): it is a ``nova.conf`` setting of each
  compute service that the compute API does not show, so it cannot be read.

Hosts that must never receive a VM, without a new key in the format:

- a host whose compute service is **disabled** or **down** and holds no server
  is left out of the instance, so no plan can name it;
- a **disabled** host that holds servers gets capacity 0 for every resource:
  a host that receives nothing is never checked (SPEC section 4), so its
  servers may leave (the usual drain) but nothing can ever arrive;
- a **down** host that holds servers gets capacity 0 and ``max_migrations: 0``
  and its servers are pinned: a live migration needs both computes running;
- a resource (``ram``, ``cpu``, ``disk``) that Placement has **no inventory** of
  on a host is unknown there, so it gets capacity 0 (SPEC reads a resource a
  host does not list as unlimited): no VM that needs it can arrive, and the
  executor refuses to send one (a VM of demand 0 still fits).

VM names are server names; a name that several servers share gets the first
8 characters of the server's id appended (``web-1a2b3c4d``).

>>> vm_names([("id-aaaaaaaa1", "web"), ("id-bbbbbbbb2", "web"), ("id-3", "db")])
{'id-aaaaaaaa1': 'web-id-aaaaa', 'id-bbbbbbbb2': 'web-id-bbbbb', 'id-3': 'db'}
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from ..errors import InputError
from ..io import instance_yaml, write_atomic
from ..model import Instance
from ..plan import plain_number
from .cloud import RESOURCE_NAMES, Cloud, Host, Server

LIVE_MIGRATABLE = ("ACTIVE", "PAUSED")


@dataclass
class Snapshot:
    """An instance read from the cloud, the server id of each VM, and notes for the operator."""

    instance: Instance
    server_ids: dict  # VM name -> server id
    notes: list[str] = field(default_factory=list)


def vm_names(servers) -> dict:
    """Server id -> VM name for ``(id, name)`` pairs: the name, made unique with the id when shared."""
    servers = list(servers)
    count = Counter(name for _, name in servers)
    return {sid: name if count[name] == 1 else f"{name}-{sid[:8]}" for sid, name in servers}


def scope_hosts(cloud: Cloud, *, hosts=None, aggregate: str | None = None) -> list[str]:
    """The compute hosts to read: those named, those of an aggregate, or every nova-compute host."""
    if hosts:
        known = cloud.compute_services()
        for h in hosts:
            if h not in known:
                raise InputError("", "--host", f"no nova-compute service on host {h!r}")
        return list(dict.fromkeys(hosts))
    if aggregate:
        return cloud.aggregate_hosts(aggregate)
    return sorted(cloud.compute_services())


def take_snapshot(cloud: Cloud, *, hosts=None, aggregate: str | None = None,
                  max_per_host: int = 1, max_outgoing: int | None = None) -> Snapshot:
    """Read the hosts in scope and the servers on them into a :class:`Snapshot`
    (``max_outgoing``: ``limits.outgoing``, left out when None)."""
    names = scope_hosts(cloud, hosts=hosts, aggregate=aggregate)
    in_scope = set(names)
    servers = sorted((s for s in cloud.servers() if s.host in in_scope), key=lambda s: (s.name, s.id))
    name_of = vm_names((s.id, s.name) for s in servers)
    on_host = {h: [s for s in servers if s.host == h] for h in names}
    notes: list[str] = []

    states = cloud.hosts(names)
    host_specs, pinned = {}, []
    for h in sorted(names):
        state = states[h]
        if not (state.enabled and state.up) and not on_host[h]:
            notes.append(f"host {h}: compute service {_condition(state)} and empty: left out")
            continue
        host_specs[h] = _host_spec(state, on_host[h], notes)
        if not state.up:
            pinned += [name_of[s.id] for s in on_host[h]]

    vms, initial = {}, {}
    for s in servers:
        vm = name_of[s.id]
        vms[vm] = {r: plain_number(x) for r, x in s.demand.items()}
        initial[vm] = s.host
        if s.status not in LIVE_MIGRATABLE or s.migrating:
            notes.append(f"server {vm}: {s.status}{f' ({s.task_state})' if s.task_state else ''}, "
                         f"cannot live-migrate now: pinned")
            pinned.append(vm)

    groups = _groups(cloud, name_of, initial, pinned, notes)
    spec = {"hosts": host_specs, "vms": vms, "initial": initial, "target": {},
            "limits": {"host": max_per_host}}
    if max_outgoing is not None:
        spec["limits"]["outgoing"] = max_outgoing
        notes.append(f"limits.outgoing {max_outgoing}: nova's max_concurrent_live_migrations as given "
                     f"(--max-outgoing), which the compute API does not show")
    if groups:
        spec["groups"] = groups
    if pinned:
        spec["pinned"] = sorted(set(pinned))
    inst = Instance(**spec, source="snapshot")
    return Snapshot(inst, {name_of[s.id]: s.id for s in servers}, notes)


def _condition(state: Host) -> str:
    return "down" if not state.up else "disabled"


def _host_spec(state: Host, servers: list[Server], notes: list[str]) -> dict:
    """Capacity per resource and per-host keys of one host (see the module notes)."""
    if not (state.enabled and state.up):
        spec = dict.fromkeys(RESOURCE_NAMES.values(), 0)  # every resource, listed or not: nothing fits
        what = "receives nothing"
        if not state.up:
            spec["max_migrations"] = 0
            what += ", its servers are pinned"
        notes.append(f"host {state.name}: compute service {_condition(state)}: capacity 0, {what}")
        return spec
    spec, ratios = {}, {}
    for r, inv in state.inventory.items():
        known = sum(s.demand.get(r, 0) for s in servers)
        foreign = state.usage.get(r, 0) - known
        capacity = inv.total - inv.reserved
        if foreign > 0:
            capacity = max(0.0, capacity - foreign / inv.allocation_ratio)
            notes.append(f"host {state.name}: {plain_number(foreign)} {r} allocated to no listed server: "
                         f"capacity reduced to {plain_number(_floor(capacity))}")
        spec[r] = plain_number(_floor(capacity))
        if inv.allocation_ratio != 1.0:
            ratios[r] = plain_number(inv.allocation_ratio)
    unknown = [r for r in RESOURCE_NAMES.values() if r not in state.inventory]
    if unknown:
        spec.update(dict.fromkeys(unknown, 0))
        notes.append(f"host {state.name}: no Placement inventory of {', '.join(unknown)}, capacity unknown: "
                     f"capacity 0, receives no VM that needs {'them' if len(unknown) > 1 else 'it'}")
    if ratios:
        spec["allocation_ratio"] = ratios
    return spec


def _groups(cloud: Cloud, name_of: dict, initial: dict, pinned: list, notes: list[str]) -> dict:
    groups = {}
    for g in sorted(cloud.server_groups(), key=lambda g: g.name):
        members = sorted(name_of[i] for i in g.member_ids if i in name_of)
        if len(members) < 2:
            continue
        if g.policy == "affinity":
            notes.append(f"server group {g.name}: affinity: its {len(members)} servers are pinned")
            pinned.extend(members)
        elif g.policy == "anti-affinity" and g.max_server_per_host == 1:
            hosts = [initial[m] for m in members]
            if len(set(hosts)) < len(hosts):
                notes.append(f"server group {g.name}: anti-affinity already broken on the cloud: left out")
                continue
            groups[g.name] = {"vms": members, "anti_affinity": True}
        else:
            rule = f" (max_server_per_host {g.max_server_per_host})" if g.max_server_per_host != 1 else ""
            notes.append(f"server group {g.name}: {g.policy}{rule} is not a hard one-per-host rule: left out")
    return groups


def _floor(x: float) -> float:
    """Round down to 3 decimals: a capacity must never be read larger than it is."""
    return math.floor(x * 1000) / 1000


def save_snapshot(snapshot: Snapshot, path) -> None:
    """Write the instance as YAML, with the operator notes as comments on top."""
    header = "".join(f"# {line}\n" for line in snapshot.notes)
    write_atomic(path, header + instance_yaml(snapshot.instance))
