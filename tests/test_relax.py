"""`plan --relax` and `cpplan.plan(..., relax=True)`: the least change that makes an unreachable B
reachable, against a brute force over every set of VMs moved offline, the relaxed instance that
validates the plan, the VMs never proposed, and the command line's outputs."""

from __future__ import annotations

import copy
import itertools
import json

import numpy as np
import pytest

import cpplan
from cpplan.cli import main
from cpplan.errors import InputError
from cpplan.model import Instance
from cpplan.relax import OFFLINE_PENALTY, relaxed_instance, relaxed_path

# Two full hosts swapping their VMs, two migrations per host: only moving both offline reaches B.
SWAP = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}},
        "vms": {"a": {"ram": 4}, "b": {"ram": 4, "cost": 10}},
        "initial": {"a": "h1", "b": "h2"}, "target": {"a": "h2", "b": "h1"}, "limits": {"host": 2}}


def deadlocked(seed: int) -> dict:
    """A small cloud of (nearly) full hosts whose moving VMs trade places, some hosts with room for a
    small VM only, some VMs pinned, `live: true` or in a `no_downtime` group."""
    rng = np.random.default_rng(seed)
    n_hosts = int(rng.integers(2, 4))
    sizes = rng.choice([2, 4, 4], size=n_hosts * 2)
    hosts = np.repeat(np.arange(n_hosts), 2)
    keep = rng.random(len(hosts)) < 0.8
    keep[::2] = True  # every host holds a VM
    sizes, hosts = sizes[keep], hosts[keep]
    target = hosts.copy()
    for s in np.unique(sizes):
        members = np.flatnonzero(sizes == s)
        if len(set(hosts[members])) > 1:
            target[members] = np.roll(hosts[members], 1)
    names = [f"v{j}" for j in range(len(sizes))]
    slack = np.where(rng.random(n_hosts) < 0.5, 2, 0)  # room for a small VM, never for a large one
    data = {"hosts": {f"h{i}": {"ram": int(sizes[hosts == i].sum() + slack[i])} for i in range(n_hosts)},
            "vms": {n: {"ram": int(s), "cost": int(rng.integers(1, 9))}
                    for n, s in zip(names, sizes, strict=True)},
            "initial": {n: f"h{h}" for n, h in zip(names, hosts, strict=True)},
            "target": {n: f"h{t}" for n, t, h in zip(names, target, hosts, strict=True) if t != h},
            "limits": {"host": 2}}
    shielded = [n for n in names if rng.random() < 0.25]
    for n, how in zip(shielded, itertools.cycle(("live", "group", "pinned"))):
        if how == "live":
            data["vms"][n]["live"] = True
        elif how == "group":
            data.setdefault("groups", {})[f"g{n}"] = {"vms": [n], "no_downtime": True}
        elif n not in data["target"]:
            data.setdefault("pinned", []).append(n)
    return data


def eligible(data: dict) -> list[str]:
    """The VMs a relaxation may move offline, read from the file's keys alone."""
    shielded = set(data.get("pinned", []))
    shielded |= {n for n, spec in data["vms"].items() if spec.get("live") is True}
    shielded |= {n for g in data.get("groups", {}).values() if g.get("no_downtime") for n in g["vms"]}
    return [n for n in data["vms"] if n not in shielded]


def brute_force(data: dict, largest: int = 3):
    """(fewest VMs moved offline, least plan cost with that many), over every set of eligible VMs of
    at most ``largest`` (where the exact search is complete), each planned exactly; None when none works."""
    names = eligible(data)
    for size in range(min(largest, len(names)) + 1):
        costs = []
        for chosen in itertools.combinations(names, size):
            spec = copy.deepcopy(data)
            for n in chosen:
                spec["vms"][n]["offline_cost"] = OFFLINE_PENALTY * spec["vms"][n]["cost"]
            answer = cpplan.plan(Instance(**spec), "exact", time_limit=60)
            assert answer.status in ("optimal", "infeasible")
            if answer.found:
                costs.append(answer.cost)
        if costs:
            return size, min(costs)
    return None


