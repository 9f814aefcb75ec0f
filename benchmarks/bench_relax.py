"""The least relaxation (`cpplan plan --relax`) of deadlocked clouds: how many VMs go offline, at what
cost, in how many seconds, and against the exhaustive answer on small clouds.

The clouds are bench_greedy's ``deadlock`` stress cloud with its staging hosts (and their VMs)
removed (bench_blockers.py's ``without_staging``), two migrations per host: full hosts of equal VMs,
30% of which trade places, and no room anywhere, so B is unreachable as it stands. Small clouds
(3 or 4 hosts of 3 VMs, one host removed as staging) are relaxed by every planner, offline moves
only, and compared with ``exact`` (every set of VMs by size, each planned exactly: the fewest
offline VMs, proven); the large ones
(100 and 1 000 hosts of 10 VMs) by greedy, offline moves only, then as ``--relax`` answers (which
prefers one spare host to more than ``MAX_REBOOTS`` offline moves). Run from the repository root::

    .venv/bin/python benchmarks/bench_relax.py --small-seeds 2 3 9 10 11 --sizes 100 1000
"""

from __future__ import annotations

import argparse
import time

from bench_blockers import without_staging

SMALL_PLANNERS = ("exact", "auto", "cp", "greedy")


def cloud(hosts: int, seed: int, per_host: int):
    """The deadlock cloud without staging room, at two migrations per host."""
    from cpplan import Instance

    spec = without_staging(hosts, seed, per_host).to_dict()
    spec["limits"] = {"host": 2}
    return Instance(**spec)


def relaxed(inst, planner: str, time_limit: float, kinds):
    """(plan, seconds) of the least relaxation of ``inst`` by ``planner`` among ``kinds``."""
    from cpplan.planners import plan
    from cpplan.relax import least_relaxation, needs_relaxation

    started = time.perf_counter()
    first = plan(inst, planner, time_limit=time_limit)
    if not needs_relaxation(first):
        return first, time.perf_counter() - started

    def solve(instance, name, seconds, hint):
        return plan(instance, name, time_limit=seconds, hint=hint)
    answer = least_relaxation(inst, first, solve, planner=planner, time_limit=time_limit, kinds=kinds)
    return answer, time.perf_counter() - started


def row(label: str, inst, planner: str, answer, seconds: float) -> str:
    r = answer.relaxation or {}
    offline = len(r.get("vms", {})) if r.get("kind") == "offline" else ""
    return (f"| {label} | {inst.n_hosts} | {inst.n_vms} | {int(inst.moving.sum())} | {planner} | "
            f"{r.get('kind', answer.status)} | {offline} | {answer.cost:g} | {r.get('proven', '')} | "
            f"{seconds:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-seeds", type=int, nargs="*", default=[2, 3, 9, 10, 11])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()
    print("| cloud | hosts | VMs | moving | planner | relaxation | offline VMs | cost | proven | seconds |")
    print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | --- | ---: |")
    for seed in args.small_seeds:
        inst = cloud(3 + seed % 2, seed, 3)
        fewest = None
        for planner in SMALL_PLANNERS:
            answer, seconds = relaxed(inst, planner, args.time_limit, ("offline",))
            print(row(f"small s{seed}", inst, planner, answer, seconds), flush=True)
            count = len((answer.relaxation or {}).get("vms", {}))
            fewest = count if planner == "exact" else fewest
            if planner != "greedy" and count != fewest:
                print(f"<!-- {planner} moves {count} VMs offline, exact {fewest} -->")
    for hosts in args.sizes:
        inst = cloud(hosts, 1, 10)
        for kinds in (("offline",), None):
            answer, seconds = relaxed(inst, "greedy", args.time_limit,
                                      kinds or ("offline", "spare_host", "limits"))
            label = f"deadlock {hosts}" + ("" if kinds else " --relax")
            print(row(label, inst, "greedy", answer, seconds), flush=True)
            print(f"<!-- {(answer.relaxation or {}).get('summary', answer.reason)} -->")


if __name__ == "__main__":
    main()
