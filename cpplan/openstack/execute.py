"""Carry out a plan on a live cloud, by its ``after`` order or round by round, and re-plan on drift.

A plan that gives ``after`` (SPEC 7.3; every plan cpplan makes does) runs
without barriers: migration *m* starts as soon as every migration of its
``after`` list has finished and the migrations in flight leave room for it
under the per-host, directional, total, link and group limits (counted in
flight, as SPEC 7.4 and 8 say), by estimated start among those ready
(:func:`cpplan.schedule.start_ranks`), N in flight at once. SPEC 7.4 makes
that safe however long each migration takes. The migrations in flight are
looked at every poll interval; each may run ``round_timeout`` seconds. Once a
migration failed or ran too long, or Ctrl-C came, no further migration starts
and those in flight are waited for. A plan without ``after`` runs round by
round (the barrier order), and so do its re-plans.

Before each start (before each round, round by round) the VMs and hosts it
touches are read again: every VM must still exist, be live-migratable and sit
on its planned source; every host must be up (and enabled to receive);
Placement's usage on each destination now plus the VMs arriving must fit its
capacity, for every resource they need (a resource Placement has no inventory
of there has an unknown capacity: no such VM is sent). Round by round, the
round's live migrations then start together, and the round ends when every
one of them has ended (polled, with a timeout and a progress bar). Each VM
must land on its planned host.

Reads are tried again on transient errors (see :mod:`cpplan.openstack.cloud`).
A migration request answered with one may still have been carried out, so the
server is read again a poll interval later: migrating or on its destination, it
is journalled ``accepted`` and watched like any other; otherwise its end is
recorded at once (``failed`` with the error when it stayed on its source).

On drift (a VM gone or elsewhere, a host down, a migration failed) the
execution stops, reads the current state into a new instance with the same
target (``<plan>.replanN.yaml``), plans again (``<plan>.replanN.json``) and,
once ``confirm`` agrees, goes on with the new plan. A check that refuses a
start (or a round) is made once more a poll interval later before it counts as
drift. A Ctrl-C stops starting migrations (round by round: after the current
round). The journal records every migration started and ended, and, by the
order, one ``order`` line per plan run where round by round has ``round`` lines.

>>> describe([[{"vm": "web1", "from": "c1", "to": "c2"}]])
'round 1 (1 migration)\\n  web1  c1 -> c2'
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import InputError
from ..io import save_instance, save_plan
from ..model import Instance
from ..order import Migrations
from ..plan import Plan
from ..planners import plan as make_plan
from ..schedule import Limits, start_ranks
from .cloud import Cloud, CloudError
from .journal import Journal
from .snapshot import LIVE_MIGRATABLE, take_snapshot, vm_names

# How an execution ends, and the exit code the command line gives it.
EXIT_BY_OUTCOME = {"done": 0, "dry-run": 0, "infeasible": 3, "unknown": 4, "stopped": 5}


@dataclass
class Outcome:
    """How an execution ended: ``done`` (the cloud is at the target), ``dry-run``, ``stopped``
    (interrupted, declined, timed out, drifted too often or unable to re-plan), or the
    re-planner's ``infeasible`` / ``unknown``."""

    status: str
    message: str
    migrations: int = 0
    replans: int = 0


@dataclass
class Settings:
    """Knobs of an execution; the defaults suit a real cloud."""

    poll_interval: float = 2.0  # seconds between two looks at running migrations
    round_timeout: float = 3600.0  # seconds a round may run before the execution stops
    planner: str = "auto"  # re-planner
    time_limit: float = 30.0  # re-planning budget, seconds
    max_replans: int = 3
    progress: bool = True  # a progress bar on stderr while waiting
    clock: Callable[[], float] = time.monotonic  # seconds, for timeouts and the journal's durations
    sleep: Callable[[float], None] = time.sleep  # waits between looks (tests pass a simulated clock)


