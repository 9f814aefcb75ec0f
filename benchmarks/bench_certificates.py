"""Seconds to prove fragmented clouds infeasible (:mod:`cpplan.certificates`), alone and in ``cpplan.plan``.

Three shapes, each in groups of 4 hosts repeated to the size asked (targets always fit):

- ``ring``: hosts of 10 ram, each with a VM of 6 and one of 3 (1 ram free); the VMs of 6 rotate
  around each group (BtrPlace's issue #307): no first migration fits anywhere;
- ``two-resource``: hosts of 10 ram and 10 cpu; two hold a VM of 9 ram and 2 cpu, two a VM of 2 ram
  and 9 cpu, and each pair of alike hosts swaps its VMs: 9 units free per host, no VM fits anywhere;
- ``cycle``: three full hosts of 8 ram rotate VMs of 8; the fourth host (6 ram) holds a VM of 2 that
  may go to another such host, after which it still has room for no VM of 8: a cycle of full hosts
  with no staging room (at 4 hosts the VM of 2 has nowhere to go: no first migration fits).

A second table times the certificate on generated clouds that have a plan (it must claim nothing
there, and it runs before every plan): ``--families`` at ``--feasible-sizes`` hosts, seed 1.

Run from the repository root::

    .venv/bin/python benchmarks/bench_certificates.py --sizes 4 100 10000
"""

from __future__ import annotations

import argparse
import time


def fragmented(shape: str, hosts: int):
    """The cloud of ``shape`` (module docstring) on ``hosts`` hosts (a multiple of 4)."""
    from cpplan import Instance

    spec = {"hosts": {}, "vms": {}, "initial": {}, "target": {}}
    for g in range(hosts // 4):
        names = [f"h{4 * g + i}" for i in range(4)]
        {"ring": _ring, "two-resource": _two_resources, "cycle": _cycle}[shape](spec, g, names)
    return Instance(**spec)


def _ring(spec: dict, g: int, names: list[str]) -> None:
    for i, h in enumerate(names):
        spec["hosts"][h] = {"ram": 10}
        big, small = f"big{g}_{i}", f"small{g}_{i}"
        spec["vms"].update({big: {"ram": 6}, small: {"ram": 3}})
        spec["initial"].update({big: h, small: h})
        spec["target"][big] = names[(i + 1) % 4]


def _two_resources(spec: dict, g: int, names: list[str]) -> None:
    for i, h in enumerate(names):
        spec["hosts"][h] = {"ram": 10, "cpu": 10}
        v = f"vm{g}_{i}"
        spec["vms"][v] = {"ram": 9, "cpu": 2} if i % 2 == 0 else {"ram": 2, "cpu": 9}
        spec["initial"][v] = h
        spec["target"][v] = names[(i + 2) % 4]


def _cycle(spec: dict, g: int, names: list[str]) -> None:
    for i, h in enumerate(names[:3]):
        spec["hosts"][h] = {"ram": 8}
        spec["vms"][f"full{g}_{i}"] = {"ram": 8}
        spec["initial"][f"full{g}_{i}"] = h
        spec["target"][f"full{g}_{i}"] = names[(i + 1) % 3]
    spec["hosts"][names[3]] = {"ram": 6}
    spec["vms"][f"job{g}"] = {"ram": 2}
    spec["initial"][f"job{g}"] = names[3]


def main() -> None:
    import cpplan
    from cpplan.certificates import certificate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 100, 10000])
    parser.add_argument("--shapes", nargs="+", default=["ring", "two-resource", "cycle"])
    parser.add_argument("--families", nargs="+", default=["rebalance", "tight"])
    parser.add_argument("--feasible-sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print("| shape | hosts | VMs | moving | status | certificate s | plan() s |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for shape in args.shapes:
        for hosts in args.sizes:
            inst = fragmented(shape, hosts)
            started = time.perf_counter()
            reason = certificate(inst)
            alone = time.perf_counter() - started
            started = time.perf_counter()
            result = cpplan.plan(inst)
            whole = time.perf_counter() - started
            assert reason is not None and result.reason == reason, (shape, hosts, result.reason)
            print(f"| {shape} | {inst.n_hosts} | {inst.n_vms} | {int(inst.moving.sum())} | {result.status} | "
                  f"{alone:.3f} | {whole:.3f} |", flush=True)
            print(f"<!-- {reason} -->")
    _feasible(args.families, args.feasible_sizes)


def _feasible(families: list[str], sizes: list[int]) -> None:
    """The certificate's seconds on generated clouds with a plan (where it proves nothing)."""
    from cpplan.certificates import certificate
    from cpplan.generate import generate

    print("\n| family | hosts | VMs | moving | claim | certificate s |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    for family in families:
        for hosts in sizes:
            inst = generate(family, hosts, 1)
            started = time.perf_counter()
            reason = certificate(inst)
            seconds = time.perf_counter() - started
            print(f"| {family} | {inst.n_hosts} | {inst.n_vms} | {int(inst.moving.sum())} | "
                  f"{'none' if reason is None else reason} | {seconds:.3f} |", flush=True)


if __name__ == "__main__":
    main()
