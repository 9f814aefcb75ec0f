"""Benchmark greedy against cp on generated clouds: family x size x planner.

Planners: ``greedy``; ``cp`` (warm-started by greedy, as `cpplan plan --planner cp`
runs it); ``cp-cold`` (cp without greedy, to measure the CP-SAT models alone:
their size and how fast they prove). Each run happens in its own subprocess, so
its peak memory is its own. Time limits: 30 s at 20 and 100 hosts, 60 s at
1 000 (120 s for shuffle, tight and deadlock). Prints a table and writes
``benchmarks/results/cp.csv`` and ``cp.md``.

``deadlock`` is the stress cloud of bench_greedy.py: full hosts swapping equal
VMs, a few half-empty hosts as the only staging room, so direct moves deadlock.

    python benchmarks/bench_cp.py --sizes 20 100 1000
    python benchmarks/bench_cp.py --sizes 20 --families deadlock --planners cp cp-cold --out cp-deadlock
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from tables import RESULTS, command_line, run_all_isolated, write_results

FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight", "deadlock")
PLANNERS = ("greedy", "cp", "cp-cold")
HARD = ("shuffle", "tight", "deadlock")
COLUMNS = ("family", "hosts", "vms", "moving", "planner", "time_limit", "seconds", "status",
           "cost_per_lb", "rounds", "rounds_lb", "rounds_per_lb", "variables", "constraints",
           "plan_from", "peak_mib")


def time_limit(family: str, hosts: int) -> float:
    if hosts < 1000:
        return 30.0
    return 120.0 if family in HARD else 60.0


def run_one(family: str, hosts: int, planner: str, seed: int) -> dict:
    """Generate one cloud, plan it, validate; the figures as a dict."""
    import cpplan
    from cpplan.generate import generate
    from cpplan.planners import check, cp

    if family == "deadlock":
        from bench_greedy import deadlock_cloud
        inst = deadlock_cloud(hosts, seed)
    else:
        inst = generate(family, hosts, seed=seed)
    limit = time_limit(family, hosts)
    started = time.perf_counter()
    if planner == "cp-cold":
        plan = cp.plan(inst, time_limit=limit, seed=seed, warm_start=False)
    else:
        plan = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed)
    seconds = time.perf_counter() - started
    check(inst, plan)
    lb = float(inst.cost[inst.moving].sum())
    rounds_lb = max(plan.rounds_lower_bound or 0, cpplan.bounds.rounds_lower_bound(inst))
    return {
        "family": family, "hosts": hosts, "vms": inst.n_vms, "moving": int(inst.moving.sum()),
        "planner": planner, "time_limit": limit, "seconds": round(seconds, 2), "status": plan.status,
        "cost_per_lb": round(plan.cost / lb, 4) if plan.found and lb else None,
        "rounds": plan.n_rounds, "rounds_lb": rounds_lb,
        "rounds_per_lb": round(plan.n_rounds / rounds_lb, 3) if plan.found and rounds_lb else None,
        "variables": plan.stats.get("variables"), "constraints": plan.stats.get("constraints"),
        "plan_from": plan.stats.get("plan_from", planner),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def preamble(command: str) -> list[str]:
    return [f"Greedy and cp on generated clouds (`{command}`). seconds: planning, with the",
            "dispatcher's bounds and validation for greedy and cp; cost_per_lb, rounds_per_lb:",
            "against the lower bounds (rounds_lb is cp's proven bound on the rounds of a least-cost",
            "plan when it has one); variables, constraints: summed over the CP-SAT models built;",
            "plan_from: whose plan cp returned; peak_mib: maximum resident set size of the run."]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000])
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--planners", nargs="+", choices=PLANNERS, default=list(PLANNERS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="cp", help="file stem under benchmarks/results/")
    ap.add_argument("--one", nargs=3, metavar=("FAMILY", "HOSTS", "PLANNER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2], args.seed)))
        return 0
    runs = [([family, str(hosts), planner, "--seed", str(args.seed)], f"{family} {hosts} {planner}")
            for hosts in args.sizes for family in args.families for planner in args.planners]
    rows = run_all_isolated(__file__, runs, COLUMNS, width=11)
    write_results(RESULTS / args.out, rows, COLUMNS, preamble(command_line("bench_cp.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
