"""Benchmark choosing B: each goal on each generated family and size, then planning the way to it.

For every (family, size, goal) the cloud's initial placement is A; the goal
chooses B (evacuate drains the first 5 % of the hosts) and the planner plans
A -> B. Consolidation is compared with a plain first-fit-decreasing repack
(which ignores migration cost); rebalancing with the ideal utilisation (total
demand / total capacity). Then the cost-vs-balance curve of rebalancing over a
few move weights. Writes ``benchmarks/results/target.csv``, ``target.md``,
``target-curve.csv``, ``target-curve.md`` and ``target-curve.png``.

``--speed BEFORE`` instead times ``cpplan target`` as users run it (default
time limit) before and after a change: each goal on models/evacuate-rack.yaml
(40 hosts; evacuate drains a01, a02) and on the goal's generated family at 100
and 1 000 hosts, running the code of git commit BEFORE and the working tree
one after the other, each in a fresh interpreter; writes
``target-speed.csv``/``.md``.

    python benchmarks/bench_target.py --sizes 20 100 1000 --time-limit 10 20 60
    python benchmarks/bench_target.py --sizes 20 --families rebalance --no-curve
    python benchmarks/bench_target.py --speed 605cfcf
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight")
GOALS = ("consolidate", "rebalance", "evacuate")
COLUMNS = ("family", "hosts", "vms", "goal", "choose_seconds", "plan_status", "plan_seconds", "rounds",
           "attempts", "cost", "moves", "hosts_before", "hosts_after", "hosts_bound", "ffd_hosts",
           "ffd_cost", "util_before", "util_after", "util_ideal", "gap_pp", "spread_after", "drained_cost")
WEIGHTS = (None, 0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.3)


def run_one(inst, family: str, goal: str, planner: str, time_limit: float) -> dict:
    import numpy as np

    import cpplan
    from cpplan.goals.consolidate import first_fit_decreasing

    drain = list(inst.host_names[: max(1, inst.n_hosts // 20)]) if goal == "evacuate" else None
    started = time.perf_counter()
    result = cpplan.choose_target(inst, goal=goal, drain=drain, time_limit=time_limit, planner=planner,
                                  plan_time_limit=2 * time_limit)
    total = time.perf_counter() - started
    assert result.plan.status not in ("optimal", "feasible") or cpplan.validate(result.instance,
                                                                                result.plan) == []
    row = {"family": family, "hosts": inst.n_hosts, "vms": inst.n_vms, "goal": goal,
           "choose_seconds": result.stats["choose_seconds"], "plan_status": result.plan.status,
           "plan_seconds": round(total - result.stats["choose_seconds"], 2),
           "rounds": result.plan.n_rounds, "attempts": result.attempts, "cost": result.cost,
           "moves": result.moves, "hosts_before": result.before["hosts_used"],
           "hosts_after": result.after["hosts_used"], "util_before": result.before["max_utilisation"],
           "util_after": result.after["max_utilisation"], "spread_after": result.after["spread"]}
    if goal == "consolidate":
        ffd = first_fit_decreasing(inst)
        row.update(hosts_bound=int(result.bound), ffd_hosts=int(np.unique(ffd).size),
                   ffd_cost=float(inst.cost[ffd != inst.initial].sum()))
    else:
        row.update(util_ideal=round(result.bound, 4),
                   gap_pp=round(100 * (result.after["max_utilisation"] - result.bound), 2))
    if goal == "evacuate":
        on = np.isin(inst.initial, [inst.host_index[h] for h in drain])
        row["drained_cost"] = float(inst.cost[on].sum())
    return row


def curve(hosts: int, planner: str, time_limit: float) -> list[dict]:
    """Rebalancing the ``rebalance`` family at several move weights: cost against highest utilisation."""
    import cpplan
    from cpplan.generate import generate

    inst = generate("rebalance", hosts, seed=0)
    rows = []
    for w in WEIGHTS:
        result = cpplan.choose_target(inst, goal="rebalance", move_weight=w, time_limit=time_limit,
                                      planner=planner)
        rows.append({"move_weight": "none" if w is None else w, "cost": result.cost, "moves": result.moves,
                     "util_after": result.after["max_utilisation"], "util_before": result.before[
                         "max_utilisation"], "util_ideal": round(result.bound, 4),
                     "plan_status": result.plan.status})
        print(rows[-1], flush=True)
    return rows


def plot_curve(rows: list[dict], path: Path, hosts: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["cost"] for r in rows], [100 * r["util_after"] for r in rows], "o-")
    shown = set()
    for r in rows:
        point = (round(r["cost"], -1), round(100 * r["util_after"], 1))
        if point not in shown:  # equal points: label the first (lowest weight) only
            shown.add(point)
            ax.annotate(f"W={r['move_weight']}", (r["cost"], 100 * r["util_after"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.axhline(100 * rows[0]["util_ideal"], ls="--", color="grey", label="ideal (total demand / capacity)")
    ax.axhline(100 * rows[0]["util_before"], ls=":", color="red", label="before (A)")
    ax.set_xlabel("migration cost (GiB of RAM moved)")
    ax.set_ylabel("highest host utilisation (%)")
    ax.set_title(f"rebalance, {hosts} hosts: balance against migration cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


NOTES = """
Columns: hosts in use before/after and the proven lower bound (pinned hosts, largest capacities covering
every resource's demand, largest anti-affinity group, or the CP-SAT bound); `ffd_*`: a first-fit-decreasing
repack from scratch, which ignores migration cost. Utilisation is a host's highest share over its
resources; `util_ideal` is total demand / total capacity of the hosts kept (a lower bound) and `gap_pp`
the distance to it in percentage points. Evacuate drains the first 5 % of the hosts at least cost
(`cost` = `drained_cost` when every drained VM moves once) and spreads them evenly, but does not move
other VMs, so its highest utilisation stays that of the hottest host kept. `plan_*`: the planner's
status and rounds for A -> B; `choose_seconds` is the time to choose B.
"""


def write_table(rows: list[dict], columns, csv_path: Path, md_path: Path | None, title: str = "",
                notes: str = "") -> None:
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    if md_path is not None:
        lines = [title, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
        md_path.write_text("\n".join(lines) + "\n" + notes)


SPEED_CASES = (("evacuate-rack", 40), ("generated", 100), ("generated", 1000))
SPEED_COLUMNS = ("cloud", "hosts", "vms", "goal", "code", "choose_seconds", "plan_seconds", "total_seconds",
                 "speedup", "hosts_after", "hosts_bound", "util_after_pct", "util_ideal_pct", "spread_pp",
                 "bottleneck_spread_pp", "cost", "drained_cost", "targets_met", "second_objective")


SPEED_NOTES = """Each row is one run in a fresh interpreter, before and after one after the other on a
shared, noisy 2-core machine: compare seconds as ratios (`speedup` = before / after total seconds).
`targets_met`: consolidate within 1 host of its lower bound, rebalance within 2 points of the ideal
utilisation, evacuate at the drained VMs' cost when they fit directly, a plan found, and at 1 000
hosts under 120 s. `second_objective`: what the summary states is proven of B's second objective
(the code before stated nothing). `spread_pp`: highest minus lowest host utilisation (each host's
highest share over its resources); `bottleneck_spread_pp`: the spread rebalance minimises (of the
resource with the highest total demand / capacity). Generated clouds: the goal's own family, seed
0; evacuate drains the first 5 % of the hosts."""


def speed_one(cloud: str, hosts: int, goal: str, time_limit: float, planner: str) -> dict:
    """``cpplan target`` once, in this interpreter (whichever cpplan it imports): the row's figures."""
    import numpy as np

    import cpplan
    from cpplan.generate import generate
    from cpplan.goals.metrics import ideal_utilisation
    from cpplan.goals.rebalance import score

    if cloud == "evacuate-rack":
        inst = cpplan.load_instance(Path(__file__).resolve().parent.parent / "models" / "evacuate-rack.yaml")
        drain = ["a01", "a02"]
    else:
        inst = generate(goal, hosts, seed=0)
        drain = list(inst.host_names[: max(1, hosts // 20)])
    drain = drain if goal == "evacuate" else None
    started = time.perf_counter()
    result = cpplan.choose_target(inst, goal=goal, drain=drain, time_limit=time_limit, planner=planner)
    total = time.perf_counter() - started
    drained = [inst.host_index[h] for h in drain or []]
    ideal = ideal_utilisation(inst, drained)
    row = {"cloud": cloud, "hosts": inst.n_hosts, "vms": inst.n_vms, "goal": goal,
           "choose_seconds": round(result.stats["choose_seconds"], 2),
           "plan_seconds": round(total - result.stats["choose_seconds"], 2), "total_seconds": round(total, 2),
           "hosts_after": result.after["hosts_used"],
           "util_after_pct": round(100 * result.after["max_utilisation"], 2),
           "spread_pp": round(100 * result.after["spread"], 2), "cost": result.cost,
           "second_objective": result.proof() if hasattr(result, "proof") else "(not stated)"}
    if goal == "consolidate":
        row["hosts_bound"] = int(result.bound)
        met = result.after["hosts_used"] <= result.bound + 1
    elif goal == "rebalance":
        row["util_ideal_pct"] = round(100 * ideal, 2)
        row["bottleneck_spread_pp"] = score(inst, result.instance.target, None)[1]
        met = result.after["max_utilisation"] <= ideal + 0.02
    else:
        row["drained_cost"] = float(inst.cost[np.isin(inst.initial, drained)].sum())
        met = result.cost == row["drained_cost"] or not result.stats.get("direct_fit", True)
    row["targets_met"] = bool(met and result.plan.found and (inst.n_hosts < 1000 or total < 120))
    return row


def speed(before: str, time_limit: float, planner: str) -> None:
    """The before/after table: the code of commit ``before`` against the working tree's."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tables import write_results

    repo = Path(__file__).resolve().parent.parent
    old = Path(tempfile.mkdtemp(prefix="cpplan-before-"))
    archive = subprocess.run(["git", "-C", str(repo), "archive", before, "cpplan"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    rows = []
    for cloud, hosts in SPEED_CASES:
        for goal in GOALS:
            pair = {}
            for code, path in ((f"before ({before})", str(old)), ("after", str(repo))):
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run([sys.executable, __file__, "--speed-one", cloud, str(hosts), goal,
                                      str(time_limit), planner], env=env, capture_output=True, text=True,
                                     cwd=tempfile.gettempdir())
                if out.returncode != 0:
                    print(f"{cloud} {hosts} {goal} {code}: failed\n{out.stderr}", file=sys.stderr)
                    continue
                pair[code] = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append({**pair[code], "code": code})
                print(rows[-1], flush=True)
            if len(pair) == 2:
                first, second = pair.values()
                rows[-1]["speedup"] = round(first["total_seconds"] / max(second["total_seconds"], 1e-3), 1)
            write_results(RESULTS / "target-speed", rows, SPEED_COLUMNS, [
                f"# cpplan target before and after stopping early (time limit {time_limit:g} s, planner "
                f"{planner}, seed 0)", "", f"Command: `python benchmarks/bench_target.py --speed {before}`.",
                SPEED_NOTES])


def main() -> None:
    if sys.argv[1:2] == ["--speed-one"]:
        cloud, hosts, goal, time_limit, planner = sys.argv[2:7]
        print(json.dumps(speed_one(cloud, int(hosts), goal, float(time_limit), planner)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--goals", nargs="+", default=list(GOALS), choices=GOALS)
    parser.add_argument("--planner", help="default: greedy, or with --speed auto (the CLI's default)")
    parser.add_argument("--time-limit", type=float, nargs="+", default=[60.0],
                        help="seconds to choose each B: one value, or one per size")
    parser.add_argument("--curve-hosts", type=int, default=100)
    parser.add_argument("--no-curve", action="store_true")
    parser.add_argument("--out", default="target", help="file name stem under benchmarks/results")
    parser.add_argument("--speed", metavar="COMMIT", help="time cpplan target at COMMIT and now")
    parser.add_argument("--speed-time-limit", type=float, default=30.0, help="with --speed (CLI default)")
    args = parser.parse_args()
    if args.speed:
        speed(args.speed, args.speed_time_limit, args.planner or "auto")
        return
    args.planner = args.planner or "greedy"

    from cpplan.generate import generate

    RESULTS.mkdir(parents=True, exist_ok=True)
    limits = dict(zip(args.sizes, args.time_limit * len(args.sizes) if len(args.time_limit) == 1
                      else args.time_limit, strict=True))
    rows = []
    title = (f"# Choosing B (planner {args.planner}; seconds to choose per size: "
             f"{', '.join(f'{h} hosts {t:g} s' for h, t in limits.items())})")
    for hosts in args.sizes:
        for family in args.families:
            inst = generate(family, hosts, seed=0)
            for goal in args.goals:
                rows.append(run_one(inst, family, goal, args.planner, limits[hosts]))
                print({k: v for k, v in rows[-1].items() if v not in (None, "")}, flush=True)
                write_table(rows, COLUMNS, RESULTS / f"{args.out}.csv", RESULTS / f"{args.out}.md", title,
                            NOTES)
    if not args.no_curve:
        points = curve(args.curve_hosts, args.planner, min(limits.values()))
        columns = ("move_weight", "cost", "moves", "util_after", "util_before", "util_ideal", "plan_status")
        write_table(points, columns, RESULTS / f"{args.out}-curve.csv", RESULTS / f"{args.out}-curve.md",
                    f"# Rebalance, {args.curve_hosts} hosts: migration cost against highest utilisation "
                    f"(objective: utilisation points + W x cost)")
        plot_curve(points, RESULTS / f"{args.out}-curve.png", args.curve_hosts)


if __name__ == "__main__":
    main()
