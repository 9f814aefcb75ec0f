"""What the benchmark scripts share: one run per subprocess, and results written as CSV + markdown.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> write_results(out / "demo", [{"a": 1, "b": None}], ("a", "b"), ["A demo table."])  # doctest: +ELLIPSIS
wrote .../demo.csv and .md
>>> (out / "demo.md").read_text().splitlines()[2:]
['| a | b |', '|---|---|', '| 1 |  |']
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def run_isolated(script: str, args: list[str], label: str, mode: str = "--one") -> dict | None:
    """Run ``script --one ARGS`` (or another ``mode``) in a fresh interpreter (so peak memory is its own);
    its last line is JSON."""
    out = subprocess.run([sys.executable, script, mode, *args], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"{label}: failed\n{out.stderr}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_all_isolated(script: str, runs: list[tuple[list[str], str]], columns, width: int) -> list[dict]:
    """:func:`run_isolated` for each ``(args, label)`` of ``runs``; prints each row as it comes."""
    print(" ".join(f"{c:>{width}}" for c in columns), flush=True)
    rows = []
    for args, label in runs:
        row = run_isolated(script, args, label)
        if row is not None:
            rows.append(row)
            print(" ".join(f"{row[c]!s:>{width}}" for c in columns), flush=True)
    return rows


def timed_plan(inst, planner: str, limit: float | None, seed: int):
    """(plan, seconds) by a planner of :data:`cpplan.planners.PLANNERS` or ``cp-cold`` (cp without
    greedy's warm start); every plan is validated."""
    import time

    import cpplan
    from cpplan.planners import check, cp

    started = time.perf_counter()
    if planner == "cp-cold":
        found = check(inst, cp.plan(inst, time_limit=limit, seed=seed, warm_start=False))
    else:
        found = cpplan.plan(inst, planner=planner, time_limit=limit, seed=seed)
    return found, time.perf_counter() - started


def write_results(stem: Path, rows: list[dict], columns, preamble: list[str]) -> None:
    """``stem``.csv with ``columns``, and ``stem``.md: the preamble lines, then the same table."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [*preamble, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if r.get(c) is None else str(r[c]) for c in columns) + " |" for r in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.csv and .md")


def command_line(script: str, argv) -> str:
    """The command that produced a result, as a reader would type it."""
    given = argv if argv is not None else sys.argv[1:]
    return f"python benchmarks/{script} {' '.join(given)}".strip()
