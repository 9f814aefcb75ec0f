"""Benchmark choosing B: each goal on each generated family and size, then planning the way to it.

For every (family, size, goal) the cloud's initial placement is A; the goal
chooses B (evacuate drains the first 5 % of the hosts) and the planner plans
A -> B. Consolidation is compared with a plain first-fit-decreasing repack
(which ignores migration cost); rebalancing with the ideal utilisation (total
demand / total capacity). Then the cost-vs-balance curve of rebalancing over a
few move weights. Writes ``benchmarks/results/target.csv``, ``target.md``,
``target-curve.csv``, ``target-curve.md`` and ``target-curve.png``.

    python benchmarks/bench_target.py --sizes 20 100 1000 --time-limit 10 20 60
    python benchmarks/bench_target.py --sizes 20 --families rebalance --no-curve
"""

from __future__ import annotations

import argparse
import csv
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 1000])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--goals", nargs="+", default=list(GOALS), choices=GOALS)
    parser.add_argument("--planner", default="greedy")
    parser.add_argument("--time-limit", type=float, nargs="+", default=[60.0],
                        help="seconds to choose each B: one value, or one per size")
    parser.add_argument("--curve-hosts", type=int, default=100)
    parser.add_argument("--no-curve", action="store_true")
    parser.add_argument("--out", default="target", help="file name stem under benchmarks/results")
    args = parser.parse_args()

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
