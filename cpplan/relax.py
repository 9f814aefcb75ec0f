"""The least relaxation: when B cannot be reached, the smallest change to the cloud that reaches it.

An answer without a plan (``infeasible``, or ``unknown`` with blocked VMs, :mod:`cpplan.blockers`)
can be turned into a plan for a slightly different cloud. Three kinds of change are tried, in this
order, each alone, and the first that makes B reachable is the answer (except that an offline answer
of more than :data:`MAX_REBOOTS` offline moves gives way to a spare host that reaches B; the plan's
``relaxation`` then says ``instead_of`` which offline moves):

1. ``offline``: give a few VMs an offline mode (shut down, copied, booted on the destination, as
   ``vms.V.offline_cost`` says) at ``offline_cost = F x cost`` (F, the *offline penalty*, default
   :data:`OFFLINE_PENALTY`). Only *candidates* are proposed: VMs with no offline mode yet that are
   not pinned, do not say ``live: true`` (without an ``offline_cost``, a VM that says ``live: true``
   must move live) and are in no group with ``no_downtime: true``. The least relaxation has the
   fewest such VMs moved offline, then the least plan cost. An offline move helps another
   migration only by freeing its source for a VM arriving in the same round, so when no round may
   touch a host twice (``limits.host`` and every ``max_migrations`` below 2, or ``limits.total``
   below 2) only VMs that cannot move live at all (their dirty rate outruns every bandwidth) are
   candidates.
2. ``spare_host``: one temporary host like the largest host (its capacities and allocation ratios,
   the default migration limits), named ``spare`` (or ``spare-2``, ...), that starts and ends empty
   (it is added to ``drain``).
3. ``limits``: one more migration per host and per round: ``limits.host`` and every host's
   ``max_migrations``, ``max_incoming`` and ``max_outgoing``, ``limits.total``, ``limits.incoming``
   and ``limits.outgoing`` when given, and every link's ``max_migrations``, each raised by one.

How the offline VMs are chosen depends on the planner:

- ``greedy`` (and the hint of the others): offer the cheapest candidate on each edge of each
  deadlocked cycle that ``blocked`` reports (a cycle of full hosts trades its VMs in one round only
  when every host's leaver goes offline), then every candidate of those cycles, then every blocked
  candidate, then every candidate; re-plan after each; keep the VMs the plan moves offline; then
  try dropping each of them, dearest first, while time lasts.
- ``exact`` (and ``auto`` on clouds of at most :data:`SMALL_VMS` VMs): greedy's set first, then
  every set of candidates up to its size, smallest first, each planned exactly; the first size
  with a plan is the fewest, the cheapest set of that size the least cost (``proven`` when every
  smaller set was proven infeasible and every set of that size settled; the exact search is
  complete with at most 4 VMs that may move offline). Time out: greedy's set.
- ``cp`` (and ``auto`` on larger clouds): every candidate may move offline at
  ``F x cost + P`` where the penalty P exceeds twice the summed cost of moving every VM offline at
  F: least cost then means fewest offline VMs first; those the plan moves offline are the answer,
  re-planned without P.

The relaxed instance is the original one with only the change added (:func:`relaxed_instance`);
its plan carries ``relaxation``: ``kind``, what changed (``vms``: name -> offline cost given;
``host``: ``{name, capacity}``; ``raised``: key -> ``[old, new]``), ``reboots``, ``extra_cost``,
``proven``, ``original_status`` and the ``summary`` phrase.

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}}, vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"}, limits={"host": 2})
>>> candidates(swap).tolist()
[True, True]
>>> relaxation = {"kind": "offline", "vms": {"a": 8, "b": 8}}
>>> relaxed_instance(swap, relaxation).offline_cost.tolist()
[8.0, 8.0]
>>> describe({"kind": "offline", "vms": {"a": 8, "b": 8}, "reboots": 2, "extra_cost": 8})
'reachable if a and b move offline: +2 reboots, cost +8'
>>> relaxed_path("out/plan.json")
'out/plan.relaxed.yaml'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .budget import Budget
from .durations import HOST_KEYS
from .errors import InputError
from .model import Instance
from .plan import Plan, plain_number
from .validate import validate

__all__ = ["OFFLINE_PENALTY", "candidates", "check_penalty", "describe", "least_relaxation",
           "needs_relaxation", "relaxed_instance", "relaxed_path"]

OFFLINE_PENALTY = 2.0  # a VM given an offline mode moves offline at this many times its cost
KINDS = ("offline", "spare_host", "limits")  # the relaxations, in the order they are tried
MAX_REBOOTS = 10  # past this many offline moves, one spare host (when it reaches B) is the lesser change
SMALL_VMS = 12  # up to this many VMs, auto searches every set of candidates exactly (as auto runs exact)
MAX_EXACT_SETS = 5_000  # sets of candidates planned exactly at most
PRUNE_AT_MOST = 8  # greedy tries dropping offline VMs one by one when it found at most this many
SHARES = {"offline": 0.6, "spare_host": 0.5, "limits": 1.0}  # of the time left, per kind
HOST_LIMIT_KEYS = ("max_migrations", "max_incoming", "max_outgoing")
LIMIT_KEYS = ("host", "total", "incoming", "outgoing")
SPARE = "spare"

# solve(instance, planner, time_limit, hint) -> the checked plan of planners.plan
Solve = Callable[[Instance, str, float, "Plan | None"], Plan]


def needs_relaxation(result: Plan) -> bool:
    """Whether a relaxation may help: no plan, and either proven infeasible or blocked VMs reported."""
    return not result.found and (result.status == "infeasible" or bool(result.blocked))


def check_penalty(value, source: str = "", key: str = "offline_penalty") -> float:
    """The offline penalty F, a finite number at least 1 (an offline move never costs less than a
    live one), else a one-line :class:`InputError`."""
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = math.nan
    if not (math.isfinite(factor) and factor >= 1):
        raise InputError(source, key, f"must be a number at least 1 (offline cost = F x cost), got {value!r}")
    return factor


def candidates(inst) -> np.ndarray:
    """Mask of the VMs a relaxation may move offline (module docstring)."""
    spec = inst.to_dict()
    pinned = set(spec.get("pinned") or [])
    vms = spec["vms"]
    ok = ~np.isfinite(inst.offline_cost)
    for j, name in enumerate(inst.vm_names):
        if name in pinned or (vms[name] or {}).get("live") is True:
            ok[j] = False
    for group in inst.groups:
        if group.no_downtime:
            ok[group.vms] = False
    return ok


def relaxed_path(plan_path) -> str:
    """Where ``-o PLAN.json`` puts the relaxed instance: ``PLAN.relaxed.yaml`` beside it."""
    path = Path(plan_path)
    stem = path.stem if path.suffix == ".json" else path.name
    return str(path.with_name(f"{stem}.relaxed.yaml"))


def relaxed_instance(inst, relaxation: dict) -> Instance:
    """``inst`` with only ``relaxation`` (a plan's ``relaxation`` mapping) added."""
    spec = inst.to_dict()
    kind = relaxation["kind"]
    if kind == "offline":
        for name, cost in relaxation["vms"].items():
            spec["vms"][name] = {**(spec["vms"][name] or {}), "offline_cost": cost}
    elif kind == "spare_host":
        host = relaxation["host"]
        spec["hosts"][host["name"]] = dict(host["capacity"])
        spec["drain"] = [*(spec.get("drain") or []), host["name"]]
    elif kind == "limits":
        for key, (_, new) in relaxation["raised"].items():
            _set_key(spec, key.split("."), new)
    else:
        raise ValueError(f"unknown relaxation {kind!r}")
    return Instance(**spec, source=inst.source)


def _set_key(spec: dict, path: list[str], value) -> None:
    """``spec[a][b]... = value`` for the dotted key ``a.b...`` (names may hold dots: the first and
    last parts are the section and the key, the middle is one name)."""
    section, *middle, key = path
    node = spec.setdefault(section, {})
    if middle:
        name = ".".join(middle)
        node[name] = {**(node.get(name) or {}), key: value}
    else:
        node[key] = value


def describe(relaxation: dict) -> str:
    """The summary phrase of a relaxation."""
    kind = relaxation["kind"]
    if kind == "offline":
        names = list(relaxation["vms"])
        shown = (" and ".join(names) if len(names) <= 3
                 else f"{', '.join(names[:3])} and {len(names) - 3} more")
        reboots = relaxation["reboots"]
        return (f"reachable if {shown} {'moves' if len(names) == 1 else 'move'} offline: "
                f"+{reboots} reboot{'' if reboots == 1 else 's'}, cost +{relaxation['extra_cost']:g}")
    if kind == "spare_host":
        host = relaxation["host"]
        size = ", ".join(f"{r} {x:g}" for r, x in host["capacity"].items()
                         if r not in HOST_KEYS and isinstance(x, (int, float)))
        return (f"reachable with one spare host like {host['like']} ({size}), {host['name']}, empty at the "
                f"start and the end: {relaxation['migrations']} migrations through it")
    raised = [f"{k} {old}→{new}" for k, (old, new) in relaxation["raised"].items()]
    more = f" and {len(raised) - 3} more" if len(raised) > 3 else ""
    return f"reachable with one more migration per host and round ({', '.join(raised[:3])}{more})"


def least_relaxation(inst, result: Plan, solve: Solve, *, planner: str, time_limit: float | None,
                     offline_penalty: float = OFFLINE_PENALTY, progress=None, kinds=KINDS) -> Plan:
    """The plan of the least relaxation of ``inst`` (module docstring; ``kinds`` tried in turn), or
    ``result`` (the answer without a plan) with its ``reason`` saying no relaxation was found."""
    budget = Budget(time_limit)
    say = progress or (lambda message: None)
    search = _Search(inst, result, solve, planner, offline_penalty, budget, say)
    finders = {"offline": search.offline, "spare_host": search.spare_host, "limits": search.limits}
    many_reboots = None  # an offline answer past MAX_REBOOTS, kept unless a spare host reaches B
    for kind in kinds:
        if budget.left() <= 0 or (many_reboots is not None and kind != "spare_host"):
            break
        found = finders[kind](budget.share(SHARES[kind]))
        if found is None:
            continue
        plan = _marked(kind, *found, result.status)
        if kind == "offline" and plan.relaxation["reboots"] > MAX_REBOOTS and "spare_host" in kinds:
            many_reboots = plan
            continue
        if many_reboots is not None:
            plan.relaxation["instead_of"] = many_reboots.relaxation["summary"]
        return plan
    if many_reboots is not None:
        return many_reboots
    result.reason = ((result.reason + "; ") if result.reason else "") + (
        "no single relaxation (offline moves, a spare host, one more migration per host) reached B "
        "within the time limit")
    return result


def _marked(kind: str, relaxation: dict, plan: Plan, original_status: str) -> Plan:
    """``plan`` with its ``relaxation`` mapping: the kind, what changed, and the summary phrase."""
    relaxation = {"kind": kind, **relaxation, "original_status": original_status}
    relaxation["summary"] = describe(relaxation)
    plan.relaxation = relaxation
    return plan


class _Search:
    """The three kinds of relaxation for one answer without a plan."""

    def __init__(self, inst, result: Plan, solve: Solve, planner: str, penalty: float, budget: Budget,
                 say):
        self.inst, self.result, self.solve, self.planner = inst, result, solve, planner
        self.penalty, self.budget, self.say = penalty, budget, say
        useful = candidates(inst)
        if not _two_per_round(inst):  # an offline move then frees nothing another move could use
            useful &= inst.stuck_live
        self.candidates = np.flatnonzero(useful)
        self.candidates = self.candidates[np.argsort(inst.live_cost[self.candidates], kind="stable")]

    # ------------------------------------------------------------ offline
    def offline(self, seconds: float):
        """The least set of candidates moved offline, with its plan, or None."""
        if not self.candidates.size:
            return None
        until = Budget(seconds)
        small = self.inst.n_vms <= SMALL_VMS
        if self.planner == "exact" or (self.planner == "auto" and small):
            found = self._by_sets(until)
        elif self.planner == "greedy":
            found = self._by_cycles(until)
        else:
            found = self._by_penalty(until)
        if found is None:
            return None
        vms, plan, proven = found
        return self._offline_answer(vms, plan, proven)

    def _offer(self, vms, extra: float = 0.0) -> Instance:
        """The instance with ``vms`` given an offline mode at F x cost (+ ``extra``)."""
        offered = {self.inst.vm_names[v]: plain_number(self.penalty * self.inst.live_cost[v] + extra)
                   for v in vms}
        return relaxed_instance(self.inst, {"kind": "offline", "vms": offered})

    def _offline_answer(self, vms, plan: Plan, proven: bool):
        """The relaxation keeping only the offered VMs ``plan`` moves offline, and the plan checked on it."""
        offered = set(int(v) for v in vms)
        moved = [self.inst.vm_index[m["vm"]] for r in plan.rounds for m in r if m.get("mode") == "offline"]
        used = [v for v in dict.fromkeys(moved) if v in offered]
        relaxed = self._offer(used)
        if validate(relaxed, plan):  # never expected: the same moves, each mode still allowed
            used, relaxed = sorted(offered), self._offer(sorted(offered))
        premium = sum(float(relaxed.offline_cost[v] - relaxed.live_cost[v]) for v in moved if v in used)
        names = {self.inst.vm_names[v]: plain_number(relaxed.offline_cost[v]) for v in used}
        return ({"vms": names, "offline_penalty": plain_number(self.penalty),
                 "reboots": sum(v in used for v in moved), "extra_cost": plain_number(premium),
                 "proven": proven}, plan)

    def _by_sets(self, until: Budget):
        """Every set of candidates, smallest first, planned exactly (``exact``, or ``auto`` small), up to
        the size of greedy's set (found first); greedy's answer when time runs out before."""
        greedy = self._by_cycles(Budget(until.share(0.2)))
        largest = self.candidates.size if greedy is None else len(greedy[0])
        best, proven, tried = None, True, 0
        for size in range(1, largest + 1):
            for chosen in itertools.combinations(self.candidates.tolist(), size):
                if until.left() <= 0 or tried >= MAX_EXACT_SETS:
                    return greedy if best is None else (*best, False)
                tried += 1
                answer = self.solve(self._offer(chosen), "exact", until.left(), None)
                if answer.found and (best is None or answer.cost < best[1].cost):
                    best = (chosen, answer)
                proven &= answer.status in ("infeasible", "optimal")
            if best is not None:
                self.say(f"relax: {size} offline VM(s) suffice, {tried} sets planned exactly")
                chosen, answer = best
                if self.planner != "exact":  # auto: the fewest rounds for that set
                    answer = self.solve(self._offer(chosen), self.planner, until.share(1.0), answer)
                return chosen, answer, proven
        return greedy

    def _levels(self) -> list[list[int]]:
        """The growing sets of candidates greedy offers (module docstring)."""
        inst, cand = self.inst, set(self.candidates.tolist())
        cost = inst.live_cost
        groups = self.result.blocked or []
        stuck = [v for v in np.flatnonzero(inst.stuck_live).tolist() if v in cand]
        edges = []
        for group in groups:
            hosts = group["cycle"]
            for s, t in zip(hosts, hosts[1:] + hosts[:1], strict=True):
                on_edge = [inst.vm_index[e["vm"]] for e in group["vms"] if e["from"] == s and e["to"] == t]
                on_edge = [v for v in on_edge if v in cand]
                if on_edge:
                    edges.append(min(on_edge, key=lambda v: cost[v]))
        in_cycles = [inst.vm_index[e["vm"]] for g in groups if g["cycle"] for e in g["vms"]]
        blocked = [inst.vm_index[e["vm"]] for g in groups for e in g["vms"] + g["waiting"]]
        levels, seen = [], set()
        for level in (edges + stuck, in_cycles + stuck, blocked, self.candidates.tolist()):
            level = sorted({v for v in level if v in cand}, key=lambda v: (cost[v], v))
            if level and tuple(level) not in seen:
                seen.add(tuple(level))
                levels.append(level)
        return levels

    def _by_cycles(self, until: Budget):
        """Greedy: offer growing sets from the deadlocked cycles, then drop VMs while a plan remains."""
        for level in self._levels():
            if until.left() <= 0:
                return None
            self.say(f"relax: greedy with {len(level)} VM(s) allowed offline")
            answer = self.solve(self._offer(level), "greedy", until.share(0.5), None)
            if answer.found:
                return self._pruned(self._moved_offline(answer, level), answer, until)
        return None

    def _moved_offline(self, plan: Plan, offered) -> list[int]:
        offered = set(offered)
        moved = {self.inst.vm_index[m["vm"]] for r in plan.rounds for m in r if m.get("mode") == "offline"}
        return sorted(moved & offered, key=lambda v: (self.inst.live_cost[v], v))

    def _pruned(self, used: list[int], plan: Plan, until: Budget):
        """Drop each offline VM in turn, dearest first, when greedy still finds a plan without it."""
        if len(used) <= PRUNE_AT_MOST:
            for v in sorted(used, key=lambda v: -self.inst.live_cost[v]):
                if until.left() <= 0:
                    break
                fewer = [u for u in used if u != v]
                answer = self.solve(self._offer(fewer), "greedy", until.share(0.5), None) if fewer else None
                if answer is not None and answer.found:
                    used, plan = self._moved_offline(answer, fewer), answer
        return used, plan, False

    def _by_penalty(self, until: Budget):
        """cp (or auto): every candidate offline at F x cost + P; least cost is fewest offline VMs."""
        inst, cand = self.inst, self.candidates.tolist()
        hint = self._by_cycles(Budget(until.share(0.3)))
        big = 1.0 + 2.0 * float(self.penalty * inst.live_cost.sum()
                                + np.nan_to_num(inst.offline_cost, nan=0.0).sum())
        try:
            penalised = self._offer(cand, extra=big)
        except InputError:  # the penalties would sum past the cost limit: keep greedy's choice
            return hint
        seed = None if hint is None else _restated(penalised, hint[1])
        self.say(f"relax: {self.planner} with {len(cand)} VM(s) allowed offline at a penalty")
        answer = self.solve(penalised, self.planner, until.share(0.6), seed)
        if not answer.found:
            return hint
        used = self._moved_offline(answer, cand)
        if hint is not None and len(hint[0]) < len(used):
            return hint
        relaxed = self._offer(used)
        final = self.solve(relaxed, self.planner, until.share(1.0), _restated(relaxed, answer))
        return used, final, answer.status == "optimal"

    # ------------------------------------------------------- spare host, limits
    def spare_host(self, seconds: float):
        """One empty host like the largest, added and drained, or None."""
        inst = self.inst
        spec = inst.to_dict()
        share = np.where(np.isfinite(inst.effective), inst.effective, 0.0)
        scale = share.max(axis=0)
        largest = int(np.argmax((share / np.where(scale > 0, scale, 1.0)).sum(axis=1)))
        like = inst.host_names[largest]
        capacity = {k: x for k, x in (spec["hosts"][like] or {}).items() if k not in HOST_LIMIT_KEYS}
        name, n = SPARE, 1
        while name in inst.host_index:
            n += 1
            name = f"{SPARE}-{n}"
        relaxation = {"host": {"name": name, "like": like, "capacity": capacity}}
        relaxed = relaxed_instance(inst, {"kind": "spare_host", **relaxation})
        self.say(f"relax: {self.planner} with a spare host like {like}")
        answer = self.solve(relaxed, self.planner, seconds, None)
        if not answer.found:
            return None
        through = sum(name in (m["from"], m["to"]) for r in answer.rounds for m in r)
        return {**relaxation, "migrations": through, "proven": False}, answer

    def limits(self, seconds: float):
        """Every migration limit raised by one, or None."""
        spec = self.inst.to_dict()
        limits = spec.get("limits") or {}
        raised = {"limits.host": [limits.get("host", 1), limits.get("host", 1) + 1]}
        raised.update({f"limits.{k}": [limits[k], limits[k] + 1] for k in LIMIT_KEYS[1:] if k in limits})
        for kind, key in (("hosts", HOST_LIMIT_KEYS), ("links", ("max_migrations",))):
            for name, item in (spec.get(kind) or {}).items():
                for k in key:
                    old = (item or {}).get(k, 1 if kind == "links" else None)
                    if old is not None:
                        raised[f"{kind}.{name}.{k}"] = [old, old + 1]
        relaxed = relaxed_instance(self.inst, {"kind": "limits", "raised": raised})
        self.say(f"relax: {self.planner} with every migration limit raised by one")
        answer = self.solve(relaxed, self.planner, seconds, None)
        return ({"raised": raised, "proven": False}, answer) if answer.found else None


def _two_per_round(inst) -> bool:
    """Whether some round may hold two migrations touching one host. An offline move helps another
    migration only then: it frees its source for a VM arriving in the same round (a lone offline
    move needs the same room as a live one), unless the VM cannot move live at all."""
    return bool((inst.host_limit >= 2).any()) and (inst.total_limit is None or inst.total_limit >= 2)


def _restated(inst, plan: Plan) -> Plan:
    """``plan``'s moves as a plan of ``inst`` (its cost summed by ``inst``'s costs), to hint a search."""
    return Plan.from_index_rounds(inst, plan.index_rounds(inst), "feasible", planner=plan.planner)
