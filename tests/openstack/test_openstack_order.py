"""Execute by the plan's ``after`` order on a fake cloud whose migrations last RAM / bandwidth.

The fake cloud and the executor share a :class:`SimulatedClock`, so half a
minute of migrations runs without sleeping. The cloud's event log
(``fake.migrations``: each start and end on that clock) and the journal show
what the executor did: each migration starts once those of its ``after`` have
finished, never beyond the limits in flight, and rounds overlap where the order
allows, so the cloud reaches B sooner than round by round.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal

import pytest

pytest.importorskip("openstack", reason="openstacksdk is not installed (pip install cpplan[openstack])")
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # openstacksdk's own

from fake_cloud import TIMED_TARGET, FakeCloud, SimulatedClock, clouds_yaml, serve  # noqa: E402

import cpplan  # noqa: E402
from cpplan.openstack.cloud import Cloud  # noqa: E402
from cpplan.openstack.execute import Settings, execute  # noqa: E402
from cpplan.openstack.journal import Journal, read_journal  # noqa: E402
from cpplan.openstack.snapshot import take_snapshot  # noqa: E402

POLL_SECONDS = 0.25  # simulated


@contextlib.contextmanager
def _timed_cloud(folder, monkeypatch):
    """The timed fake cloud on a fresh simulated clock, served; yields (fake, cloud, clock)."""
    clock = SimulatedClock()
    fake = FakeCloud.timed(clock.now)
    folder.mkdir()
    with serve(fake) as base:
        (folder / "clouds.yaml").write_text(clouds_yaml(base))
        for key in [k for k in os.environ if k.startswith("OS_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(folder / "clouds.yaml"))
        yield fake, Cloud.connect("fake"), clock


def _run(fake, cloud, clock, folder, *, barriers=False, **keys):
    """Plan the cloud to TIMED_TARGET (with other instance ``keys`` replaced, such as ``limits``) and carry
    the plan out; (outcome, plan, journal records, said)."""
    inst = take_snapshot(cloud).instance.replace(target=TIMED_TARGET, **keys)
    plan = cpplan.plan(inst, "auto", time_limit=10)
    if barriers:
        plan = dataclasses.replace(plan, rounds=plan.routes())
    settings = Settings(poll_interval=POLL_SECONDS, round_timeout=600, planner="auto", time_limit=10,
                        progress=False, clock=clock.now, sleep=clock.sleep)
    lines: list[str] = []
    with Journal(folder / "plan.journal.jsonl") as journal:
        outcome = execute(cloud, inst, plan, journal=journal, out=folder / "plan", confirm=lambda p: True,
                          say=lines.append, settings=settings)
    return outcome, plan, read_journal(folder / "plan.journal.jsonl"), "\n".join(lines)


def _moves(plan):
    """The plan's migrations in SPEC's numbering, each with its 0-based round."""
    return [(t, m) for t, r in enumerate(plan.rounds) for m in r]


def _log(fake) -> dict:
    """VM -> its one migration in the fake cloud's log (every VM of the timed cloud moves once)."""
    log = {m.server.name: m for m in fake.migrations}
    assert len(log) == len(fake.migrations)
    return log


def _at_target(fake) -> bool:
    return all(fake.placement()[vm] == host for vm, host in TIMED_TARGET.items())


def _in_flight_peaks(fake) -> tuple[dict, int]:
    """The most migrations ever in flight at once on each host (either end) and in all, from the log."""
    hosts: dict = {}
    total = 0
    for instant in (m.start_at for m in fake.migrations):
        flying = [m for m in fake.migrations if m.start_at <= instant < m.finish_at]
        total = max(total, len(flying))
        for h in {h for m in flying for h in (m.source, m.dest)}:
            hosts[h] = max(hosts.get(h, 0), sum(h in (m.source, m.dest) for m in flying))
    return hosts, total


def test_rounds_overlap_where_the_order_allows_and_the_cloud_reaches_b_sooner(tmp_path, monkeypatch):
    with _timed_cloud(tmp_path / "order", monkeypatch) as (fake, cloud, clock):
        outcome, plan, records, _ = _run(fake, cloud, clock, tmp_path / "order")
        assert outcome.status == "done" and _at_target(fake) and fake.overloads == []
        log, ordered_end = _log(fake), clock.now()
    overlaps = [(m["vm"], p["vm"]) for t, m in _moves(plan) for u, p in _moves(plan)
                if u == t - 1 and log[m["vm"]].start_at < log[p["vm"]].finish_at]
    assert overlaps, "no migration started before the previous round had ended"
    first_overlap, waited_on = overlaps[0]
    events = [(r["event"], r.get("vm")) for r in records]
    assert events.index(("start", first_overlap)) < events.index(("finished", waited_on))

    with _timed_cloud(tmp_path / "rounds", monkeypatch) as (fake, cloud, clock):
        outcome, plan, records, _ = _run(fake, cloud, clock, tmp_path / "rounds", barriers=True)
        assert outcome.status == "done" and _at_target(fake) and fake.overloads == []
        log, barrier_end = _log(fake), clock.now()
    assert not [m for t, m in _moves(plan) for u, p in _moves(plan)
                if u < t and log[m["vm"]].start_at < log[p["vm"]].finish_at]  # round by round: barriers
    assert "round" in {r["event"] for r in records}
    assert ordered_end < barrier_end - 2  # s2 and s1 (1.6 s each) ran while big1 was migrating


