"""Planning when hosts fit only thanks to shared pages: greedy, cp and cp without greedy's warm start.

Each generated cloud gets one of ``--images`` images per VM at random and
``page_sharing: {ratio: R}``; then each host's RAM is cut to its larger
shared use in A and B times ``--headroom`` (so most hosts would be over
capacity if pages were not shared: column ``hosts_over_unshared``). Every plan
is validated by the dispatcher, which applies the sharing rule exactly.
Prints a table and writes ``benchmarks/results/page-sharing.csv`` and ``.md``.

    python benchmarks/bench_page_sharing.py --sizes 100 1000 --headroom 1.04 1.10
"""

from __future__ import annotations

import argparse

import numpy as np
from tables import RESULTS, command_line, timed_plan, write_results

COLUMNS = ("family", "hosts", "vms", "moving", "headroom", "hosts_over_unshared", "planner", "time_limit",
           "status", "cost_per_lb", "rounds", "rounds_lb", "seconds", "variables", "plan_from")


def shared_cloud(family: str, hosts: int, images: int, ratio: float, headroom: float, seed: int):
    """The generated cloud with random images, page sharing, and RAM cut to ``headroom`` x the shared use."""
    import cpplan
    from cpplan.generate import generate

    plain = generate(family, hosts, seed=seed)
    spec = plain.to_dict()
    rng = np.random.default_rng(seed)
    for vm in spec["vms"].values():
        vm["image"] = f"image{rng.integers(images)}"
    spec["page_sharing"] = {"ratio": ratio}
    inst = cpplan.Instance(**spec)
    ram = inst.resources.index("ram")
    use = np.maximum(inst.load(inst.initial), inst.load(inst.target))[:, ram]
    for name, u in zip(inst.host_names, use, strict=True):
        spec["hosts"][name]["ram"] = float(np.ceil(u * headroom))
    inst = cpplan.Instance(**spec)
    unshared = np.maximum(plain.load(plain.initial), plain.load(plain.target))[:, ram]
    return inst, int((unshared > inst.effective[:, ram] + 1e-9).sum())


def run(inst, planner: str, limit: float, seed: int) -> dict:
    from cpplan.bounds import cost_lower_bound, rounds_lower_bound

    found, seconds = timed_plan(inst, planner, limit, seed)
    lb = cost_lower_bound(inst)
    return {"planner": planner, "time_limit": limit, "status": found.status, "seconds": round(seconds, 2),
            "cost_per_lb": round(found.cost / lb, 4) if found.found and lb else None,
            "rounds": found.n_rounds, "rounds_lb": rounds_lower_bound(inst),
            "variables": found.stats.get("variables"), "plan_from": found.stats.get("plan_from")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100])
    parser.add_argument("--families", nargs="+", default=["rebalance", "tight"])
    parser.add_argument("--headroom", type=float, nargs="+", default=[1.04, 1.10])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--ratio", type=float, default=0.2)
    parser.add_argument("--planners", nargs="+", default=["greedy", "cp", "cp-cold"],
                        choices=["greedy", "cp", "cp-cold"])
    parser.add_argument("--time-limit", type=float, default=None,
                        help="default: 60 s, 120 s from 1 000 hosts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="page-sharing")
    args = parser.parse_args(argv)
    rows = []
    for hosts in args.sizes:
        limit = args.time_limit or (60.0 if hosts < 1000 else 120.0)
        for family in args.families:
            for headroom in args.headroom:
                inst, over = shared_cloud(family, hosts, args.images, args.ratio, headroom, args.seed)
                cloud = {"family": family, "hosts": hosts, "vms": inst.n_vms, "headroom": headroom,
                         "moving": int(inst.moving.sum()), "hosts_over_unshared": over}
                for planner in args.planners:
                    row = {**cloud, **run(inst, planner, limit, args.seed)}
                    print(" ".join(f"{c}={row[c]}" for c in COLUMNS), flush=True)
                    rows.append(row)
    write_results(RESULTS / args.out, rows, COLUMNS, [
        f"Page sharing (`{command_line('bench_page_sharing.py', argv)}`): {args.images} images, ratio "
        f"{args.ratio}, each host's RAM cut to `headroom` x its larger shared use in A and B. "
        "cost_per_lb, rounds_lb: against the lower bounds; variables: summed over cp's models; "
        "plan_from: whose plan cp returned; cp-cold: cp without greedy's warm start."])


if __name__ == "__main__":
    main()
