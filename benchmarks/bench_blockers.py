"""Seconds to find the blocked VMs of a deadlocked cloud (:func:`cpplan.blockers.blocked_vms`).

The cloud is bench_greedy's ``deadlock`` stress cloud with its staging hosts (and their VMs)
removed: full hosts of 10 equal VMs, 30% of which swap places, and no room anywhere, so every
moving VM is blocked. Run from the repository root::

    .venv/bin/python benchmarks/bench_blockers.py --sizes 100 1000 10000
"""

from __future__ import annotations

import argparse
import time

from bench_greedy import deadlock_cloud


def without_staging(hosts: int, seed: int, per_host: int = 10):
    """The deadlock cloud less its half-empty staging hosts and the VMs on them."""
    from cpplan import Instance

    spec = deadlock_cloud(hosts, seed, per_host).to_dict()
    on_host: dict[str, list[str]] = {}
    for v, h in spec["initial"].items():
        on_host.setdefault(h, []).append(v)
    staging = {h for h, vms in on_host.items() if len(vms) < per_host}
    gone = {v for h in staging for v in on_host[h]}
    spec["hosts"] = {h: c for h, c in spec["hosts"].items() if h not in staging}
    spec["vms"] = {v: d for v, d in spec["vms"].items() if v not in gone}
    spec["initial"] = {v: h for v, h in spec["initial"].items() if v not in gone}
    return Instance(**spec)


def main() -> None:
    from cpplan.blockers import blocked_vms, describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print("| hosts | VMs | moving | blocked | cycles | seconds |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for hosts in args.sizes:
        inst = without_staging(hosts, args.seed)
        started = time.perf_counter()
        groups = blocked_vms(inst)
        seconds = time.perf_counter() - started
        n_blocked = sum(len(g["vms"]) + len(g["waiting"]) for g in groups)
        print(f"| {inst.n_hosts} | {inst.n_vms} | {int(inst.moving.sum())} | {n_blocked} | "
              f"{sum(1 for g in groups if g['cycle'])} | {seconds:.3f} |", flush=True)
        print(f"<!-- {describe(groups)} -->")


if __name__ == "__main__":
    main()
