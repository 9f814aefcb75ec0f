"""The price of the service levels: each planner on a generated cloud with and without groups.

For every family and size, one cloud (one seed) is planned twice by each
planner: as generated, and with anti-affinity groups of 2-5 VMs covering a
fraction of the VMs (30% by default), ``max_migrating: 1``, members on
distinct hosts at both ends (``generate(..., groups=0.3)``: same hosts, VMs
and placements). The ratios grouped / plain are the price in cost and rounds
and the solve-time ratio; both runs of a pair happen back to back in one
process, after a warm-up, each timed as the least of ``--repeat`` runs, so
the time ratio survives a noisy machine better than the seconds.
Every plan is validated by the dispatcher (an invalid plan is reported as
``invalid``). cp time limits: 30 s at 100 hosts, 60 s at 1 000 (120 s for
shuffle and tight), unless ``--cp-time-limit`` is given. Prints a table and
writes ``benchmarks/results/service-levels.csv`` and ``service-levels.md``.

    python benchmarks/bench_service_levels.py --sizes 100 1000
    python benchmarks/bench_service_levels.py --sizes 100 --planners greedy --out service-levels-greedy
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from tables import RESULTS, command_line, write_results

FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight")
PLANNERS = ("greedy", "cp")
HARD = ("shuffle", "tight")
COLUMNS = ("family", "hosts", "vms", "moving", "groups", "grouped_vms", "bound_groups", "ordered_pairs",
           "planner", "time_limit", "status", "status_grouped", "cost", "cost_grouped", "cost_ratio",
           "rounds", "rounds_grouped", "rounds_lb_grouped", "rounds_ratio", "seconds", "seconds_grouped",
           "time_ratio")


def time_limit(planner: str, family: str, hosts: int, override: float | None) -> float | None:
    if planner != "cp":
        return None
    if override is not None:
        return override
    if hosts < 1000:
        return 30.0
    return 120.0 if family in HARD else 60.0


def solve(inst, planner: str, limit: float | None, seed: int, repeat: int):
    """(first plan or None, its status, least seconds of ``repeat`` runs): an invalid plan is reported."""
    import cpplan

    plan, best = None, float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            found = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed)
        except cpplan.InvalidPlanError as err:
            print(f"  {planner}: invalid plan: {str(err).splitlines()[0]}", file=sys.stderr)
            return None, "invalid", time.perf_counter() - started
        best = min(best, time.perf_counter() - started)
        plan = plan or found
    return plan, plan.status, best


def bound_groups(inst) -> int:
    """Groups with at least two moving members: the ones ``max_migrating: 1`` can slow down."""
    moving = np.bincount(inst.member_group, weights=inst.moving[inst.member_vm], minlength=len(inst.groups))
    return int((moving >= 2).sum())


def ordered_pairs(inst) -> int:
    """Moving members whose target host holds another member of their group at the start.

    Anti-affinity makes such a member wait until the other one has left.
    """
    keep = inst.group_anti[inst.member_group]
    group, vm = inst.member_group[keep], inst.member_vm[keep]
    start = group * inst.n_hosts + inst.initial[vm]
    arrive = (group * inst.n_hosts + inst.target[vm])[inst.moving[vm]]
    return int(np.isin(arrive, start).sum())


def ratio(a, b, digits: int = 3):
    return round(b / a, digits) if a and b is not None else None


def compare(family: str, hosts: int, planners, fraction: float, seed: int, cp_limit: float | None,
            repeat: int):
    """One row per planner: the same cloud planned without and with groups."""
    from cpplan.generate import generate

    plain = generate(family, hosts, seed=seed)
    grouped = generate(family, hosts, seed=seed, groups=fraction)
    rows = []
    for planner in planners:
        limit = time_limit(planner, family, hosts, cp_limit)
        p0, s0, t0 = solve(plain, planner, limit, seed, repeat)
        p1, s1, t1 = solve(grouped, planner, limit, seed, repeat)
        found0, found1 = p0 is not None and p0.found, p1 is not None and p1.found
        rows.append({
            "family": family, "hosts": hosts, "vms": plain.n_vms, "moving": int(plain.moving.sum()),
            "groups": len(grouped.groups), "grouped_vms": int(grouped.member_vm.size),
            "bound_groups": bound_groups(grouped), "ordered_pairs": ordered_pairs(grouped),
            "planner": planner, "time_limit": limit,
            "status": s0, "status_grouped": s1,
            "cost": p0.cost if found0 else None, "cost_grouped": p1.cost if found1 else None,
            "cost_ratio": ratio(p0.cost, p1.cost, 4) if found0 and found1 else None,
            "rounds": p0.n_rounds if found0 else None, "rounds_grouped": p1.n_rounds if found1 else None,
            "rounds_lb_grouped": p1.rounds_lower_bound if p1 is not None else None,
            "rounds_ratio": ratio(p0.n_rounds, p1.n_rounds) if found0 and found1 else None,
            "seconds": round(t0, 2), "seconds_grouped": round(t1, 2), "time_ratio": ratio(t0, t1, 2),
        })
    return rows


def preamble(command: str, fraction: float, repeat: int) -> list[str]:
    lines = [f"The price of the service levels (`{command}`): each cloud planned as generated and with",
             f"anti-affinity groups of 2-5 VMs covering {fraction:.0%} of the VMs, `max_migrating: 1`.",
             "groups, grouped_vms: how many groups and members; bound_groups: groups with two or more",
             "moving members (the ones the limit can slow down); ordered_pairs: moving members whose",
             "target host holds another member at the start (anti-affinity makes them wait for it);",
             "*_ratio: grouped / plain (cost, rounds, seconds of planning including the dispatcher's",
             f"bounds and validation, the least of {repeat} runs); rounds_lb_grouped: the rounds lower",
             "bound of the grouped cloud; time_limit: cp's, in seconds."]
    return lines


def warm_up(planners) -> None:
    """Plan a small cloud once per planner, so imports and first calls are not timed."""
    import cpplan
    from cpplan.generate import generate

    for planner in planners:
        cpplan.plan(generate("rebalance", 4, groups=0.3), planner=planner, time_limit=5)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--planners", nargs="+", choices=PLANNERS, default=list(PLANNERS))
    ap.add_argument("--groups", type=float, default=0.3, help="fraction of the VMs in groups")
    ap.add_argument("--cp-time-limit", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs per plan; the least seconds count")
    ap.add_argument("--out", default="service-levels", help="file stem under benchmarks/results/")
    args = ap.parse_args(argv)
    warm_up(args.planners)
    shown = ("family", "hosts", "vms", "groups", "bound_groups", "ordered_pairs", "planner", "status_grouped",
             "cost_ratio", "rounds", "rounds_grouped", "rounds_ratio", "time_ratio")
    print(" ".join(f"{c:>14}" for c in shown), flush=True)
    rows = []
    for hosts in args.sizes:
        for family in args.families:
            for row in compare(family, hosts, args.planners, args.groups, args.seed, args.cp_time_limit,
                               args.repeat):
                rows.append(row)
                print(" ".join(f"{row[c]!s:>14}" for c in shown), flush=True)
    write_results(RESULTS / args.out, rows, COLUMNS,
                  preamble(command_line("bench_service_levels.py", argv), args.groups, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
