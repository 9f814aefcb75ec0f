"""Pictures (the ``plot`` extra, matplotlib): experiment results and a single plan's timeline.

- :func:`results_figures` / :func:`plot_results`: cost / lower bound and seconds
  per planner across instance sizes, from the rows of a results.csv.
- :func:`timeline_figure` / :func:`plot_timeline`: per round, which migrations
  run (arrows from source to destination) over each touched host's load per
  resource, from placement A to B: the picture to look at before pressing go. With page
  sharing, each host's label on the shared resource says how much sharing saves there at the end.

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> fig = timeline_figure(inst, Plan("optimal", 4, [[{"vm": "a", "from": "h1", "to": "h2"}]]))
>>> [ax.get_title() for ax in fig.axes if ax.get_title()]
['ram used / capacity']
"""

from __future__ import annotations

import importlib.util
import io
from collections import defaultdict
from pathlib import Path

import numpy as np

from .errors import InputError
from .io import write_atomic
from .results import gaps, geometric_mean

MIN_SECONDS = 0.001  # results.csv keeps milliseconds; faster runs are drawn at 1 ms
MAX_HOSTS_DRAWN = 40
MAX_RESOURCES_DRAWN = 4


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def require_matplotlib(option: str = "plotting") -> None:
    """Raise a one-line :class:`InputError` when matplotlib is missing."""
    if not matplotlib_available():
        raise InputError("", "", f"{option} needs matplotlib: pip install cpplan[plot]")


# --------------------------------------------------------------------------- experiment results

def results_figures(rows: list[dict]) -> dict:
    """Two figures from results rows, per planner against the number of hosts.

    ``cost_ratio``: cost / the best cost lower bound of the instance;
    ``seconds``: wall-clock seconds per run (log scale).
    """
    from matplotlib.figure import Figure

    cost_gaps = [gap for gap, _ in gaps(rows)]
    planners = list(dict.fromkeys(r["planner"] for r in rows))
    sizes = sorted({float(r["hosts"]) for r in rows})
    log_x = len(sizes) > 1 and sizes[-1] / max(sizes[0], 1) >= 10
    figures = {}
    seconds = [None if r["status"] == "error" else max(float(r["seconds"]), MIN_SECONDS) for r in rows]
    for name, values, ylabel, undrawn in (
            ("cost_ratio", cost_gaps, "cost / best cost lower bound", "without a plan"),
            ("seconds", seconds, "seconds (wall clock, at least 1 ms)", "errors")):
        fig = Figure(figsize=(7, 4.2), layout="constrained")
        ax = fig.add_subplot()
        for i, planner in enumerate(planners):
            mine = [(float(r["hosts"]), y) for r, y in zip(rows, values, strict=True)
                    if r["planner"] == planner]
            points = [(x, y) for x, y in mine if y is not None]
            missing = len(mine) - len(points)  # no plan (cost) or an error (seconds)
            step = 0.03 if log_x else 0.02 * max(5.0, sizes[-1] - sizes[0])
            offset = (i - (len(planners) - 1) / 2) * step  # side by side, not on top of each other
            xs = [x * (1 + offset) if log_x else x + offset for x, _ in points]
            dots = ax.plot(xs, [y for _, y in points], "o", alpha=0.45,
                           label=planner + (f" ({missing} {undrawn})" if missing else ""))[0]
            by_size = defaultdict(list)
            for x, y in points:
                by_size[x].append(y)
            means = sorted((x, geometric_mean(ys)) for x, ys in by_size.items())
            ax.plot([x for x, _ in means], [y for _, y in means], "-", color=dots.get_color())
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{x:g}" for x in sizes])
        ax.minorticks_off()
        if name == "seconds":
            drawn = [y for y in values if y is not None]
            ax.set_ylim(MIN_SECONDS / 1.5, 1.5 * max([10 * MIN_SECONDS, *drawn]))
            ax.set_yscale("log")
        else:
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel("hosts")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel} per planner (dots: runs; line: geometric mean per size)", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        figures[name] = fig
    return figures


