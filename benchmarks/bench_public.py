"""Benchmark on public data: plan every converted instance of a folder with greedy and auto.

The instances come from the converters of ``benchmarks/public/`` (ROADEF/EURO 2012 machine
reassignment, BtrPlace TDSC); the data is not in the repository (the README says where to fetch
it). Per instance, B is the instance's own target when it has one (``goal`` = ``given``); else
``cpplan target`` chooses it once (``--goal``, default by the file's name: ``repair`` for the
BtrPlace load-increase files ``li-*``, else ``rebalance``), and ``target_s`` is the seconds that
took. Then each planner plans A -> B (every plan validated by the dispatcher, and again here):

- ``seconds``, ``status``; ``cost_per_lb`` (cost / :func:`cpplan.bounds.cost_lower_bound`),
  ``rounds_per_lb``, ``makespan_per_lb`` (the estimated schedule against
  :func:`cpplan.bounds.makespan_lower_bound`).

Each row runs in its own subprocess. Prints a table and writes ``benchmarks/results/public.csv``
and ``public.md``.

    python benchmarks/public/btrplace.py li-r3-p5000-c33-1.gz -o data/li-r3-c33.yaml
    python benchmarks/bench_public.py data --time-limit 60
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

from tables import RESULTS, command_line, run_all_isolated, write_results

PLANNERS = ("greedy", "auto")
COLUMNS = ("instance", "hosts", "vms", "goal", "target_s", "moving", "planner", "seconds", "status",
           "cost_per_lb", "rounds_per_lb", "makespan_per_lb", "valid")


def default_goal(path: Path) -> str:
    return "repair" if path.name.startswith("li-") else "rebalance"


def with_target(inst, path: Path, goal: str | None, limit: float):
    """(instance with B, goal, seconds choosing B)."""
    import cpplan

    if inst.to_dict().get("target") or inst.moving.any():
        return inst, "given", 0.0
    goal = goal or default_goal(path)
    started = time.perf_counter()
    chosen = cpplan.choose_target(inst, goal=goal, time_limit=limit, planner="greedy")
    return chosen.instance, goal, time.perf_counter() - started


def run_one(path: str, planner: str, goal: str | None, limit: float) -> dict:
    import cpplan
    from cpplan.bounds import cost_lower_bound, makespan_lower_bound, rounds_lower_bound

    inst, goal, target_s = with_target(cpplan.load_instance(path), Path(path), goal, limit)
    started = time.perf_counter()
    plan = cpplan.plan(inst, planner=planner, time_limit=limit)
    seconds = time.perf_counter() - started
    found = plan.status in ("optimal", "feasible")
    ratio = lambda x, lb: round(x / lb, 3) if found and lb else None  # noqa: E731
    return {"instance": Path(path).stem, "hosts": inst.n_hosts, "vms": inst.n_vms, "goal": goal,
            "target_s": round(target_s, 2), "moving": int(inst.moving.sum()), "planner": planner,
            "seconds": round(seconds, 2), "status": plan.status,
            "cost_per_lb": ratio(plan.cost, cost_lower_bound(inst)),
            "rounds_per_lb": ratio(plan.n_rounds, rounds_lower_bound(inst)),
            "makespan_per_lb": ratio(plan.makespan or 0.0, makespan_lower_bound(inst)),
            "valid": found and cpplan.validate(inst, plan) == []}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, nargs="?", help="converted instances (*.yaml, *.json)")
    ap.add_argument("--goal", help="the goal choosing B when an instance has none (default: by name)")
    ap.add_argument("--planners", nargs="+", default=list(PLANNERS), choices=("greedy", "cp", "auto"))
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per choice of B and per plan")
    ap.add_argument("--out", default="public", help="results stem under benchmarks/results/")
    ap.add_argument("--one", nargs=4, metavar=("PATH", "PLANNER", "GOAL", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        path, planner, goal, limit = args.one
        print(json.dumps(run_one(path, planner, None if goal == "-" else goal, float(limit))))
        return 0
    if args.folder is None or not args.folder.is_dir():
        ap.error("give the folder of converted instances")
    files = sorted(p for p in args.folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    runs = [([str(p), planner, args.goal or "-", str(args.time_limit)], f"{p.name} {planner}")
            for p in files for planner in args.planners]
    rows = run_all_isolated(__file__, runs, COLUMNS, 10)
    preamble = [f"# Public data: {len(files)} instances from {args.folder.name}/",
                "", f"`{command_line('bench_public.py', argv)}`, {datetime.date.today()}, "
                f"{platform.processor() or platform.machine()}, Python {platform.python_version()}."]
    write_results(RESULTS / args.out, rows, COLUMNS, preamble)
    return 0


if __name__ == "__main__":
    sys.exit(main())