CASES = [(data, truth) for data in map(deadlocked, range(40)) if data["target"]
         and (truth := brute_force(data)) is not None and truth[0] > 0][:6]
CLOUDS = [data for data, _ in CASES]


def test_the_clouds_are_unreachable_and_varied():
    assert len(CLOUDS) == 6
    assert {len(c["hosts"]) for c in CLOUDS} == {2, 3}
    assert all(cpplan.plan(Instance(**c), "exact").status == "infeasible" for c in CLOUDS)
    assert any(len(eligible(c)) < len(c["vms"]) for c in CLOUDS)
    assert any(truth[0] < len(c["target"]) for c, truth in CASES)  # not every moving VM goes offline


@pytest.mark.parametrize("planner", ["exact", "auto", "cp"])
@pytest.mark.parametrize("index", range(len(CLOUDS)))
def test_fewest_and_cheapest_offline_vms_as_the_brute_force(index, planner):
    data = CLOUDS[index]
    inst = Instance(**data)
    result = cpplan.plan(inst, planner, time_limit=20, relax=True)
    relaxation = result.relaxation
    assert relaxation["kind"] == "offline"
    # cp says unknown where only exact (or a certificate) proves that no plan exists
    assert relaxation["original_status"] in ({"infeasible", "unknown"} if planner == "cp" else {"infeasible"})
    assert (len(relaxation["vms"]), result.cost) == CASES[index][1]
    assert set(relaxation["vms"]) <= set(eligible(data))
    assert cpplan.validate(relaxed_instance(inst, relaxation), result) == []
    if planner == "exact":
        assert relaxation["proven"] is True


@pytest.mark.parametrize("index", range(len(CLOUDS)))
def test_greedy_finds_a_valid_relaxation_never_below_the_least(index):
    data = CLOUDS[index]
    inst = Instance(**data)
    result = cpplan.plan(inst, "greedy", time_limit=20, relax=True)
    fewest, _ = CASES[index][1]
    relaxation = result.relaxation
    assert relaxation["kind"] == "offline"
    assert len(relaxation["vms"]) >= fewest and set(relaxation["vms"]) <= set(eligible(data))
    relaxed = relaxed_instance(inst, relaxation)
    assert cpplan.validate(relaxed, result) == []
    offline = [m["vm"] for r in result.rounds for m in r if m.get("mode") == "offline"]
    assert relaxation["reboots"] == len(offline) and set(offline) == set(relaxation["vms"])
    premium = sum(relaxed.offline_cost[relaxed.vm_index[v]] - relaxed.live_cost[relaxed.vm_index[v]]
                  for v in offline)
    assert relaxation["extra_cost"] == pytest.approx(premium)


def test_the_relaxed_instance_adds_only_the_offline_costs():
    inst = Instance(**SWAP)
    result = cpplan.plan(inst, "exact", relax=True)
    assert result.relaxation["vms"] == {"a": 8, "b": 20}
    assert result.relaxation["summary"] == "reachable if a and b move offline: +2 reboots, cost +14"
    spec = relaxed_instance(inst, result.relaxation).to_dict()
    expected = copy.deepcopy(SWAP)
    expected["vms"]["a"]["offline_cost"], expected["vms"]["b"]["offline_cost"] = 8, 20
    assert spec == expected
    assert cpplan.validate(inst, result) != []  # not a plan of the cloud as it stands


def test_a_no_downtime_vm_is_never_proposed():
    """The swap needs both VMs offline, but a's group forbids its downtime: no offline relaxation is
    proposed, and one spare host (a bounce through it) reaches B instead."""
    data = copy.deepcopy(SWAP)
    data["groups"] = {"db": {"vms": ["a"], "no_downtime": True}}
    result = cpplan.plan(Instance(**data), "auto", relax=True)
    assert result.relaxation["kind"] == "spare_host"
    assert result.relaxation["host"]["name"] == "spare" and result.relaxation["host"]["like"] == "h1"
    relaxed = relaxed_instance(Instance(**data), result.relaxation)
    assert cpplan.validate(relaxed, result) == []
    assert all(m.get("mode") != "offline" for r in result.rounds for m in r)
    spare = relaxed.host_index["spare"]
    assert (relaxed.initial != spare).all() and (relaxed.target != spare).all()