def plot_results(rows: list[dict], out_dir) -> list[Path]:
    """Write ``cost_ratio.png`` and ``seconds.png`` into ``out_dir``; returns their paths."""
    paths = []
    for name, fig in results_figures(rows).items():
        path = Path(out_dir) / f"{name}.png"
        save_png(fig, path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- one plan

def timeline_figure(inst, plan):
    """A figure: per resource, each touched host's load share per step (A, after round 1, ...),
    with one arrow per migration from its source (before the round) to its destination (after it)."""
    from matplotlib.figure import Figure

    from .show import replay_loads, replay_placements, sharing_saved

    loads = replay_loads(inst, plan) if plan.found else [inst.load(inst.initial)]
    saved = sharing_saved(inst, replay_placements(inst, plan)[-1] if plan.found else inst.initial)
    hosts = _hosts_to_draw(inst, plan)
    limited = [r for r in range(len(inst.resources)) if np.isfinite(inst.effective[hosts, r]).any()]
    resources = (limited or list(range(len(inst.resources))))[:MAX_RESOURCES_DRAWN]
    steps = len(loads)
    width = min(20.0, max(6.0, 2.0 + 0.8 * steps))
    height = min(9.0, 1.2 + 0.45 * len(hosts))
    fig = Figure(figsize=(width, height * max(1, len(resources))), layout="constrained")
    axes = fig.subplots(max(1, len(resources)), 1, squeeze=False)[:, 0]
    row_of = {h: i for i, h in enumerate(hosts)}
    for ax, r in zip(axes, resources, strict=False):
        capacity = inst.effective[hosts, r]
        share = np.stack([load[hosts, r] for load in loads], axis=1) / np.where(
            np.isfinite(capacity) & (capacity > 0), capacity, np.nan)[:, None]
        image = ax.imshow(share, aspect="auto", cmap="YlOrRd", vmin=0,
                          vmax=max(1.0, float(np.nanmax(share, initial=1.0))), interpolation="nearest")
        fig.colorbar(image, ax=ax, label="used / capacity", shrink=0.9)
        if share.size <= 300:
            for (i, t), x in np.ndenumerate(share):
                if np.isfinite(x):
                    ax.text(t, i + 0.3, f"{100 * x:.0f}%", ha="center", va="bottom", fontsize=7,
                            color="white" if x > 0.75 else "black")
        _draw_migrations(ax, inst, plan, row_of)
        shared = saved is not None and r == inst.share_resource  # label each host with what sharing saves
        ax.set_yticks(range(len(hosts)), [inst.host_names[h] + (f" ({saved[h]:g} saved)" if shared else "")
                                          for h in hosts], fontsize=8)
        ax.set_xticks(range(steps), ["A"] + [str(t) for t in range(1, steps)], fontsize=8)
        ax.set_xlabel("placement A, then after each round")
        ax.set_title(f"{inst.resources[r]} used / capacity"
                     + (" by the page-sharing rule (saved by sharing at the end)" if shared else ""))
    cut = "" if len(hosts) == inst.n_hosts else f"; {len(hosts)} of {inst.n_hosts} hosts drawn"
    cost = f", cost {plan.cost:g}, {plan.n_rounds} rounds" if plan.found else ""
    fig.suptitle(f"{plan.status} ({plan.planner or 'plan'}){cost}{cut}", fontsize=10)
    return fig


def plot_timeline(inst, plan, path) -> Path:
    """Draw :func:`timeline_figure` into the PNG file ``path``."""
    path = Path(path)
    save_png(timeline_figure(inst, plan), path)
    return path


def _hosts_to_draw(inst, plan) -> list[int]:
    """Hosts touched by the plan, the busiest first when there are too many, in index order."""
    touches = np.zeros(inst.n_hosts, dtype=np.int64)
    for moves in plan.rounds:
        for m in moves:
            touches[inst.host_index[m["from"]]] += 1
            touches[inst.host_index[m["to"]]] += 1
    touched = np.flatnonzero(touches)
    if touched.size == 0:
        touched = np.arange(min(inst.n_hosts, MAX_HOSTS_DRAWN))
    if touched.size > MAX_HOSTS_DRAWN:
        touched = touched[np.argsort(-touches[touched], kind="stable")[:MAX_HOSTS_DRAWN]]
    return sorted(touched.tolist())


def _draw_migrations(ax, inst, plan, row_of: dict) -> None:
    label = plan.n_migrations <= 30
    for t, moves in enumerate(plan.rounds, start=1):
        for m in moves:
            src, dst = row_of.get(inst.host_index[m["from"]]), row_of.get(inst.host_index[m["to"]])
            if src is None or dst is None:
                continue
            ax.annotate("", xy=(t - 0.15, dst), xytext=(t - 0.85, src),
                        arrowprops={"arrowstyle": "->", "color": "tab:blue", "linewidth": 1.2})
            if label:
                ax.text(t - 0.5, (src + dst) / 2, m["vm"], ha="center", va="center", fontsize=7,
                        color="tab:blue", bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                                "edgecolor": "none", "alpha": 0.8})


