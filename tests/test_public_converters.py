"""The converters of public benchmark data (benchmarks/public/) on small files written in their formats."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cpplan

PUBLIC = Path(__file__).resolve().parent.parent / "benchmarks" / "public"

# ROADEF 2012: 2 resources (the second transient), 3 machines, 2 services, 4 processes, no balance cost.
ROADEF_MODEL = """2
0 10
1 10
3
0 0 10 20 8 16 0 1 2
0 1 10 20 8 16 1 0 1
1 2 6 9 5 8 2 1 0
2
1 0
1 1 0
4
0 3 5 1
0 4 2 1
1 2 2 0
1 6 1 3
0
1 10 100
"""


def run(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PUBLIC / script), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_roadef_conversion_keeps_capacities_placements_and_services(tmp_path):
    (tmp_path / "model.txt").write_text(ROADEF_MODEL)
    (tmp_path / "a.txt").write_text("0 1 1 2\n")
    (tmp_path / "b.txt").write_text("1 0 0 2\n")
    out = tmp_path / "x.yaml"
    done = run("roadef2012.py", tmp_path / "model.txt", tmp_path / "a.txt", tmp_path / "b.txt", "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("# ROADEF/EURO 2012")
    inst = cpplan.load_instance(out)
    assert list(inst.host_names) == ["m0", "m1", "m2"] and list(inst.resources) == ["ram", "r1"]
    assert inst.capacity[2].tolist() == [6, 9]
    assert inst.demand[3].tolist() == [6, 1]
    assert [inst.host_names[h] for h in inst.initial] == ["m0", "m1", "m1", "m2"]
    assert [inst.host_names[h] for h in inst.target] == ["m1", "m0", "m0", "m2"]
    assert [(g.name, g.anti_affinity, sorted(inst.vm_names[v] for v in g.vms)) for g in inst.groups] == [
        ("s0", True, ["p0", "p1"]), ("s1", True, ["p2", "p3"])]
    plan = cpplan.plan(inst, planner="exact", time_limit=20)
    assert plan.status == "optimal" and cpplan.validate(inst, plan) == []


def test_roadef_without_new_assignment_has_no_target_and_ram_is_chosen(tmp_path):
    (tmp_path / "model.txt").write_text(ROADEF_MODEL)
    (tmp_path / "a.txt").write_text("0 1 1 2\n")
    out = tmp_path / "x.json"
    done = run("roadef2012.py", tmp_path / "model.txt", tmp_path / "a.txt", "--ram", "1", "-o", out)
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert "target" not in data and data["vms"]["p0"] == {"r0": 3, "ram": 5}
    assert "dropped:" in done.stderr


@pytest.mark.parametrize("assignment, problem", [
    ("0 1 1", "ends early"),
    ("0 1 1 7", "machine 7 does not exist"),
    ("0 1 1 2 1", "5 machines for 4 processes"),
    ("0 x 1 2", "not a list of integers"),
])
def test_roadef_bad_files_exit_2_with_one_line(tmp_path, assignment, problem):
    (tmp_path / "model.txt").write_text(ROADEF_MODEL)
    (tmp_path / "a.txt").write_text(assignment)
    out = tmp_path / "x.yaml"
    done = run("roadef2012.py", tmp_path / "model.txt", tmp_path / "a.txt", "-o", out)
    assert done.returncode == 2 and problem in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def btrplace_doc() -> dict:
    """Four nodes (node 2 to go offline, node 3 offline already), four running VMs, one VM still to boot."""
    return {"model": {
        "mapping": {"onlineNodes": {"0": {"runningVMs": [0], "sleepingVMs": []},
                                    "1": {"runningVMs": [1, 2], "sleepingVMs": []},
                                    "2": {"runningVMs": [3], "sleepingVMs": []}},
                    "offlineNodes": [3], "readyVMs": [4]},
        "attributes": {},
        "views": [{"id": "shareableResource", "rcId": "memory", "defCapacity": 0, "defConsumption": 0,
                   "nodes": {"0": 16, "1": 16, "2": 16, "3": 16}, "vms": {"0": 4, "1": 4, "2": 8, "3": 2}},
                  {"id": "shareableResource", "rcId": "uCpu", "defCapacity": 0, "defConsumption": 0,
                   "nodes": {"0": 10, "1": 10, "2": 10, "3": 10}, "vms": {"0": 6, "1": 2, "2": 1, "3": 1}},
                  {"id": "ns", "type": "vm", "map": {}}]},
        "constraints": [{"id": "preserve", "rc": "uCpu", "amount": 9, "vm": 1, "continuous": False},
                        {"id": "preserve", "rc": "uCpu", "amount": 1, "vm": 0, "continuous": False},
                        {"id": "spread", "vms": [0, 1, 4], "continuous": True},
                        {"id": "spread", "vms": [3, 4], "continuous": True},
                        {"id": "offline", "node": 2, "continuous": False},
                        {"id": "offline", "node": 2, "continuous": False},
                        {"id": "online", "node": 0, "continuous": False},
                        {"id": "running", "vm": 4, "continuous": False}],
        "objective": {"id": "minimizeMTTR"}}


def test_btrplace_conversion_raises_demands_spreads_and_drains(tmp_path):
    src = tmp_path / "li.gz"
    src.write_bytes(gzip.compress(json.dumps(btrplace_doc()).encode()))
    out = tmp_path / "li.yaml"
    done = run("btrplace.py", src, "-o", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# BtrPlace instance li.gz")
    assert "1 preserve raised a demand" in text and "1 running" in text
    inst = cpplan.load_instance(out)
    assert list(inst.resources) == ["ram", "cpu"] and inst.n_hosts == 4 and inst.n_vms == 4
    assert inst.demand[inst.vm_names.index("vm1")].tolist() == [4, 9]   # raised from 2
    assert inst.demand[inst.vm_names.index("vm0")].tolist() == [4, 6]   # preserve below: kept
    assert [(g.name, sorted(inst.vm_names[v] for v in g.vms)) for g in inst.groups] == [
        ("spread0", ["vm0", "vm1"])]     # the VM still to boot is left out; a group of one is no rule
    assert inst.moving.sum() == 1 and inst.vm_names[int(inst.moving.nonzero()[0][0])] == "vm3"
    assert cpplan.load_instance(out).to_dict()["drain"] == ["n2"]


def test_btrplace_bad_input_exits_2(tmp_path):
    src = tmp_path / "x.gz"
    src.write_bytes(gzip.compress(b'{"model": {}}'))
    done = run("btrplace.py", src, "-o", tmp_path / "x.yaml")
    assert done.returncode == 2 and "not a BtrPlace instance" in done.stderr
    src.write_bytes(b"\x1f\x8bnot gzip")
    done = run("btrplace.py", src, "-o", tmp_path / "x.yaml")
    assert done.returncode == 2 and "not gzipped JSON" in done.stderr
    assert not (tmp_path / "x.yaml").exists()
