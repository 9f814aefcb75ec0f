"""Directional limits on the fake cloud: the snapshot's ``--max-outgoing``, execution by the order never
sending or receiving more migrations at once than a host's limits, and re-plans keeping them."""

from __future__ import annotations

import pytest

pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install cpplan[openstack])")
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

from test_openstack_order import _at_target, _run, _timed_cloud  # noqa: E402

from cpplan.cli import main  # noqa: E402
from cpplan.io import load_instance  # noqa: E402
from cpplan.openstack.execute import rebase  # noqa: E402
from cpplan.openstack.snapshot import take_snapshot  # noqa: E402


def _peaks(fake) -> tuple[dict, dict]:
    """The most migrations ever in flight at once leaving, and reaching, each host (the cloud's log)."""
    sending: dict = {}
    receiving: dict = {}
    for instant in (m.start_at for m in fake.migrations):
        flying = [m for m in fake.migrations if m.start_at <= instant < m.finish_at]
        for peaks, end in ((sending, "source"), (receiving, "dest")):
            for h in {getattr(m, end) for m in flying}:
                peaks[h] = max(peaks.get(h, 0), sum(getattr(m, end) == h for m in flying))
    return sending, receiving


def test_the_snapshot_writes_max_outgoing_as_limits_outgoing(os_cloud, tmp_path):
    out = tmp_path / "cloud.yaml"
    assert main(["openstack", "snapshot", "--os-cloud", os_cloud, "--max-per-host", "3",
                 "--max-outgoing", "2", "-o", str(out)]) == 0
    inst = load_instance(out)
    assert inst.to_dict()["limits"] == {"host": 3, "outgoing": 2}
    assert (inst.outgoing_limit == 2).all() and (inst.host_limit == 3).all()
    assert "# limits.outgoing 2: nova's max_concurrent_live_migrations" in out.read_text()


@pytest.mark.parametrize("keys, direction, host, cap", [
    ({"limits": {"host": 4, "outgoing": 1}}, 0, "c3", 1),
    ({"limits": {"host": 4, "outgoing": 2}}, 0, "c3", 2),
    ({"limits": {"host": 4}, "hosts": {"c4": {"max_incoming": 2}}}, 1, "c4", 2),
])
def test_execution_by_the_order_never_passes_the_directional_limits(tmp_path, monkeypatch, keys, direction,
                                                                   host, cap):
    # s1, s2 and s3 all go from c3 to c4: 4 per host would let them run at once
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        if "hosts" in keys:
            hosts = take_snapshot(cloud).instance.to_dict()["hosts"]
            for name, extra in keys["hosts"].items():
                hosts[name].update(extra)
            keys = {**keys, "hosts": hosts}
        inst = take_snapshot(cloud).instance.replace(**keys)
        outcome, plan, _, _ = _run(fake, cloud, clock, tmp_path / "run", **keys)
        assert outcome.status == "done" and _at_target(fake) and fake.over_capacity() == []
        assert plan.has_order
        peaks = _peaks(fake)
    assert peaks[direction][host] == cap  # reached, never passed
    for limits, peak in zip((inst.outgoing_limit, inst.incoming_limit), peaks, strict=True):
        assert all(n <= limits[inst.host_index[h]] for h, n in peak.items())


def test_a_replan_keeps_the_operator_s_per_host_directional_limits(cloud):
    fresh = take_snapshot(cloud).instance
    spec = fresh.to_dict()
    spec["hosts"]["c1"].update(max_incoming=1, max_outgoing=2)
    previous = fresh.replace(hosts=spec["hosts"])
    again = rebase(fresh, {}, previous, {"host": 1, "incoming": 3})
    c1 = again.host_index["c1"]
    assert (again.incoming_limit[c1], again.outgoing_limit[c1]) == (1, 2)
    assert again.incoming_limit[again.host_index["c2"]] == 3  # the cloud-wide default elsewhere
