"""``cpplan openstack snapshot`` and ``cpplan openstack execute``: argument handling.

This module imports only the standard library and cpplan's core at import
time, so ``cpplan --help`` works without the extra; openstacksdk is imported
when a subcommand runs, and its absence is one line and exit 2.

Exit codes: 0 done (or a dry run), 2 bad input or the extra missing,
3 a re-plan proved the target unreachable, 4 a re-plan found no plan in time,
5 stopped before the target (Ctrl-C, a declined re-plan, a timeout, a cloud error).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from pathlib import Path

from ..argtypes import positive_seconds
from ..errors import InputError
from ..planners import PLANNERS

EXIT_BAD_INPUT, EXIT_STOPPED = 2, 5
MISSING_EXTRA = "the openstack commands need openstacksdk: pip install cpplan[openstack]"
OS_CLOUD_HELP = "cloud in clouds.yaml (default: OS_CLOUD / OS_* variables)"


def add_parser(sub) -> None:
    """Register ``openstack`` with its two subcommands on the main parser's ``sub``."""
    os_parser = sub.add_parser("openstack", help="read an OpenStack cloud, carry out a plan on it",
                               description="Snapshot an OpenStack cloud into an instance, and carry out a "
                                           "plan on it by its order. Needs pip install cpplan[openstack].")
    os_sub = os_parser.add_subparsers(dest="openstack_command", required=True, parser_class=type(os_parser))

    s = os_sub.add_parser("snapshot", help="read the cloud into an instance file",
                          description="Read hosts (Placement inventories), servers (flavors, hosts), "
                                      "anti-affinity server groups and limits into an instance file. "
                                      "Disabled or down hosts never receive VMs (notes on top of the file).")
    s.add_argument("--os-cloud", metavar="NAME", help=OS_CLOUD_HELP)
    scope = s.add_mutually_exclusive_group()
    scope.add_argument("--aggregate", metavar="A", help="only the hosts of this host aggregate")
    scope.add_argument("--host", nargs="+", metavar="H", help="only these compute hosts")
    s.add_argument("--max-per-host", type=_count, default=1, metavar="N",
                   help="nova's max_concurrent_live_migrations, as limits.host (default 1)")
    s.add_argument("--max-outgoing", type=_count, default=None, metavar="N",
                   help="nova's max_concurrent_live_migrations (a nova.conf setting the API does not "
                        "show), as limits.outgoing: at most N migrations leave a host at once "
                        "(default: none)")
    s.add_argument("-o", "--output", required=True, metavar="CLOUD.yaml", help="instance file to write")
    s.set_defaults(run=_cmd_snapshot)

    e = os_sub.add_parser("execute", help="carry out a plan (dry run unless --yes)",
                          description="Print the plan per round; with --yes, live-migrate each VM as soon as "
                                      "the migrations in its `after` have finished and the limits allow "
                                      "(round by round for a plan without `after`), re-planning when the "
                                      "cloud drifts. Ctrl-C starts nothing more and waits for the "
                                      "migrations in flight (round by round: the current round).")
    e.add_argument("instance", help="the instance the plan was made for (from snapshot)")
    e.add_argument("plan", help="plan file (JSON)")
    e.add_argument("--os-cloud", metavar="NAME", help=OS_CLOUD_HELP)
    e.add_argument("--yes", action="store_true", help="carry the plan out, re-plan without asking")
    e.add_argument("--journal", metavar="FILE.jsonl",
                   help="append-only journal (default: PLAN with .journal.jsonl)")
    e.add_argument("--planner", choices=PLANNERS, default="auto", help="re-planner (default auto)")
    e.add_argument("--time-limit", type=positive_seconds, default=30.0, metavar="SECONDS",
                   help="re-planning budget (default 30)")
    e.add_argument("--poll", type=positive_seconds, default=2.0, metavar="SECONDS",
                   help="seconds between looks at running migrations (default 2)")
    e.add_argument("--round-timeout", type=positive_seconds, default=3600.0, metavar="SECONDS",
                   help="stop when a migration (round by round: a round) runs longer (default 3600)")
    e.add_argument("--max-replans", type=_count, default=3, metavar="N", help="default 3")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.set_defaults(run=_cmd_execute)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return int(text)


def _require_sdk() -> bool:
    try:
        import openstack  # noqa: F401
    except ImportError:
        print(f"cpplan: {MISSING_EXTRA}", file=sys.stderr)
        return False
    return True


def _say(message: str) -> None:
    print(message, flush=True)


