"""Choosing B with page sharing: consolidation that counts shared pages, against the same cloud without.

Each cloud is the generator's ``consolidate`` family with ``images=K, sharing=R`` (every VM one of
K images drawn at random, so placement A ignores images), thinned to 40-60 % RAM per host (each
host keeps a random prefix of its VMs up to a uniform 40-60 % of its RAM, plain sums). For each
cloud: hosts in use after ``consolidate`` with sharing (``cpplan.choose_target``, the plan to B by
``--planner``, validated) and without (the same cloud with ``page_sharing`` removed), the
sharing-aware hosts lower bound, the RAM in use with sharing against its plain sum, the plan's cost
and the seconds to choose B. Prints each row and writes ``benchmarks/results/sharing.md`` (and
``.csv``).

    python benchmarks/bench_sharing.py --sizes 100 1000 --images 4 8 16 --ratios 0.2 0.4 0.6
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tables import RESULTS, command_line, write_results

COLUMNS = ("hosts", "vms", "images", "ratio", "ram_in_A", "hosts_without", "hosts_with", "lower_bound",
           "fewer", "over_bound", "ram_saved", "plan", "plan_cost", "moves", "choose_s", "choose_s_without",
           "plan_s")


def thinned_cloud(hosts: int, images: int, ratio: float, seed: int):
    """The generated cloud, each host keeping a random prefix of its VMs up to 40-60 % of its RAM."""
    import cpplan
    from cpplan.generate import generate

    inst = generate("consolidate", hosts, seed=seed, images=images, sharing=ratio)
    rng = np.random.default_rng([seed, hosts, images, 7])
    r = inst.resource_index["ram"]
    goal = rng.uniform(0.4, 0.6, inst.n_hosts) * inst.effective[:, r]
    keep = np.zeros(inst.n_vms, dtype=bool)
    for h in range(inst.n_hosts):
        on = rng.permutation(np.flatnonzero(inst.initial == h))
        keep[on[np.cumsum(inst.demand[on, r]) <= goal[h]]] = True
    spec = inst.to_dict()
    names = [inst.vm_names[j] for j in np.flatnonzero(keep)]
    spec.update(vms={n: spec["vms"][n] for n in names}, initial={n: spec["initial"][n] for n in names},
                target={})
    return cpplan.Instance(**spec)


def without_sharing(inst):
    """The same cloud with ``page_sharing`` removed (images stay, sharing nothing)."""
    import cpplan

    spec = inst.to_dict()
    spec.pop("page_sharing")
    return cpplan.Instance(**spec)


def row_for(hosts: int, images: int, ratio: float, args) -> dict:
    import cpplan
    from cpplan.goals import Search, consolidate

    inst = thinned_cloud(hosts, images, ratio, args.seed)
    r = inst.resource_index["ram"]
    limit = args.time_limit or (30.0 if hosts < 1000 else 50.0)
    plain = without_sharing(inst)
    started = time.perf_counter()
    unshared = consolidate.choose(plain, search=Search(time_limit=limit, seed=args.seed))
    without_s = time.perf_counter() - started
    result = cpplan.choose_target(inst, goal="consolidate", time_limit=limit, seed=args.seed,
                                  planner=args.planner, plan_time_limit=args.plan_time_limit)
    found = result.plan
    assert not found.found or cpplan.validate(result.instance, found) == []
    with_hosts, without = result.after["hosts_used"], int(np.unique(unshared.placement).size)
    used, demand = result.after["shared_in_use"], result.after["shared_demand"]
    return {"hosts": hosts, "vms": inst.n_vms, "images": images, "ratio": ratio,
            "ram_in_A": f"{inst.demand[:, r].sum() / inst.effective[:, r].sum():.0%}",
            "hosts_without": without, "hosts_with": with_hosts, "lower_bound": int(result.bound),
            "fewer": f"{1 - with_hosts / without:.0%}", "over_bound": f"{with_hosts / result.bound - 1:.1%}",
            "ram_saved": f"{1 - used / demand:.0%}", "plan": found.status,
            "plan_cost": found.cost if found.found else None, "moves": result.moves,
            "choose_s": result.stats["choose_seconds"], "choose_s_without": round(without_s, 1),
            "plan_s": found.stats.get("seconds")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--images", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    parser.add_argument("--planner", default="greedy", choices=["greedy", "auto"])
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds to choose B: default 30, 50 from 1 000 hosts")
    parser.add_argument("--plan-time-limit", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="sharing")
    args = parser.parse_args(argv)
    rows = []
    print(" ".join(COLUMNS), flush=True)
    for hosts in args.sizes:
        for images in args.images:
            for ratio in args.ratios:
                rows.append(row_for(hosts, images, ratio, args))
                print(" ".join(str(rows[-1][c]) for c in COLUMNS), flush=True)
    write_results(RESULTS / args.out, rows, COLUMNS, [
        f"Consolidation with page sharing (`{command_line('bench_sharing.py', argv)}`; 2-core VM). "
        "hosts_without: the same cloud with page_sharing removed; lower_bound: the sharing-aware hosts "
        "bound (each image's shared pages once; cpu and disk count too); fewer: hosts_with against "
        "hosts_without; ram_saved: RAM in use in B by the sharing rule against its plain sum; plan: "
        f"the {args.planner} plan from A to B (validated), its cost (RAM moved, GiB) and the VMs moved; "
        "choose_s: seconds to choose B (with sharing), choose_s_without: without."])


if __name__ == "__main__":
    main()