@pytest.mark.parametrize("shield", ["pinned", "live", "offline_cost"])
def test_pinned_live_true_and_already_offline_vms_are_not_proposed(shield):
    """Three hosts rotate their VMs; each of x, y, z may be shielded, and the relaxation offers the others."""
    data = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}, "h4": {"ram": 4}},
            "vms": {"x": {"ram": 4}, "y": {"ram": 4}, "p": {"ram": 4}, "q": {"ram": 4}},
            "initial": {"x": "h1", "y": "h2", "p": "h3", "q": "h4"},
            "target": {"x": "h2", "y": "h1", "p": "h4", "q": "h3"}, "limits": {"host": 2}}
    if shield == "pinned":  # x and y cannot swap at all: pinned means no migration
        data["target"] = {"p": "h4", "q": "h3"}
        data["pinned"] = ["x"]
    elif shield == "live":
        data["vms"]["x"]["live"] = True
    else:
        data["vms"]["x"]["offline_cost"] = 5
    inst = Instance(**data)
    result = cpplan.plan(inst, "exact", relax=True)
    proposed = set(result.relaxation.get("vms", {}))
    assert "x" not in proposed
    if shield == "live":  # x must move live: the x-y swap needs another relaxation
        assert result.relaxation["kind"] == "spare_host"
    else:
        assert result.relaxation["kind"] == "offline" and proposed >= {"p", "q"}
    assert cpplan.validate(relaxed_instance(inst, result.relaxation), result) == []


def test_limits_raised_by_one_when_nothing_else_helps():
    data = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4, "max_migrations": 0}},
            "vms": {"a": {"ram": 1}}, "initial": {"a": "h1"}, "target": {"a": "h2"},
            "links": {"up": {"hosts": ["h2"], "max_migrations": 1}}}
    inst = Instance(**data)
    result = cpplan.plan(inst, "auto", relax=True)
    assert result.relaxation["kind"] == "limits"
    assert result.relaxation["raised"] == {"limits.host": [1, 2], "hosts.h2.max_migrations": [0, 1],
                                           "links.up.max_migrations": [1, 2]}
    relaxed = relaxed_instance(inst, result.relaxation)
    assert relaxed.host_limit.tolist() == [2, 1] and relaxed.links[0].max_migrations == 2
    assert cpplan.validate(relaxed, result) == [] and result.found


def test_nothing_helps_a_group_that_allows_no_migration(write_instance, tmp_path, capsys):
    """A group with max_migrating 0 is a service level no relaxation lifts: the answer stays
    infeasible, says so, and no relaxed instance is written."""
    data = {"hosts": {"h1": {"ram": 4}, "h2": {"ram": 4}}, "vms": {"a": {"ram": 1}},
            "initial": {"a": "h1"}, "target": {"a": "h2"},
            "groups": {"g": {"vms": ["a"], "max_migrating": 0}}}
    result = cpplan.plan(Instance(**data), "auto", relax=True)
    assert result.status == "infeasible" and result.relaxation is None
    assert result.reason.endswith("no single relaxation (offline moves, a spare host, one more migration "
                                  "per host) reached B within the time limit")
    code, _, err = plan_cli(capsys, write_instance(data), "--relax", "-o", tmp_path / "plan.json")
    assert code == 3 and "no single relaxation" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml", "plan.json"]


def test_a_reachable_target_is_planned_as_without_relax():
    data = copy.deepcopy(SWAP)
    data["hosts"]["h3"] = {"ram": 4}
    plain = cpplan.plan(Instance(**data), "exact")
    relaxed = cpplan.plan(Instance(**data), "exact", relax=True)
    assert relaxed.relaxation is None and relaxed.routes() == plain.routes()
    assert relaxed.cost == plain.cost == 18  # a bounces through h3


