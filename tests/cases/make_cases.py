"""Make the test suite's tiny clouds with proven answers: ``<kind>-00N.yaml`` and ``truth.json``.

Run ``.venv/bin/python tests/cases/make_cases.py`` (``--help`` for the options); the same seed
always writes the same files. Random clouds of 3-5 hosts and 3-8 VMs (ram, sometimes cpu too;
``limits.host`` 1 or 2, sometimes ``limits.total``) start from a placement A that fits and aim at
a placement B that fits. The exact planner settles each one, and its answer decides the kind:

- ``infeasible``: exact proved that no plan exists (status ``infeasible``: it exhausted every
  reachable placement) and ``bounds.infeasibility`` finds no certificate, so it takes the search;
- otherwise only a proven least cost counts (status ``optimal``). With ``direct_cost`` the summed
  cost of the VMs whose host must change (each migrates at least once, every cost is positive):
- ``displace``: the proven plan migrates a VM whose target is the host it is on: a step aside;
- ``bounce``: else, when ``min_cost > direct_cost``: some VM migrates twice, through a third host;
- ``direct``: else, ``min_cost == direct_cost``: each VM that must move migrates once.

Clouds that exact does not settle within :data:`MAX_EXPANDED` placements are dropped (a count,
not seconds, so that the draw does not depend on the machine). Of
each kind the first :data:`PER_KIND` drawn are kept, except that the suite needs a few
properties, so the first case drawn with each of them is kept in any case:

- ``direct``: greedy finds the least cost (the suite checks greedy on every direct case), and
  one where greedy also finds it in fewer rounds than exact packs its plan into;
- ``displace``: one where greedy finds no plan or a costlier one than exact's;
- ``bounce``: one where greedy finds no plan or a costlier one.

``truth.json`` lists ``{"case", "kind", "feasible", "min_cost", "direct_cost"}`` per case
(``min_cost`` null when infeasible). The table printed at the end shows what each case tests.

>>> import cpplan
>>> swap = cpplan.Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                        vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                        initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> case = settle(swap)
>>> case.kind, case.truth(), case.greedy.cost
('bounce', {'feasible': True, 'min_cost': 12, 'direct_cost': 8}, 12)
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import cpplan
from cpplan.bounds import infeasibility
from cpplan.plan import Plan, plain_number

KINDS = ("direct", "bounce", "displace", "infeasible")
PER_KIND = 5
MAX_EXPANDED = 400  # placements exact may expand on one case (about 0.2 s), so the suite runs all planners
MAX_DRAWS = 20_000
HOST_RAM = (8, 10, 12, 16)
VM_RAM = (1, 2, 2, 3, 4, 4, 6, 8)


@dataclass
class Case:
    """A cloud, exact's answer, greedy's plan and the kind they make (None: not kept)."""

    inst: cpplan.Instance
    exact: Plan
    greedy: Plan
    kind: str | None

    @property
    def direct_cost(self):
        return plain_number(self.inst.cost[self.inst.moving].sum())

    def truth(self) -> dict:
        feasible = self.kind != "infeasible"
        return {"feasible": feasible, "min_cost": plain_number(self.exact.cost) if feasible else None,
                "direct_cost": self.direct_cost}

    def greedy_misses(self) -> bool:
        """Greedy finds no plan, or a costlier one than the least cost."""
        return not self.greedy.found or self.greedy.cost > self.exact.cost

    def greedy_shorter(self) -> bool:
        """Greedy finds the least cost in fewer rounds than exact's plan."""
        return (self.greedy.found and self.greedy.cost == self.exact.cost
                and self.greedy.n_rounds < self.exact.n_rounds)


def place(rng: random.Random, capacity: dict, demand: dict) -> dict | None:
    """A random placement of every VM where each host holds what it carries; None if none drawn."""
    free = {h: dict(c) for h, c in capacity.items()}
    placement = {}
    for vm in rng.sample(list(demand), len(demand)):
        fits = [h for h in free if all(free[h][r] >= d for r, d in demand[vm].items())]
        if not fits:
            return None
        host = rng.choice(fits)
        for r, d in demand[vm].items():
            free[host][r] -= d
        placement[vm] = host
    return dict(sorted(placement.items()))


def random_cloud(rng: random.Random) -> cpplan.Instance | None:
    """3-5 hosts, 3-8 VMs, a fitting A and a fitting B; None when no fitting placement was drawn."""
    two = rng.random() < 0.35
    hosts = {f"h{h}": {"ram": rng.choice(HOST_RAM), **({"cpu": rng.choice((4, 6, 8))} if two else {})}
             for h in range(rng.randint(3, 5))}
    vms = {f"vm{v}": {"ram": rng.choice(VM_RAM), **({"cpu": rng.randint(1, 4)} if two else {})}
           for v in range(rng.randint(3, 8))}
    initial, final = place(rng, hosts, vms), place(rng, hosts, vms)
    if initial is None or final is None:
        return None
    # VMs left out of the target stay where they are: only some of those B keeps in place are named
    target = {vm: host for vm, host in final.items() if host != initial[vm] or rng.random() < 0.3}
    limits = {"host": rng.choice((1, 1, 2))}
    if rng.random() < 0.2:
        limits["total"] = rng.randint(1, 3)
    return cpplan.Instance(hosts=hosts, vms=vms, initial=initial, target=target, limits=limits)


