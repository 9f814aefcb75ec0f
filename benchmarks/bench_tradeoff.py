"""Benchmark the cost-for-time trade-off: cost, rounds and makespan against the cost slack.

On bench_makespan.py's OpenStack-like clouds (:func:`bench_makespan.openstack_like`; by default the
``deadlock`` family, whose least-cost plans unwind their cycles of full hosts one VM after another),
each planner plans with ``cost_slack`` 0, 0.05, 0.1 and 0.2 (``cpplan.plan(..., cost_slack=S)``):
the plan may cost up to (1 + S) x the least cost found when its estimated makespan is shorter.

Per run: ``cost`` and ``cost_per_least`` (against the least cost found in that run,
``stats["least_cost"]``; 1 at slack 0), ``rounds``, ``makespan`` and ``makespan_per_lb`` (against
:func:`cpplan.bounds.makespan_lower_bound`), ``gained`` (``stats["makespan_gained"]``: seconds
saved against that run's least-cost plan), and the planning seconds.

Each run happens in its own subprocess. Time limits: 60 s at fewer than 1 000 hosts, 120 s from
1 000 (``--time-limit`` for all). Prints a table and writes ``benchmarks/results/tradeoff.csv`` and
``tradeoff.md``.

    python benchmarks/bench_tradeoff.py --sizes 100
    python benchmarks/bench_tradeoff.py --sizes 20 --time-limit 5 --out tradeoff-quick
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time

from bench_makespan import FAMILIES, cloud, passed_on, time_limit
from tables import RESULTS, command_line, run_all_isolated, write_results

SLACKS = (0.0, 0.05, 0.1, 0.2)
PLANNERS = ("cp", "auto")
COLUMNS = ("family", "hosts", "vms", "moving", "planner", "slack", "time_limit", "seconds", "status",
           "cost", "cost_per_least", "rounds", "makespan", "gained", "mlb", "makespan_per_lb")


def run_one(family: str, hosts: int, planner: str, slack: float, seed: int, limit: float) -> dict:
    """Generate one cloud, plan it with ``slack`` (validated by the dispatcher), and report the trade."""
    import cpplan
    from cpplan.bounds import makespan_lower_bound

    inst = cloud(family, hosts, seed)
    started = time.perf_counter()
    plan = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed, cost_slack=slack)
    seconds = time.perf_counter() - started
    mlb = makespan_lower_bound(inst)
    row = {"family": family, "hosts": hosts, "vms": inst.n_vms, "moving": int(inst.moving.sum()),
           "planner": planner, "slack": slack, "time_limit": limit, "seconds": round(seconds, 2),
           "status": plan.status, "mlb": round(mlb, 1)}
    if not plan.found:
        return row
    least = plan.stats.get("least_cost", plan.cost)
    row.update({"cost": plan.cost, "cost_per_least": round(plan.cost / least, 4) if least else None,
                "rounds": plan.n_rounds, "makespan": round(plan.makespan, 1),
                "gained": round(plan.stats.get("makespan_gained", 0.0), 1),
                "makespan_per_lb": round(plan.makespan / mlb, 3) if mlb else None})
    return row


def preamble(command: str) -> list[str]:
    return [f"Cost for time (`{command}`), on bench_makespan.py's OpenStack-like clouds. slack: the",
            "cost slack S (the plan may cost up to (1 + S) x the least cost found); cost_per_least:",
            "the plan's cost against the least cost found in the same run; gained: seconds of estimated",
            "makespan saved against that least-cost plan; mlb: the makespan lower bound; makespan_per_lb:",
            "the ratio. Seconds in s, planning on a shared 2-core machine.",
            f"Run {datetime.date.today()}, Python {platform.python_version()}."]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100])
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=["deadlock"])
    ap.add_argument("--planners", nargs="+", choices=PLANNERS, default=list(PLANNERS))
    ap.add_argument("--slacks", type=float, nargs="+", default=list(SLACKS))
    ap.add_argument("--time-limit", type=float, help="seconds per run (default 60, 120 from 1000 hosts)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="tradeoff", help="file stem under benchmarks/results/")
    ap.add_argument("--one", nargs=4, metavar=("FAMILY", "HOSTS", "PLANNER", "SLACK"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        family, hosts, planner, slack = args.one[0], int(args.one[1]), args.one[2], float(args.one[3])
        limit = time_limit(hosts, args.time_limit)
        print(json.dumps(run_one(family, hosts, planner, slack, args.seed, limit)))
        return 0
    extra = passed_on(args)
    runs = [([family, str(hosts), planner, str(slack), *extra], f"{family} {hosts} {planner} {slack:g}")
            for hosts in args.sizes for family in args.families for planner in args.planners
            for slack in args.slacks]
    rows = run_all_isolated(__file__, runs, COLUMNS, width=8)
    write_results(RESULTS / args.out, rows, COLUMNS, preamble(command_line("bench_tradeoff.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
