"""The rows an experiment writes and the tables read from them: results.csv, gaps to the best
bounds, the per-planner table and the machine line; used by the experiment runner, the plots
and the command line.

>>> rows = [{"instance": "a", "planner": "cp", "status": "optimal", "valid": True, "seconds": 1.0,
...          "cost": 12, "rounds": 3, "lower_bound": 12, "rounds_lower_bound": 3}]
>>> planner_table(["cp"], rows)[0][:3]
['cp', '1', '1']
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import statistics
from collections.abc import Iterable

COLUMNS = ("instance", "hosts", "vms", "moving", "planner", "status", "cost", "rounds", "lower_bound",
           "rounds_lower_bound", "seconds", "valid")


NUMERIC_COLUMNS = ("hosts", "vms", "moving", "cost", "rounds", "lower_bound", "rounds_lower_bound", "seconds")


STATUS_ORDER = ("optimal", "feasible", "infeasible", "unknown", "error")


INTERRUPTED = "interrupted"  # the status of a run cut short by Ctrl-C: its plan so far, if any


def results_csv(rows: Iterable[dict], *, header: bool = True) -> str:
    """The rows as CSV text with the columns of :data:`COLUMNS`, after a header line unless not ``header``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_results(path) -> list[dict]:
    """Rows of a results.csv, numbers parsed (empty cells become None)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in NUMERIC_COLUMNS:
            row[key] = float(row[key]) if row.get(key) not in (None, "") else None
        row["valid"] = {"True": True, "False": False}.get(row.get("valid"))
    return rows


def gaps(rows: list[dict]) -> list[tuple[float | None, float | None]]:
    """Per row: (cost / best cost lower bound, rounds / best rounds lower bound) of its instance.

    The best bound of an instance is the largest any of its runs proved; None
    when the row has no plan (or the bound is 0 and the cost is not).

    >>> gaps([{"instance": "a", "cost": 12, "rounds": 3, "lower_bound": 10, "rounds_lower_bound": 2},
    ...       {"instance": "a", "cost": 12, "rounds": 3, "lower_bound": 12, "rounds_lower_bound": 3},
    ...       {"instance": "a", "cost": "", "rounds": "", "lower_bound": 8, "rounds_lower_bound": 1}])
    [(1.0, 1.0), (1.0, 1.0), (None, None)]
    """
    best: dict[str, list[float]] = {}
    for row in rows:
        bounds = best.setdefault(row["instance"], [0.0, 0.0])
        for i, key in enumerate(("lower_bound", "rounds_lower_bound")):
            if row.get(key) not in (None, ""):
                bounds[i] = max(bounds[i], float(row[key]))
    return [(_ratio(row.get("cost"), best[row["instance"]][0]),
             _ratio(row.get("rounds"), best[row["instance"]][1])) for row in rows]


def _ratio(value, bound: float) -> float | None:
    if value in (None, ""):
        return None
    if bound > 0:
        return float(value) / bound
    return 1.0 if float(value) == 0 else None


def geometric_mean(xs: list[float]) -> float | None:
    """The geometric mean of positive numbers (None for none)."""
    if not xs:
        return None
    return math.exp(sum(math.log(max(x, 1e-12)) for x in xs) / len(xs))


PLANNER_COLUMNS = ("planner", "runs", *STATUS_ORDER, "valid", "cost / best LB (geo. mean)",
                   "rounds / best LB (geo. mean)", "seconds (total)", "seconds (max)")


def _statuses(rows: list[dict]) -> tuple[str, ...]:
    """The statuses the per-planner table counts: ``interrupted`` too when a run was cut short."""
    return (*STATUS_ORDER, INTERRUPTED) if any(r["status"] == INTERRUPTED for r in rows) else STATUS_ORDER


def planner_columns(rows: list[dict]) -> tuple[str, ...]:
    """The header of :func:`planner_table`: :data:`PLANNER_COLUMNS`, plus ``interrupted`` after ``error``
    when one of ``rows`` was cut short.

    >>> planner_columns([{"status": "optimal"}]) == PLANNER_COLUMNS
    True
    >>> planner_columns([{"status": "interrupted"}])[2:8]
    ('optimal', 'feasible', 'infeasible', 'unknown', 'error', 'interrupted')
    """
    n = len(STATUS_ORDER) + 2
    return (*PLANNER_COLUMNS[:n], *_statuses(rows)[len(STATUS_ORDER):], *PLANNER_COLUMNS[n:])


def planner_table(planners, rows: list[dict]) -> list[list[str]]:
    """One line of cells per planner (columns :func:`planner_columns`): statuses, validity, gaps, seconds."""
    row_gaps = gaps(rows)
    statuses = _statuses(rows)
    table = []
    for planner in planners:
        mine = [i for i, r in enumerate(rows) if r["planner"] == planner]
        counts = [str(sum(rows[i]["status"] == s for i in mine)) for s in statuses]
        valid = sum(rows[i]["valid"] is True for i in mine)
        cost_gap, rounds_gap = ([row_gaps[i][k] for i in mine if row_gaps[i][k] is not None] for k in (0, 1))
        seconds = [rows[i]["seconds"] for i in mine]
        table.append([planner, str(len(mine)), *counts, f"{valid}/{len(mine)}", _fmt_mean(cost_gap),
                      _fmt_mean(rounds_gap), f"{sum(seconds):.2f}", f"{max(seconds, default=0):.2f}"])
    return table


def markdown_table(header, body, right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(line) + " |" for line in (header, align, *body)]


def machine() -> str:
    """The computer the runs ran on, in one line: system, processor, cores, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def instance_cell(rows: list[dict], best_cost) -> str:
    """One (instance, planner) cell: the best repeat's cost and rounds, the median seconds."""
    if not rows:
        return ""
    seconds = statistics.median(r["seconds"] for r in rows)
    best = min(rows, key=lambda r: ((*STATUS_ORDER, INTERRUPTED).index(r["status"]),
                                    r["cost"] if r["cost"] != "" else math.inf))
    invalid = " INVALID" if any(r["valid"] is False for r in rows) else ""
    if best["cost"] == "":
        return f"{best['status']} · {seconds:.2f} s{invalid}"
    cost = fmt(best["cost"]) + ("*" if best["status"] == "optimal" else "")
    if best["cost"] == best_cost:
        cost = f"**{cost}**"
    return f"{cost} · {best['rounds']} r · {seconds:.2f} s{invalid}"


def _fmt_mean(xs: list[float]) -> str:
    mean = geometric_mean(xs)
    return "" if mean is None else f"{mean:.3f}"


def plain_cell(x):
    if x is None or x == "":
        return ""
    x = float(x)
    return int(x) if x.is_integer() else round(x, 6)


def fmt(x) -> str:
    return f"{float(x):g}"
