"""Benchmark how long plans take to run: makespan of greedy and cp against barriers, waves and the bound.

Clouds: the generator's families and the ``deadlock`` cloud of bench_greedy.py,
made OpenStack-like here (:func:`openstack_like`): each VM's RAM is redrawn from
the flavor sizes :data:`FLAVOR_RAM` GiB with weights :data:`FLAVOR_WEIGHTS`,
15 % of the VMs dirty memory at 10-200 MiB/s, and ``migration: {ram_unit: GiB,
bandwidth: 1250, setup: 2}``. Each host's RAM capacity becomes its larger load
(in A or in B) divided by the share of its capacity that load took before, so
a full host stays full and a half-empty one half empty, and every target still
fits; a host that had 10 % or more free keeps room for the largest VM too
(else a 256 GiB VM could find no staging host). CPU and disk stay as generated.

Each cloud is planned twice: by the default objective (the timed plan), and keeping the rounds the
planner found (``objective="rounds"``: "today's" plan, whose rounds the baselines run). With the
durations and bandwidth shares of cpplan/schedule.py (:func:`cpplan.schedule.estimate`):

- ``makespan``: the timed plan's estimated schedule, as the dispatcher adds it
  (:mod:`cpplan.objective`: the shorter of its rounds' order and the timeline's, whose order
  ``order`` names, then CP-SAT's for cp); ``seconds`` is its planning time;
- ``by_rounds``: today's plan's schedule (its rounds' ``after`` order: the shortest of its list
  schedules by every priority of :data:`cpplan.schedule.PRIORITIES` and every bandwidth policy of
  :data:`cpplan.schedule.POLICIES`, then CP-SAT's for cp);
- ``plan_order``: that order's list schedule trying ready migrations in plan order only, at
  the fixed shares (the schedule before the priorities and policies: the shorter by the pruned and
  the unpruned order);
- ``barriers``: today's rounds, each starting when the previous one has ended (the better of the
  bandwidth policies, as for the waves);
- ``waves2``, ``wavesK``: what Watcher and KubeVirt do: today's migrations in its order, ``k`` at
  a time cloud-wide, each wave starting when the previous one has ended (``k`` = 2, and ``K`` = the
  total limit, or the largest round when the cloud has none); within a wave the per-host and
  link limits still hold. A wave may straddle two rounds: the baseline measures time only, it is not
  checked for safety;
- ``mlb``: :func:`cpplan.bounds.makespan_lower_bound`, and each makespan's ratio to it.

A plan of more than :data:`cpplan.schedule.MAX_ORDERED_MIGRATIONS` migrations
gets no ``after`` order from the dispatcher: its makespan is then its barriers'.

>>> from cpplan.generate import generate
>>> inst = openstack_like(generate("evacuate", 10, seed=1), seed=1)
>>> inst.durations.ram_unit, set(inst.demand[:, 0].tolist()) <= set(FLAVOR_RAM)
('GiB', True)
>>> bool((inst.load(inst.target)[:, 0] <= inst.effective[:, 0]).all())   # B still fits
True
>>> from cpplan.plan import Plan
>>> moves = [{"vm": f"v{i}", "from": "a", "to": "b"} for i in range(5)]
>>> [len(wave) for wave in waves(Plan("feasible", 5, [moves[:4], moves[4:]]), 2).rounds]
[2, 2, 1]

Each run happens in its own subprocess. Time limits: 60 s at fewer than 1 000
hosts, 120 s from 1 000 (``--time-limit`` for all). Prints a table and writes
``benchmarks/results/makespan.csv`` and ``makespan.md``.

    python benchmarks/bench_makespan.py --sizes 100 1000
    python benchmarks/bench_makespan.py --sizes 20 --time-limit 5 --out makespan-quick
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time

import numpy as np
from tables import RESULTS, command_line, run_all_isolated, write_results

FAMILIES = ("rebalance", "consolidate", "evacuate", "shuffle", "tight", "deadlock")
PLANNERS = ("greedy", "cp")
FLAVOR_RAM = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # GiB
FLAVOR_WEIGHTS = (0.08, 0.18, 0.22, 0.20, 0.14, 0.09, 0.05, 0.03, 0.01)
DIRTY_SHARE = 0.15  # of the VMs
DIRTY_RATE = (10.0, 200.0)  # MiB/s, uniform
MIGRATION = {"ram_unit": "GiB", "bandwidth": 1250, "setup": 2}
ROOMY = 0.9  # a host at most this full keeps room for the largest VM
COLUMNS = ("family", "hosts", "vms", "moving", "planner", "time_limit", "seconds", "status",
           "cost_per_lb", "order", "rounds", "today_rounds", "today_seconds", "k", "makespan", "by_rounds",
           "plan_order", "barriers", "waves2", "wavesK", "mlb", "makespan_per_lb", "by_rounds_per_lb",
           "plan_order_per_lb", "barriers_per_lb", "waves2_per_lb", "wavesK_per_lb")


def time_limit(hosts: int, given: float | None) -> float:
    if given is not None:
        return given
    return 60.0 if hosts < 1000 else 120.0


def openstack_like(inst, seed: int):
    """``inst`` with flavor RAM in GiB, dirty rates and the migration keys, as the module docstring says."""
    from cpplan import Instance

    rng = np.random.default_rng([seed, 14])
    spec = inst.to_dict()
    ram_col = inst.resources.index("ram")
    weights = np.array(FLAVOR_WEIGHTS) / sum(FLAVOR_WEIGHTS)
    ram = rng.choice(np.array(FLAVOR_RAM), size=inst.n_vms, p=weights)
    dirty = rng.random(inst.n_vms) < DIRTY_SHARE
    rate = np.round(rng.uniform(*DIRTY_RATE, size=inst.n_vms), 1)
    old_load = np.maximum(_ram_load(inst.demand[:, ram_col], inst), 1e-9)
    fill = old_load / inst.capacity[:, ram_col]
    new_load = _ram_load(ram, inst)
    capacity = np.ceil(new_load / fill)
    capacity = np.where(fill <= ROOMY, np.maximum(capacity, new_load + ram.max()), capacity)
    for h, name in enumerate(inst.host_names):
        spec["hosts"][name]["ram"] = int(capacity[h])
    for j, name in enumerate(inst.vm_names):
        spec["vms"][name]["ram"] = int(ram[j])
        if dirty[j]:
            spec["vms"][name]["dirty_rate"] = float(rate[j])
    spec["migration"] = dict(MIGRATION)
    return Instance(**spec)


def _ram_load(ram: np.ndarray, inst) -> np.ndarray:
    """Per host, the larger of its RAM load in A and in B."""
    return np.maximum(np.bincount(inst.initial, ram, minlength=inst.n_hosts),
                      np.bincount(inst.target, ram, minlength=inst.n_hosts))


def cloud(family: str, hosts: int, seed: int):
    """The benchmark's cloud: the generator's ``family`` (or bench_greedy.py's deadlock cloud), made
    OpenStack-like (:func:`openstack_like`)."""
    from cpplan.generate import generate

    if family == "deadlock":
        from bench_greedy import deadlock_cloud
        return openstack_like(deadlock_cloud(hosts, seed), seed)
    return openstack_like(generate(family, hosts, seed=seed), seed)


def passed_on(args) -> list[str]:
    """The ``--seed`` and ``--time-limit`` options of ``args``, for each run's subprocess."""
    limit = [] if args.time_limit is None else ["--time-limit", str(args.time_limit)]
    return ["--seed", str(args.seed), *limit]


def waves(plan, k: int):
    """The plan's migrations in its order, ``k`` per round (each wave a barrier round)."""
    from cpplan.plan import Plan

    listed = [m for r in plan.rounds for m in r]
    return Plan(plan.status, plan.cost, [listed[i:i + k] for i in range(0, len(listed), k)])


def run_one(family: str, hosts: int, planner: str, seed: int, limit: float) -> dict:
    """Generate one cloud, plan it (validated by the dispatcher) by the default objective and, for the
    baselines, once more keeping the planner's rounds, and time its plans six ways."""
    import cpplan
    from cpplan.bounds import makespan_lower_bound

    inst = cloud(family, hosts, seed)
    started = time.perf_counter()
    plan = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed)
    seconds = time.perf_counter() - started
    lb = float(inst.cost[inst.moving].sum())
    row = {"family": family, "hosts": hosts, "vms": inst.n_vms, "moving": int(inst.moving.sum()),
           "planner": planner, "time_limit": limit, "seconds": round(seconds, 2), "status": plan.status,
           "mlb": round(makespan_lower_bound(inst), 1)}
    if not plan.found:
        return row
    started = time.perf_counter()
    today = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed, objective="rounds")
    row["today_seconds"] = round(time.perf_counter() - started, 2)
    k = inst.total_limit or max(len(r) for r in today.rounds)
    times = {"makespan": plan.makespan, "by_rounds": today.makespan,
             "plan_order": _by_plan_order(inst, today), "barriers": _with_barriers(inst, today),
             "waves2": _with_barriers(inst, waves(today, 2)),
             "wavesK": _with_barriers(inst, waves(today, k))}
    row.update({"cost_per_lb": round(plan.cost / lb, 4) if lb else None, "order": plan.stats.get("order"),
                "rounds": plan.n_rounds, "today_rounds": today.n_rounds, "k": k})
    for name, value in times.items():
        row[name] = round(value, 1)
        row[f"{name}_per_lb"] = round(value / row["mlb"], 2) if row["mlb"] else None
    return row