def gantt_figure(inst, plan, run, bound: float):
    """A figure of the replay ``run.order`` of ``plan`` (:func:`cpplan.simulate.trials`): one row per
    touched host, each migration a bar on both its hosts from its start to its end (stacked in lanes
    where several run at once), coloured by the VM's RAM, with the makespan, barrier makespan and
    lower bound as vertical lines; the axis is in minutes past ten minutes."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from .durations import RAM_UNITS
    from .order import Migrations

    moves, replay = Migrations.of(inst, plan), run.order
    unit = inst.durations.ram_unit
    ram = inst.durations.ram_mib[moves.vm] / RAM_UNITS[unit]
    scale, axis_unit = (60.0, "minutes") if max(replay.makespan, run.barrier.makespan) >= 600 else (1.0, "s")
    hosts = _hosts_to_draw(inst, plan)
    lanes = {h: _lanes(replay, [i for i in range(len(moves)) if h in (moves.src[i], moves.dst[i])])
             for h in hosts}
    base, y = {}, 0.0
    for h in hosts:
        base[h] = y
        y += max(1, max(lanes[h].values(), default=0) + 1) + 0.4
    fig = Figure(figsize=(11, min(30.0, 1.8 + 0.26 * y)), layout="constrained")
    ax = fig.add_subplot()
    low = float(ram.min()) if ram.size else 0.0
    norm = Normalize(low, max(float(ram.max()) if ram.size else 1.0, low + 1e-9))
    cmap = colormaps["viridis"]
    span = max(replay.makespan, run.barrier.makespan, bound, 1e-9) / scale
    for row, h in enumerate(hosts):
        if row % 2:
            ax.axhspan(base[h] - 0.2, base[h] + max(lanes[h].values(), default=0) + 1.2, color="0.94",
                       zorder=0)
        for i, lane in lanes[h].items():
            start, end = replay.start[i] / scale, replay.end[i] / scale
            leaving = moves.src[i] == h
            ax.barh(base[h] + lane + 0.5, end - start, left=start, height=0.8, color=cmap(norm(ram[i])),
                    edgecolor="0.6", linewidth=0.5, hatch="///" if leaving else None, zorder=2)
            if end - start >= 0.07 * span:  # room for the label
                other = inst.host_names[moves.dst[i] if leaving else moves.src[i]]
                text = f"{inst.vm_names[moves.vm[i]]} {'→' if leaving else '←'} {other}"
                ax.text(start + 0.01 * replay.makespan / scale, base[h] + lane + 0.5, text, va="center",
                        fontsize=6.5, clip_on=True, zorder=3,
                        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none",
                              "alpha": 0.75})
    for x, style, name in ((replay.makespan, "-", "makespan"), (run.barrier.makespan, ":", "with barriers"),
                           (bound, "--", "lower bound")):
        ax.axvline(x / scale, color="tab:red" if name == "makespan" else "grey", linestyle=style,
                   label=f"{name} {x / scale:.1f} {axis_unit}")
    ax.set_yticks([base[h] + (max(lanes[h].values(), default=0) + 1) / 2 for h in hosts],
                  [inst.host_names[h] for h in hosts], fontsize=8)
    ax.set_ylim(y, -0.2)
    ax.set_xlim(0, 1.02 * span)
    ax.set_xlabel(f"time since the plan starts ({axis_unit}); hatched: the VM leaves this host, plain: "
                  f"it arrives")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=f"VM RAM ({unit})", shrink=min(0.8, 6 / y + 0.1),
                 aspect=15)
    cut = "" if len(hosts) == inst.n_hosts else f"; {len(hosts)} of {inst.n_hosts} hosts drawn"
    verdict = f"UNSAFE: {len(run.problems)} problem(s)" if run.problems else "no overload"
    fig.suptitle(f"{plan.n_migrations} migrations in {_plural_rounds(plan.n_rounds)}, replayed: makespan "
                 f"{replay.makespan / scale:.1f} {axis_unit}, {verdict}{cut}", fontsize=10)
    return fig


def plot_gantt(inst, plan, run, bound: float, path) -> Path:
    """Draw :func:`gantt_figure` into the PNG file ``path``."""
    path = Path(path)
    save_png(gantt_figure(inst, plan, run, bound), path)
    return path


def _lanes(replay, migrations: list[int]) -> dict[int, int]:
    """Each migration's lane on one host: the lowest lane free at its start (intervals by start)."""
    free_at: list[float] = []
    out = {}
    for i in sorted(migrations, key=lambda i: (replay.start[i], i)):
        lane = next((k for k, t in enumerate(free_at) if t <= replay.start[i]), len(free_at))
        if lane == len(free_at):
            free_at.append(0.0)
        free_at[lane] = replay.end[i]
        out[i] = lane
    return out


def _plural_rounds(n: int) -> str:
    return f"{n} round{'' if n == 1 else 's'}"


def save_png(fig, path) -> None:
    """Save a figure as PNG, never half-written (:func:`cpplan.io.write_atomic`)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_atomic(path, buffer.getvalue())
