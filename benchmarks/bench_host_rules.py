"""The price of fences: greedy on generated clouds with and without a fence per block of hosts.

Each cloud is a generated family at N hosts; the hosts are cut into blocks of 100 and every VM
whose A and B both lie in one block is fenced to it (``groups.fenceK.hosts``). Reported: the
seconds to read the fenced instance, then greedy's status, cost, rounds and seconds on both
clouds (the seconds of the whole ``cpplan.plan`` call: the estimated schedule and the validator
included, most of it on the larger clouds). Run from the repository root::

    .venv/bin/python benchmarks/bench_host_rules.py --sizes 100 1000 --families rebalance tight
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import cpplan
from cpplan.generate import generate

BLOCK = 100


def fenced(inst):
    """``inst`` with each block of ``BLOCK`` hosts fencing the VMs that start and end in it."""
    groups = dict(inst.to_dict().get("groups") or {})
    block = np.arange(inst.n_hosts) // BLOCK
    for b in np.unique(block).tolist():
        vms = np.flatnonzero((block[inst.initial] == b) & (block[inst.target] == b))
        if vms.size:
            groups[f"fence{b}"] = {"vms": [inst.vm_names[v] for v in vms],
                                   "hosts": [inst.host_names[h] for h in np.flatnonzero(block == b)]}
    return inst.replace(groups=groups)


def run(inst) -> str:
    start = time.perf_counter()
    plan = cpplan.plan(inst, planner="greedy")
    assert cpplan.validate(inst, plan) == []
    return f"{plan.status} | {plan.cost:g} | {plan.n_rounds} | {time.perf_counter() - start:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--families", nargs="+", default=["rebalance", "tight"])
    args = parser.parse_args()
    print("| family | hosts | VMs | fenced VMs | read s | fenced: status | cost | rounds | s "
          "| unfenced: status | cost | rounds | s |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for family in args.families:
        for hosts in args.sizes:
            inst = generate(family, hosts=hosts, seed=1)
            start = time.perf_counter()
            rules = fenced(inst)
            read = time.perf_counter() - start
            members = sum(g.vms.size for g in rules.groups if g.hosts is not None)
            print(f"| {family} | {hosts} | {inst.n_vms} | {members} | {read:.2f} | {run(rules)} "
                  f"| {run(inst)} |")


if __name__ == "__main__":
    main()
