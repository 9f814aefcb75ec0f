"""Benchmark ``cpplan openstack execute`` by the plan's order against round by round, on the fake cloud.

Serves the test suite's timed fake cloud (``FakeCloud.timed``: migrations last
RAM / bandwidth on a simulated clock, so nothing sleeps for real), plans it to
``TIMED_TARGET`` with auto, and carries the same plan out twice: as planned (by
its ``after`` order) and with the order stripped (round by round, barriers).
Prints, per way, the simulated seconds until the last migration ended and
until the run returned (the executor looks every ``--poll`` seconds).

    python benchmarks/bench_execute.py [--poll 0.25] [--bandwidth 1250]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "openstack"))

from fake_cloud import TIMED_TARGET, FakeCloud, SimulatedClock, clouds_yaml, serve  # noqa: E402

import cpplan  # noqa: E402
from cpplan.openstack.cloud import Cloud  # noqa: E402
from cpplan.openstack.execute import Settings, execute  # noqa: E402
from cpplan.openstack.journal import Journal  # noqa: E402
from cpplan.openstack.snapshot import take_snapshot  # noqa: E402


def run(barriers: bool, poll: float, bandwidth: float) -> tuple[str, float, float, int]:
    """(outcome, last migration's end, end of the run, migrations) in simulated seconds."""
    clock = SimulatedClock()
    fake = FakeCloud.timed(clock.now, bandwidth=bandwidth)
    with serve(fake) as base, tempfile.TemporaryDirectory() as folder:
        Path(folder, "clouds.yaml").write_text(clouds_yaml(base))
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(Path(folder, "clouds.yaml"))
        cloud = Cloud.connect("fake")
        inst = take_snapshot(cloud).instance.replace(target=TIMED_TARGET)
        plan = cpplan.plan(inst, "auto", time_limit=10)
        if barriers:
            plan = dataclasses.replace(plan, rounds=plan.routes())
        settings = Settings(poll_interval=poll, progress=False, clock=clock.now, sleep=clock.sleep)
        with Journal(Path(folder, "plan.journal.jsonl")) as journal:
            outcome = execute(cloud, inst, plan, journal=journal, out=Path(folder, "plan"),
                              confirm=lambda p: True, say=lambda line: None, settings=settings)
        return outcome.status, max(m.finish_at for m in fake.migrations), clock.now(), len(fake.migrations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=float, default=0.25, help="simulated seconds between looks")
    parser.add_argument("--bandwidth", type=float, default=1250.0, help="MiB/s per migration")
    args = parser.parse_args()
    print("| way | outcome | migrations | last migration ended (s) | run ended (s) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for way, barriers in (("by the order", False), ("round by round", True)):
        status, last, end, n = run(barriers, args.poll, args.bandwidth)
        print(f"| {way} | {status} | {n} | {last:.2f} | {end:.2f} |")


if __name__ == "__main__":
    main()
