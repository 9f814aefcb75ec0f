"""A fake OpenStack cloud served over loopback HTTP, for testing without a real cloud.

It speaks the subset of Keystone v3 (tokens), Compute v2.1 (servers, flavors,
os-services, os-hypervisors, os-aggregates, os-server-groups, os-migrateLive,
os-migrations) and Placement (resource providers, inventories, usages) that
``cpplan.openstack`` uses, so the real openstacksdk client can talk to it.

The in-memory cloud really moves servers: a live migration holds the server's
resources on both hosts until it finishes ``migration_seconds`` later, or, when
the cloud has a ``bandwidth`` (MiB/s), RAM / bandwidth x ``time_scale`` seconds
later (time is advanced lazily on every request, no background thread). The
clock is injectable: a :class:`SimulatedClock` shared with the executor's
``Settings(clock=..., sleep=...)`` lets a test run hours of migrations without
sleeping. ``migrations`` is the event log: each with its start and end. Every arrival is
checked against the destination's capacity; ``peak`` records the highest usage
each host ever carried and ``overloads`` every arrival that did not fit.
:meth:`FakeCloud.fail_once` makes a request answer 500, carried out or not, as a
cloud whose API (or a proxy in front of it) fails transiently does.

>>> cloud = FakeCloud.example()
>>> with serve(cloud) as url:
...     url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RESOURCE_CLASSES = ("MEMORY_MB", "VCPU", "DISK_GB")
COMPUTE_MAX_MICROVERSION = "2.96"
PLACEMENT_MAX_MICROVERSION = "1.39"

FLAVORS = {
    "m1.small": {"ram": 2048, "vcpus": 2, "disk": 20},
    "m1.medium": {"ram": 4096, "vcpus": 4, "disk": 40},
    "m1.large": {"ram": 8192, "vcpus": 8, "disk": 80},
    "m1.xlarge": {"ram": 32768, "vcpus": 16, "disk": 160},
}


class SimulatedClock:
    """Seconds that pass only when someone sleeps: ``now()`` for the clock, ``sleep(s)`` to wait.

    >>> clock = SimulatedClock()
    >>> clock.sleep(2.5); clock.now()
    2.5
    """

    def __init__(self):
        self.seconds = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.seconds += max(0.0, seconds)


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.fake.test"))


@dataclass
class FakeHost:
    """A compute host: its nova-compute service, its hypervisor node and its resource provider."""

    name: str
    inventory: dict  # resource class -> {total, reserved, allocation_ratio}
    enabled: bool = True
    up: bool = True
    foreign_usage: dict = field(default_factory=dict)  # allocations of no listed server

    @property
    def node(self) -> str:
        return f"{self.name}.cloud.test"

    @property
    def uuid(self) -> str:
        return _uuid(self.node)

    def capacity(self) -> dict:
        return {rc: (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]
                for rc, inv in self.inventory.items()}


@dataclass
class FakeServer:
    name: str
    flavor: str
    host: str
    status: str = "ACTIVE"
    task_state: str | None = None
    id: str = ""  # derived from the name unless given

    def __post_init__(self):
        self.id = self.id or _uuid(f"server-{self.name}")

    def demand(self) -> dict:
        f = FLAVORS[self.flavor]
        return {"MEMORY_MB": f["ram"], "VCPU": f["vcpus"], "DISK_GB": f["disk"]}


@dataclass
class FakeMigration:
    id: int
    server: FakeServer
    source: str
    dest: str
    finish_at: float
    fails: bool
    status: str = "running"
    start_at: float = 0.0


class FakeCloud:
    """The in-memory cloud behind the fake APIs."""

    def __init__(self, hosts: list[FakeHost], servers: list[FakeServer], *,
                 groups: dict | None = None, aggregates: dict | None = None,
                 migration_seconds: float = 0.05, bandwidth: float | None = None, time_scale: float = 1.0,
                 clock=time.monotonic):
        self.hosts = {h.name: h for h in hosts}
        self.servers = {s.id: s for s in servers}
        self.groups = groups or {}  # name -> (policy, [server names])
        self.aggregates = aggregates or {}  # name -> [host names]
        self.migration_seconds = migration_seconds
        self.bandwidth, self.time_scale, self.clock = bandwidth, time_scale, clock
        self.max_microversion = COMPUTE_MAX_MICROVERSION  # below 2.47 servers name their flavor by id
        self.migrations: list[FakeMigration] = []
        self.fail_next: set[str] = set()  # server names whose next migration fails
        self.on_migration_start = None  # optional callable(server name)
        self.peak = {h: dict(self.usage(h)) for h in self.hosts}
        self.overloads: list[str] = []
        self.requests: list[str] = []
        self.faults: list[tuple[str, str, bool]] = []  # (method, path pattern, carried out), see fail_once
        self.lock = threading.RLock()

    def fail_once(self, method: str, pattern: str, *, carried_out: bool = False) -> None:
        """The next ``method`` request whose path matches ``pattern`` answers 500 Internal Server Error;
        when ``carried_out`` it is carried out all the same (the answer is lost, not the action)."""
        self.faults.append((method, pattern, carried_out))

    def _fault(self, method: str, path: str) -> tuple[str, str, bool] | None:
        """The first pending fault for this request (now used up), or None."""
        fault = next((f for f in self.faults if f[0] == method and re.fullmatch(f[1], path)), None)
        if fault is not None:
            self.faults.remove(fault)
        return fault

    # ------------------------------------------------------------ the cloud
    def by_name(self, name: str) -> FakeServer:
        return next(s for s in self.servers.values() if s.name == name)

    def placement(self) -> dict:
        """Server name -> host name."""
        return {s.name: s.host for s in self.servers.values()}

    def usage(self, host: str) -> dict:
        used = dict.fromkeys(RESOURCE_CLASSES, 0)
        for rc, x in self.hosts[host].foreign_usage.items():
            used[rc] += x
        for s in self.servers.values():
            if s.host == host:
                for rc, x in s.demand().items():
                    used[rc] += x
        for m in self.migrations:
            if m.status == "running" and m.dest == host:
                for rc, x in m.server.demand().items():
                    used[rc] += x
        return used

    def tick(self) -> None:
        """Finish the migrations whose time has come."""
        now = self.clock()
        for m in self.migrations:
            if m.status == "running" and now >= m.finish_at:
                m.status = "error" if m.fails else "completed"
                if not m.fails:
                    m.server.host = m.dest
                m.server.status, m.server.task_state = "ACTIVE", None

    def live_migrate(self, server: FakeServer, dest: str) -> str | None:
        """Start a live migration; returns an error message when the API refuses it."""
        if server.status != "ACTIVE" or server.task_state is not None:
            return f"Cannot 'os-migrateLive' instance {server.id} while it is in state {server.status}"
        host = self.hosts.get(dest)
        if host is None or not host.enabled or not host.up:
            return f"Compute host {dest} could not be found or is not available."
        if dest == server.host:
            return f"The instance is already on host {dest}."
        used, cap = self.usage(dest), host.capacity()
        fits = all(used[rc] + x <= cap[rc] for rc, x in server.demand().items() if rc in cap)
        fails = server.name in self.fail_next or not fits
        if not fits:
            self.overloads.append(f"{server.name} -> {dest}")
        self.fail_next.discard(server.name)
        now = self.clock()
        self.migrations.append(FakeMigration(len(self.migrations) + 1, server, server.host, dest,
                                             now + self.duration(server), fails, start_at=now))
        server.status, server.task_state = "MIGRATING", "migrating"
        if fits:
            for rc, x in self.usage(dest).items():
                self.peak[dest][rc] = max(self.peak[dest][rc], x)
        if self.on_migration_start is not None:
            self.on_migration_start(server.name)
        return None

    def duration(self, server: FakeServer) -> float:
        """Seconds a live migration of ``server`` lasts."""
        if self.bandwidth is None:
            return self.migration_seconds
        return server.demand()["MEMORY_MB"] / self.bandwidth * self.time_scale

    def over_capacity(self) -> list[str]:
        """Hosts whose peak usage ever exceeded their capacity (a receiving host only)."""
        out = []
        for name, host in self.hosts.items():
            cap = host.capacity()
            out += [f"{name} {rc} {x} > {cap[rc]}" for rc, x in self.peak[name].items() if x > cap[rc]]
        return out

    # -------------------------------------------------------------- example
    @classmethod
    def example(cls, migration_seconds: float = 0.05) -> FakeCloud:
        """Four compute hosts (c4 disabled, to be drained) and a fifth one down and empty.

        c1 and c2 must swap ``db1`` for ``app1`` and ``app2``: no direct order fits,
        so a plan needs a bounce through c3 (which also has 1024 MiB of
        allocations that belong to no listed server).
        """
        def inventory():
            return {"MEMORY_MB": {"total": 16384, "reserved": 512, "allocation_ratio": 1.0},
                    "VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 4.0},
                    "DISK_GB": {"total": 200, "reserved": 0, "allocation_ratio": 1.0}}
        hosts = [FakeHost("c1", inventory()), FakeHost("c2", inventory()),
                 FakeHost("c3", inventory(), foreign_usage={"MEMORY_MB": 1024}),
                 FakeHost("c4", inventory(), enabled=False), FakeHost("c5", inventory(), up=False)]
        servers = [FakeServer("web1", "m1.medium", "c1"), FakeServer("db1", "m1.large", "c1"),
                   FakeServer("web2", "m1.medium", "c2"), FakeServer("app1", "m1.medium", "c2"),
                   FakeServer("app2", "m1.medium", "c2"), FakeServer("old1", "m1.small", "c2",
                                                                     status="SHUTOFF"),
                   FakeServer("web3", "m1.medium", "c3"), FakeServer("cache1", "m1.small", "c3"),
                   FakeServer("batch1", "m1.large", "c4"), FakeServer("batch2", "m1.small", "c4")]
        groups = {"web": ("anti-affinity", ["web1", "web2", "web3"]),
                  "apps": ("soft-anti-affinity", ["app1", "app2"])}
        return cls(hosts, servers, groups=groups, aggregates={"rack1": ["c1", "c2"]},
                   migration_seconds=migration_seconds)


    @classmethod
    def timed(cls, clock, bandwidth: float = 1250.0) -> FakeCloud:
        """Four hosts whose migrations last RAM / ``bandwidth`` on ``clock``: ``big1`` (32 GiB) must wait
        on c1 until ``x1`` has left c2 to make room, and three small VMs go from c3 to c4 one at a time.
        """
        def inventory(ram):
            return {"MEMORY_MB": {"total": ram, "reserved": 0, "allocation_ratio": 1.0},
                    "VCPU": {"total": 64, "reserved": 0, "allocation_ratio": 4.0},
                    "DISK_GB": {"total": 2000, "reserved": 0, "allocation_ratio": 1.0}}
        hosts = [FakeHost("c1", inventory(40960)), FakeHost("c2", inventory(36864)),
                 FakeHost("c3", inventory(65536)), FakeHost("c4", inventory(65536))]
        servers = [FakeServer("big1", "m1.xlarge", "c1"), FakeServer("x1", "m1.medium", "c2"),
                   FakeServer("x2", "m1.small", "c2"),
                   *(FakeServer(f"s{k}", "m1.small", "c3") for k in (1, 2, 3))]
        return cls(hosts, servers, bandwidth=bandwidth, clock=clock)


EXAMPLE_TARGET = {"db1": "c2", "app1": "c1", "app2": "c1", "batch1": "c3", "batch2": "c1"}
TIMED_TARGET = {"big1": "c2", "x1": "c3", "s1": "c4", "s2": "c4", "s3": "c4"}


# ------------------------------------------------------------------ the APIs
class _Handler(BaseHTTPRequestHandler):
    cloud: FakeCloud
    base: str

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status: int, body=None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        cloud = self.cloud
        with cloud.lock:
            cloud.requests.append(f"{method} {path}")
            cloud.tick()
            fault = cloud._fault(method, path)
            for pattern, route_method, handler in _ROUTES:
                match = re.fullmatch(pattern, path)
                if match and method == route_method:
                    if fault is None or fault[2]:
                        status, payload, headers = handler(self, *match.groups(), query=query, body=body)
                    if fault is not None:
                        return self._send(500, {"computeFault": {"code": 500, "message": "injected fault"}})
                    return self._send(status, payload, headers)
        self._send(404, {"itemNotFound": {"code": 404, "message": f"no route {method} {path}"}})


def _identity_version(h, **_):
    return 200, {"version": {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                             "links": [{"rel": "self", "href": f"{h.base}/identity/v3/"}],
                             "media-types": [{"base": "application/json",
                                              "type": "application/vnd.openstack.identity-v3+json"}]}}, None


def _token(h, *, body, **_):
    catalog = [{"type": kind, "name": name, "id": _uuid(name), "endpoints": [
        {"id": _uuid(f"{name}-{iface}"), "interface": iface, "region": "RegionOne",
         "region_id": "RegionOne", "url": f"{h.base}/{path}"} for iface in ("public", "internal", "admin")]}
        for kind, name, path in (("identity", "keystone", "identity"), ("compute", "nova", "compute/v2.1"),
                                 ("placement", "placement", "placement"))]
    project = {"id": _uuid("admin-project"), "name": "admin", "domain": {"id": "default", "name": "Default"}}
    token = {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
             "issued_at": "2026-01-01T00:00:00.000000Z",
             "user": {"id": _uuid("admin"), "name": "admin", "domain": {"id": "default", "name": "Default"},
                      "password_expires_at": None},
             "project": project, "roles": [{"id": _uuid("admin-role"), "name": "admin"}],
             "catalog": catalog}
    return 201, {"token": token}, {"X-Subject-Token": "fake-token"}


def _flavor_id(name: str) -> str:
    return _uuid(f"flavor-{name}")


def _compute_versions(h, **_):
    return 200, {"versions": [_compute_version(h)]}, None


def _compute_version(h):
    return {"id": "v2.1", "status": "CURRENT", "version": h.cloud.max_microversion, "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{h.base}/compute/v2.1/"}]}


def _compute_root(h, **_):
    return 200, {"version": _compute_version(h)}, None


def _placement_root(h, **_):
    return 200, {"versions": [{"id": "v1.0", "max_version": PLACEMENT_MAX_MICROVERSION,
                               "min_version": "1.0", "status": "CURRENT",
                               "links": [{"rel": "self", "href": ""}]}]}, None


def _server_json(cloud: FakeCloud, s: FakeServer) -> dict:
    f = FLAVORS[s.flavor]
    flavor = {"original_name": s.flavor, "ram": f["ram"], "vcpus": f["vcpus"], "disk": f["disk"],
              "ephemeral": 0, "swap": 0, "extra_specs": {}}
    if tuple(map(int, cloud.max_microversion.split("."))) < (2, 47):
        flavor = {"id": _flavor_id(s.flavor), "links": []}
    return {"id": s.id, "name": s.name, "status": s.status, "OS-EXT-STS:task_state": s.task_state,
            "OS-EXT-STS:vm_state": "stopped" if s.status == "SHUTOFF" else "active",
            "OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": cloud.hosts[s.host].node,
            "flavor": flavor,
            "image": {"id": _uuid("cirros")}, "tenant_id": _uuid("admin-project"), "user_id": _uuid("admin"),
            "addresses": {}, "metadata": {}, "links": [], "OS-EXT-AZ:availability_zone": "nova"}


def _servers(h, *, query, **_):
    servers = [s for s in h.cloud.servers.values() if query.get("host") in (None, s.host)]
    return 200, {"servers": [_server_json(h.cloud, s) for s in servers]}, None


def _no_server(server_id):
    return 404, {"itemNotFound": {"code": 404, "message": f"Instance {server_id} could not be found."}}, None


def _server(h, server_id, **_):
    s = h.cloud.servers.get(server_id)
    if s is None:
        return _no_server(server_id)
    return 200, {"server": _server_json(h.cloud, s)}, None


def _flavor(h, flavor_id, **_):
    name = next((n for n in FLAVORS if _flavor_id(n) == flavor_id), None)
    if name is None:
        return 404, {"itemNotFound": {"code": 404, "message": f"Flavor {flavor_id} not found."}}, None
    f = FLAVORS[name]
    return 200, {"flavor": {"id": flavor_id, "name": name, "ram": f["ram"], "vcpus": f["vcpus"],
                            "disk": f["disk"], "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "links": []}}, None


def _server_action(h, server_id, *, body, **_):
    s = h.cloud.servers.get(server_id)
    if s is None:
        return _no_server(server_id)
    if not body or "os-migrateLive" not in body:
        return 400, {"badRequest": {"code": 400, "message": "only os-migrateLive is faked"}}, None
    error = h.cloud.live_migrate(s, body["os-migrateLive"].get("host"))
    if error:
        return 400, {"badRequest": {"code": 400, "message": error}}, None
    return 202, None, None


def _migrations(h, *, query, **_):
    out = [{"id": m.id, "instance_uuid": m.server.id, "source_compute": m.source, "dest_compute": m.dest,
            "status": m.status, "migration_type": "live-migration"} for m in h.cloud.migrations
           if query.get("instance_uuid") in (None, m.server.id)]
    return 200, {"migrations": out}, None


def _services(h, **_):
    return 200, {"services": [
        {"id": _uuid(f"svc-{n}"), "binary": "nova-compute", "host": n, "zone": "nova",
         "status": "enabled" if x.enabled else "disabled", "state": "up" if x.up else "down",
         "disabled_reason": None if x.enabled else "maintenance", "forced_down": False,
         "updated_at": "2026-01-01T00:00:00.000000"} for n, x in h.cloud.hosts.items()]}, None


def _hypervisors(h, **_):
    return 200, {"hypervisors": [
        {"id": x.uuid, "hypervisor_hostname": x.node, "state": "up" if x.up else "down",
         "status": "enabled" if x.enabled else "disabled", "hypervisor_type": "QEMU", "host_ip": "127.0.0.1",
         "service": {"host": n, "id": _uuid(f"svc-{n}"), "disabled_reason": None}}
        for n, x in h.cloud.hosts.items()]}, None


def _aggregates(h, **_):
    return 200, {"aggregates": [{"id": i + 1, "uuid": _uuid(f"agg-{name}"), "name": name, "hosts": hosts,
                                 "availability_zone": None, "metadata": {}, "deleted": False}
                                for i, (name, hosts) in enumerate(h.cloud.aggregates.items())]}, None


def _server_groups(h, **_):
    ids = {s.name: s.id for s in h.cloud.servers.values()}
    return 200, {"server_groups": [
        {"id": _uuid(f"group-{name}"), "name": name, "policy": policy, "rules": {},
         "members": [ids[m] for m in members if m in ids],
         "project_id": _uuid("admin-project"), "user_id": _uuid("admin")}
        for name, (policy, members) in h.cloud.groups.items()]}, None


def _providers(h, **_):
    return 200, {"resource_providers": [
        {"uuid": x.uuid, "name": x.node, "generation": 1, "parent_provider_uuid": None,
         "root_provider_uuid": x.uuid, "links": []} for x in h.cloud.hosts.values()]}, None


def _provider(h, rp_uuid):
    return next((x for x in h.cloud.hosts.values() if x.uuid == rp_uuid), None)


def _inventories(h, rp_uuid, **_):
    host = _provider(h, rp_uuid)
    if host is None:
        return 404, {"errors": [{"status": 404, "title": "Not Found"}]}, None
    inventories = {rc: {"total": inv["total"], "reserved": inv["reserved"], "min_unit": 1,
                        "max_unit": inv["total"], "step_size": 1, "allocation_ratio": inv["allocation_ratio"]}
                   for rc, inv in host.inventory.items()}
    return 200, {"resource_provider_generation": 1, "inventories": inventories}, None


def _usages(h, rp_uuid, **_):
    host = _provider(h, rp_uuid)
    if host is None:
        return 404, {"errors": [{"status": 404, "title": "Not Found"}]}, None
    return 200, {"resource_provider_generation": 1, "usages": h.cloud.usage(host.name)}, None


_ROUTES = [
    (r"/identity/v3", "GET", _identity_version),
    (r"/identity/v3/auth/tokens", "POST", _token),
    (r"/compute", "GET", _compute_versions),
    (r"/compute/v2\.1", "GET", _compute_root),
    (r"/compute/v2\.1/servers/detail", "GET", _servers),
    (r"/compute/v2\.1/servers/([^/]+)", "GET", _server),
    (r"/compute/v2\.1/servers/([^/]+)/action", "POST", _server_action),
    (r"/compute/v2\.1/flavors/([^/]+)", "GET", _flavor),
    (r"/compute/v2\.1/os-migrations", "GET", _migrations),
    (r"/compute/v2\.1/os-services", "GET", _services),
    (r"/compute/v2\.1/os-hypervisors/detail", "GET", _hypervisors),
    (r"/compute/v2\.1/os-aggregates", "GET", _aggregates),
    (r"/compute/v2\.1/os-server-groups", "GET", _server_groups),
    (r"/placement", "GET", _placement_root),
    (r"/placement/resource_providers", "GET", _providers),
    (r"/placement/resource_providers/([^/]+)/inventories", "GET", _inventories),
    (r"/placement/resource_providers/([^/]+)/usages", "GET", _usages),
]


@contextlib.contextmanager
def serve(cloud: FakeCloud):
    """Serve ``cloud`` on 127.0.0.1 (a free port) for the duration of the block; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = type("Handler", (_Handler,), {"cloud": cloud, "base": base})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def clouds_yaml(base: str) -> str:
    """A clouds.yaml naming the fake cloud ``fake``."""
    return (f"clouds:\n  fake:\n    auth:\n      auth_url: {base}/identity/v3\n      username: admin\n"
            f"      password: secret\n      project_name: admin\n      user_domain_name: Default\n"
            f"      project_domain_name: Default\n    region_name: RegionOne\n"
            f"    identity_api_version: 3\n")
