"""Benchmark on public data: plan every converted instance of a folder with greedy and auto.

The instances come from the converters of ``benchmarks/public/`` (ROADEF/EURO 2012 machine
reassignment, BtrPlace TDSC); the data is not in the repository (the README says where to fetch
it). Per instance, B is the instance's own target when it has one (``goal`` = ``given``); else
``cpplan target`` chooses it once (``--goal``, default by the file's name: ``repair`` for the
BtrPlace load-increase files ``li-*``, else ``rebalance``), in its own subprocess, and writes it to
``FOLDER/with-target/`` so that every planner plans to the same B; ``target_s`` is the seconds
choosing B took. Then each planner plans A -> B (every plan validated by the dispatcher, and again
here):

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

from tables import RESULTS, command_line, run_all_isolated, run_isolated, write_results

PLANNERS = ("greedy", "auto")
COLUMNS = ("instance", "hosts", "vms", "goal", "target_s", "moving", "planner", "seconds", "status",
           "cost_per_lb", "rounds_per_lb", "makespan_per_lb", "valid")


def default_goal(path: Path) -> str:
    return "repair" if path.name.startswith("li-") else "rebalance"


def choose(path: str, goal: str | None, limit: float, out: str) -> dict:
    """Write ``path`` with its B to ``out`` (JSON): its own target, else one chosen for ``goal``;
    returns the goal and the seconds choosing took."""
    import cpplan
    from cpplan.io import write_atomic

    inst = cpplan.load_instance(path)
    if inst.to_dict().get("target") or inst.moving.any():
        goal, seconds = "given", 0.0
    else:
        goal = goal or default_goal(Path(path))
        started = time.perf_counter()
        inst = cpplan.choose_target(inst, goal=goal, time_limit=limit, planner="greedy").instance
        seconds = time.perf_counter() - started
    write_atomic(out, json.dumps(inst.to_dict()))
    return {"goal": goal, "target_s": round(seconds, 2)}


def run_one(path: str, planner: str, chosen: dict, limit: float) -> dict:
    import cpplan
    from cpplan.bounds import cost_lower_bound, makespan_lower_bound, rounds_lower_bound

    inst = cpplan.load_instance(path)
    goal, target_s = chosen["goal"], chosen["target_s"]
    started = time.perf_counter()
    plan = cpplan.plan(inst, planner=planner, time_limit=limit)
    seconds = time.perf_counter() - started
    found = plan.status in ("optimal", "feasible")
    ratio = lambda x, lb: round(x / lb, 3) if found and lb else None  # noqa: E731
    return {"instance": Path(path).stem, "hosts": inst.n_hosts, "vms": inst.n_vms, "goal": goal,
            "target_s": target_s, "moving": int(inst.moving.sum()), "planner": planner,
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
    ap.add_argument("--one", nargs=4, metavar=("PATH", "PLANNER", "CHOSEN", "LIMIT"), help=argparse.SUPPRESS)
    ap.add_argument("--choose", nargs=4, metavar=("PATH", "GOAL", "LIMIT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        path, planner, chosen, limit = args.one
        print(json.dumps(run_one(path, planner, json.loads(chosen), float(limit))))
        return 0
    if args.choose:
        path, goal, limit, out = args.choose
        print(json.dumps(choose(path, None if goal == "-" else goal, float(limit), out)))
        return 0
    if args.folder is None or not args.folder.is_dir():
        ap.error("give the folder of converted instances")
    files = sorted(p for p in args.folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    chosen_dir = args.folder / "with-target"
    chosen_dir.mkdir(exist_ok=True)
    runs = []
    for p in files:
        out = chosen_dir / f"{p.stem}.json"
        chosen = run_isolated(__file__, [str(p), args.goal or "-", str(args.time_limit), str(out)],
                              f"{p.name}: choosing B", mode="--choose")
        if chosen is not None:
            runs += [([str(out), planner, json.dumps(chosen), str(args.time_limit)], f"{p.name} {planner}")
                     for planner in args.planners]
    rows = run_all_isolated(__file__, runs, COLUMNS, 10)
    preamble = [f"# Public data: {len(files)} instances from {args.folder.name}/",
                "", f"`{command_line('bench_public.py', argv)}`, {datetime.date.today()}, "
                f"{platform.processor() or platform.machine()}, Python {platform.python_version()}."]
    write_results(RESULTS / args.out, rows, COLUMNS, preamble)
    return 0


if __name__ == "__main__":
    sys.exit(main())