def test_the_offline_penalty_prices_the_offline_moves():
    result = cpplan.plan(Instance(**SWAP), "exact", relax=True, offline_penalty=3)
    assert result.relaxation["vms"] == {"a": 12, "b": 30} and result.cost == 42
    with pytest.raises(InputError, match="offline_penalty: must be a number at least 1"):
        cpplan.plan(Instance(**SWAP), "exact", relax=True, offline_penalty=0.5)


def test_no_downtime_must_be_a_boolean():
    data = copy.deepcopy(SWAP)
    data["groups"] = {"db": {"vms": ["a"], "no_downtime": "yes"}}
    with pytest.raises(InputError, match=r"groups\.db\.no_downtime"):
        Instance(**data, source="cloud.yaml")


def plan_cli(capsys, *args):
    code = main(["plan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_the_plan_and_the_relaxed_instance(write_instance, tmp_path, capsys):
    cloud = write_instance(SWAP)
    output = tmp_path / "plan.json"
    code, out, err = plan_cli(capsys, cloud, "--relax", "--planner", "exact", "-o", output)
    assert code == 3 and out == ""  # B is still unreachable as the instance stands
    assert "infeasible as given; reachable if a and b move offline: +2 reboots, cost +14; relaxed: " \
           "optimal (exact): cost 28" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml", "plan.json", "plan.relaxed.yaml"]
    data = json.loads(output.read_text())
    assert data["relaxation"]["kind"] == "offline" and data["status"] == "optimal"
    relaxed = tmp_path / "plan.relaxed.yaml"
    assert main(["validate", str(relaxed), str(output)]) == 0
    assert main(["validate", str(cloud), str(output)]) == 1
    assert cpplan.load_plan(output).relaxation == data["relaxation"]


def test_cli_without_output_prints_the_relaxation_in_the_plan(write_instance, tmp_path, capsys):
    code, out, err = plan_cli(capsys, write_instance(SWAP), "--relax", "--offline-penalty", "1.5", "-q")
    assert code == 3 and err == ""
    assert json.loads(out)["relaxation"]["vms"] == {"a": 6, "b": 15}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml"]


@pytest.mark.parametrize("args, message", [
    (["--relax", "--offline-penalty", "0.5"], "--offline-penalty: must be a number at least 1"),
    (["--relax", "--offline-penalty", "nan"], "--offline-penalty: must be a number at least 1"),
    (["--offline-penalty", "2"], "--offline-penalty: prices the offline moves of --relax"),
    (["--relax", "--goal", "consolidate"], "--relax: relaxes the instance's own target"),
])
def test_cli_bad_relax_options_write_nothing(write_instance, tmp_path, capsys, args, message):
    code, out, err = plan_cli(capsys, write_instance(SWAP), *args, "-o", tmp_path / "plan.json")
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml"]


def test_cli_refuses_a_relaxed_file_that_is_the_input(tmp_path, capsys, write_instance):
    cloud = write_instance(SWAP, "plan.relaxed.yaml")
    code, _, err = plan_cli(capsys, cloud, "--relax", "-o", tmp_path / "plan.json")
    assert code == 2 and "plan.relaxed.yaml: -o: is the input file plan.relaxed.yaml" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.relaxed.yaml"]
    assert cloud.read_text().startswith("hosts:")


def test_cli_bad_no_downtime_is_one_line(write_instance, tmp_path, capsys):
    data = copy.deepcopy(SWAP)
    data["groups"] = {"db": {"vms": ["a"], "no_downtime": 1}}
    code, out, err = plan_cli(capsys, write_instance(data), "--relax", "-o", tmp_path / "plan.json")
    assert code == 2
    assert err.strip() == "cpplan: cloud.yaml: groups.db.no_downtime: must be true or false, got 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.yaml"]


def test_relaxed_path_sits_beside_the_plan():
    assert relaxed_path("plan.json") == "plan.relaxed.yaml"
    assert relaxed_path("out/p") == "out/p.relaxed.yaml"
