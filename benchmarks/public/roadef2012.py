"""Convert a ROADEF/EURO Challenge 2012 instance (Google machine reassignment) into a cpplan instance.

The challenge's files (public copies: github.com/wjaskowski/roadef-challange-2012-public,
``data/A`` and ``data/B``) are whitespace-separated integers:

- the model: ``R``, then per resource ``transient weight_load_cost``; ``M``, then per machine
  ``neighborhood location capacity[R] safety_capacity[R] machine_move_cost[M]``; ``S``, then per
  service ``spread_min n_dependencies dependency...``; ``P``, then per process
  ``service requirement[R] process_move_cost``; ``B``, then per balance objective
  ``resource1 resource2 target`` and its ``weight``; then the three move-cost weights;
- an assignment: one machine index per process (the initial one, or a solution's new one).

What the conversion keeps: machines become hosts ``m0..`` with each resource's capacity as
capacity (the hard limit); processes become VMs ``p0..`` with their requirements; the initial
assignment is placement A; a new assignment, when given, is B (without one the instance has no
``target``, for ``cpplan target`` to choose). A service of two or more processes becomes an
anti-affinity group ``s<k>`` (the challenge's conflict constraint: its processes on distinct
machines). ROADEF's resources are unnamed: resource ``--ram`` (default 0) is read as ``ram``, the
memory a live migration copies and cpplan's default migration cost; the others are ``r<k>``.
A migrating process holds its requirements on both machines while it moves, as the challenge's
transient resources do; after the move cpplan frees the source.

What it drops (the header says so): safety capacities, load and balance costs, spread over
locations, dependencies between services and neighborhoods, process/service/machine move costs
(cpplan's cost is the RAM moved), and the transient resources' hold on the source after the move.

    python benchmarks/public/roadef2012.py model_a1_2.txt assignment_a1_2.txt -o a1_2.yaml

>>> model = "1 0 1  2 0 0 10 1 0 1 0 0 8 1 1 0  1 1 0  2 0 5 1 0 4 1  0  1 1 1"
>>> inst, notes = convert(model, "0 1", None)
>>> sorted(inst["hosts"]), inst["vms"]["p0"], inst["initial"], inst["groups"]
(['m0', 'm1'], {'ram': 5}, {'p0': 'm0', 'p1': 'm1'}, {'s0': {'vms': ['p0', 'p1'], 'anti_affinity': True}})
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from writer import ConversionError, write_instance  # noqa: E402


class Tokens:
    """The integers of a challenge file, read in order, with the file's name for errors."""

    def __init__(self, text: str, name: str):
        self.name = name
        try:
            self.values = [int(x) for x in text.split()]
        except ValueError as e:
            raise ConversionError(f"{name}: not a list of integers ({e})") from None
        self.at = 0

    def take(self, n: int = 1, what: str = "value") -> list[int]:
        if n < 0 or self.at + n > len(self.values):
            raise ConversionError(f"{self.name}: ends early, while reading {what}")
        out = self.values[self.at:self.at + n]
        self.at += n
        return out

    def one(self, what: str) -> int:
        return self.take(1, what)[0]


def _resources(t: Tokens, ram: int) -> list[str]:
    count = t.one("the number of resources")
    for r in range(count):
        t.take(2, f"resource {r}")
    if not 0 <= ram < count:
        raise ConversionError(f"--ram {ram}: the model has resources 0..{count - 1}")
    return ["ram" if r == ram else f"r{r}" for r in range(count)]


def _machines(t: Tokens, names: list[str]) -> dict:
    count = t.one("the number of machines")
    hosts = {}
    for m in range(count):
        t.take(2, f"machine {m}'s neighborhood and location")
        capacity = t.take(len(names), f"machine {m}'s capacities")
        t.take(len(names), f"machine {m}'s safety capacities")
        t.take(count, f"machine {m}'s move costs")
        hosts[f"m{m}"] = dict(zip(names, capacity, strict=True))
    return hosts