def describe(rounds) -> str:
    """The rounds of a plan, one migration a line."""
    lines = []
    for t, rnd in enumerate(rounds, 1):
        lines.append(f"round {t} ({len(rnd)} migration{'s' if len(rnd) != 1 else ''})")
        width = max((len(m["vm"]) for m in rnd), default=0)
        lines += [f"  {m['vm']:<{width}}  {m['from']} -> {m['to']}" for m in rnd]
    return "\n".join(lines)


@contextlib.contextmanager
def stop_on_interrupt(say: Callable[[str], None], what: str = "stopping after the current round"):
    """Within the block, a first Ctrl-C sets the yielded event (saying ``what`` happens now); a second
    one interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        say(f"interrupted: {what} (Ctrl-C again to stop waiting)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


class Execution:
    """One run of ``cpplan openstack execute``: see :func:`execute`."""

    def __init__(self, cloud: Cloud, inst: Instance, plan: Plan, *, journal: Journal, out: Path,
                 confirm: Callable[[Plan], bool], say: Callable[[str], None], settings: Settings):
        self.cloud, self.journal, self.out = cloud, journal, Path(out)
        self.confirm, self.say, self.settings = confirm, say, settings
        self.inst, self.plan = inst, plan
        self.scope = list(inst.host_names)
        self.limits = inst.to_dict().get("limits")
        # Servers are known by id: names are labels that a re-plan may spell differently.
        self.ids: dict = {}  # VM name in the current instance -> server id
        self.goal: dict = {}  # server id -> target host, for every VM of the first instance
        self.names: dict = {}  # server id -> its name in the first instance
        self.finished = self.replans = 0
        self.barriers = not plan.has_order  # the first plan's way, kept through re-plans

    # -------------------------------------------------------------- the run
    def run(self) -> Outcome:
        where = self.locate()
        inst = self.inst
        self.ids = {vm: where[vm].id for vm in inst.vm_names if vm in where}
        self.names = {sid: vm for vm, sid in self.ids.items()}
        self.goal = {sid: inst.host_names[inst.target[inst.vm_index[vm]]] for vm, sid in self.ids.items()}
        problems = self.differences(where)
        self.say(f"plan: {self.plan.n_rounds} rounds, {self.plan.n_migrations} migrations, cost "
                 f"{self.plan.cost:g} ({self.plan.status}, {self.plan.planner or 'unknown planner'})")
        self.say(describe(self.plan.rounds))
        if problems:
            self.say("the cloud differs from the instance, so execution starts with a re-plan:\n  "
                     + "\n  ".join(problems))
        else:
            self.say(f"the cloud matches the instance ({len(where)} servers on {len(self.scope)} hosts)")
        if not self.confirm(self.plan):
            return Outcome("dry-run", "dry run: nothing changed (--yes carries the plan out)")
        self.journal.write("plan", plan=0, rounds=self.plan.n_rounds, migrations=self.plan.n_migrations,
                           cost=self.plan.cost)
        what = ("stopping after the current round" if self.barriers
                else "no further migration starts, waiting for those in flight")
        with stop_on_interrupt(self.say, what) as stop:
            try:
                return self._rounds_and_replans(where, problems, stop)
            except CloudError as e:
                return self.stop(f"the cloud failed: {e}", self.replans)
            except KeyboardInterrupt:
                self.stop("interrupted twice", self.replans)
                raise

    def _rounds_and_replans(self, where: dict, problems: list[str], stop: threading.Event) -> Outcome:
        while True:
            if not problems:
                status, problems = self.carry_out(stop)
                if status == "stopped":
                    return self.stop(problems[0], self.replans)
                if not problems:
                    servers = {s.id: s for s in self.locate().values()}
                    problems = self.off_target(servers)
                if not problems:
                    gone = [self.names[sid] for sid in self.goal if sid not in servers]
                    self.journal.write("done", migrations=self.finished, replans=self.replans, gone=gone)
                    return Outcome("done", f"the cloud is at the target: {self.finished} migrations, "
                                           f"{self.replans} re-plan(s)"
                                           + (f"; gone meanwhile: {', '.join(gone)}" if gone else ""),
                                   self.finished, self.replans)
            self.journal.write("drift", plan=self.replans, problems=problems)
            self.say("the cloud drifted:\n  " + "\n  ".join(problems))
            if stop.is_set():
                return self.stop("interrupted", self.replans)
            if self.replans >= self.settings.max_replans:
                return self.stop(f"drifted again after {self.replans} re-plan(s) (--max-replans)",
                                 self.replans)
            self.replans += 1
            ended = self.replan(self.replans)
            if ended is not None:
                return ended
            if not self.confirm(self.plan):
                return self.stop("the new plan was not confirmed", self.replans)
            problems = self.differences(self.locate())

    def stop(self, reason: str, replans: int) -> Outcome:
        self.journal.write("stop", reason=reason, migrations=self.finished)
        return Outcome("stopped", f"stopped: {reason}", self.finished, replans)

    # ------------------------------------------------------- state checks
    def locate(self) -> dict:
        """VM name -> :class:`Server` on the hosts in scope, named as a snapshot names them."""
        in_scope = set(self.scope)
        servers = [s for s in self.cloud.servers() if s.host in in_scope]
        name_of = vm_names((s.id, s.name) for s in servers)
        return {name_of[s.id]: s for s in servers}

    def differences(self, where: dict) -> list[str]:
        """How the current instance's VMs differ from where the cloud has them."""
        inst, problems = self.inst, []
        for j, vm in enumerate(inst.vm_names):
            expected = inst.host_names[inst.initial[j]]
            if vm not in where:
                problems.append(f"{vm}: no longer on the hosts in scope")
            elif where[vm].host != expected:
                problems.append(f"{vm}: on {where[vm].host}, the instance has it on {expected}")
        return problems

    def off_target(self, servers: dict) -> list[str]:
        """VMs of the first instance still in scope (``servers`` by id) but not on their target."""
        return [f"{self.names[sid]}: on {servers[sid].host}, its target is {host}"
                for sid, host in self.goal.items() if sid in servers and servers[sid].host != host]

    def check_round(self, rnd: list[dict]) -> list[str]:
        """Re-read the VMs and hosts of one round; the reasons it cannot start as planned."""
        problems = []
        services = self.cloud.compute_services()
        arriving: dict = defaultdict(lambda: defaultdict(float))
        for m in rnd:
            server = self.cloud.server(self.ids[m["vm"]]) if m["vm"] in self.ids else None
            if server is None:
                problems.append(f"{m['vm']}: no longer exists")
                continue
            if server.host != m["from"]:
                problems.append(f"{m['vm']}: on {server.host}, planned to leave {m['from']}")
            elif server.migrating or server.status not in LIVE_MIGRATABLE:
                problems.append(f"{m['vm']}: {server.status} ({server.task_state}), cannot live-migrate")
            for r, x in server.demand.items():
                arriving[m["to"]][r] += x
        for h in sorted({m["from"] for m in rnd} | set(arriving)):
            enabled, up = services.get(h, (False, False))
            if not up:
                problems.append(f"host {h}: compute service down")
            elif h in arriving and not enabled:
                problems.append(f"host {h}: compute service disabled")
        for h, load in sorted(arriving.items()):
            inventory, usage = self.cloud.resources(h)
            for r, x in load.items():
                if r not in inventory:
                    if x > 0:
                        problems.append(f"host {h}: no Placement inventory of {r}, capacity unknown: "
                                        f"refusing to send {x:g} {r} there")
                elif usage.get(r, 0) + x > inventory[r].usable:
                    problems.append(f"host {h}: {r} in use {usage.get(r, 0):g} + arriving {x:g} > "
                                    f"capacity {inventory[r].usable:g}")
        return problems

    # ---------------------------------------------------------- the rounds
    def carry_out(self, stop: threading.Event) -> tuple[str, list[str]]:
        """Run the current plan; ("done", []), ("drift", problems) or ("stopped", [reason]).

        By its ``after`` order when the first plan gave one (re-plans then too), else round by round.
        """
        if self.barriers:
            return self._carry_out_rounds(stop)
        return self._carry_out_ordered(stop)

    def _carry_out_rounds(self, stop: threading.Event) -> tuple[str, list[str]]:
        """Run the current plan's rounds, each after the whole previous one; as :meth:`carry_out` returns.

        A round whose check fails is checked once more after a poll interval: a
        migration that just ended may still hold its source's allocation a moment.
        """
        rounds = [r for r in self.plan.rounds if r]
        for t, rnd in enumerate(rounds, 1):
            if stop.is_set():
                return "stopped", [f"interrupted after round {t - 1} of {len(rounds)}"]
            problems = self.check_round(rnd)
            if problems:
                self.settings.sleep(self.settings.poll_interval)
                problems = self.check_round(rnd)
            if problems:
                return "drift", problems
            self.journal.write("round", plan=self.replans, round=t, of=len(rounds), migrations=len(rnd))
            ends = self.run_round(t, len(rounds), rnd)
            timed_out = [e["vm"] for e in ends if e["event"] == "timeout"]
            if timed_out:
                return "stopped", [f"round {t}: still migrating after {self.settings.round_timeout:g} s: "
                                   f"{', '.join(timed_out)}"]
            problems = [_ending(e) for e in ends if e["event"] != "finished"]
            if problems:
                return "drift", problems
        return "done", []

    def run_round(self, t: int, n_rounds: int, rnd: list[dict]) -> list[dict]:
        """Start a round's migrations, wait until each has ended; the journal records of their ends.

        A second Ctrl-C leaves at once: each migration started and not seen to end
        is recorded as ``abandoned`` (it may still be running) before the interrupt goes on.
        """
        started: dict = {}  # VM -> (its start record, when)
        ends: list[dict] = []
        self.say(f"round {t}/{n_rounds}: starting {len(rnd)} migration{'s' if len(rnd) != 1 else ''}")
        try:
            for m in rnd:
                record = {"plan": self.replans, "round": t, "vm": m["vm"], "server": self.ids[m["vm"]],
                          "from": m["from"], "to": m["to"]}
                started[m["vm"]] = (record, self.settings.clock())
                end = self._start(record)
                if end is not None:
                    del started[m["vm"]]
                    ends.append(end)
            self._wait(t, n_rounds, len(rnd), started, ends)
        except KeyboardInterrupt:
            for record, _ in started.values():
                self.journal.write("abandoned", **record, reason="interrupted: no longer watched")
            raise
        now = self.settings.clock()
        for record, since in started.values():
            ends.append(self.journal.write("timeout", **record, seconds=round(now - since, 3)))
        for e in ends:
            self.say(f"  {e['vm']}  {e['from']} -> {e['to']}: {_ending(e, short=True)}")
        return ends

    def _start(self, record: dict) -> dict | None:
        """Journal a migration's start and ask nova for it; None while it runs, else its end record."""
        self.journal.write("start", **record)
        try:
            self.cloud.live_migrate(record["server"], record["to"])
        except CloudError as e:
            return (self._after_lost_answer(record, e) if e.transient
                    else self.journal.write("failed", **record, host=record["from"], error=str(e)))
        return None

    def _progress(self) -> Progress:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=Console(stderr=True),
                        disable=not self.settings.progress, transient=True)

    def _wait(self, t: int, n_rounds: int, size: int, started: dict, ends: list[dict]) -> None:
        """Poll the started migrations until each has ended or the round's time is up."""
        clock = self.settings.clock
        deadline = clock() + self.settings.round_timeout
        progress = self._progress()
        with progress:
            bar = progress.add_task(f"round {t}/{n_rounds}", total=size, completed=len(ends))
            while started and clock() < deadline:
                self.settings.sleep(min(self.settings.poll_interval, max(0.0, deadline - clock())))
                for vm, (record, since) in list(started.items()):
                    end = self._look(record, since)
                    if end is not None:
                        ends.append(end)
                        del started[vm]
                        progress.advance(bar)

    # ------------------------------------------------------ by the after order
    def _carry_out_ordered(self, stop: threading.Event) -> tuple[str, list[str]]:
        """Run the current plan by its ``after`` order (see the module notes); as :meth:`carry_out`.

        Once a migration failed, a check refused one twice, one ran past the timeout, or Ctrl-C came,
        no further migration starts and those in flight are waited for.
        """
        run = _Flight(self.inst, self.plan)
        n = len(run.migrations)
        self.journal.write("order", plan=self.replans, migrations=n, rounds=max(run.round, default=0))
        self.say(f"starting {n} migrations by the plan's order, each once those it waits for have ended")
        problems: list[str] = []
        late: list[str] = []  # VMs still migrating past the timeout
        progress = self._progress()
        try:
            with progress:
                bar = progress.add_task("migrations", total=n)
                while True:
                    if not (problems or late or stop.is_set()):
                        problems = self._start_ready(run, stop)
                    if not run.flying and (problems or late or stop.is_set() or not run.refused):
                        break
                    self.settings.sleep(self.settings.poll_interval)
                    ends = self._look_in_flight(run, late)
                    problems += [_ending(e) for e in ends if e["event"] not in ("finished", "timeout")]
                    progress.update(bar, completed=len(run.finished))
        except KeyboardInterrupt:
            for record, _ in run.flying.values():
                self.journal.write("abandoned", **record, reason="interrupted: no longer watched")
            raise
        if late:
            return "stopped", [f"still migrating after {self.settings.round_timeout:g} s: {', '.join(late)}"]
        if problems:
            return "drift", problems
        if run.waiting:
            return "stopped", [f"interrupted with {len(run.finished)} of {n} migrations done "
                               f"({len(run.waiting)} not started)"]
        return "done", []

    def _start_ready(self, run: _Flight, stop: threading.Event) -> list[str]:
        """Start, by estimated start until Ctrl-C, each migration whose ``after`` list has finished, that the
        limits in flight allow and whose pre-check passes; the problems that stop starting (a check
        refusing a migration at two looks in a row, as a round is checked twice, or a failed request).

        At most one migration starts towards a host per look: nova claims the destination's room in
        Placement after it answers, so the next arrival's check waits a poll interval to see it.
        """
        receiving: set[str] = set()
        for i in run.ready():
            if stop.is_set():
                break
            if not run.allowed(i) or run.migrations[i]["to"] in receiving:
                continue
            m = run.migrations[i]
            problems = self.check_round([m])
            if problems and i not in run.refused:
                run.refused.add(i)
                continue
            if problems:
                return problems
            run.refused.discard(i)
            record = {"plan": self.replans, "round": run.round[i], "index": i, "vm": m["vm"],
                      "server": self.ids[m["vm"]], "from": m["from"], "to": m["to"]}
            self.say(f"  {m['vm']}  {m['from']} -> {m['to']}: starting ({len(run.flying) + 1} in flight)")
            run.take_off(i, record, self.settings.clock())
            receiving.add(m["to"])
            end = self._start(record)
            if end is not None:
                run.land(i, finished=False)
                return [_ending(end)]
        return []

    def _look_in_flight(self, run: _Flight, late: list[str]) -> list[dict]:
        """Look once at each migration in flight; the records of those that ended. One running longer
        than the timeout is journalled ``timeout``, named in ``late`` and no longer watched."""
        ends = []
        for i, (record, since) in sorted(run.flying.items()):
            end = self._look(record, since)
            seconds = self.settings.clock() - since
            if end is None and seconds > self.settings.round_timeout:
                late.append(record["vm"])
                end = self.journal.write("timeout", **record, seconds=round(seconds, 3))
            if end is not None:
                run.land(i, finished=end["event"] == "finished")
                ends.append(end)
                self.say(f"  {record['vm']}  {record['from']} -> {record['to']}: {_ending(end, short=True)}")
        return ends

    def _after_lost_answer(self, record: dict, error: CloudError) -> dict | None:
        """A migration request answered with a transient error: did nova carry it out?

        The server is read again after a poll interval. Migrating, or on its
        destination: journalled ``accepted``, None (its end is watched for). Not
        readable: journalled ``unconfirmed``, None (watched for too, until the
        round's timeout). Otherwise the record of its end: ``failed`` when it
        stayed on its source, ``elsewhere`` or ``vanished``.
        """
        self.settings.sleep(self.settings.poll_interval)
        try:
            server = self.cloud.server(record["server"])
        except CloudError as e:
            self.journal.write("unconfirmed", **record, error=str(error),
                               reason=f"cannot read the server: {e}")
            return None
        if server is None:
            return self.journal.write("vanished", **record, error=str(error))
        if server.migrating or server.host == record["to"]:
            self.journal.write("accepted", **record, error=str(error), host=server.host, status=server.status)
            return None
        event = "failed" if server.host == record["from"] else "elsewhere"
        return self.journal.write(event, **record, host=server.host, status=server.status,
                                  error=f"{error} (read again: not migrating)")

    def _look(self, record: dict, since: float) -> dict | None:
        """The journal record of a migration's end, or None while it runs (or the cloud does not answer)."""
        try:
            server = self.cloud.server(record["server"])
        except CloudError as e:
            self.say(f"  {record['vm']}: cannot read its state, trying again: {e}")
            return None
        seconds = round(self.settings.clock() - since, 3)
        if server is None:
            return self.journal.write("vanished", **record, seconds=seconds)
        if server.migrating:
            return None
        if server.host == record["to"] and server.status != "ERROR":
            self.finished += 1
            return self.journal.write("finished", **record, host=server.host, seconds=seconds)
        event = "failed" if server.host == record["from"] else "elsewhere"
        return self.journal.write(event, **record, host=server.host, status=server.status, seconds=seconds)

    # ------------------------------------------------------------ re-planning
    def replan(self, number: int) -> Outcome | None:
        """Read the current state, plan again to the same target; an Outcome when that fails."""
        stem = self.out
        fresh = take_snapshot(self.cloud, hosts=self.scope, max_per_host=1)
        goal = {vm: self.goal[sid] for vm, sid in fresh.server_ids.items() if sid in self.goal}
        try:
            inst = rebase(fresh.instance, goal, self.inst, self.limits)
        except InputError as e:
            return self.stop(f"cannot re-plan from the current state: {e.problem} ({e.key})", number)
        inst_path, plan_path = replan_files(stem, number)
        save_instance(inst, inst_path)
        started = time.perf_counter()
        plan = make_plan(inst, self.settings.planner, time_limit=self.settings.time_limit)
        save_plan(plan, plan_path)
        seconds = time.perf_counter() - started
        self.journal.write("replan", plan=number, instance=str(inst_path), plan_file=str(plan_path),
                           status=plan.status, cost=plan.cost, rounds=plan.n_rounds,
                           seconds=round(seconds, 3))
        self.say(f"re-planned ({plan.status}, {plan.planner}, {seconds:.2f} s): {plan.n_rounds} rounds, "
                 f"{plan.n_migrations} migrations, cost {plan.cost:g}; state in {inst_path}, "
                 f"plan in {plan_path}")
        if not plan.found:
            reason = f"re-plan {plan.status}: {plan.reason}"
            self.journal.write("stop", reason=reason, migrations=self.finished)
            return Outcome(plan.status, reason, self.finished, number)
        self.say(describe(plan.rounds))
        self.inst, self.plan, self.ids = inst, plan, fresh.server_ids
        return None


