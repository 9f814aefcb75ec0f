"""Execute: a plan carried out on the fake cloud, re-planned when the cloud drifts.

Plans from ``cpplan.plan`` give an ``after`` order, so most tests run by it; a
test passes ``barriers=True`` to strip the order and run round by round (see
also test_openstack_order.py for the order's timing).

The fake cloud checks every arrival against the destination's capacity, so
``overloads`` and ``over_capacity()`` staying empty means no host was ever
overloaded, even while re-planning.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time

import pytest

pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install cpplan[openstack])")
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

from fake_cloud import EXAMPLE_TARGET  # noqa: E402

import cpplan  # noqa: E402
from cpplan.cli import main  # noqa: E402
from cpplan.openstack.cloud import CloudError, Retry  # noqa: E402
from cpplan.openstack.execute import Settings, execute  # noqa: E402
from cpplan.openstack.journal import Journal, read_journal  # noqa: E402
from cpplan.openstack.snapshot import take_snapshot  # noqa: E402

PLANNER = "auto"
POLL_SECONDS = 0.02
ENDS = ("finished", "failed", "elsewhere", "vanished", "timeout", "abandoned")


def _at_target(fake) -> bool:
    where = fake.placement()
    return all(where[vm] == host for vm, host in EXAMPLE_TARGET.items())


def _run(cloud, tmp_path, *, confirm=lambda plan: True, max_replans=3, round_timeout=30, meanwhile=None,
         barriers=False):
    inst = take_snapshot(cloud).instance.replace(target=EXAMPLE_TARGET)
    plan = cpplan.plan(inst, PLANNER, time_limit=10)
    if barriers:
        plan = dataclasses.replace(plan, rounds=plan.routes())
    if meanwhile is not None:
        meanwhile()
    settings = Settings(poll_interval=POLL_SECONDS, round_timeout=round_timeout, planner=PLANNER,
                        time_limit=10, max_replans=max_replans, progress=False)
    lines: list[str] = []
    with Journal(tmp_path / "plan.journal.jsonl") as journal:
        outcome = execute(cloud, inst, plan, journal=journal, out=tmp_path / "plan", confirm=confirm,
                          say=lines.append, settings=settings)
    return outcome, read_journal(tmp_path / "plan.journal.jsonl"), "\n".join(lines)


def _every_start_has_one_end(records) -> bool:
    starts = [(r["plan"], r["round"], r["vm"]) for r in records if r["event"] == "start"]
    ends = [(r["plan"], r["round"], r["vm"]) for r in records if r["event"] in ENDS]
    return sorted(starts) == sorted(ends)


@pytest.mark.parametrize("barriers, way", [(False, "order"), (True, "round")])
def test_execute_carries_the_plan_out_and_the_cloud_ends_at_the_target(fake, cloud, tmp_path, barriers, way):
    outcome, records, _ = _run(cloud, tmp_path, barriers=barriers)
    assert outcome.status == "done" and outcome.replans == 0
    assert _at_target(fake)
    assert fake.placement()["web1"] == "c1" and fake.placement()["old1"] == "c2"
    assert fake.overloads == [] and fake.over_capacity() == []
    assert _every_start_has_one_end(records)
    assert {r["event"] for r in records} == {"plan", way, "start", "finished", "done"}
    assert outcome.migrations == sum(r["event"] == "finished" for r in records) == len(fake.migrations)


def test_a_failed_migration_mid_plan_leads_to_a_replan_that_reaches_the_target(fake, cloud, tmp_path):
    fake.fail_next = {"app1"}
    outcome, records, said = _run(cloud, tmp_path)
    assert outcome.status == "done" and outcome.replans == 1
    assert _at_target(fake)
    assert fake.overloads == [] and fake.over_capacity() == []
    assert [m.status for m in fake.migrations].count("error") == 1
    failed = [r for r in records if r["event"] == "failed"]
    assert [(r["vm"], r["host"]) for r in failed] == [("app1", "c2")]
    replan = next(r for r in records if r["event"] == "replan")
    assert replan["status"] in ("optimal", "feasible")
    state = cpplan.load_instance(replan["instance"])
    assert state.host_names[state.initial[state.vm_index["app1"]]] == "c2"
    assert cpplan.validate(state, cpplan.load_plan(replan["plan_file"])) == []
    assert _every_start_has_one_end(records)
    assert "app1 failed" not in said and "failed, still on c2" in said


def test_a_server_deleted_before_its_round_is_drift_and_the_rest_reaches_the_target(fake, cloud, tmp_path):
    def delete_batch1(name):
        if name == "db1" and "batch1" in fake.placement():
            del fake.servers[fake.by_name("batch1").id]
    fake.on_migration_start = delete_batch1
    outcome, records, said = _run(cloud, tmp_path)
    assert outcome.status == "done" and outcome.replans == 1
    assert "batch1: no longer exists" in said
    where = fake.placement()
    assert all(where[vm] == host for vm, host in EXAMPLE_TARGET.items() if vm != "batch1")
    assert fake.overloads == [] and fake.over_capacity() == []


def test_a_cloud_changed_since_the_snapshot_is_replanned_before_the_first_round(fake, cloud, tmp_path):
    def move_cache1():
        fake.by_name("cache1").host = "c1"
    outcome, records, said = _run(cloud, tmp_path, meanwhile=move_cache1)
    assert "the cloud differs from the instance" in said
    assert "cache1: on c1, the instance has it on c3" in said
    assert outcome.status == "done" and outcome.replans == 1
    assert records[1]["event"] == "drift" and records[2]["event"] == "replan"
    assert _at_target(fake) and fake.placement()["cache1"] == "c3"  # back where the first instance had it
    assert fake.overloads == [] and fake.over_capacity() == []


def test_a_target_host_going_down_stops_with_the_reason(fake, cloud, tmp_path):
    def take_c3_down(name):
        if name == "batch2":
            fake.hosts["c3"].up = False
    fake.on_migration_start = take_c3_down
    outcome, records, said = _run(cloud, tmp_path)
    assert outcome.status == "stopped" and "cannot re-plan" in outcome.message
    assert "host c3: compute service down" in said
    assert records[-1]["event"] == "stop" and _every_start_has_one_end(records)


def test_ctrl_c_stops_after_the_current_round(fake, cloud, tmp_path):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite was started in the background
    fake.on_migration_start = lambda name: os.kill(os.getpid(), signal.SIGINT) if name == "db1" else None
    outcome, records, said = _run(cloud, tmp_path, barriers=True)
    assert outcome.status == "stopped" and "interrupted after round" in outcome.message
    assert "stopping after the current round" in said
    started = [r["vm"] for r in records if r["event"] == "start"]
    assert started[-1] == "db1" and _every_start_has_one_end(records)
    assert fake.placement()["db1"] != "c1"  # the round in flight was waited for
    assert signal.getsignal(signal.SIGINT) is before  # the executor's handler is gone again


@pytest.mark.parametrize("barriers, message", [(True, "stopped: round 1: still migrating after 0.2 s: "),
                                               (False, "stopped: still migrating after 0.2 s: ")])
def test_a_round_running_past_its_timeout_stops_the_execution(fake, cloud, tmp_path, barriers, message):
    fake.migration_seconds = 30
    outcome, records, _ = _run(cloud, tmp_path, round_timeout=0.2, barriers=barriers)
    assert outcome.status == "stopped" and outcome.message.startswith(message)
    assert [r["event"] for r in records[-3:]] == ["start", "timeout", "stop"]


def test_declining_a_replan_stops_without_touching_the_cloud_again(fake, cloud, tmp_path):
    fake.fail_next = {"app1"}
    answers = iter([True, False])
    outcome, records, _ = _run(cloud, tmp_path, confirm=lambda plan: next(answers))
    assert outcome.status == "stopped" and "not confirmed" in outcome.message
    assert not any(r["event"] == "start" and r["plan"] == 1 for r in records)


def _files(fake, tmp_path):
    inst = take_snapshot_from_cli(tmp_path)
    plan_path = tmp_path / "plan.json"
    cpplan.save_plan(cpplan.plan(inst, PLANNER, time_limit=10), plan_path)
    return tmp_path / "cloud.yaml", plan_path


def take_snapshot_from_cli(tmp_path):
    path = tmp_path / "cloud.yaml"
    assert main(["openstack", "snapshot", "--os-cloud", "fake", "-o", str(path), ]) == 0
    inst = cpplan.load_instance(path).replace(target=EXAMPLE_TARGET)
    cpplan.save_instance(inst, path)
    return inst


def test_dry_run_prints_the_rounds_and_changes_nothing(fake, os_cloud, tmp_path, capsys):
    instance, plan = _files(fake, tmp_path)
    before = fake.placement()
    capsys.readouterr()
    assert main(["openstack", "execute", str(instance), str(plan), "--os-cloud", os_cloud]) == 0
    out = capsys.readouterr()
    assert "round 1 (" in out.out and "dry run: nothing changed" in out.err
    assert fake.placement() == before and fake.migrations == []
    assert not any(r.startswith("POST /compute") for r in fake.requests)
    assert not (tmp_path / "plan.journal.jsonl").exists()


def test_the_cli_carries_out_a_plan_with_a_replan(fake, os_cloud, tmp_path, capsys):
    instance, plan = _files(fake, tmp_path)
    fake.fail_next = {"app1"}
    capsys.readouterr()
    code = main(["openstack", "execute", str(instance), str(plan), "--os-cloud", os_cloud, "--yes",
                 "--poll", str(POLL_SECONDS), "--planner", PLANNER, "-q"])
    assert code == 0 and _at_target(fake)
    assert "the cloud is at the target" in capsys.readouterr().err
    assert (tmp_path / "plan.replan1.yaml").exists() and (tmp_path / "plan.replan1.json").exists()
    assert _every_start_has_one_end(read_journal(tmp_path / "plan.journal.jsonl"))


def test_the_cli_refuses_a_plan_that_is_not_valid_for_the_instance(fake, os_cloud, tmp_path, capsys):
    instance, plan = _files(fake, tmp_path)
    wrong_source = {"vm": "web1", "from": "c2", "to": "c3"}
    plan.write_text(json.dumps({"status": "feasible", "cost": 1, "rounds": [[wrong_source]]}))
    capsys.readouterr()
    assert main(["openstack", "execute", str(instance), str(plan), "--os-cloud", os_cloud, "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cpplan: plan.json: not a valid plan for cloud.yaml") and len(err.splitlines()) == 1
    assert fake.migrations == []


@pytest.mark.parametrize("args, message", [
    (["--os-cloud", "nowhere"], "cpplan: --os-cloud: Cloud nowhere was not found."),
    (["--os-cloud", "fake", "--host", "c1", "c9"], "cpplan: --host: no nova-compute service on host 'c9'"),
    (["--os-cloud", "fake", "--aggregate", "rack9"], "cpplan: --aggregate: no host aggregate named 'rack9'"),
])
def test_a_wrong_cloud_host_or_aggregate_is_bad_input(os_cloud, capsys, tmp_path, args, message):
    assert main(["openstack", "snapshot", *args, "-o", str(tmp_path / "x.yaml")]) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not (tmp_path / "x.yaml").exists()


def test_a_second_ctrl_c_leaves_at_once_and_records_the_migration_in_flight(fake, cloud, tmp_path):
    def interrupt_twice(name):
        if name == "db1":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # two signals at once would be handled as one
            os.kill(os.getpid(), signal.SIGINT)
    fake.on_migration_start = interrupt_twice
    with pytest.raises(KeyboardInterrupt):
        _run(cloud, tmp_path)
    records = read_journal(tmp_path / "plan.journal.jsonl")
    assert [(r["event"], r.get("vm")) for r in records[-3:]] == [("start", "db1"), ("abandoned", "db1"),
                                                                  ("stop", None)]
    assert _every_start_has_one_end(records)


def test_the_four_commands_of_the_readme_drain_a_disabled_host(fake, os_cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["openstack", "snapshot", "--os-cloud", os_cloud, "-o", "cloud.yaml"]) == 0
    assert main(["target", "cloud.yaml", "--goal", "evacuate", "--drain", "c4", "--planner", PLANNER,
                 "-o", "drain.yaml", "-q"]) == 0
    assert main(["plan", "drain.yaml", "--planner", PLANNER, "-o", "plan.json", "-q"]) == 0
    assert main(["openstack", "execute", "drain.yaml", "plan.json", "--os-cloud", os_cloud, "--yes",
                 "--poll", str(POLL_SECONDS), "-q"]) == 0
    assert not [vm for vm, host in fake.placement().items() if host == "c4"]
    assert fake.overloads == [] and fake.over_capacity() == []


# ---------------------------------------------------------------- unknown capacity, transient errors

@pytest.mark.parametrize("missing", [("MEMORY_MB", "VCPU", "DISK_GB"), ("MEMORY_MB",)])
def test_no_vm_is_sent_to_a_host_whose_capacity_became_unknown(fake, cloud, tmp_path, missing):
    def drop_c3_inventory():
        for rc in missing:
            del fake.hosts["c3"].inventory[rc]
    outcome, records, said = _run(cloud, tmp_path, meanwhile=drop_c3_inventory)
    assert [m for m in fake.migrations if m.dest == "c3"] == []
    drift = next(r for r in records if r["event"] == "drift")
    assert any(p.startswith("host c3: no Placement inventory of ram, capacity unknown: refusing to send")
               for p in drift["problems"])
    assert outcome.status == "stopped" and "cannot re-plan" in outcome.message  # batch1's target is c3
    assert _every_start_has_one_end(records)


def _fast_retries(cloud) -> list[float]:
    sleeps: list[float] = []
    cloud.retry = Retry(tries=4, base_delay=0.5, sleep=sleeps.append)
    return sleeps


@pytest.mark.parametrize("path", [r"/compute/v2\.1/servers/{db1}", r"/compute/v2\.1/servers/detail",
                                  r"/compute/v2\.1/os-services",
                                  r"/placement/resource_providers/[^/]+/usages"])
def test_a_500_on_a_read_is_tried_again_and_the_run_goes_on(fake, cloud, tmp_path, path):
    sleeps = _fast_retries(cloud)

    def two_faults():  # once the snapshot is read and planned: the execution's own reads meet them
        for _ in range(2):
            fake.fail_once("GET", path.format(db1=fake.by_name("db1").id))
    outcome, records, said = _run(cloud, tmp_path, meanwhile=two_faults)
    assert fake.faults == [] and sleeps == [0.5, 1.0]  # both faults met, each followed by a longer wait
    assert outcome.status == "done" and outcome.replans == 0 and _at_target(fake), said
    assert "No Server found" not in said


def test_a_read_failing_every_time_gives_up_after_the_last_try(fake, cloud):
    sleeps = _fast_retries(cloud)
    db1 = fake.by_name("db1").id
    for _ in range(5):
        fake.fail_once("GET", rf"/compute/v2\.1/servers/{db1}")
    with pytest.raises(CloudError) as failed:
        cloud.server(db1)
    assert failed.value.transient and sleeps == [0.5, 1.0, 2.0]
    assert fake.requests.count(f"GET /compute/v2.1/servers/{db1}") == 4 and len(fake.faults) == 1
    assert cloud.server("no-such-server") is None and len(sleeps) == 3  # a 404 is an answer: no retry


def test_a_migration_nova_carried_out_despite_a_500_is_journalled_accepted_and_watched(fake, cloud, tmp_path):
    _fast_retries(cloud)
    batch2 = fake.by_name("batch2").id
    fake.fail_once("POST", rf"/compute/v2\.1/servers/{batch2}/action", carried_out=True)
    outcome, records, said = _run(cloud, tmp_path)
    assert outcome.status == "done" and outcome.replans == 0 and _at_target(fake), said
    mine = [r["event"] for r in records if r.get("vm") == "batch2"]
    assert mine == ["start", "accepted", "finished"]
    accepted = next(r for r in records if r["event"] == "accepted")
    assert "500" in accepted["error"] and accepted["status"] == "MIGRATING"
    assert len([m for m in fake.migrations if m.server.name == "batch2"]) == 1  # never asked twice
    assert "overloads" not in said and fake.overloads == [] and fake.over_capacity() == []
    assert _every_start_has_one_end(records)


def test_a_migration_refused_with_a_500_is_journalled_failed_and_replanned(fake, cloud, tmp_path):
    _fast_retries(cloud)
    batch2 = fake.by_name("batch2").id
    fake.fail_once("POST", rf"/compute/v2\.1/servers/{batch2}/action", carried_out=False)
    outcome, records, said = _run(cloud, tmp_path)
    failed = [r for r in records if r["event"] == "failed"]
    assert [(r["vm"], r["host"]) for r in failed] == [("batch2", "c4")]
    assert "500" in failed[0]["error"] and "read again: not migrating" in failed[0]["error"]
    assert not any(r["event"] == "accepted" for r in records)
    assert outcome.status == "done" and outcome.replans == 1 and _at_target(fake), said
    assert "overloads" not in said and fake.overloads == [] and fake.over_capacity() == []
    assert _every_start_has_one_end(records)
