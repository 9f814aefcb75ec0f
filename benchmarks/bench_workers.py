"""cp with 1 and 2 workers on a big cloud of many independent parts: seconds, cost, rounds, same plan.

The cloud is racks (``--racks`` copies of a generated ``--family`` at ``--rack-hosts`` hosts,
seeds 1..7 in turn) side by side on disjoint hosts, without a cloud-wide limit: cp splits it into
one independent part per rack and solves each part's direct moves, one by one with 1 worker and 2
at a time in spawned processes with 2. cp runs cold (``warm_start=False``, as bench_cp's
``cp-cold``): greedy's plan already meets both bounds on these racks, and warm cp would search
nothing; cold, every part is a model to build and solve, which proves the least cost and rounds
long before the time limit, so the seconds are the time to the proven answer. Every plan is
checked by the validator. Writes benchmarks/results/workers.md (and .csv).

    python benchmarks/bench_workers.py                 # 100 racks of rebalance at 20 hosts: 2 000 hosts
    python benchmarks/bench_workers.py --racks 10      # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cpplan
from cpplan.generate import generate
from cpplan.parallel import Workers
from cpplan.planners import cp
from cpplan.results import machine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tables import write_results  # noqa: E402

COLUMNS = ["workers", "hosts", "vms", "moving", "parts", "seconds", "status", "cost", "rounds",
           "rounds_proven", "same_plan", "variables"]


def rack_cloud(family: str, racks: int, rack_hosts: int) -> cpplan.Instance:
    """``racks`` clouds of ``family`` at ``rack_hosts`` hosts (seeds 1..7 in turn) side by side."""
    out: dict = {"hosts": {}, "vms": {}, "initial": {}, "target": {}}
    for k in range(racks):
        cloud, p = generate(family, rack_hosts, seed=1 + k % 7).to_dict(), f"r{k}-"
        out["hosts"].update({p + h: c for h, c in cloud["hosts"].items()})
        out["vms"].update({p + v: c for v, c in cloud["vms"].items()})
        out["initial"].update({p + v: p + h for v, h in cloud["initial"].items()})
        out["target"].update({p + v: p + h for v, h in cloud.get("target", {}).items()})
        out.update({key: cloud[key] for key in ("limits", "allocation_ratio") if key in cloud})
    return cpplan.Instance(**out)


def run(inst, workers: int, time_limit: float) -> tuple[dict, cpplan.Plan]:
    """cp, cold, with ``workers``: its row and its plan (checked by the validator)."""
    started = time.perf_counter()
    result = cp.plan(inst, time_limit=time_limit, warm_start=False, parallel=Workers(workers))
    seconds = time.perf_counter() - started
    assert cpplan.validate(inst, result) == [], "an invalid plan"
    row = {"workers": workers, "hosts": inst.n_hosts, "vms": inst.n_vms, "moving": int(inst.moving.sum()),
           "parts": result.stats.get("parts"), "seconds": round(seconds, 1), "status": result.status,
           "cost": result.cost, "rounds": result.n_rounds, "rounds_proven": result.stats.get("rounds_proven"),
           "variables": result.stats.get("variables")}
    return row, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="rebalance")
    parser.add_argument("--racks", type=int, default=100)
    parser.add_argument("--rack-hosts", type=int, default=20)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--out", default=str(HERE / "results" / "workers"))
    args = parser.parse_args()
    inst = rack_cloud(args.family, args.racks, args.rack_hosts)
    print(inst, file=sys.stderr)
    rows, plans = [], []
    for workers in (1, 2):
        row, result = run(inst, workers, args.time_limit)
        plans.append(result.routes())
        rows.append({**row, "same_plan": plans[-1] == plans[0]})
        print(rows[-1], file=sys.stderr)
    one, two = rows
    command = (f"python benchmarks/bench_workers.py --family {args.family} --racks {args.racks} "
               f"--rack-hosts {args.rack_hosts} --time-limit {args.time_limit:g}")
    note = (f"cp, cold, on {args.racks} racks of `{args.family}` at {args.rack_hosts} hosts "
            f"({one['hosts']} hosts, {one['vms']} VMs, {one['moving']} moving, {one['parts']} independent "
            f"parts), time limit {args.time_limit:g} s, 1 then 2 workers in one run (`{command}`). "
            f"Speed-up with 2 workers: x{one['seconds'] / max(two['seconds'], 1e-9):.2f}; cost "
            f"{'the same' if one['cost'] == two['cost'] else 'DIFFERENT'}, rounds "
            f"{'no more' if two['rounds'] <= one['rounds'] else 'MORE'}. Machine: {machine()}, shared with "
            f"other work (load average {os.getloadavg()[0]:.1f} at the end).")
    write_results(Path(args.out), rows, COLUMNS, [note])


if __name__ == "__main__":  # worker processes are spawned: they import this file without running it
    main()