class _Flight:
    """An execution by the ``after`` order: the plan's migrations in SPEC's numbering (with their
    1-based rounds), those waiting, in flight (index -> (start record, when)) and finished, and
    the per-host, total, link and group counts in flight."""

    def __init__(self, inst: Instance, plan: Plan):
        self.migrations = [m for r in plan.rounds for m in r]
        self.round = [t for t, r in enumerate((r for r in plan.rounds if r), 1) for _ in r]
        self.limits = Limits(inst, Migrations.of(inst, plan))
        rank = start_ranks(plan)
        self.waiting = sorted(range(len(self.migrations)), key=rank.__getitem__)  # by estimated start
        self.flying: dict[int, tuple[dict, float]] = {}
        self.finished: set[int] = set()
        self.refused: set[int] = set()  # refused by its pre-check once: checked again at the next look

    def ready(self) -> list[int]:
        """The waiting migrations whose ``after`` list has finished, by estimated start."""
        return [i for i in self.waiting if self.finished.issuperset(self.migrations[i].get("after", []))]

    def allowed(self, i: int) -> bool:
        """Whether the limits leave room for migration ``i`` beside those in flight (bandwidth is nova's)."""
        return self.limits.refusal(i, 0.0) is None

    def take_off(self, i: int, record: dict, when: float) -> None:
        self.waiting.remove(i)
        self.flying[i] = (record, when)
        self.limits.hold(i, 0.0)

    def land(self, i: int, *, finished: bool) -> None:
        del self.flying[i]
        self.limits.hold(i, 0.0, -1)
        if finished:
            self.finished.add(i)


