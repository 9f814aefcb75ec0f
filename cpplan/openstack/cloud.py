"""The few OpenStack calls cpplan makes, through openstacksdk, returning plain records.

Reads: nova-compute services, hypervisors (node -> compute host), aggregates,
servers (flavor sizes, current host, state), server groups, and Placement
resource providers with their inventories and usages. Writes: one call, a
live migration to a named host (the scheduler still checks the host).

A read that fails transiently (the API answered 5xx, or could not be reached)
is tried again, :attr:`Retry.tries` times in all, waiting ``base_delay``, then
twice as long, and so on (at most ``base_delay * (2**(tries - 1) - 1)`` seconds
in all). The live migration is never repeated: a transient error there is
ambiguous (nova may have started it), so :class:`CloudError` says ``transient``
and the caller reads the server again to learn what happened.

Everything else in ``cpplan.openstack`` works on these records, never on
openstacksdk objects, so it reads like the problem and not like the SDK.
openstacksdk itself is imported by :meth:`Cloud.connect` only, so every module
here imports (and its doctests run) without the extra.

>>> Server("id-1", "web1", "c1", "ACTIVE", None, {"ram": 2048, "cpu": 2, "disk": 20}).migrating
False
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError

# Placement resource classes -> cpplan resource names (ram in MiB, disk in GiB).
RESOURCE_NAMES = {"MEMORY_MB": "ram", "VCPU": "cpu", "DISK_GB": "disk"}


class CloudError(RuntimeError):
    """The cloud refused a call or could not be reached; the message is one line.

    ``transient``: the cloud answered 5xx or was not reached, so the call may have
    been carried out, and trying again may work.
    """

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Retry:
    """How a read is tried again after a transient error: ``tries`` in all, waiting
    ``base_delay`` seconds after the first failure, then doubling (``sleep`` waits)."""

    tries: int = 4
    base_delay: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def delays(self):
        """The waits between tries.

        >>> list(Retry(tries=4, base_delay=0.5).delays())
        [0.5, 1.0, 2.0]
        """
        return (self.base_delay * 2**k for k in range(self.tries - 1))


@dataclass(frozen=True)
class Inventory:
    """One resource of a host as Placement sees it: usable = (total - reserved) x allocation_ratio."""

    total: float
    reserved: float
    allocation_ratio: float

    @property
    def usable(self) -> float:
        return max(0.0, (self.total - self.reserved) * self.allocation_ratio)


@dataclass(frozen=True)
class Host:
    """A compute host: its service state and, per cpplan resource, its inventory and usage."""

    name: str
    enabled: bool
    up: bool
    inventory: dict  # resource name -> Inventory
    usage: dict  # resource name -> amount allocated


@dataclass(frozen=True)
class Server:
    """A server: where it runs, its state and its size per cpplan resource."""

    id: str
    name: str
    host: str | None
    status: str
    task_state: str | None
    demand: dict  # resource name -> amount

    @property
    def migrating(self) -> bool:
        return self.status == "MIGRATING" or self.task_state is not None


@dataclass(frozen=True)
class ServerGroup:
    name: str
    policy: str
    max_server_per_host: int
    member_ids: tuple


def _sdk_errors() -> tuple:
    """The exception classes of openstacksdk and of its transport, keystoneauth."""
    from keystoneauth1.exceptions import ClientException
    from openstack.exceptions import SDKException
    return SDKException, ClientException


def _transient(e: Exception) -> bool:
    """Whether an SDK or transport error is a 5xx answer or a cloud not reached."""
    from keystoneauth1.exceptions import ConnectionError as NotReached
    status = getattr(e, "status_code", None) or getattr(e, "http_status", None)
    return isinstance(e, NotReached) or (isinstance(status, int) and status >= 500)


def _calls(method):
    """Turn SDK and transport errors of ``method`` into a one-line :class:`CloudError`."""
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except CloudError:
            raise
        except Exception as e:
            if not isinstance(e, _sdk_errors()):
                raise
            text = " ".join(str(e).split()) or type(e).__name__
            raise CloudError(text, transient=_transient(e)) from None
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


def _reads(method):
    """:func:`_calls` for an idempotent read of a :class:`Cloud`: tried again on transient errors."""
    once = _calls(method)

    def wrapper(cloud: Cloud, *args, **kwargs):
        for delay in (*cloud.retry.delays(), None):
            try:
                return once(cloud, *args, **kwargs)
            except CloudError as e:
                if not e.transient or delay is None:
                    raise
            cloud.retry.sleep(delay)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class Cloud:
    """A connected cloud. ``Cloud.connect("prod")`` reads clouds.yaml / ``OS_*`` like every OpenStack tool."""

    def __init__(self, connection, retry: Retry | None = None):
        self.conn = connection
        self.retry = retry or Retry()
        self._providers: dict | None = None  # hypervisor node name -> resource provider
        self._nodes: dict | None = None  # compute host -> hypervisor node name
        self._flavors: dict = {}

    @classmethod
    @_calls
    def connect(cls, os_cloud: str | None = None) -> Cloud:
        """Connect as clouds.yaml or the ``OS_*`` variables say; an unknown cloud name is bad input."""
        import openstack
        from openstack.exceptions import ConfigException
        try:
            return cls(openstack.connect(cloud=os_cloud))
        except ConfigException as e:
            raise InputError("", "--os-cloud", " ".join(str(e).split())) from None

    # ------------------------------------------------------------- hosts
    @_reads
    def compute_services(self) -> dict:
        """Compute host name -> (enabled, up) for every nova-compute service."""
        return {s.host: (s.status == "enabled", s.state == "up" and not s.is_forced_down)
                for s in self.conn.compute.services(binary="nova-compute")}

    @_reads
    def aggregate_hosts(self, name: str) -> list[str]:
        """The hosts of the host aggregate named (or numbered) ``name``."""
        for agg in self.conn.compute.aggregates():
            if name in (agg.name, str(agg.id), getattr(agg, "uuid", None)):
                return list(agg.hosts or [])
        raise InputError("", "--aggregate", f"no host aggregate named {name!r}")

    @_calls
    def hosts(self, names) -> dict:
        """Host name -> :class:`Host` with inventories and usages, for the named compute hosts
        (each read it makes is tried again on its own)."""
        services = self.compute_services()
        out = {}
        for name in names:
            if name not in services:
                raise CloudError(f"no nova-compute service on host {name!r}")
            enabled, up = services[name]
            inventory, usage = self.resources(name)
            out[name] = Host(name, enabled, up, inventory, usage)
        return out

    @_reads
    def resources(self, host: str) -> tuple[dict, dict]:
        """(inventory, usage) of a compute host's resource provider, by cpplan resource name."""
        provider = self._provider(host)
        inventory = {RESOURCE_NAMES[inv.resource_class]: Inventory(inv.total, inv.reserved or 0,
                                                                   inv.allocation_ratio or 1.0)
                     for inv in self.conn.placement.resource_provider_inventories(provider)
                     if inv.resource_class in RESOURCE_NAMES}
        used = self._usages(provider.id)
        usage = {RESOURCE_NAMES[rc]: x for rc, x in used.items() if rc in RESOURCE_NAMES}
        return inventory, usage

    def _usages(self, provider_id: str) -> dict:
        """Placement's usage report of a resource provider (a plain GET: every openstacksdk has it)."""
        from openstack.exceptions import raise_from_response
        response = self.conn.placement.get(f"/resource_providers/{provider_id}/usages")
        raise_from_response(response)
        return response.json().get("usages") or {}

    def _provider(self, host: str):
        if self._nodes is None:
            self._nodes = {h.service_details["host"]: h.name
                           for h in self.conn.compute.hypervisors(details=True) if h.service_details}
            self._providers = {rp.name: rp for rp in self.conn.placement.resource_providers()
                               if rp.parent_provider_id is None}
        node = self._nodes.get(host, host)
        if node not in self._providers:
            raise CloudError(f"no Placement resource provider for host {host!r} (node {node!r})")
        return self._providers[node]

    # ----------------------------------------------------------- servers
    @_reads
    def servers(self) -> list[Server]:
        """Every server of every project."""
        return [self._server(s) for s in self.conn.compute.servers(details=True, all_projects=True)]

    @_reads
    def server(self, server_id: str) -> Server | None:
        """One server, or None when it no longer exists."""
        try:
            return self._server(self.conn.compute.get_server(server_id))
        except Exception as e:
            if getattr(e, "status_code", None) == 404:
                return None
            raise

    def _server(self, s) -> Server:
        return Server(s.id, s.name or s.id, s.compute_host, s.status, s.task_state, self._demand(s))

    def _demand(self, s) -> dict:
        """A server's size: RAM and vCPUs of its flavor; root disk (none when booted from a volume),
        ephemeral disk and swap, as nova allocates them in Placement."""
        flavor = s.flavor
        if not flavor.ram and flavor.id:  # before compute microversion 2.47: only a flavor reference
            if flavor.id not in self._flavors:
                self._flavors[flavor.id] = self.conn.compute.get_flavor(flavor.id)
            flavor = self._flavors[flavor.id]
        from_volume = not (s.image and s.image.id)
        disk = (0 if from_volume else flavor.disk or 0) + (flavor.ephemeral or 0) + math.ceil(
            (flavor.swap or 0) / 1024)
        return {"ram": flavor.ram or 0, "cpu": flavor.vcpus or 0, "disk": disk}

    @_reads
    def server_groups(self) -> list[ServerGroup]:
        out = []
        for g in self.conn.compute.server_groups(all_projects=True):
            policy = g.policy or (g.policies or [""])[0]
            out.append(ServerGroup(g.name or g.id, policy, int((g.rules or {}).get("max_server_per_host", 1)),
                                   tuple(g.member_ids or ())))
        return out

    @_calls
    def live_migrate(self, server_id: str, host: str) -> None:
        """Ask nova to live-migrate a server to ``host`` (block migration chosen by nova); never
        repeated: after a transient :class:`CloudError`, read the server to learn whether it started."""
        self.conn.compute.live_migrate_server(server_id, host=host, block_migration="auto")
