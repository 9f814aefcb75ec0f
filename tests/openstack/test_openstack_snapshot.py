"""Snapshot: a known fake cloud read into exactly the expected instance."""

from __future__ import annotations

import pytest

pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install cpplan[openstack])")
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

from fake_cloud import FakeServer  # noqa: E402

from cpplan.cli import main  # noqa: E402
from cpplan.errors import InputError  # noqa: E402
from cpplan.io import load_instance  # noqa: E402
from cpplan.openstack.snapshot import take_snapshot  # noqa: E402

MEDIUM, LARGE, SMALL = ({"ram": 4096, "cpu": 4, "disk": 40}, {"ram": 8192, "cpu": 8, "disk": 80},
                        {"ram": 2048, "cpu": 2, "disk": 20})
HOST = {"ram": 15872, "cpu": 8, "disk": 200, "allocation_ratio": {"cpu": 4}}

EXPECTED = {
    "hosts": {"c1": HOST, "c2": HOST, "c3": {**HOST, "ram": 14848}, "c4": {"ram": 0, "cpu": 0, "disk": 0}},
    "vms": {"app1": MEDIUM, "app2": MEDIUM, "batch1": LARGE, "batch2": SMALL, "cache1": SMALL, "db1": LARGE,
            "old1": SMALL, "web1": MEDIUM, "web2": MEDIUM, "web3": MEDIUM},
    "initial": {"app1": "c2", "app2": "c2", "batch1": "c4", "batch2": "c4", "cache1": "c3", "db1": "c1",
                "old1": "c2", "web1": "c1", "web2": "c2", "web3": "c3"},
    "target": {},
    "limits": {"host": 1},
    "groups": {"web": {"vms": ["web1", "web2", "web3"], "anti_affinity": True}},
    "pinned": ["old1"],
}


def test_snapshot_of_the_example_cloud_is_the_expected_instance(cloud):
    snap = take_snapshot(cloud)
    assert snap.instance.to_dict() == EXPECTED
    assert snap.server_ids["web1"] == cloud.conn.compute.find_server("web1").id
    notes = "\n".join(snap.notes)
    for expected in ("host c3: 1024 ram allocated to no listed server", "host c4: compute service disabled",
                     "host c5: compute service down and empty: left out", "server old1: SHUTOFF",
                     "server group apps: soft-anti-affinity"):
        assert expected in notes


def test_the_cli_writes_an_instance_file_with_the_notes_on_top(os_cloud, tmp_path, capsys):
    out = tmp_path / "cloud.yaml"
    assert main(["openstack", "snapshot", "--os-cloud", os_cloud, "--max-per-host", "2", "-o", str(out)]) == 0
    assert out.read_text().startswith("# host c3: 1024 ram")
    assert load_instance(out).to_dict() == {**EXPECTED, "limits": {"host": 2}}
    assert "10 VMs" in capsys.readouterr().err


def test_scope_by_aggregate_or_hosts(cloud):
    by_aggregate = take_snapshot(cloud, aggregate="rack1").instance
    assert by_aggregate.host_names == ("c1", "c2")
    assert set(by_aggregate.vm_names) == {"web1", "db1", "web2", "app1", "app2", "old1"}
    assert take_snapshot(cloud, hosts=["c3"]).instance.vm_names == ("cache1", "web3")


def test_a_down_host_holding_servers_neither_sends_nor_receives(fake, cloud):
    fake.hosts["c4"].up = False
    inst = take_snapshot(cloud).instance.to_dict()
    assert inst["hosts"]["c4"] == {"ram": 0, "cpu": 0, "disk": 0, "max_migrations": 0}
    assert inst["pinned"] == ["batch1", "batch2", "old1"]


def test_servers_sharing_a_name_get_their_id_appended(fake, cloud):
    twin = FakeServer("web1", "m1.small", "c3", id="0f0f0f0f-0000-4000-8000-000000000000")
    fake.servers[twin.id] = twin
    snap = take_snapshot(cloud)
    assert snap.server_ids["web1-0f0f0f0f"] == twin.id
    assert snap.server_ids[f"web1-{fake.by_name('web1').id[:8]}"] == fake.by_name("web1").id


def test_a_cloud_before_compute_microversion_2_47_sizes_servers_by_their_flavor(fake, cloud):
    fake.max_microversion = "2.46"
    assert take_snapshot(cloud).instance.to_dict() == EXPECTED
    assert sum(r.startswith("GET /compute/v2.1/flavors/") for r in fake.requests) == 3  # once per flavor


@pytest.mark.parametrize("missing", [("MEMORY_MB", "VCPU", "DISK_GB"), ("DISK_GB",), ("MEMORY_MB", "VCPU")])
def test_a_resource_without_placement_inventory_is_capacity_0_never_unlimited(fake, cloud, tmp_path, missing):
    for rc in missing:
        del fake.hosts["c3"].inventory[rc]
    names = [{"MEMORY_MB": "ram", "VCPU": "cpu", "DISK_GB": "disk"}[rc] for rc in missing]
    out = tmp_path / "cloud.yaml"
    assert main(["openstack", "snapshot", "--os-cloud", "fake", "-o", str(out)]) == 0
    c3 = load_instance(out).to_dict()["hosts"]["c3"]
    assert all(c3[r] == 0 for r in names) and c3 != {}
    assert all(c3[r] > 0 for r in ("ram", "cpu", "disk") if r not in names)
    note = f"# host c3: no Placement inventory of {', '.join(names)}, capacity unknown: capacity 0"
    assert note in out.read_text().split("\nhosts:")[0]
    with pytest.raises(InputError, match="c3"):  # nothing that needs the resource may be sent there
        load_instance(out).replace(target={"web1": "c3"})
