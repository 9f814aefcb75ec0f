"""Experiments: run every (instance x planner x repeat) of a YAML file and write the results.

An experiment file names instances (files, glob patterns, generated clouds
whose ``family``, ``hosts`` and ``seed`` may each be a list to sweep), planners,
a time limit and a repeat count::

    name: greedy-vs-cp
    instances:
      - file: ../models/swap-deadlock.yaml       # relative to this file
      - files: ../cases/tiny/*.yaml              # every match, sorted
      - generate: {family: rebalance, hosts: 20, seed: 1}
      - generate: {family: [shuffle, tight], hosts: [4, 10], seed: [1, 2]}   # every combination
    planners: [greedy, cp, exact]
    time_limit: 10
    repeat: 1

The whole file is checked before anything runs (bad input is one
:class:`InputError` line). Every plan goes through :func:`cpplan.validate`;
a planner that raises is recorded as status ``error``, never fatal. Ctrl-C
stops the experiment: the run it cut short is recorded as ``interrupted``
(cp and auto catch it and return their plan so far: :attr:`Interrupt.caught
<cpplan.budget.Interrupt.caught>` tells), and no further run starts.
:func:`write_outputs` writes ``results.csv``, ``summary.md`` and one plan
JSON per run, each file atomically.

>>> exp = Experiment("demo", (InstanceSpec("swap", file="swap.yaml"),), ("greedy", "cp"), repeat=2)
>>> [run.name for run in exp.runs]
['swap__greedy', 'swap__greedy__r2', 'swap__cp', 'swap__cp__r2']
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import itertools
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .budget import Interrupt
from .checks import finite_number, integer_between, short_repr, unknown_keys
from .errors import InputError, InvalidPlanError
from .io import load_instance, read_mapping, save_plan, write_atomic
from .parallel import EXECUTORS, connect_ray, require_ray
from .plan import Plan
from .planners import PLANNERS
from .results import (
    INTERRUPTED,
    fmt,
    instance_cell,
    machine,
    markdown_table,
    plain_cell,
    planner_columns,
    planner_table,
    results_csv,
)

EXPERIMENT_KEYS = ("name", "instances", "planners", "time_limit", "repeat", "seed", "executor")
GENERATE_KEYS = ("family", "hosts", "seed", "groups", "images", "sharing")
MAX_SEED = 2**31 - 1  # the solvers' seeds; a run's seed is the experiment's seed plus its repeat
MAX_REPEAT = 1000
MAX_GENERATED_HOSTS = 100_000  # about 3 million VMs


@dataclass(frozen=True)
class InstanceSpec:
    """One instance of an experiment: a file, or a generated cloud ``{family, hosts, seed}``.

    >>> InstanceSpec("rebalance-4-s1", generate=(("family", "rebalance"), ("hosts", 4), ("seed", 1))).load()
    Instance(4 hosts, 66 VMs, 34 moving, resources=['ram', 'cpu', 'disk'])
    """

    label: str
    file: str | None = None
    generate: tuple | None = None  # (key, value) pairs, hashable

    def load(self):
        """The :class:`~cpplan.model.Instance` this spec names."""
        if self.file is not None:
            return load_instance(self.file)
        return _generator().generate(**dict(self.generate))


@dataclass(frozen=True)
class Run:
    """One planner on one instance, one repeat."""

    instance: InstanceSpec
    planner: str
    repeat: int
    seed: int

    @property
    def name(self) -> str:
        """A file-safe name, unique within the experiment."""
        tail = f"__r{self.repeat + 1}" if self.repeat else ""
        return f"{_file_safe(self.instance.label)}__{self.planner}{tail}"


@dataclass(frozen=True)
class Experiment:
    """A parsed, fully checked experiment file."""

    name: str
    instances: tuple[InstanceSpec, ...]
    planners: tuple[str, ...]
    time_limit: float = 10.0
    repeat: int = 1
    seed: int = 0
    executor: str = "local"
    source: str = ""

    @property
    def runs(self) -> list[Run]:
        """Every run in a stable order: instance, then planner, then repeat."""
        return [Run(spec, planner, k, self.seed + k)
                for spec in self.instances for planner in self.planners for k in range(self.repeat)]

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "", base_dir: str | os.PathLike = ".") -> Experiment:
        """Check an experiment mapping; ``file:`` paths are relative to ``base_dir``."""
        if not isinstance(data, dict):
            raise InputError(source, "", f"must be a mapping at the top level, got {type(data).__name__}")
        unknown_keys(data, EXPERIMENT_KEYS, source, "")
        for key in ("instances", "planners"):
            if key not in data:
                raise InputError(source, key, "missing")
        name = data.get("name", Path(source).stem or "experiment")
        if not isinstance(name, str) or not name.strip():
            raise InputError(source, "name", f"must be a non-empty string, got {name!r}")
        planners = data["planners"]
        if isinstance(planners, str):
            planners = [planners]
        if not isinstance(planners, list) or not planners:
            raise InputError(source, "planners", f"must be a non-empty list of: {', '.join(PLANNERS)}")
        for i, p in enumerate(planners):
            if p not in PLANNERS:
                raise InputError(source, f"planners[{i}]", f"unknown planner {p!r} "
                                 f"(choose from {', '.join(PLANNERS)})")
        if len(set(planners)) != len(planners):
            raise InputError(source, "planners", "a planner is listed twice")
        time_limit = data.get("time_limit", 10.0)
        if not finite_number(time_limit) or not time_limit > 0:
            raise InputError(source, "time_limit", f"must be a positive number of seconds, "
                             f"got {short_repr(time_limit)}")
        repeat = integer_between(data.get("repeat", 1), source, "repeat", minimum=1, maximum=MAX_REPEAT)
        seed = integer_between(data.get("seed", 0), source, "seed", minimum=0, maximum=MAX_SEED - repeat + 1)
        executor = data.get("executor", "local")
        if executor not in EXECUTORS:
            raise InputError(source, "executor", f"must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        instances = _instance_specs(data["instances"], source, Path(base_dir))
        return cls(name=name.strip(), instances=tuple(instances), planners=tuple(planners),
                   time_limit=float(time_limit), repeat=repeat, seed=seed, executor=executor, source=source)


def load_experiment(path) -> Experiment:
    """Read and check an experiment file; every problem is one :class:`InputError` line."""
    data, name = read_mapping(path, "experiment file")
    return Experiment.from_dict(data, source=name, base_dir=Path(path).parent)


def _instance_specs(entries, source: str, base_dir: Path) -> list[InstanceSpec]:
    if not isinstance(entries, list) or not entries:
        raise InputError(source, "instances", "must be a non-empty list of {file: ...}, {files: ...} "
                         "or {generate: {family, hosts, seed}} entries")
    specs: list[InstanceSpec] = []
    for i, entry in enumerate(entries):
        key = f"instances[{i}]"
        if not isinstance(entry, dict) or len(set(entry) & {"file", "files", "generate"}) != 1:
            raise InputError(source, key, "must have exactly one of file, files, generate")
        unknown_keys(entry, ("file", "files", "generate", "name"), source, f"{key}.")
        if "name" in entry and ("files" in entry or not isinstance(entry["name"], str) or not entry["name"]):
            raise InputError(source, f"{key}.name", "must be a non-empty string, only with file or generate")
        if "file" in entry:
            specs.append(_file_spec(entry["file"], entry.get("name"), source, f"{key}.file", base_dir))
        elif "files" in entry:
            pattern = entry["files"]
            if not isinstance(pattern, str) or not pattern:
                raise InputError(source, f"{key}.files", "must be a glob pattern such as cases/*.yaml")
            matches = sorted(glob.glob(str(base_dir / pattern)))
            if not matches:
                raise InputError(source, f"{key}.files", f"no file matches {pattern!r}")
            specs.extend(_file_spec(m, None, source, f"{key}.files", Path(".")) for m in matches)
        else:
            specs.extend(_generate_specs(entry["generate"], entry.get("name"), source, f"{key}.generate"))
    seen: set[str] = set()
    for spec in specs:
        label = _file_safe(spec.label)  # plan files are named after it
        if label in seen:
            raise InputError(source, "instances", f"instance {spec.label!r} is listed twice "
                             "(give one of them a name:)")
        seen.add(label)
    return specs


def _file_spec(path, name, source: str, key: str, base_dir: Path) -> InstanceSpec:
    if not isinstance(path, str) or not path:
        raise InputError(source, key, f"must be a path to an instance file, got {path!r}")
    full = Path(path) if os.path.isabs(path) else base_dir / path
    if not full.is_file():
        raise InputError(source, key, f"no such instance file: {full}")
    load_instance(full)  # bad instances are reported before anything runs
    return InstanceSpec(name or full.stem, file=str(full))


def _generate_specs(params, name, source: str, key: str) -> list[InstanceSpec]:
    """One spec per combination: each of :data:`GENERATE_KEYS` takes a value or a list.

    ``groups`` is the fraction of VMs in anti-affinity groups, ``images`` the number of VM images
    and ``sharing`` the fraction of RAM that VMs of one image share on a host (each default 0).
    """
    if not isinstance(params, dict):
        raise InputError(source, key, "must be a mapping {family, hosts, seed}")
    unknown_keys(params, GENERATE_KEYS, source, f"{key}.")
    if "family" not in params or "hosts" not in params:
        raise InputError(source, key, "needs family and hosts")
    choices = {k: params.get(k, 0) for k in GENERATE_KEYS}
    choices = {k: v if isinstance(v, list) else [v] for k, v in choices.items()}
    for k, values in choices.items():
        if not values:
            raise InputError(source, f"{key}.{k}", "must not be an empty list")
    families = getattr(_generator(source, key), "FAMILIES", None)
    for family in choices["family"]:
        if not isinstance(family, str) or (families is not None and family not in families):
            known = f" (choose from {', '.join(families)})" if families else ""
            raise InputError(source, f"{key}.family", f"unknown family {family!r}{known}")
    hosts = [integer_between(h, source, f"{key}.hosts", minimum=2, maximum=MAX_GENERATED_HOSTS)
             for h in choices["hosts"]]
    seeds = [integer_between(x, source, f"{key}.seed", minimum=0, maximum=MAX_SEED) for x in choices["seed"]]
    for k in ("groups", "sharing"):
        for g in choices[k]:
            if isinstance(g, bool) or not isinstance(g, (int, float)) or not 0 <= g <= 1:
                raise InputError(source, f"{key}.{k}", f"must be a fraction between 0 and 1, got {g!r}")
    most_images = _generator(source, key).MAX_IMAGES
    images = [integer_between(k, source, f"{key}.images", minimum=0, maximum=most_images)
              for k in choices["images"]]
    if any(choices["sharing"]) and not all(images):
        raise InputError(source, f"{key}.sharing", "needs images: give images (how many VM images) too")
    extras = list(itertools.product(choices["groups"], images, choices["sharing"]))
    combos = list(itertools.product(choices["family"], hosts, seeds, extras))
    if name is not None and len(combos) > 1:
        raise InputError(source, f"{key[:-len('.generate')]}.name", "only for a single generated cloud")
    tags = (("groups", "g"), ("images", "i"), ("sharing", "r"))  # a key and its label suffix, when not 0
    return [InstanceSpec(name or f"{family}-{h}-s{seed}" + "".join(
                             f"-{t}{x:g}" for (_, t), x in zip(tags, extra, strict=True) if x),
                         generate=(("family", family), ("hosts", h), ("seed", seed))
                         + tuple((k, x) for (k, _), x in zip(tags, extra, strict=True) if x))
            for family, h, seed, extra in combos]


def _generator(source: str = "", key: str = ""):
    try:
        return importlib.import_module("cpplan.generate")
    except ModuleNotFoundError:
        raise InputError(source, key, "the instance generator (cpplan.generate) is not available") from None


def _file_safe(label: str) -> str:
    """``label`` as a file name of its own: no separators, and never ``.`` or ``..``.

    >>> _file_safe("tight 4/s1"), _file_safe("..")
    ('tight-4-s1', 'instance')
    """
    return re.sub(r"[^\w.-]+", "-", label).strip("-.") or "instance"


# --------------------------------------------------------------------------- running

@dataclass
class Result:
    """What one run produced: its results.csv row, its plan (None on error) and any error."""

    run: Run
    row: dict
    plan: Plan | None = None
    error: str = ""
    violations: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        """Whether Ctrl-C cut this run short."""
        return self.row["status"] == INTERRUPTED


def run_one(run: Run, time_limit: float, inst=None) -> Result:
    """Plan one run with :func:`cpplan.plan` and check the answer with :func:`cpplan.validate`.

    ``valid`` is the validator's verdict on the returned plan; a planner that
    raises gives status ``error`` (``valid`` false when the dispatcher's
    validator rejected its plan, empty when no plan came back). A Ctrl-C during
    the run gives status ``interrupted``: with the plan so far when the planner's
    :class:`~cpplan.budget.Interrupt` caught it (cp, auto), without one otherwise.
    """
    inst = inst if inst is not None else run.instance.load()
    row = {"instance": run.instance.label, "hosts": inst.n_hosts, "vms": inst.n_vms,
           "moving": int(inst.moving.sum()), "planner": run.planner}
    started, caught = time.perf_counter(), Interrupt.caught
    try:
        result = _plan_and_check(run, time_limit, inst, row, started)
    except KeyboardInterrupt:  # outside a planner's Interrupt (greedy, exact, the validator): no plan
        row.update(dict.fromkeys(("cost", "rounds", "lower_bound", "rounds_lower_bound", "valid"), ""),
                   status=INTERRUPTED, seconds=round(time.perf_counter() - started, 3))
        result = Result(run, row)
    if Interrupt.caught != caught:  # the planner caught Ctrl-C and returned early
        row["status"] = INTERRUPTED
    return result


def _plan_and_check(run: Run, time_limit: float, inst, row: dict, started: float) -> Result:
    from . import plan as make_plan
    from . import validate

    try:
        result = make_plan(inst, planner=run.planner, time_limit=time_limit, seed=run.seed)
    except InvalidPlanError as e:
        return _failed(run, row, started, str(e), valid=False, violations=e.violations)
    except Exception as e:  # noqa: BLE001 - a failing planner is a result, not a crash of the experiment
        return _failed(run, row, started, f"{type(e).__name__}: {e}", valid="")
    seconds = time.perf_counter() - started
    violations = validate(inst, result)
    row.update(status=result.status, cost=plain_cell(result.cost) if result.found else "",
               rounds=result.n_rounds if result.found else "", lower_bound=plain_cell(result.lower_bound),
               rounds_lower_bound=plain_cell(result.rounds_lower_bound), seconds=round(seconds, 3),
               valid=not violations)
    return Result(run, row, result, violations=violations)


def _failed(run, row, started, message, *, valid, violations=()) -> Result:
    row.update(status="error", cost="", rounds="", lower_bound="", rounds_lower_bound="",
               seconds=round(time.perf_counter() - started, 3), valid=valid)
    return Result(run, row, None, error=message.splitlines()[0] if message else "error",
                  violations=list(violations))


def execute(exp: Experiment, executor: str | None = None) -> Iterator[Result]:
    """Run every run of ``exp``, yielding results as they finish (local: in order)."""
    if (executor or exp.executor) == "ray":
        yield from _execute_on_ray(exp)
        return
    cache: dict[InstanceSpec, object] = {}
    for run in exp.runs:
        if run.instance not in cache:
            cache.clear()  # keep one instance in memory at a time
            cache[run.instance] = run.instance.load()
        yield run_one(run, exp.time_limit, cache[run.instance])


def _execute_on_ray(exp: Experiment) -> Iterator[Result]:
    """The same :func:`run_one` per run, fanned out over a Ray cluster (a local one by default)."""
    ray = connect_ray()
    remote_run = ray.remote(run_one)
    pending = [remote_run.remote(run, exp.time_limit) for run in exp.runs]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:  # Ctrl-C, or a run cut short by one: nothing more runs (a running task gets the interrupt)
        for ref in pending:
            ray.cancel(ref)


def run_experiment(exp: Experiment, out_dir, *, executor: str | None = None,
                   on_result: Callable[[Result], None] | None = None, plots: bool = False) -> list[Result]:
    """Run ``exp`` and write its outputs into ``out_dir`` (PNG plots too when ``plots``).

    Returns the results in run order; ``on_result`` is called as each run finishes,
    and its row is appended to results.csv at once (rewritten in run order at the end).
    Ctrl-C stops the experiment: the run it cut short has status ``interrupted``
    (see :func:`run_one`), no further run starts, the runs so far are written
    (without plots), then :class:`KeyboardInterrupt` goes on.
    """
    if (executor or exp.executor) == "ray":
        require_ray()  # before results.csv is started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # an unwritable place fails now, not after the runs
    results, interrupted = [], False
    order = {run.name: i for i, run in enumerate(exp.runs)}
    with open(out / "results.csv", "w", encoding="utf-8", newline="") as rows_so_far, \
            contextlib.closing(execute(exp, executor)) as runs:
        rows_so_far.write(results_csv([]))
        try:
            for result in runs:
                results.append(result)
                rows_so_far.write(results_csv([result.row], header=False))
                rows_so_far.flush()
                if on_result is not None:
                    on_result(result)
                if result.interrupted:
                    interrupted = True
                    break
        except KeyboardInterrupt:
            interrupted = True
    results.sort(key=lambda r: order[r.run.name])
    write_outputs(exp, results, out_dir, plots=plots and not interrupted)
    if interrupted:
        raise KeyboardInterrupt
    return results


# --------------------------------------------------------------------------- outputs

def output_name(exp: Experiment) -> str:
    """The experiment's name as a directory name."""
    return _file_safe(exp.name)