def _services(t: Tokens) -> int:
    count = t.one("the number of services")
    for s in range(count):
        t.one(f"service {s}'s spread")
        t.take(t.one(f"service {s}'s dependencies"), f"service {s}'s dependencies")
    return count


def _processes(t: Tokens, names: list[str], services: int) -> tuple[dict, list[int]]:
    count = t.one("the number of processes")
    vms, service_of = {}, []
    for p in range(count):
        service = t.one(f"process {p}'s service")
        if not 0 <= service < services:
            raise ConversionError(f"{t.name}: process {p} names service {service}, of {services}")
        need = t.take(len(names), f"process {p}'s requirements")
        t.one(f"process {p}'s move cost")
        vms[f"p{p}"] = {k: x for k, x in zip(names, need, strict=True) if x}
        service_of.append(service)
    return vms, service_of


def _placement(text: str, name: str, n_vms: int, n_hosts: int) -> dict:
    t = Tokens(text, name)
    machines = t.take(n_vms, "one machine per process")
    if t.at != len(t.values):
        raise ConversionError(f"{name}: {len(t.values)} machines for {n_vms} processes")
    bad = [m for m in machines if not 0 <= m < n_hosts]
    if bad:
        raise ConversionError(f"{name}: machine {bad[0]} does not exist (the model has {n_hosts})")
    return {f"p{p}": f"m{m}" for p, m in enumerate(machines)}


NAMES = ("model", "assignment", "new assignment")


def convert(model: str, initial: str, new: str | None, *, ram: int = 0,
            names: tuple[str, str, str] = NAMES) -> tuple[dict, list[str]]:
    """The cpplan instance (a dict) of a challenge model and its assignments, and the header's notes."""
    t = Tokens(model, names[0])
    resources = _resources(t, ram)
    hosts = _machines(t, resources)
    services = _services(t)
    vms, service_of = _processes(t, resources, services)
    members: dict[int, list[str]] = {}
    for p, s in enumerate(service_of):
        members.setdefault(s, []).append(f"p{p}")
    inst = {"hosts": hosts, "vms": vms,
            "initial": _placement(initial, names[1], len(vms), len(hosts)),
            "groups": {f"s{s}": {"vms": m, "anti_affinity": True}
                       for s, m in sorted(members.items()) if len(m) > 1}}
    if new is not None:
        inst["target"] = _placement(new, names[2], len(vms), len(hosts))
    notes = [f"ROADEF/EURO 2012 machine reassignment, {names[0]}: {len(hosts)} machines, {len(vms)} "
             f"processes, {len(resources)} resources, {services} services",
             f"kept: capacities (hard), requirements, placement A ({names[1]})"
             + (f", placement B ({names[2]})" if new is not None else ", no target (cpplan target chooses)"),
             f"kept: the {len(inst['groups'])} services of 2+ processes as anti-affinity groups",
             f"resource {ram} is read as ram (migration cost and copy size); the others are r<k>",
             "dropped: safety capacities, load and balance costs, spread over locations, service "
             "dependencies, neighborhoods, move costs, transient hold on the source after a move"]
    return inst, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="the challenge's model file (model_*.txt)")
    ap.add_argument("assignment", type=Path, help="its initial assignment (assignment_*.txt): placement A")
    ap.add_argument("new_assignment", type=Path, nargs="?",
                    help="a new assignment (a solution) as placement B; without it, no target")
    ap.add_argument("--ram", type=int, default=0, metavar="K",
                    help="the resource read as ram (default 0)")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="the cpplan instance to write (.yaml with a header of notes, or .json)")
    args = ap.parse_args(argv)
    try:
        texts = [p.read_text() if p else None for p in (args.model, args.assignment, args.new_assignment)]
        names = tuple(p.name if p else "" for p in (args.model, args.assignment, args.new_assignment))
        inst, notes = convert(*texts, ram=args.ram, names=names)
        write_instance(inst, notes, args.output)
    except (OSError, ConversionError) as e:
        print(f"roadef2012: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