def _cmd_snapshot(args) -> int:
    if not _require_sdk():
        return EXIT_BAD_INPUT
    from ..io import check_output
    from .cloud import Cloud, CloudError
    from .snapshot import save_snapshot, take_snapshot
    check_output(args.output, _config_files())
    try:
        cloud = Cloud.connect(args.os_cloud)
        snap = take_snapshot(cloud, hosts=args.host, aggregate=args.aggregate, max_per_host=args.max_per_host,
                             max_outgoing=args.max_outgoing)
    except CloudError as e:
        print(f"cpplan: openstack: {e}", file=sys.stderr)
        return EXIT_STOPPED
    save_snapshot(snap, args.output)
    inst = snap.instance
    for note in snap.notes:
        print(f"  {note}", file=sys.stderr)
    print(f"wrote {args.output}: {inst.n_hosts} hosts, {inst.n_vms} VMs, {int(inst.pinned.sum())} pinned, "
          f"{len(inst.groups)} groups (set `target` to say where VMs must go)", file=sys.stderr)
    return 0


def _config_files() -> list[str]:
    """The clouds.yaml and secure.yaml files openstacksdk may read (a snapshot must not overwrite them)."""
    from openstack.config import loader

    named = [os.environ.get(key) for key in ("OS_CLIENT_CONFIG_FILE", "OS_CLIENT_SECURE_FILE")]
    return [path for path in (*named, *loader.CONFIG_FILES, *loader.SECURE_FILES) if path]


def _check_outputs(args, journal_path: str, stem: Path) -> None:
    """The journal and every re-plan file execute may write must not be the instance or the plan it reads
    (nor may a re-plan file be the journal)."""
    from ..io import check_not_input

    if args.journal == "":
        raise InputError("", "--journal", "is empty: name a file to write")
    inputs = [args.instance, args.plan]
    check_not_input(journal_path, inputs, "--journal")
    for path in _replan_files_named(stem, args.max_replans, [*inputs, journal_path]):
        check_not_input(path, [*inputs, journal_path], "re-plan file")


def _replan_files_named(stem: Path, max_replans: int, files: list) -> list[Path]:
    """The re-plan files (numbers 1 to ``max_replans``) that exist now, or that one of ``files`` resolves
    to: the only ones that can be one of ``files``, found without trying every number."""
    from .execute import replan_files

    pattern = re.compile(re.escape(stem.name) + r"\.replan([1-9][0-9]*)\.(yaml|json)")
    names = [os.path.basename(os.path.realpath(path)) for path in files
             if os.path.dirname(os.path.realpath(path)) == os.path.realpath(stem.parent)]
    with contextlib.suppress(OSError):
        names += [entry.name for entry in os.scandir(stem.parent)]
    numbers = sorted({int(match[1]) for match in map(pattern.fullmatch, names) if match})
    return [path for number in numbers if number <= max_replans for path in replan_files(stem, number)]


def _cmd_execute(args) -> int:
    from ..io import load_instance, load_plan
    from ..validate import validate
    inst, plan = load_instance(args.instance), load_plan(args.plan)
    if not plan.found:
        raise InputError(Path(args.plan).name, "status",
                         f"{plan.status}: the plan has no rounds to carry out")
    violations = validate(inst, plan)
    if violations:
        raise InputError(Path(args.plan).name, "", f"not a valid plan for {Path(args.instance).name}: "
                         f"{violations[0]} ({len(violations)} violation(s))")
    if not _require_sdk():
        return EXIT_BAD_INPUT
    from .cloud import Cloud, CloudError
    from .execute import EXIT_BY_OUTCOME, Settings, execute
    from .journal import Journal
    stem = Path(args.plan).with_suffix("")
    journal_path = args.journal or f"{stem}.journal.jsonl"
    _check_outputs(args, journal_path, stem)
    settings = Settings(poll_interval=args.poll, round_timeout=args.round_timeout, planner=args.planner,
                        time_limit=args.time_limit, max_replans=args.max_replans, progress=not args.quiet)
    try:
        cloud = Cloud.connect(args.os_cloud)
        with Journal(journal_path) as journal:
            outcome = execute(cloud, inst, plan, journal=journal, out=stem, confirm=_confirmer(args.yes),
                              say=_say, settings=settings)
    except CloudError as e:
        print(f"cpplan: openstack: {e}", file=sys.stderr)
        return EXIT_STOPPED
    print(outcome.message + ("" if outcome.status == "dry-run" else f" (journal: {journal_path})"),
          file=sys.stderr)
    return EXIT_BY_OUTCOME[outcome.status]


def _confirmer(yes: bool):
    """Always yes with --yes; else ask on a terminal, and never when there is none (a dry run)."""
    def confirm(plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            return False
        answer = input(f"Carry out these {plan.n_rounds} rounds on the cloud? [y/N] ")
        return answer.strip().lower() in ("y", "yes")
    return confirm
