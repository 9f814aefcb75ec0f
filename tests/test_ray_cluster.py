"""A real two-node Ray cluster on the loopback interface: experiments and --workers run on it as here.

The cluster is this test's own: ``ray start --head`` and a second ``ray start --address`` node,
one CPU each, on free ports, under a temporary directory of their own, without a dashboard, with a
token of their own (Ray's token authentication; a token in ``~/.ray`` is neither read nor
needed). They listen on 127.0.0.2, a loopback address: Ray replaces 127.0.0.1 by the machine's
outward address. Both ``ray start --block`` processes and everything they started are killed by
process id whatever happens, so no other Ray instance on the machine is touched and no process
is left. Each step has a subprocess timeout.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers import MODELS, racks, write_file

from cpplan import load_instance, plan
from cpplan.experiments import load_experiment, run_experiment
from cpplan.generate import generate

LOOPBACK = "127.0.0.2"
STEP_SECONDS = 120  # any one subprocess; the whole test takes well under a minute when the machine is idle
BIN = Path(sys.executable).parent

# CI installs the ray extra, so there this test always runs; elsewhere it needs pip install cpplan[ray]
pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
                                reason="ray is not installed (optional extra: pip install cpplan[ray])")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind((LOOPBACK, 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_node(extra: list[str], temp: str, env: dict, log) -> subprocess.Popen:
    """``ray start --block`` of one node, every port its own, in a session of its own."""
    p = _free_ports(7)
    command = [str(BIN / "ray"), "start", "--block", "--node-ip-address", LOOPBACK, "--num-cpus", "1",
               "--temp-dir", temp, "--object-store-memory", str(80 * 2**20), "--disable-usage-stats",
               "--node-manager-port", str(p[0]), "--object-manager-port", str(p[1]),
               "--min-worker-port", str(p[2]), "--max-worker-port", str(p[2] + 30),
               "--dashboard-agent-listen-port", str(p[3]), "--dashboard-agent-grpc-port", str(p[4]),
               "--metrics-export-port", str(p[5]), "--runtime-env-agent-port", str(p[6]), *extra]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process it started, children first listed after their parent."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid] + [q for child in children for q in _descendants(int(child))]


def _stop(nodes: list[subprocess.Popen]) -> list[int]:
    """Kill every process of ``nodes`` by id; returns those still alive afterwards."""
    pids = [q for node in nodes for q in _descendants(node.pid)]
    for pid in pids:
        with_pid = Path(f"/proc/{pid}")
        if with_pid.exists():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for node in nodes:
        node.wait(STEP_SECONDS)
    time.sleep(0.5)
    return [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster():
    """The address and environment of a running two-node cluster of one CPU each."""
    temp = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: unix socket paths hold 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env.pop("RAY_ADDRESS", None)
    port, = _free_ports(1)
    address = f"{LOOPBACK}:{port}"
    nodes = []
    with open(Path(temp) / "start.log", "w") as log:
        try:
            nodes.append(_start_node(["--head", "--port", str(port), "--include-dashboard", "false"],
                                     temp, env, log))
            _wait_for_port(port, nodes[0], temp)
            nodes.append(_start_node(["--address", address], temp, env, log))
            _wait_for_cpus(address, 2, env)
            yield address, {**env, "RAY_ADDRESS": address}
        finally:
            left = _stop(nodes)
            shutil.rmtree(temp, ignore_errors=True)
            assert not left, f"Ray processes left running: {left}"


def _wait_for_port(port: int, head: subprocess.Popen, temp: str) -> None:
    deadline = time.monotonic() + STEP_SECONDS
    while time.monotonic() < deadline:
        assert head.poll() is None, (Path(temp) / "start.log").read_text()[-3000:]
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the head node did not open its port")


def _wait_for_cpus(address: str, cpus: int, env: dict) -> None:
    code = ("import ray, time\n"
            f"ray.init(address={address!r}, log_to_driver=False)\n"
            f"while ray.cluster_resources().get('CPU', 0) < {cpus}: time.sleep(0.3)\n"
            "print(len([n for n in ray.nodes() if n['Alive']]))\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=STEP_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "2"


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: row[k] for k in ("instance", "planner", "status", "cost", "rounds", "lower_bound",
                                     "rounds_lower_bound", "valid")} for row in csv.DictReader(f)]


def test_an_experiment_on_the_cluster_gives_the_local_rows(cluster, tmp_path):
    _, env = cluster
    exp_file = write_file(tmp_path / "exp.yaml", {
        "name": "on-a-cluster", "time_limit": 10, "planners": ["greedy", "cp", "exact"],
        "instances": [{"file": str(MODELS / "swap-deadlock.yaml")},
                      {"generate": {"family": "tight", "hosts": 4, "seed": 1}}]})
    done = subprocess.run([str(BIN / "cpplan"), "experiment", str(exp_file), "-o", str(tmp_path / "ray"),
                           "--ray", "--no-plots", "-q"], env=env, capture_output=True, text=True,
                          timeout=STEP_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    run_experiment(load_experiment(exp_file), tmp_path / "local", executor="local")
    on_cluster, here = _rows(tmp_path / "ray" / "results.csv"), _rows(tmp_path / "local" / "results.csv")
    assert len(on_cluster) == 6 and on_cluster == here
    assert all(row["valid"] == "True" for row in on_cluster)


def test_plan_workers_on_the_cluster_cost_the_same_in_no_more_rounds(cluster, tmp_path):
    _, env = cluster
    path = write_file(tmp_path / "racks.json", racks([generate("tight", 6, seed=4).to_dict()] * 3))
    out = tmp_path / "ray.json"
    done = subprocess.run([str(BIN / "cpplan"), "plan", str(path), "--planner", "cp", "--time-limit", "60",
                           "--workers", "2", "--ray", "-o", str(out)], env=env, capture_output=True,
                          text=True, timeout=STEP_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cp: direct moves of 3 independent parts, 2 at a time (ray workers)" in done.stderr
    on_cluster, here = json.loads(out.read_text()), plan(load_instance(path), "cp", time_limit=60)
    assert on_cluster["cost"] == here.cost and len(on_cluster["rounds"]) <= here.n_rounds
    assert on_cluster["status"] == here.status == "optimal"
