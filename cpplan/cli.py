"""The command line: ``cpplan plan`` and ``cpplan validate`` (SPEC section 6), and friends.

Exit codes: 0 a valid plan (or a valid plan file), 1 an invalid plan file,
2 bad input, 3 proven infeasible, 4 no plan found within the limits.
Every subcommand lives in its own function ``_cmd_NAME`` registered in
:func:`build_parser`; bad input becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

from . import __version__
from .argtypes import cost_slack, jitter, positive_count, positive_seconds, seed
from .blockers import describe
from .errors import InputError
from .goals import GOALS
from .goals.stopping import GAP_LIMIT
from .io import (
    check_not_input,
    check_output,
    check_writable,
    instance_yaml,
    load_instance,
    load_plan,
    plan_json,
    save_instance,
    save_plan,
)
from .objective import OBJECTIVES
from .openstack.cli import add_parser as add_openstack  # openstacksdk only once its subcommand runs
from .parallel import require_ray
from .planners import PLANNERS, plan
from .relax import OFFLINE_PENALTY, check_penalty, relaxed_instance, relaxed_path
from .target import choose_target
from .validate import validate

EXIT_OK, EXIT_INVALID, EXIT_BAD_INPUT, EXIT_INFEASIBLE, EXIT_UNKNOWN = 0, 1, 2, 3, 4
EXIT_BY_STATUS = {"optimal": EXIT_OK, "feasible": EXIT_OK, "infeasible": EXIT_INFEASIBLE,
                  "unknown": EXIT_UNKNOWN}


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with one line, like every other bad input."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _add_solver_options(parser, planner_help: str, time_help: str) -> None:
    """--planner, --time-limit, --seed and --quiet, shared by the commands that plan."""
    parser.add_argument("--planner", choices=PLANNERS, default="auto", help=planner_help)
    parser.add_argument("--time-limit", type=positive_seconds, default=30.0, metavar="SECONDS",
                        help=time_help)
    parser.add_argument("--seed", type=seed, default=0, help="random seed for the solvers (default 0)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress or summary on stderr")
    parser.add_argument("--workers", type=positive_count, default=1, metavar="N",
                        help="solve the independent parts of a plan N at a time, in worker processes "
                             "(auto and cp; default 1: one by one, here)")
    parser.add_argument("--ray", action="store_true",
                        help="with --workers N > 1, the workers are tasks on the Ray cluster of RAY_ADDRESS, "
                             "else on a local one (pip install cpplan[ray])")


def _executor(args) -> str:
    """Where ``--workers`` run: "ray" with ``--ray`` (one line and exit 2 without ray), else "local"."""
    if not args.ray:
        return "local"
    require_ray("--ray")
    return "ray"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cpplan", description="Plan live migrations of VMs from placement A to B.")
    parser.add_argument("--version", action="version", version=f"cpplan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("plan", help="plan the migrations of an instance",
                       description="Plan rounds of live migrations taking every VM to its target. "
                                   "Prints a summary to stderr and the plan JSON to -o (or stdout).")
    p.add_argument("instance", help="instance file (YAML or JSON, docs/format.md section 1)")
    _add_solver_options(p, "auto (default) picks exact, greedy and cp by size and time",
                        "wall-clock budget for planning (default 30)")
    p.add_argument("-o", "--output", metavar="PLAN.json", help="write the plan here (default: stdout)")
    p.add_argument("--cost-slack", type=cost_slack, default=0.0, metavar="S",
                   help="auto and cp may spend up to (1 + S) x the least cost for a shorter estimated "
                        "makespan (default 0: the least cost)")
    p.add_argument("--objective", choices=OBJECTIVES, default="makespan",
                   help="second objective after the least cost: makespan (default) re-times, re-orders "
                        "and re-cuts the rounds when that shortens the estimated schedule; rounds keeps "
                        "the rounds the planner found and their order")
    p.add_argument("--partial", action="store_true",
                   help="when there is no plan, write a partial one: valid rounds taking as many VMs to "
                        "their target as the direct moves allow (status unknown, partial: true, exit 4)")
    _add_goal_options(p, required=False)
    _add_relax_options(p)
    p.set_defaults(run=_cmd_plan)

    t = sub.add_parser("target", help="choose a target placement B for a goal, and plan the way to it",
                       description="Choose B for a goal (consolidate, rebalance or evacuate) at a migration "
                                   "cost you accept, check that a plan reaches it, and write the instance "
                                   "with its target filled in. Exit codes as for plan.")
    t.add_argument("instance", help="instance file (YAML or JSON, docs/format.md section 1)")
    _add_goal_options(t, required=True)
    _add_solver_options(t, "planner that checks B is reachable",
                        "wall-clock budget for choosing B, and again for planning to it (default 30)")
    t.add_argument("-o", "--output", metavar="NEW_INSTANCE.yaml",
                   help="write the instance with its new target here (default: stdout, YAML)")
    t.set_defaults(run=_cmd_target)

    v = sub.add_parser("validate", help="check a plan against an instance",
                       description="Replay a plan and list every broken rule. "
                                   "Exit 0 when valid, 1 when not, 2 on bad input.")
    v.add_argument("instance", help="instance file (YAML or JSON)")
    v.add_argument("plan", help="plan file (JSON, docs/format.md section 2)")
    v.set_defaults(run=_cmd_validate)

    s = sub.add_parser("show", help="print a plan as a table per round, optionally draw it",
                       description="Print each round's migrations and the load of the hosts it touches "
                                   "after the round. Exit 0 when shown, 1 when the plan is invalid, "
                                   "2 on bad input.")
    s.add_argument("instance", help="instance file (YAML or JSON)")
    s.add_argument("plan", help="plan file (JSON, docs/format.md section 2)")
    s.add_argument("--png", metavar="FILE", help="also draw the plan's timeline into this PNG "
                                                "(needs the plot extra: pip install cpplan[plot])")
    s.set_defaults(run=_cmd_show)

    _add_simulate_parser(sub)

    e = sub.add_parser("experiment", help="run planners over many instances and tabulate the results",
                       description="Run every (instance x planner x repeat) of an experiment file and write "
                                   "results.csv, summary.md, one plan JSON per run and PNG plots to OUT_DIR.")
    e.add_argument("experiment", help="experiment file (YAML, see benchmarks/*.yaml)")
    e.add_argument("-o", "--output", metavar="OUT_DIR", help="output directory (default: results/NAME)")
    e.add_argument("--plots", action=argparse.BooleanOptionalAction, default=None,
                   help="write PNG plots (default: when matplotlib is installed)")
    e.add_argument("--ray", action="store_true",
                   help="fan the runs out over a Ray cluster, local by default (pip install cpplan[ray])")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary on stderr")
    e.set_defaults(run=_cmd_experiment)

    add_openstack(sub)
    return parser


def _add_simulate_parser(sub) -> None:
    m = sub.add_parser("simulate", help="replay a plan in time and check that its order stays safe",
                       description="Replay a plan event by event with the duration model (each host's "
                                   "and link's bandwidth shared fairly by the migrations in flight), by "
                                   "its after order and with a barrier after each round; check at every "
                                   "instant that no host is over capacity and no anti-affinity group is "
                                   "broken. Exit 0 when none is, 1 when one is (or the plan is invalid), "
                                   "2 on bad input.")
    m.add_argument("instance", help="instance file (YAML or JSON)")
    m.add_argument("plan", help="plan file (JSON, docs/format.md section 2)")
    m.add_argument("--jitter", type=jitter, default=0.0, metavar="J",
                   help="multiply each migration's data and setup by a factor drawn uniformly in "
                        "[1 - J, 1 + J], J in [0, 1) (default 0: the duration model as it is)")
    m.add_argument("--seed", type=seed, default=0, help="random seed of the jitter (default 0)")
    m.add_argument("--repeat", type=positive_count, default=1, metavar="K",
                   help="run K jittered replays and report the worst makespan (default 1)")
    m.add_argument("--png", metavar="FILE", help="also draw the (worst) replay as a Gantt chart, one row "
                                                "per host (needs the plot extra: pip install cpplan[plot])")
    m.set_defaults(run=_cmd_simulate)


def _progress(quiet: bool):
    """Progress lines on stderr, each after the seconds since planning started (None when quiet)."""
    if quiet:
        return None
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"  {time.perf_counter() - start:6.1f}s  {message}", file=sys.stderr, flush=True)
    return say


def _add_goal_options(p, *, required: bool) -> None:
    """The options that choose B for a goal (``target``, and ``plan --goal``)."""
    p.add_argument("--goal", choices=GOALS, required=required,
                   help="choose B: consolidate (fewest hosts), rebalance (lowest highest utilisation), "
                        "evacuate (empty the --drain hosts) or repair (every host within capacity and every "
                        "service level right, at least cost)" + ("" if required else ", then plan to it"))
    p.add_argument("--drain", nargs="+", metavar="HOST", help="hosts to empty (goals evacuate and repair)")
    p.add_argument("--max-utilisation", type=float, metavar="U",
                   help="goal repair: every host at most this share (0 < U <= 1) of its effective capacity "
                        "on every resource")
    trade = p.add_mutually_exclusive_group()
    trade.add_argument("--move-weight", type=float, metavar="W",
                       help="objective goal + W x migration cost (goal in hosts or utilisation points)")
    trade.add_argument("--max-cost", type=float, metavar="C", help="migration cost budget")
    trade.add_argument("--max-moves", type=int, metavar="N", help="budget of VMs that change host")
    p.add_argument("--gap-limit", type=float, default=GAP_LIMIT, metavar="G",
                   help=f"stop choosing B once its second objective (e.g. the cost at the fewest hosts) is "
                        f"within G (relative) of a proven bound, default {GAP_LIMIT:g} (it also stops when "
                        f"it no longer improves)")


def _goal_options_need_a_goal(args) -> None:
    """``plan`` without ``--goal`` would ignore the options that choose B: refuse them."""
    given = [flag for flag, value, default in (
        ("--drain", args.drain, None), ("--move-weight", args.move_weight, None),
        ("--max-cost", args.max_cost, None), ("--max-moves", args.max_moves, None),
        ("--gap-limit", args.gap_limit, GAP_LIMIT), ("--max-utilisation", args.max_utilisation, None))
        if value != default]
    if given and not args.goal:
        raise InputError("", given[0], "chooses B, so it needs --goal (without it, plan goes to the "
                                       "instance's own target)")
    if args.goal and getattr(args, "cost_slack", 0):
        raise InputError("", "--cost-slack", "applies to the instance's own target, not with --goal "
                                             "(choose B with cpplan target, then plan it)")


def _add_relax_options(p) -> None:
    """``plan --relax`` and its ``--offline-penalty``."""
    p.add_argument("--relax", action="store_true",
                   help="when there is no plan, plan the least change that makes B reachable (a few VMs "
                        "moved offline, one spare host, or one more migration per host); -o PLAN.json also "
                        "writes the changed instance to PLAN.relaxed.yaml; the exit code stays 3 or 4")
    p.add_argument("--offline-penalty", type=float, default=None, metavar="F",
                   help=f"with --relax: a VM given an offline mode moves offline at F x its cost, F >= 1 "
                        f"(default {OFFLINE_PENALTY:g})")


def _relax_options(args) -> dict:
    """:func:`plan`'s keywords for ``--relax`` and ``--offline-penalty`` (refused without ``--relax``,
    and ``--relax`` with ``--goal``)."""
    if args.offline_penalty is not None and not args.relax:
        raise InputError("", "--offline-penalty", "prices the offline moves of --relax: give --relax too")
    if not args.relax:
        return {}
    if args.goal:
        raise InputError("", "--relax", "relaxes the instance's own target, not with --goal (choose B with "
                                        "cpplan target, then plan it with --relax)")
    penalty = OFFLINE_PENALTY if args.offline_penalty is None else args.offline_penalty
    return {"relax": True, "offline_penalty": check_penalty(penalty, "", "--offline-penalty")}


def _relaxed_output(args) -> str | None:
    """With ``--relax`` and ``-o PLAN.json``, where the relaxed instance goes, checked before planning."""
    if not args.relax or args.output is None:
        return None
    path = relaxed_path(args.output)
    check_output(path, [args.instance, args.output])
    return path


def _choose(args, inst):
    return choose_target(inst, goal=args.goal, drain=args.drain, move_weight=args.move_weight,
                         max_cost=args.max_cost, max_moves=args.max_moves, time_limit=args.time_limit,
                         seed=args.seed, planner=args.planner, progress=_progress(args.quiet),
                         gap_limit=args.gap_limit, workers=args.workers, executor=_executor(args),
                         max_utilisation=args.max_utilisation)


def _read_instance(path, choosing_target: bool = False):
    """The instance file at ``path``, with a warning line on stderr for each legal but broken start
    (anti-affinity broken by A); ``choosing_target``: its B is to be chosen (:func:`load_instance`)."""
    inst = load_instance(path, choosing_target=choosing_target)
    for line in inst.warnings:
        print(f"cpplan: warning: {line}", file=sys.stderr)
    return inst


def _cmd_target(args) -> int:
    inst = _read_instance(args.instance, choosing_target=True)
    if args.output is not None:
        check_output(args.output, [args.instance])
    result = _choose(args, inst)
    if args.output is not None:
        save_instance(result.instance, args.output)
    else:
        sys.stdout.write(instance_yaml(result.instance))
    if not args.quiet:
        print(result.summary(), file=sys.stderr)
    return EXIT_BY_STATUS[result.plan.status]


def _cmd_plan(args) -> int:
    _goal_options_need_a_goal(args)
    relax = _relax_options(args)
    inst = _read_instance(args.instance, choosing_target=bool(args.goal))
    if args.output is not None:
        check_output(args.output, [args.instance])
    relaxed_file = _relaxed_output(args)
    started = time.perf_counter()
    if args.goal:
        chosen = _choose(args, inst)
        if not args.quiet:
            print(chosen.summary(), file=sys.stderr)
        inst, result = chosen.instance, chosen.plan
    else:
        result = plan(inst, args.planner, time_limit=args.time_limit, seed=args.seed,
                      progress=_progress(args.quiet), cost_slack=args.cost_slack, partial=args.partial,
                      workers=args.workers, executor=_executor(args), objective=args.objective, **relax)
    if relaxed_file is not None and result.relaxation is not None:
        save_instance(relaxed_instance(inst, result.relaxation), relaxed_file)
    if args.output is not None:
        save_plan(result, args.output)
    else:
        sys.stdout.write(plan_json(result))
    if not args.quiet:
        print(summary(inst, result, time.perf_counter() - started), file=sys.stderr)
        if relaxed_file is not None and result.relaxation is not None:
            print(f"wrote the relaxed instance to {relaxed_file} (cpplan validate {relaxed_file} "
                  f"{args.output} accepts the plan)", file=sys.stderr)
    return EXIT_BY_STATUS[result.relaxation["original_status"] if result.relaxation else result.status]


def summary(inst, result, seconds: float) -> str:
    """A short human summary of a planning result."""
    head = f"{result.status} ({result.planner})"
    if result.relaxation is not None:  # a plan of the relaxed instance (cpplan.relax)
        head = (f"{result.relaxation['original_status']} as given; {result.relaxation['summary']}; "
                f"relaxed: {head}")
    if not result.found:
        stuck = f"{describe(result.blocked)}; " if result.blocked else ""
        return f"{head}: {stuck}{result.reason or 'no plan'} [{seconds:.2f} s]"
    gap = ""
    if result.lower_bound:
        gap = f" (lower bound {result.lower_bound:g}, +{100 * (result.cost / result.lower_bound - 1):.1f}%)"
    timing = ""
    if result.makespan is not None:
        timing = f", makespan {result.makespan:.1f} s"
        if result.makespan_lower_bound is not None:
            timing += f" (lower bound {result.makespan_lower_bound:.1f} s)"
        if "makespan_gained" in result.stats:
            timing += (f", {result.stats['makespan_gained']:.1f} s shorter than the least-cost plan found "
                       f"(cost {result.stats['least_cost']:g})")
        if "staging" in result.stats:
            timing += f", {_count(result.stats['staging']['migrations_added'], 'VM')} stepped aside for it"
    cut = "; cut by its timeline" if result.stats.get("order") == "timeline" else ""
    return (f"{head}: cost {result.cost:g}{gap}, {_count(result.n_rounds, 'round')} (lower bound "
            f"{result.rounds_lower_bound}{cut}){timing}, {_count(result.n_migrations, 'migration')} of "
            f"{_count(int(inst.moving.sum()), 'VM')} to move [{seconds:.2f} s]")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _invalid(violations: list[str], after: str = "") -> int:
    """Print each violation on stderr, then their count; the exit code of an invalid plan."""
    for line in violations:
        print(line, file=sys.stderr)
    print(f"invalid: {len(violations)} violation(s){after}", file=sys.stderr)
    return EXIT_INVALID


def _cmd_validate(args) -> int:
    inst = _read_instance(args.instance)
    result = load_plan(args.plan)
    violations = validate(inst, result)
    if violations:
        return _invalid(violations)
    if result.found or result.partial:
        short = ", a partial plan: it stops short of the target" if result.partial else ""
        print(f"valid: {result.n_migrations} migrations in {result.n_rounds} rounds, cost "
              f"{result.cost:g}{short}", file=sys.stderr)
    else:
        print(f"valid: status {result.status} with no rounds (the claim itself is not checked)",
              file=sys.stderr)
    return EXIT_OK


def _cmd_show(args) -> int:
    from .plots import plot_timeline, require_matplotlib
    from .show import plan_table

    if args.png is not None:
        require_matplotlib("--png")
        check_output(args.png, [args.instance, args.plan], "--png")
    inst, result = _read_instance(args.instance), load_plan(args.plan)
    violations = validate(inst, result)
    if violations:
        return _invalid(violations, "; nothing to show")
    print(plan_table(inst, result))
    if args.png is not None:
        plot_timeline(inst, result, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return EXIT_OK


def _cmd_simulate(args) -> int:
    import dataclasses

    from .bounds import makespan_lower_bound
    from .order import order_violations
    from .simulate import trials

    if args.png is not None:
        from .plots import require_matplotlib

        require_matplotlib("--png")
        check_output(args.png, [args.instance, args.plan], "--png")
    if args.repeat > 1 and args.jitter == 0:
        raise InputError("", "--repeat", "would replay the same durations K times: give --jitter too")
    inst, result = _read_instance(args.instance), load_plan(args.plan)
    rounds_only = dataclasses.replace(result, rounds=result.routes(), makespan=None,
                                      makespan_lower_bound=None)
    violations = validate(inst, rounds_only)
    if violations:
        return _invalid(violations, "; nothing to simulate")
    if not result.found:
        print(f"status {result.status}: the plan has no migrations to replay", file=sys.stderr)
        return EXIT_OK
    unsafe = order_violations(inst, result)
    if unsafe:
        print(f"note: the validator finds the order unsafe ({len(unsafe)} violation(s)), e.g. {unsafe[0]}",
              file=sys.stderr)
    run = trials(inst, result, jitter=args.jitter, seed=args.seed, repeat=args.repeat)
    bound = result.makespan_lower_bound
    bound = makespan_lower_bound(inst) if bound is None else bound
    print(_simulation_text(args, result, run, bound))
    for line in run.problems:
        print(line, file=sys.stderr)
    if args.png is not None:
        from .plots import plot_gantt

        plot_gantt(inst, result, run, bound, args.png)
        print(f"wrote {args.png}", file=sys.stderr)
    return EXIT_INVALID if run.problems else EXIT_OK


def _simulation_text(args, result, run, bound: float) -> str:
    """What ``cpplan simulate`` prints: the makespans against the bound, and the verdict."""
    how = (f"worst of {args.repeat} replays, " if args.repeat > 1 else "") + (
        f"durations x{1 - args.jitter:g}..x{1 + args.jitter:g}, seed {args.seed}" if args.jitter
        else "the duration model as it is")
    order = "by its after order" if run.ordered else "without after: barriers"
    shorter = 100 * (1 - run.order.makespan / run.barrier.makespan) if run.barrier.makespan > 0 else 0.0
    lines = [f"makespan {_seconds(run.order.makespan)} {order} ({how})",
             f"barriers {_seconds(run.barrier.makespan)} with a barrier after each of its "
             f"{_count(result.n_rounds, 'round')} "
             f"({shorter:.0f}% shorter by the order)",
             f"bound    {_seconds(bound)} makespan lower bound ("
             f"{run.order.makespan / bound if bound > 0 else 1:.2f}x)"]
    if run.problems:
        lines.append(f"UNSAFE: {run.n_overloads} overload(s) found"
                     + (", and a migration that never converges" if any("stalled" in p for p in run.problems)
                        else "") + " (listed on stderr)")
    else:
        replays = _count(run.repeat * (1 + run.ordered), 'replay')
        lines.append(f"safe: in {replays} no host went over capacity and no anti-affinity group shared a "
                     f"host at any instant")
    return "\n".join(lines)


def _seconds(x: float) -> str:
    """Seconds as an operator reads them: minutes past ten minutes."""
    return f"{x:.1f} s" if x < 600 else f"{x / 60:.1f} min"


def _cmd_experiment(args) -> int:
    from pathlib import Path

    from .experiments import load_experiment, output_name, run_experiment
    from .plots import matplotlib_available, require_matplotlib
    from .results import planner_table

    exp = load_experiment(args.experiment)
    executor = "ray" if args.ray else exp.executor
    if executor == "ray":
        require_ray()
    if args.plots:
        require_matplotlib("--plots")
    plots = matplotlib_available() if args.plots is None else args.plots
    if args.output == "":
        raise InputError("", "-o", "is empty: name a folder to write")
    out = Path(args.output) if args.output is not None else Path("results") / output_name(exp)
    _prepare_output_folder(exp, out, args.experiment)
    try:
        with _progress_bar(len(exp.runs), exp.name, args.quiet) as advance:
            results = run_experiment(exp, out, executor=executor, on_result=advance, plots=plots)
    except KeyboardInterrupt:
        print(f"cpplan: interrupted; the finished runs are in {out}/", file=sys.stderr)
        return 130
    invalid = sum(r.row["valid"] is False for r in results)
    errors = sum(r.row["status"] == "error" for r in results)
    if not args.quiet:
        _print_planner_table(planner_table(exp.planners, [r.row for r in results]))
        print(f"{len(results)} runs, {errors} error(s), {invalid} invalid plan(s); wrote {out}/results.csv, "
              f"{out}/summary.md{', PNG plots' if plots else ''} and the plans in {out}/plans/",
              file=sys.stderr)
    return EXIT_INVALID if invalid else EXIT_OK


def _prepare_output_folder(exp, out, experiment_file) -> None:
    """Before the first run (and its progress bar): refuse an OUT_DIR that is a file or cannot be written,
    or where a file the experiment writes (results.csv, summary.md, plans/RUN.json, a PNG plot) is one
    of the files it reads; then create the folder."""
    from pathlib import Path

    inputs = [experiment_file, *(spec.file for spec in exp.instances if spec.file is not None)]
    written = [out / "results.csv", out / "summary.md",
               *(out / "plans" / f"{run.name}.json" for run in exp.runs),
               *(out / Path(source).name for source in inputs if str(source).endswith(".png"))]
    for path in written:
        check_not_input(path, inputs)
    if out.exists() and not out.is_dir():
        raise InputError(out.name, "-o", "is a file, not a folder")
    (out / "plans").mkdir(parents=True, exist_ok=True)  # a file named plans fails now, not after the runs
    check_writable(out / "results.csv")
    check_writable(out / "plans" / "run.json")


def _print_planner_table(body: list[list[str]]) -> None:
    """The per-planner lines of summary.md as a compact table on stderr."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    header = ("planner", "runs", "optimal", "feasible", "infeasible", "unknown", "error", "valid", "cost/LB",
              "rounds/LB", "s total", "s max")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for line in body:
        table.add_row(*line)
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = 120  # a log file does not wrap
    console.print(table)


@contextlib.contextmanager
def _progress_bar(total: int, title: str, quiet: bool):
    """Yield a callback advancing a progress bar over runs on stderr (None when quiet)."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(title, total=total)

        def advance(result):
            done = f"{title}: {result.run.name} {result.row['status']}"
            progress.update(task, advance=1, description=done)

        yield advance
        progress.update(task, description=title)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as e:
        print(f"cpplan: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader went away (`cpplan show ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:  # as an InputError: one line even when the file's name holds a line break
        print(f"cpplan: {InputError(str(e.filename or ''), '', e.strerror or str(e))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("cpplan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
