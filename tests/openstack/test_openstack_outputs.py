"""The OpenStack commands never write over a file they read: the snapshot over clouds.yaml, execute's
journal or re-plan files over the instance, the plan or the journal. Refused in one line, exit 2,
before the cloud is touched."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install cpplan[openstack])")
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

from fake_cloud import EXAMPLE_TARGET  # noqa: E402

import cpplan  # noqa: E402
from cpplan.cli import main  # noqa: E402


def refused(capsys, argv, *words) -> bool:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and all(w in err for w in words), err
    return True


def test_a_snapshot_never_overwrites_the_clouds_yaml_it_reads(fake, os_cloud, tmp_path, capsys):
    config = tmp_path / "clouds.yaml"
    before = config.read_bytes()
    os.symlink(config, tmp_path / "link.yaml")
    for output in (config, tmp_path / "link.yaml"):
        assert refused(capsys, ["openstack", "snapshot", "--os-cloud", os_cloud, "-o", output],
                       "-o: is the input file clouds.yaml")
    assert config.read_bytes() == before
    assert fake.requests == []  # refused before connecting
    assert refused(capsys, ["openstack", "snapshot", "--os-cloud", os_cloud, "-o", ""], "-o: is empty")


@pytest.fixture
def files(fake, os_cloud, tmp_path):
    cloud = tmp_path / "cloud.yaml"
    assert main(["openstack", "snapshot", "--os-cloud", os_cloud, "-o", str(cloud)]) == 0
    inst = cpplan.load_instance(cloud).replace(target=EXAMPLE_TARGET)
    cpplan.save_instance(inst, cloud)
    plan = tmp_path / "plan.json"
    cpplan.save_plan(cpplan.plan(inst, "auto", time_limit=10), plan)
    fake.requests.clear()
    return cloud, plan


def execute(instance, plan, *more, yes=True):
    return ["openstack", "execute", instance, plan, "--os-cloud", "fake", *(["--yes"] if yes else []), *more]


def test_execute_never_journals_into_the_instance_or_the_plan(fake, files, capsys):
    cloud, plan = files
    for source in (cloud, plan):
        before = source.read_bytes()
        assert refused(capsys, execute(cloud, plan, "--journal", source),
                       f"--journal: is the input file {source.name}")
        assert source.read_bytes() == before
    assert refused(capsys, execute(cloud, plan, "--journal", ""), "--journal: is empty")
    assert fake.migrations == [] and fake.requests == []


def test_execute_never_writes_a_replan_over_an_input(fake, files, tmp_path, capsys):
    cloud, plan = files
    named_like_a_replan = tmp_path / "plan.replan2.yaml"  # the instance itself is named as re-plan 2
    os.rename(cloud, named_like_a_replan)
    assert refused(capsys, execute(named_like_a_replan, plan),
                   "plan.replan2.yaml: re-plan file: is the input file plan.replan2.yaml")
    os.rename(named_like_a_replan, cloud)
    os.link(cloud, tmp_path / "plan.replan1.json")  # a hard link: the same file under a re-plan's name
    assert refused(capsys, execute(cloud, plan),
                   "plan.replan1.json: re-plan file: is the input file cloud.yaml")
    # without re-plans, plan.replan1.json is never written: nothing to refuse (a dry run here)
    assert main([str(a) for a in execute(cloud, plan, "--max-replans", "0", yes=False)]) == 0
    assert "dry run: nothing changed" in capsys.readouterr().err
    os.unlink(tmp_path / "plan.replan1.json")
    assert refused(capsys, execute(cloud, plan, "--journal", tmp_path / "plan.replan3.json"),
                   "plan.replan3.json: re-plan file: is the input file plan.replan3.json")
    assert fake.migrations == []