def test_a_migration_never_starts_before_those_in_its_after_have_finished(tmp_path, monkeypatch):
    # Two migrations per host: only the order keeps big1 from starting beside x1 onto a full c2 (where
    # the pre-check would refuse it and the run drift).
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        outcome, plan, records, _ = _run(fake, cloud, clock, tmp_path / "run", limits={"host": 2})
        assert outcome.status == "done" and outcome.replans == 0 and _at_target(fake)
        log = _log(fake)
    moves = [m for _, m in _moves(plan)]
    waits = [(m["vm"], moves[p]["vm"]) for m in moves for p in m["after"]]
    assert ("big1", "x1") in waits  # big1 needs the room x1 leaves on c2
    events = [(r["event"], r.get("vm")) for r in records]
    for vm, before in waits:
        assert log[vm].start_at >= log[before].finish_at
        assert events.index(("finished", before)) < events.index(("start", vm))
    assert fake.over_capacity() == []


@pytest.mark.parametrize("limits", [{"host": 1}, {"host": 2}, {"host": 2, "total": 2}])
def test_the_limits_hold_at_every_instant(tmp_path, monkeypatch, limits):
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        outcome, _, _, _ = _run(fake, cloud, clock, tmp_path / "run", limits=limits)
        assert outcome.status == "done" and _at_target(fake) and fake.over_capacity() == []
        hosts, total = _in_flight_peaks(fake)
    assert max(hosts.values()) == limits["host"]  # reached, never passed
    assert 2 <= total <= limits.get("total", total)


@pytest.mark.parametrize("keys, counted, cap", [
    ({"groups": {"small": {"vms": ["s1", "s2", "s3"], "max_migrating": 2}}}, {"s1", "s2", "s3"}, 2),
    ({"links": {"to-c4": {"hosts": ["c4"], "max_migrations": 1}}}, {"s1", "s2", "s3"}, 1),
])
def test_group_and_link_limits_hold_at_every_instant(tmp_path, monkeypatch, keys, counted, cap):
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        outcome, _, _, _ = _run(fake, cloud, clock, tmp_path / "run", limits={"host": 4}, **keys)
        assert outcome.status == "done" and _at_target(fake) and fake.over_capacity() == []
        log = fake.migrations
    peak = max(sum(m.server.name in counted and m.start_at <= a.start_at < m.finish_at for m in log)
               for a in log)
    assert peak == cap  # reached, never passed (4 per host would let all three go at once)
    # one start towards a host per look, so that each capacity check sees the previous arrival
    assert len({(m.dest, m.start_at) for m in log}) == len(log)


def test_a_failure_mid_way_waits_for_those_in_flight_and_replans_by_the_order(tmp_path, monkeypatch):
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        fake.fail_next = {"big1"}
        outcome, _, records, said = _run(fake, cloud, clock, tmp_path / "run")
        assert outcome.status == "done" and outcome.replans == 1 and _at_target(fake)
        assert fake.overloads == [] and fake.over_capacity() == []
    events = [r["event"] for r in records]
    drift = events.index("drift")
    assert [(r["vm"], r["host"]) for r in records if r["event"] == "failed"] == [("big1", "c1")]
    started = [r["vm"] for r in records[:drift] if r["event"] == "start"]
    ended = [r["vm"] for r in records[:drift] if r["event"] in ("finished", "failed")]
    assert sorted(started) == sorted(ended)  # nothing in flight when re-planning
    assert [r["plan"] for r in records if r["event"] == "order"] == [0, 1]  # the re-plan runs by its order
    assert "big1 c1 -> c2: failed, still on c1" in said


def test_ctrl_c_starts_nothing_more_and_waits_for_the_migrations_in_flight(tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite was started in the background
    with _timed_cloud(tmp_path / "run", monkeypatch) as (fake, cloud, clock):
        fake.on_migration_start = lambda name: os.kill(os.getpid(), signal.SIGINT) if name == "big1" else None
        outcome, _, records, said = _run(fake, cloud, clock, tmp_path / "run")
        placement = fake.placement()
    assert outcome.status == "stopped" and "interrupted with" in outcome.message
    assert "no further migration starts, waiting for those in flight" in said
    started = [r["vm"] for r in records if r["event"] == "start"]
    assert started[-1] == "big1" and len(started) < len(TIMED_TARGET)
    assert sorted(started) == sorted(r["vm"] for r in records if r["event"] == "finished")
    assert all(placement[vm] == TIMED_TARGET[vm] for vm in started)  # those in flight were waited for
    assert records[-1]["event"] == "stop" and "interrupted" in records[-1]["reason"]
    assert signal.getsignal(signal.SIGINT) is before  # the executor's handler is gone again


def test_the_ready_migrations_start_by_their_estimated_start():
    from cpplan.openstack.execute import _Flight

    inst = cpplan.Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}, "h3": {"ram": 16}},
                           vms={"a": {"ram": 4}, "b": {"ram": 8}}, initial={"a": "h1", "b": "h1"},
                           target={"a": "h2", "b": "h3"})
    plan = cpplan.Plan("feasible", 12, [[{"vm": "a", "from": "h1", "to": "h2", "after": [], "start": 9.0},
                                         {"vm": "b", "from": "h1", "to": "h3", "after": [], "start": 0.0}]])
    assert _Flight(inst, plan).ready() == [1, 0]   # b first: the schedule starts it first
