"""Benchmark the repair goal: generated clouds where a load increase pushes some hosts over capacity.

For each size (hosts) and number of overloaded hosts K, the ``rebalance`` family's placement A (its
target dropped) gets its VMs' RAM raised on K random hosts until each holds OVERLOAD x its RAM
capacity (rounded up to whole GiB); ``--groups F`` also puts that fraction of the VMs in
anti-affinity groups, and ``--broken`` moves one member of that many groups onto a mate's host.
Then ``cpplan.choose_target(goal="repair")`` chooses B and plans A -> B (greedy by default). Rows:
hosts over before, bad hosts after (must be 0), VMs moved, cost against the lower bound, whether
it is proven, and the seconds to choose B and to plan it. Writes ``benchmarks/results/OUT.csv`` and
the table as ``OUT.table.md`` (``--out``, default ``repair``); ``repair.md`` quotes them.

    python benchmarks/bench_repair.py                       # 100/1 000/5 000 hosts, K = 3, 30, 300
    python benchmarks/bench_repair.py --sizes 100 --overloaded 3 --max-utilisation 0.85
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np

import cpplan
from cpplan.constraints.groups import broken_anti_affinity
from cpplan.generate import generate
from cpplan.model import Instance

RESULTS = Path(__file__).resolve().parent / "results"
OVERLOAD = 1.15
COLUMNS = ("hosts", "vms", "overloaded", "broken", "max_utilisation", "hosts_over", "groups_broken",
           "bad_after", "moved", "cost", "lower_bound", "gap", "proven", "cp", "choose_seconds",
           "plan_status", "plan_rounds", "plan_seconds", "total_seconds")


def overloaded_cloud(hosts: int, k: int, seed: int, groups: float, broken: int) -> Instance:
    """The rebalance family's A at ``hosts`` hosts with ``k`` hosts at OVERLOAD x their RAM."""
    base = generate("rebalance", hosts, seed=seed, groups=groups)
    spec = base.to_dict()
    spec.pop("target", None)
    rng = np.random.default_rng(seed)
    ram = base.resource_index["ram"]
    for h in rng.choice(hosts, size=k, replace=False).tolist():
        on = np.flatnonzero(base.initial == h)
        if not on.size:
            continue
        factor = OVERLOAD * base.effective[h, ram] / base.demand[on, ram].sum()
        for v in on.tolist():
            name = base.vm_names[v]
            spec["vms"][name]["ram"] = max(1, math.ceil(base.demand[v, ram] * factor))
    anti = [g for g in base.groups if g.anti_affinity]
    for g in anti[:broken]:  # one member joins a mate on its host
        a, b = base.vm_names[g.vms[0]], base.vm_names[g.vms[1]]
        spec["initial"][b] = spec["initial"][a]
    return Instance(**spec, choosing_target=True)


def run(hosts: int, k: int, args) -> dict:
    inst = overloaded_cloud(hosts, k, args.seed, args.groups, args.broken)
    started = time.perf_counter()
    result = cpplan.choose_target(inst, goal="repair", planner=args.planner, time_limit=args.time_limit,
                                  max_utilisation=args.max_utilisation)
    total = time.perf_counter() - started
    end = result.instance.target
    limit = inst.effective * (args.max_utilisation or 1.0)
    bad = ~(inst.load(end) <= limit + 1e-9).all(axis=1)
    bad[[h for _, h, _ in broken_anti_affinity(inst, end)]] = True
    bad_after = int(bad.sum())
    s = result.stats
    return {"hosts": hosts, "vms": inst.n_vms, "overloaded": k, "broken": args.broken,
            "max_utilisation": args.max_utilisation or "", "hosts_over": len({x["host"] for x in s["over"]}),
            "groups_broken": len(s["broken"]), "bad_after": bad_after, "moved": result.moves,
            "cost": result.cost, "lower_bound": round(result.bound, 1),
            "gap": "" if result.gap is None else round(result.gap, 4), "proven": result.proven,
            "cp": s.get("cp", ""), "choose_seconds": s["choose_seconds"],
            "plan_status": result.plan.status, "plan_rounds": result.plan.n_rounds,
            "plan_seconds": round(result.plan.stats.get("seconds", 0.0), 2), "total_seconds": round(total, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--overloaded", type=int, nargs="+", default=[3, 30, 300])
    p.add_argument("--groups", type=float, default=0.2, help="share of the VMs in anti-affinity groups")
    p.add_argument("--broken", type=int, default=3, help="anti-affinity groups broken in A")
    p.add_argument("--max-utilisation", type=float, default=None)
    p.add_argument("--planner", default="greedy")
    p.add_argument("--time-limit", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="repair")
    args = p.parse_args()
    rows = []
    for hosts in args.sizes:
        for k in args.overloaded:
            if k >= hosts:
                continue
            rows.append(run(hosts, k, args))
            print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{args.out}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " ---: |" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    (RESULTS / f"{args.out}.table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