def _with_barriers(inst, plan) -> float:
    """The plan's rounds one after another, with the better of the bandwidth policies."""
    from cpplan.schedule import POLICIES, estimate

    return min(estimate(inst, plan, None, policy=policy).makespan for policy in POLICIES)


def _by_plan_order(inst, plan) -> float:
    """The plan's list schedule with ready migrations in plan order, by its pruned and unpruned order."""
    from cpplan.order import derive_after, pruned
    from cpplan.plan import Plan
    from cpplan.schedule import MAX_ORDERED_MIGRATIONS, estimate

    routes = Plan(plan.status, plan.cost, plan.routes())
    if routes.n_migrations > MAX_ORDERED_MIGRATIONS:
        return estimate(inst, routes, None).makespan
    full = derive_after(inst, routes, prune=False)
    orders = [None] if full is None else [full, pruned(inst, routes, full)]
    return min(estimate(inst, routes, after).makespan for after in orders)


def preamble(command: str) -> list[str]:
    return [f"How long plans take to run (`{command}`), on OpenStack-like clouds: flavor RAM 1-256 GiB,",
            "15 % of the VMs dirtying 10-200 MiB/s, 1250 MiB/s per host, 2 s setup (see the script's",
            "docstring). seconds: planning, with the dispatcher's schedule and validation; cost_per_lb:",
            "cost against the least cost; order: whose order the plan keeps (its rounds', or the",
            "timeline's: cpplan/timeline.py); rounds: the plan's; makespan: its estimated schedule",
            "(then CP-SAT's for cp). The baselines are of the same cloud planned keeping the planner's",
            "rounds (--objective rounds: today_rounds rounds, planned in today_seconds): by_rounds:",
            "their order's schedule, the shortest of its priorities and bandwidth policies (then",
            "CP-SAT's for cp); plan_order: the same with ready migrations in plan order at the fixed",
            "shares; barriers: those rounds one after another (better bandwidth policy, as for the",
            "waves); waves2, wavesK: their migrations in order, 2 or k at a time cloud-wide, wave after",
            "wave (k: the total limit, else their largest round);",
            "mlb: the makespan lower bound; *_per_lb: ratios to it. Seconds in s. Measured on a shared",
            "2-core machine: planning times are not comparable with an idle one.",
            f"Run {datetime.date.today()}, Python {platform.python_version()}."]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--planners", nargs="+", choices=PLANNERS, default=list(PLANNERS))
    ap.add_argument("--time-limit", type=float, help="seconds per run (default 60, 120 from 1000 hosts)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="makespan", help="file stem under benchmarks/results/")
    ap.add_argument("--one", nargs=3, metavar=("FAMILY", "HOSTS", "PLANNER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        limit = time_limit(int(args.one[1]), args.time_limit)
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2], args.seed, limit)))
        return 0
    extra = passed_on(args)
    runs = [([family, str(hosts), planner, *extra], f"{family} {hosts} {planner}")
            for hosts in args.sizes for family in args.families for planner in args.planners]
    rows = run_all_isolated(__file__, runs, COLUMNS, width=8)
    write_results(RESULTS / args.out, rows, COLUMNS, preamble(command_line("bench_makespan.py", argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
