"""Partial targets at scale: evacuations given as ``drain`` lists, each drained VM free to land anywhere.

The generated ``evacuate`` cloud empties some hosts; here those hosts become
``drain: [...]`` and their VMs lose their target, so every drained VM may end
on any other host (one allowed-host set of all hosts but the drained ones).
Greedy, cp, and cp without greedy's warm start plan it; every plan is
validated. Prints a table and writes ``benchmarks/results/drain.csv`` and ``.md``.

    python benchmarks/bench_drain.py --sizes 100 1000
"""

from __future__ import annotations

import argparse

from tables import RESULTS, command_line, timed_plan, write_results

COLUMNS = ("hosts", "vms", "drained_hosts", "flexible_vms", "planner", "time_limit", "status", "cost_per_lb",
           "rounds", "rounds_lb", "seconds", "variables", "all_allowed_hosts")


def drained_cloud(hosts: int, seed: int):
    """The generated evacuation with its emptied hosts as a drain list and their VMs' targets dropped."""
    import cpplan
    from cpplan.generate import generate

    plain = generate("evacuate", hosts, seed=seed)
    spec = plain.to_dict()
    names = plain.host_names
    emptied = sorted({names[h] for h in plain.initial} - {names[h] for h in plain.target})
    spec["target"] = {v: h for v, h in spec["target"].items() if spec["initial"][v] not in emptied}
    spec["drain"] = emptied
    return cpplan.Instance(**spec), len(emptied)


def run(inst, planner: str, limit: float, seed: int) -> dict:
    from cpplan.bounds import cost_lower_bound, rounds_lower_bound

    found, seconds = timed_plan(inst, planner, limit, seed)
    return {"planner": planner, "time_limit": limit, "status": found.status,
            "seconds": round(seconds, 2),
            "cost_per_lb": round(found.cost / cost_lower_bound(inst), 4) if found.found else None,
            "rounds": found.n_rounds, "rounds_lb": rounds_lower_bound(inst),
            "variables": found.stats.get("variables"),
            "all_allowed_hosts": found.stats.get("all_allowed_hosts")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--planners", nargs="+", default=["greedy", "cp", "cp-cold"],
                        choices=["greedy", "cp", "cp-cold"])
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="drain")
    args = parser.parse_args(argv)
    rows = []
    for hosts in args.sizes:
        inst, drained = drained_cloud(hosts, args.seed)
        cloud = {"hosts": hosts, "vms": inst.n_vms, "drained_hosts": drained,
                 "flexible_vms": int((inst.domain_of >= 0).sum())}
        for planner in args.planners:
            row = {**cloud, **run(inst, planner, args.time_limit, args.seed)}
            print(" ".join(f"{c}={row[c]}" for c in COLUMNS), flush=True)
            rows.append(row)
    write_results(RESULTS / args.out, rows, COLUMNS, [
        f"Drains (`{command_line('bench_drain.py', argv)}`): the generated evacuation with its emptied hosts "
        "as `drain` and their VMs free to land on any other host. cost_per_lb, rounds_lb: against the lower "
        "bounds; variables: summed over cp's models; all_allowed_hosts: whether cp's candidate last hosts "
        "were every allowed host (so its proofs cover every choice); cp-cold: cp without greedy's warm "
        "start."])


if __name__ == "__main__":
    main()