def replan_files(out: Path, number: int) -> tuple[Path, Path]:
    """The instance and plan files of re-plan ``number``: ``out.replanN.yaml`` and ``out.replanN.json``."""
    return out.with_name(f"{out.name}.replan{number}.yaml"), out.with_name(f"{out.name}.replan{number}.json")


def rebase(fresh: Instance, goal: dict, previous: Instance, limits: dict | None) -> Instance:
    """The current state read from the cloud, with the previous instance's goal and operator choices.

    Hosts, VM sizes and the initial placement come from the cloud. The target is
    ``goal`` for every VM still there; ``limits``, ``links``, ``groups``, ``pinned``
    and per-host ``max_migrations``, ``max_incoming``, ``max_outgoing`` keep what the
    operator's instance said (a down host still gets ``max_migrations: 0``). Bad combinations (a target host
    gone, a pinned VM off target) raise :class:`InputError`.
    """
    spec, before = fresh.to_dict(), previous.to_dict()
    vms, hosts = spec["vms"], spec["hosts"]
    spec["target"] = {v: h for v, h in goal.items() if v in vms and spec["initial"][v] != h}
    if limits is not None:
        spec["limits"] = limits
    for h, old in before["hosts"].items():
        for key in ("max_migrations", "max_incoming", "max_outgoing"):
            if h in hosts and key in old and key not in hosts[h]:
                hosts[h][key] = old[key]
    links = {name: {**link, "hosts": [h for h in link.get("hosts", []) if h in hosts]}
             for name, link in before.get("links", {}).items()}
    if links:
        spec["links"] = links
    groups = {name: {**g, "vms": [v for v in g.get("vms", []) if v in vms]}
              for name, g in before.get("groups", {}).items()}
    groups.update({name: g for name, g in spec.get("groups", {}).items() if name not in groups})
    if groups:
        spec["groups"] = groups
    pinned = sorted(set(spec.get("pinned", [])) | {v for v in before.get("pinned", []) if v in vms})
    if pinned:
        spec["pinned"] = pinned
    return Instance(**spec, source="current state")


def _ending(record: dict, short: bool = False) -> str:
    event, where = record["event"], record.get("host")
    text = {"finished": "finished",
            "failed": f"failed, still on {where}" + (f": {record['error']}" if record.get("error") else ""),
            "elsewhere": f"landed on {where} instead",
            "vanished": "the server no longer exists",
            "timeout": "still migrating"}[event]
    if "seconds" in record:
        text += f" [{record['seconds']:.2f} s]"
    return text if short else f"{record['vm']} {record['from']} -> {record['to']}: {text}"


def execute(cloud: Cloud, inst: Instance, plan: Plan, *, journal: Journal, out,
            confirm: Callable[[Plan], bool], say: Callable[[str], None] = print,
            settings: Settings | None = None) -> Outcome:
    """Carry out ``plan`` (made for ``inst``) on ``cloud``; see the module notes.

    ``confirm(plan)`` is asked before the first round and after each re-plan:
    False ends the run (a dry run when asked first). ``out`` is the path stem of
    re-plan files (``out.replan1.yaml``, ``out.replan1.json``, ...).
    """
    return Execution(cloud, inst, plan, journal=journal, out=Path(out), confirm=confirm, say=say,
                     settings=settings or Settings()).run()