def settle(inst: cpplan.Instance) -> Case:
    """Plan ``inst`` with exact and greedy, and decide its kind from exact's proof."""
    exact = cpplan.plan(inst, planner="exact", time_limit=5)  # past MAX_EXPANDED long before
    slow = exact.stats.get("expanded", 0) > MAX_EXPANDED
    greedy = cpplan.plan(inst, planner="greedy", time_limit=None)
    if slow or not inst.moving.any():
        return Case(inst, exact, greedy, None)
    if exact.status == "infeasible":
        return Case(inst, exact, greedy, "infeasible" if infeasibility(inst) is None else None)
    if exact.status != "optimal":
        return Case(inst, exact, greedy, None)
    moved = [inst.vm_index[m["vm"]] for r in exact.rounds for m in r]
    if any(not inst.moving[v] for v in moved):
        kind = "displace"
    elif exact.cost > inst.cost[inst.moving].sum():
        assert len(set(moved)) < len(moved), "a cost above direct_cost without a VM moving twice"
        kind = "bounce"
    else:
        kind = "direct"
    return Case(inst, exact, greedy, kind)


# Of each kind: which cases may be kept at all, and the properties one kept case must have.
ELIGIBLE = {"direct": lambda c: c.greedy.found and c.greedy.cost == c.exact.cost}
WANTED = {"direct": [Case.greedy_shorter], "displace": [Case.greedy_misses],
          "bounce": [Case.greedy_misses]}


def chosen(pool: list[Case]) -> list[Case] | None:
    """The first :data:`PER_KIND` of ``pool``, with the first case of each wanted property in."""
    if not pool:
        return None
    kind = pool[0].kind
    keep = []
    for wanted in WANTED.get(kind, []):
        first = next((c for c in pool if wanted(c)), None)
        if first is None:
            return None
        if first not in keep:
            keep.append(first)
    keep += [c for c in pool if c not in keep][:PER_KIND - len(keep)]
    return sorted(keep, key=pool.index) if len(keep) == PER_KIND else None


def draw_cases(seed: int) -> dict[str, list[Case]]:
    """Random clouds from ``seed`` until every kind has its cases; raises when none are drawn."""
    rng = random.Random(seed)
    pools: dict[str, list[Case]] = {kind: [] for kind in KINDS}
    for _ in range(MAX_DRAWS):
        picked = {kind: chosen(pool) for kind, pool in pools.items()}
        if all(picked.values()):
            return picked
        inst = random_cloud(rng)
        if inst is None:
            continue
        case = settle(inst)
        if case.kind is not None and picked[case.kind] is None and ELIGIBLE.get(case.kind, bool)(case):
            pools[case.kind].append(case)
    missing = [kind for kind, pool in pools.items() if chosen(pool) is None]
    raise SystemExit(f"make_cases: no {', '.join(missing)} cases in {MAX_DRAWS} random clouds (seed {seed})")


def write_cases(picked: dict[str, list[Case]], out: Path) -> list[dict]:
    """Write ``<kind>-00N.yaml`` and ``truth.json`` to ``out``; the truth records, by case name."""
    out.mkdir(parents=True, exist_ok=True)
    truth = []
    for kind, cases in picked.items():
        for n, case in enumerate(cases, start=1):
            name = f"{kind}-{n:03d}"
            cpplan.save_instance(case.inst, out / f"{name}.yaml")
            truth.append({"case": name, "kind": kind, **case.truth()})
    truth.sort(key=lambda t: t["case"])
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def report(picked: dict[str, list[Case]]) -> None:
    """One line per case: its size, the truth, and what greedy and exact found."""
    print(f"{'case':15} {'hosts':>5} {'vms':>3} {'moving':>6} {'min':>4} {'direct':>6} "
          f"{'exact rounds':>12} {'greedy':>8} {'greedy rounds':>13}")
    for kind, cases in picked.items():
        for n, c in enumerate(cases, start=1):
            least = "-" if kind == "infeasible" else plain_number(c.exact.cost)
            mine = plain_number(c.greedy.cost) if c.greedy.found else c.greedy.status
            size = f"{c.inst.n_hosts:5} {c.inst.n_vms:3} {int(c.inst.moving.sum()):6}"
            print(f"{kind}-{n:03d}".ljust(15), size, f"{least!s:>4} {c.direct_cost!s:>6}",
                  f"{c.exact.n_rounds:12} {mine!s:>8} {c.greedy.n_rounds:13}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2026, help="seed of the random clouds (default 2026)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder to write the cases to (default: the folder of this script)")
    args = parser.parse_args(argv)
    picked = draw_cases(args.seed)
    write_cases(picked, args.out)
    report(picked)


if __name__ == "__main__":
    main()