def write_outputs(exp: Experiment, results: list[Result], out_dir, *, plots: bool = False) -> list[Path]:
    """Write results.csv, summary.md, plans/<run>.json (and PNG plots) into ``out_dir``.

    Returns the paths written. Every file is written atomically.
    """
    out = Path(out_dir)
    (out / "plans").mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        if r.plan is not None:
            path = out / "plans" / f"{r.run.name}.json"
            save_plan(r.plan, path)
            written.append(path)
    write_atomic(out / "results.csv", results_csv(r.row for r in results))
    write_atomic(out / "summary.md", summary_markdown(exp, results))
    written[:0] = [out / "results.csv", out / "summary.md"]
    if plots:
        from .plots import plot_results

        written += plot_results([r.row for r in results], out)
    return written


def summary_markdown(exp: Experiment, results: list[Result]) -> str:
    """A readable report: the set-up, one line per planner, one line per instance, the errors."""
    rows = [r.row for r in results]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cut = [f"`{r.run.name}`" for r in results if r.interrupted]
    stopped = f"**Interrupted** after {len(results) - len(cut)} of {len(exp.runs)} runs" + (
        f"; cut short (status `{INTERRUPTED}`): {', '.join(cut)}." if cut else ".")
    lines = [f"# {exp.name}", "",
             f"{len(results)} runs: {len(exp.instances)} instances x {len(exp.planners)} planners x "
             f"{exp.repeat} repeat(s), time limit {exp.time_limit:g} s per run, seed {exp.seed}"
             f"{f', from {exp.source}' if exp.source else ''}.  ",
             f"Machine: {machine()}; {when}.", "",
             *([stopped, ""] if cut or len(results) < len(exp.runs) else []),
             "## Per planner", "", *markdown_table(planner_columns(rows), planner_table(exp.planners, rows))]
    lines += ["", "## Per instance", "",
              "Each cell: cost, rounds, seconds (median over repeats). `*` proven optimal, "
              "**bold** the least cost in the row. LB: the best cost lower bound any run proved; "
              "the ratios above divide by it (and by the best rounds lower bound).", "",
              "| instance | hosts | VMs | moving | LB | " + " | ".join(exp.planners) + " |",
              "|---|---:|---:|---:|---:|" + "---|" * len(exp.planners)]
    for spec in exp.instances:
        mine = [r for r in rows if r["instance"] == spec.label]
        if not mine:
            continue
        best = min((r["cost"] for r in mine if r["cost"] != ""), default=None)
        lbs = [r["lower_bound"] for r in mine if r["lower_bound"] != ""]
        first = mine[0]
        cells = [instance_cell([r for r in mine if r["planner"] == p], best) for p in exp.planners]
        lines.append(f"| {spec.label} | {first['hosts']} | {first['vms']} | {first['moving']} | "
                     f"{fmt(max(lbs)) if lbs else ''} | " + " | ".join(cells) + " |")
    failures = [r for r in results if r.error or r.violations]
    if failures:
        lines += ["", "## Errors and invalid plans", ""]
        for r in failures:
            reason = r.error or "; ".join(r.violations[:3])
            lines.append(f"- `{r.run.name}`: {reason}")
    return "\n".join(lines) + "\n"


