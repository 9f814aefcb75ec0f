"""Benchmark the greedy planner on generated clouds: family x size.

Each run happens in its own subprocess, so its peak memory (maximum resident
set size, generation included) is its own. Prints a table and writes
``benchmarks/results/greedy.csv`` and ``greedy.md``.

Besides the generator's families, ``deadlock`` is a stress cloud built here:
every host 100% full of equal VMs, 30% of them swap hosts by a random
permutation, 5% of the hosts half-empty as the only staging room, one
migration per host per round: no VM can move until someone bounces.

    python benchmarks/bench_greedy.py --sizes 20 100 1000
    python benchmarks/bench_greedy.py --sizes 1000 --families deadlock --out greedy-deadlock
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from tables import RESULTS, command_line, run_all_isolated, write_results

FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight")
STRESS = ("deadlock",)
COLUMNS = ("family", "hosts", "vms", "moving", "status", "valid", "seconds", "generate_seconds",
           "peak_mib", "cost_per_lb", "rounds", "rounds_lb", "rounds_per_lb", "bounces",
           "displacements")


def run_one(family: str, hosts: int, seed: int) -> dict:
    """Generate one cloud, plan it with greedy, validate; the figures as a dict."""
    import cpplan
    from cpplan.generate import generate

    started = time.perf_counter()
    inst = deadlock_cloud(hosts, seed) if family == "deadlock" else generate(family, hosts, seed=seed)
    generated = time.perf_counter()
    plan = cpplan.plan(inst, planner="greedy", time_limit=None)
    planned = time.perf_counter()
    valid = cpplan.validate(inst, plan) == []
    lb, rounds_lb = plan.lower_bound, plan.rounds_lower_bound
    return {
        "family": family, "hosts": hosts, "vms": inst.n_vms, "moving": int(inst.moving.sum()),
        "status": plan.status, "valid": valid,
        "seconds": round(planned - generated, 2), "generate_seconds": round(generated - started, 2),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cost_per_lb": round(plan.cost / lb, 4) if plan.found and lb else None,
        "rounds": plan.n_rounds, "rounds_lb": rounds_lb,
        "rounds_per_lb": round(plan.n_rounds / rounds_lb, 3) if plan.found and rounds_lb else None,
        "bounces": plan.stats.get("bounces"), "displacements": plan.stats.get("displacements"),
    }


def deadlock_cloud(hosts: int, seed: int, per_host: int = 10):
    """Full hosts of equal VMs swapping places; a few half-empty hosts are the only staging room."""
    import numpy as np

    from cpplan import Instance

    rng = np.random.default_rng(seed)
    staging = np.zeros(hosts, dtype=bool)
    staging[rng.choice(hosts, size=max(1, hosts // 20), replace=False)] = True
    initial = np.repeat(np.arange(hosts), np.where(staging, per_host // 2, per_host))
    target = initial.copy()
    chosen = np.flatnonzero(~staging[initial] & (rng.random(len(initial)) < 0.3))
    target[chosen] = initial[rng.permutation(chosen)]
    host_names = [f"h{i}" for i in range(hosts)]
    vm_names = [f"vm{j}" for j in range(len(initial))]
    moved = np.flatnonzero(target != initial).tolist()
    return Instance(hosts={h: {"ram": 32 * per_host} for h in host_names},
                    vms={v: {"ram": 32} for v in vm_names},
                    initial={v: host_names[h] for v, h in zip(vm_names, initial.tolist(), strict=True)},
                    target={vm_names[j]: host_names[target[j]] for j in moved}, limits={"host": 1})


def preamble(command: str) -> list[str]:
    return [f"Greedy planner on generated clouds (`{command}`); seconds: planning with the",
            "dispatcher's bounds and validation; peak_mib: maximum resident set size of the run,",
            "generation included; cost_per_lb and rounds_per_lb: against the lower bounds."]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000, 10000])
    ap.add_argument("--families", nargs="+", choices=FAMILIES + STRESS, default=list(FAMILIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="greedy", help="file stem under benchmarks/results/")
    ap.add_argument("--one", nargs=2, metavar=("FAMILY", "HOSTS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.seed)))
        return 0
    runs = [([family, str(hosts), "--seed", str(args.seed)], f"{family} {hosts}")
            for hosts in args.sizes for family in args.families]
    rows = run_all_isolated(__file__, runs, COLUMNS, width=10)
    write_results(RESULTS / args.out, rows, COLUMNS, preamble(command_line("bench_greedy.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
