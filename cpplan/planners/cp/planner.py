"""The CP-SAT planner: least cost first, then fewest rounds, warm-started by greedy.

Steps, each within the time limit:

1. greedy's plan (or the given ``hint``) is the incumbent: cp never returns worse,
   and when it meets both lower bounds (cost and rounds) nothing is searched;
2. the cloud splits into independent parts (:mod:`.decompose`); each part
   first gets the direct-moves model (:mod:`.intervals` with one direct
   route per VM, or per candidate last host of a VM with several allowed
   hosts, :func:`.routes.final_hosts`; live or offline for a VM that may
   do both): a solution at the cost lower bound is optimal, and the solver
   then minimises its rounds;
3. parts where direct moves deadlock (or time ran out) are solved together
   with detours: bounces through staging hosts with the most slack and
   blocking stayers stepping aside, widened when that model is infeasible;
4. on small clouds, the time-indexed model (:mod:`.timeindexed`: every
   VM anywhere, a horizon holding any plan at most as costly as the best
   known) proves the cost optimal.

Parts run side by side (round ``t`` of the plan is round ``t`` of every part).
A part cp could not solve keeps greedy's moves when they stay on its hosts;
otherwise greedy's whole plan is returned (``stats["fallback"]``). Every model
gets the incumbent as its hint, so CP-SAT's large-neighbourhood workers search
around it; on big models presolve is off and one worker runs per core.
``stats`` also tells the parts, the model sizes and whose plan came back.
Proofs from the interval models count only where they hold for the whole
instance: every allowed host a candidate, no shared pages over-counted, no
demand rounded up (``all_allowed_hosts`` in ``stats`` for partial targets).

>>> from cpplan.model import Instance
>>> swap = Instance(hosts={"h1": {"ram": 4}, "h2": {"ram": 4}, "h3": {"ram": 4}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}},
...                 initial={"a": "h1", "b": "h2"}, target={"a": "h2", "b": "h1"})
>>> p = plan(swap, time_limit=10)
>>> p.status, p.cost, p.n_rounds      # one VM bounces through h3
('optimal', 12, 3)
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ...bounds import cost_lower_bound, reaches, rounds_lower_bound
from ...budget import Budget, Interrupt
from ...constraints.groups import offline_refill_possible
from ...cpsat import Outcome, Scaled
from ...objective import shortest_within
from ...parallel import SERIAL
from ...plan import Move, MoveInRound, Plan
from ...validate import validate
from .. import greedy
from .decompose import components, idle_hosts, part_hosts
from .intervals import IntervalModel
from .routes import Path, blocking_stayers, detour_routes, direct_routes, final_hosts, plan_paths
from .timeindexed import TimeIndexedModel, model_size

# The reason of an unknown answer when every model was tried before the time limit (the dispatcher
# adds advice that depends on the planner the user asked for).
NOTHING_LEFT = "no plan found by cp's models, with time left"
SAFETY = 0.93  # share of the time limit cp plans to use; the rest covers building and checking the plan
MAX_TIME_INDEXED = 60_000  # the time-indexed (proving) model is tried below this many variables
# Above this many VMs the detour model outgrows memory (27 000 VMs: 800 000 variables, 4 GiB)
# and greedy's moves are kept for those parts.
MAX_DETOUR_VMS = 6_000
# Building a model took up to 2.5e-4 s per route (or variable) on a busy machine.
BUILD_SECONDS_PER_ROUTE = 3e-4
STAGING = (2, 4, 8)  # staging hosts per VM, widened each time the detour model is infeasible
STAYERS_PER_HOST = (1, 3, 6)


def plan(inst, *, time_limit=None, seed=0, hint=None, progress=None, parallel=SERIAL, warm_start=True,
         cost_slack=0.0) -> Plan:
    """Plan with CP-SAT; ``warm_start=False`` skips greedy (to measure the models alone); ``parallel``
    workers (:class:`cpplan.parallel.Workers`) solve the direct moves of independent parts side by side.

    With ``cost_slack`` s > 0, the models' rounds phases may spend up to ``(1 + s)`` times the least
    cost they found, and the answer is the plan with the shortest estimated makespan among the plans
    found (greedy's included) that cost at most ``(1 + s)`` times the cheapest of them
    (:func:`cpplan.objective.shortest_within`; ``stats`` says what was traded).
    """
    budget = Budget(None if time_limit is None else time_limit * SAFETY)
    with Interrupt() as stop:
        return _Planner(inst, budget, seed, stop, progress, warm_start, cost_slack, parallel).run(hint)


@dataclass
class _Found:
    """A plan in the making: its migrations, each in its round, and what is proven about it."""

    hops: list[MoveInRound]
    cost_proven: bool = False
    rounds_bound: int = 0  # on the rounds of any least-cost plan, when cost_proven
    rounds_proven: bool = False
    least_cost_hops: list[MoveInRound] | None = None  # with a cost slack, when ``hops`` cost more


class _Planner:
    def __init__(self, inst, budget: Budget, seed: int, stop: Interrupt, progress, warm_start: bool = True,
                 cost_slack: float = 0.0, parallel=SERIAL):
        self.inst, self.budget, self.seed, self.stop, self.progress = inst, budget, seed, stop, progress
        self.parallel = parallel  # workers for the direct moves of independent parts
        self.warm_start = warm_start  # False: no greedy plan as the incumbent (to measure the models alone)
        self.cost_slack = cost_slack
        self.candidates: list[Plan] = []  # every valid plan the models gave, for the cost slack's choice
        self.sc = Scaled(inst)
        self.stats: dict = {"parts": 0, "variables": 0, "constraints": 0}
        self.proven_cost_bound = 0  # scaled; from time-indexed models proven infeasible
        # candidate last hosts of VMs with several allowed targets; proofs of the interval models
        # hold for every choice only when these are all the allowed hosts
        self.ends, self.all_ends = final_hosts(inst)
        if self.ends:
            self.stats["all_allowed_hosts"] = self.all_ends
        # what an interval model proves infeasible or optimal holds for the instance: every allowed
        # host is a candidate, shared pages are not over-counted, no demand was rounded up, and no
        # member may arrive where A breaks anti-affinity as another leaves offline (constraints.groups)
        self.intervals_exact = (self.all_ends and not self.sc.sharing and self.sc.exact
                                and not offline_refill_possible(inst))

    def __getstate__(self) -> dict:
        """What a worker process is sent: the data, not this process's Ctrl-C handler, progress
        callback, clock or workers (the worker sets its own)."""
        return {**self.__dict__, "stop": None, "progress": None, "budget": None, "parallel": SERIAL}

    # ------------------------------------------------------------------ main
    def run(self, hint: Plan | None) -> Plan:
        inst = self.inst
        incumbent = hint if hint is not None and hint.found else self._greedy() if self.warm_start else None
        cost_lb = cost_lower_bound(inst)
        if (incumbent is not None and reaches(incumbent.cost, cost_lb)
                and incumbent.n_rounds <= rounds_lower_bound(inst)):  # both bounds reached: nothing to search
            self.stats["greedy_optimal"] = True
            found = _Found([], True, incumbent.n_rounds, False)
            return self._finish(None, incumbent, cost_lb, found, proven=True)
        hint_hops = _hops_of(inst, incumbent)
        found = self._by_parts(hint_hops)
        candidate = self._checked_plan(found)
        if found is not None and found.least_cost_hops is not None:
            self._checked_plan(_Found(found.least_cost_hops))
        best = _better(candidate, incumbent)
        if not (candidate is not None and found.cost_proven) and self.sc.exact:
            upper = None if best is None else int(round(best.cost * self.sc.cost_scale))
            paths = {} if best is None else plan_paths(inst, best.index_rounds(inst))
            proof = self._prove_least_cost(upper, paths)
            if proof is not None and proof.hops is not None:
                if self.ends:  # the time-indexed model lets every VM end on any allowed host
                    self.stats["all_allowed_hosts"] |= proof.cost_proven
                found = _Found(proof.hops, proof.cost_proven, proof.rounds_bound or 0, proof.rounds_proven)
                candidate = _better(self._checked_plan(found), candidate)
        lower_bound = self._lower_bound()
        if candidate is not None and found.cost_proven:
            lower_bound = max(lower_bound, candidate.cost)
        if candidate is not None and reaches(candidate.cost, lower_bound):
            candidate.status = "optimal"
            found.cost_proven = True
        return self._finish(candidate, incumbent, lower_bound, found)

    def _by_parts(self, hint_hops) -> _Found | None:
        """Direct moves part by part; detours for the deadlocked parts."""
        inst = self.inst
        parts = components(inst, self.ends)
        self.stats["parts"] = len(parts)
        self.stats["largest_part"] = int(len(parts[0])) if parts else 0
        solved: list[list[MoveInRound]] = []
        least: list[list[MoveInRound]] = []  # the same parts' least-cost solutions (cost slack)
        rounds_bound, rounds_proven, at_bound, deadlocked = 0, True, True, []
        for i, (vms, out) in enumerate(zip(parts, self._direct_parts(parts, hint_hops), strict=True)):
            if out is not None and out.hops is not None:
                solved.append(out.hops)
                least.append(out.least_cost_hops or out.hops)
                # every VM moved once, live unless offline is its cheaper mode: the part's cost lower bound
                at_bound &= out.cost <= int(self.sc.cost[vms].sum())
                rounds_bound = max(rounds_bound, (out.rounds_bound or 0) if self.intervals_exact else 0)
                rounds_proven &= out.rounds_proven and self.intervals_exact
            else:
                deadlocked.append(parts[i])
                proven = out is not None and out.infeasible
                self.stats["direct_infeasible"] = self.stats.get("direct_infeasible", 0) + proven
        if not deadlocked:
            return _Found(_merge(solved), at_bound, rounds_bound * at_bound, rounds_proven and at_bound,
                          _merge(least) if least != solved else None)
        out = self._detours(np.concatenate(deadlocked), hint_hops)
        if out is None and solved:  # staging may need the other parts' hosts: plan them all together
            solved = least = []
            out = self._detours(np.flatnonzero(inst.moving), hint_hops)
        hard = out.hops if out is not None else self._greedy_parts(deadlocked, hint_hops)
        if hard is None:
            return None
        hard_least = out.least_cost_hops if out is not None and out.least_cost_hops else hard
        traded = least != solved or hard_least is not hard
        return _Found(_merge([*solved, hard]),
                      least_cost_hops=_merge([*least, hard_least]) if traded else None)

    def _checked_plan(self, found: _Found | None) -> Plan | None:
        """The plan of ``found``, or None when there is none or the validator refuses it."""
        if found is None:
            return None
        status = "optimal" if found.cost_proven and self.sc.exact else "feasible"
        candidate = Plan.from_index_rounds(self.inst, _index_rounds(found.hops), status, planner="cp")
        problems = validate(self.inst, candidate, max_violations=1)
        if problems:  # a rule the model does not encode: never return such a plan
            self.stats["model_gap"] = problems[0]
            return None
        self.candidates.append(candidate)
        return candidate

    def _finish(self, candidate, incumbent, lower_bound, found, proven=False) -> Plan:
        inst = self.inst
        stats = {**self.stats, "stopped": self.stop.requested}
        if candidate is None and incumbent is None:
            spent = self.budget.left() <= 0 or self.stop.requested
            return Plan("unknown", 0, [], planner="cp", lower_bound=lower_bound, stats=stats,
                        reason="no plan found within the time limit; try a longer --time-limit" if spent
                        else NOTHING_LEFT)
        chosen = _better(candidate, incumbent)
        if self.cost_slack:
            chosen, traded = shortest_within(inst, [chosen, *self.candidates, incumbent], self.cost_slack)
            stats.update(traded)
        proven |= candidate is not None and candidate.status == "optimal" and chosen.cost <= candidate.cost
        warm = incumbent.planner if incumbent is not None and incumbent.planner else "greedy"
        stats["plan_from"] = warm if chosen is incumbent else "cp"
        if candidate is None and not stats.get("greedy_optimal"):
            stats["fallback"] = f"cp found no plan in time: {warm}'s plan"
        positive = bool((self.sc.cost[~inst.pinned] > 0).all())  # else free detours may save rounds
        rounds_lb = None
        if proven and positive and found is not None:
            if found.rounds_proven and chosen is candidate:
                rounds_lb = candidate.n_rounds
            elif found.rounds_bound:
                rounds_lb = found.rounds_bound
        stats["rounds_proven"] = rounds_lb is not None and rounds_lb == chosen.n_rounds
        return Plan("optimal" if proven else "feasible", chosen.cost, chosen.rounds, planner="cp",
                    lower_bound=lower_bound, rounds_lower_bound=rounds_lb, stats=stats)

    # ------------------------------------------------------------- the steps
    def _direct_parts(self, parts, hint_hops) -> list[Outcome | None]:
        """The direct-moves outcome of each part, in the parts' order (None: no time was left).

        One by one, each part gets its share (by VMs, among the parts not started) of the time left
        when it starts. Side by side, in worker processes (or on Ray) each given a copy of this
        planner (``__getstate__``) and greedy's paths once, a part gets ``workers`` times that
        share (at most all) of the time left when a worker takes it, none past the end of the time
        limit; the same seed builds the same models, merged in the same order.
        """
        workers = self.parallel.count
        shares = [len(vms) / max(1, sum(map(len, parts[i:]))) for i, vms in enumerate(parts)]
        if workers == 1 or len(parts) <= 1:
            return [self._direct(vms, hint_hops, share) for vms, share in zip(parts, shares, strict=True)]
        deadline = time.time() + self.budget.left()
        tasks = ((vms, min(1.0, workers * share), deadline) for vms, share in zip(parts, shares, strict=True))
        if self.progress is not None:
            self.progress(f"cp: direct moves of {len(parts)} independent parts, {workers} at a time "
                          f"({self.parallel.executor} workers)")
        answers = self.parallel.map(_direct_in_worker, (self, hint_hops), tasks, stop=self.stop)
        for sizes in (stats for _, stats in filter(None, answers)):
            self.stats["variables"] += sizes["variables"]
            self.stats["constraints"] += sizes["constraints"]
        return [None if answer is None else answer[0] for answer in answers]

    def _greedy(self) -> Plan | None:
        result = greedy.plan(self.inst, time_limit=self.budget.share(0.25), seed=self.seed)
        self.stats["greedy_seconds"] = round(self.budget.elapsed(), 3)
        return result if result.found else None

    def _direct(self, vms, hint_hops, share: float) -> Outcome | None:
        """The direct-moves model of one part; None when no time is left.

        The horizon is greedy's rounds when greedy moved the part directly;
        else twice the rounds bound plus 2 first, then (if that is infeasible,
        and the part is small enough for detours) one round per VM, long
        enough for any direct plan. Only there does ``infeasible`` in the
        outcome prove direct moves impossible.
        """
        inst = self.inst
        paths = {v: hint_hops[v] for v in vms.tolist() if v in hint_hops}
        direct_hint = len(paths) == len(vms) and all(len(p.route) == 2 for p in paths.values())
        least = rounds_lower_bound(inst, vms)
        if direct_hint:  # greedy's rounds of this part bound the optimum: a tight horizon
            rounds = sorted({t for p in paths.values() for t in p.rounds})
            dense = {t: i for i, t in enumerate(rounds)}
            paths = {v: p._replace(rounds=[dense[t] for t in p.rounds]) for v, p in paths.items()}
            horizons = [len(rounds)]
        else:  # hint greedy's last hops; past the detour size, only the short horizon
            horizons = sorted({min(len(vms), 2 * least + 2), len(vms)})
            horizons = horizons[:1] if len(vms) > MAX_DETOUR_VMS else horizons
            paths = {v: Path((p.route[0], p.route[-1]), p.rounds[-1:], p.offline[-1:])
                     for v, p in paths.items() if p.route[0] != p.route[-1]}
        part_budget = Budget(self.budget.share(share if not direct_hint else max(share, 0.3)))
        out, tried = None, 0
        for i, horizon in enumerate(horizons):
            if part_budget.left() <= 0 or self.stop.requested:
                break
            tried = horizon
            model = IntervalModel(inst, self.sc, direct_routes(inst, vms, self.ends), horizon)
            # the rounds bound in the model: reaching it proves the rounds optimal at once
            model.model.add(model.makespan >= min(horizon, least))
            model.add_hint(paths)
            self._announce(model, f"direct moves of {len(vms)} VMs")
            # greedy needed detours here: direct moves likely deadlock, keep time for the detours
            short = 0.3 if hint_hops else 0.8
            out = model.run(Budget(part_budget.share(short if i + 1 < len(horizons) else 1.0)),
                            seed=self.seed, stop=self.stop, progress=self.progress,
                            cost_slack=self.cost_slack)
            if not out.infeasible:
                break
        if out is not None and tried < len(vms):
            out.infeasible = False  # only a short horizon was ruled out
        return out

    def _detours(self, vms, hint_hops) -> Outcome | None:
        """Deadlocked parts with bounces and step-asides, widened while infeasible; None if no plan."""
        inst = self.inst
        if len(vms) > MAX_DETOUR_VMS:
            self.stats["detours_skipped"] = f"{len(vms)} deadlocked VMs, more than {MAX_DETOUR_VMS}"
            return None
        hosts = np.union1d(part_hosts(inst, vms, self.ends), idle_hosts(inst, self.ends))
        allowed = np.zeros(inst.n_hosts, dtype=bool)
        allowed[hosts] = True
        mine = set(vms.tolist())
        own = {v: p for v, p in hint_hops.items()
               if allowed[list(p.route)].all() and (v in mine or not inst.moving[v])}
        for level, (k, per_host) in enumerate(zip(STAGING, STAYERS_PER_HOST, strict=True)):
            if self.budget.left() <= 0 or self.stop.requested:
                break
            stayers = blocking_stayers(inst, hosts, per_host)
            routes = detour_routes(inst, vms, stayers, hosts, k, self.ends)
            for v, p in own.items():
                routes.setdefault(v, []).append(p.route)
            if self.budget.left() < BUILD_SECONDS_PER_ROUTE * sum(map(len, routes.values())):
                self.stats["detours_skipped"] = "not enough time left to build the model"
                break
            optional = frozenset(v for v in routes if not inst.moving[v])
            model = IntervalModel(inst, self.sc, routes, self._horizon(vms, own, routes), optional)
            model.model.add(model.makespan >= min(model.horizon, rounds_lower_bound(inst, vms)))
            model.add_hint(own)
            self._announce(model, f"bounces and step-asides for {len(vms)} deadlocked VMs, level {level + 1}")
            provable = self.sc.exact and model_size(inst, self._proof_horizon()) <= MAX_TIME_INDEXED
            out = model.run(Budget(self.budget.share(0.6 if provable else 1.0)), seed=self.seed,
                            stop=self.stop, progress=self.progress, cost_slack=self.cost_slack)
            self.stats["detour_level"] = level
            if out.hops is not None:
                return out
        return None

    def _prove_least_cost(self, upper: int | None, paths: dict) -> Outcome | None:
        """The time-indexed model over the whole cloud: proves the least cost (and rounds) when small.

        With a known plan of scaled cost ``upper``, the horizon holds every
        plan costing at most that; without one, growing budgets, each failure
        a better lower bound.
        """
        inst, sc = self.inst, self.sc
        lb = int(sc.cost[inst.moving].sum())
        moving = int(inst.moving.sum())
        movable = sc.cost[~inst.pinned]
        positive = movable[movable > 0]
        # a VM that moves for free can take any number of detours: no horizon holds every plan, so the
        # model only searches, on growing horizons, and proves nothing the lower bound does not
        free = bool((movable <= 0).any())
        if upper is not None:
            caps = [upper]
        elif positive.size:
            caps = [lb + int(positive.min()) * 2**i for i in range(16)]
        else:
            caps = [lb] * 4
        for i, cost_cap in enumerate(caps):
            # migrations of any plan costing at most cost_cap: one per moving VM, then extras
            extra = (cost_cap - lb) // int(positive.min()) if positive.size else 2**i * (moving + 1) - moving
            horizon = max(1, moving + extra)
            size = model_size(inst, horizon)
            if size > MAX_TIME_INDEXED or self.stop.requested:
                return None
            if self.budget.left() < BUILD_SECONDS_PER_ROUTE * size:
                return None
            model = TimeIndexedModel(inst, sc, horizon)
            model.model.add(model.cost <= cost_cap)
            model.add_hint(paths)
            self._announce(model, f"every step of the whole cloud, cost {cost_cap / sc.cost_scale:g} at most")
            out = model.run(Budget(self.budget.share(0.6)), seed=self.seed, stop=self.stop,
                            progress=self.progress)
            self.stats["time_indexed_model"] = out.stats
            if out.infeasible:
                if not free:  # no plan costs cost_cap or less
                    self.proven_cost_bound = max(self.proven_cost_bound, cost_cap + 1)
                continue
            if out.hops is None:  # neither a plan nor a proof: a higher cap may hold a plan found at once
                continue
            if free:
                out.cost_proven = out.cost is not None and out.cost <= lb
                out.rounds_proven = False
                out.rounds_bound = None
            return out
        return None

    # ----------------------------------------------------------------- helps
    def _horizon(self, vms, own, routes) -> int:
        hinted = 1 + max((t for p in own.values() for t in p.rounds), default=0)
        hops = sum(max(len(r) - 1 for r in rs) for rs in routes.values())
        return int(max(hinted, min(hops + len(routes), 4 * len(vms) + 8)))

    def _proof_horizon(self) -> int:
        """The least horizon the time-indexed model could prove anything with."""
        return int(self.inst.moving.sum()) + 1

    def _lower_bound(self) -> float:
        """The best proven cost lower bound: direct deadlocks and infeasible time-indexed models."""
        inst = self.inst
        least = bound = cost_lower_bound(inst)
        if not self.sc.exact:
            return bound
        bound = max(bound, self.proven_cost_bound / self.sc.cost_scale)
        if self.stats.get("direct_infeasible") and self.intervals_exact:  # some VM must migrate once more
            bound = max(bound, least + float(inst.cost[~inst.pinned].min()))
        return bound

    def _greedy_parts(self, parts, hint_hops) -> list[MoveInRound] | None:
        """Greedy's moves of these parts when they stay on the parts' own hosts, else None."""
        inst = self.inst
        out = []
        for vms in parts:
            hosts = set(part_hosts(inst, vms, self.ends).tolist())
            mine = set(vms.tolist())
            for v, p in hint_hops.items():
                inside = [h in hosts for h in p.route]
                if v in mine or any(inside):
                    if not all(inside):
                        return None
                    hops = zip(p.rounds, p.route, p.route[1:], p.offline, strict=False)
                    out += [(t, Move(v, a, b, o)) for t, a, b, o in hops]
        return out if {move.vm for _, move in out} >= {v for vms in parts for v in vms.tolist()} else None

    def _announce(self, model, what: str) -> None:
        """Count ``model`` in the stats and announce what it searches."""
        size = model.size()
        self.stats["variables"] += size["variables"]
        self.stats["constraints"] += size["constraints"]
        if self.progress is not None:
            self.progress(f"cp: {what}, {model.horizon} rounds at most ({size['variables']} variables)")


def _direct_in_worker(shared, task) -> tuple[Outcome | None, dict]:
    """One part's direct moves in a worker process: ``shared`` is (the planner, greedy's paths),
    ``task`` (the part's VMs, its share of the time, the ``time.time()`` deadline). Returns the
    outcome and the sizes of the models built."""
    planner, hint_hops = shared
    vms, share, deadline = task
    with Interrupt() as stop:  # this process's own Ctrl-C: stop searching, keep the best
        planner.stop, planner.budget = stop, Budget(deadline - time.time())
        planner.stats = {"variables": 0, "constraints": 0}
        return planner._direct(vms, hint_hops, share), planner.stats


def _better(a: Plan | None, b: Plan | None) -> Plan | None:
    """The better of two plans (lower cost, then fewer rounds); ``a`` on ties."""
    if a is None or b is None:
        return a if b is None else b
    return b if (b.cost, b.n_rounds) < (a.cost, a.n_rounds) else a


def _hops_of(inst, incumbent: Plan | None) -> dict:
    return {} if incumbent is None else plan_paths(inst, incumbent.index_rounds(inst))


def _merge(parts: list[list[MoveInRound]]) -> list[MoveInRound]:
    """The migrations of independent parts, each part's rounds made dense, run side by side."""
    out = []
    for hops in parts:
        dense = {t: i for i, t in enumerate(sorted({t for t, _ in hops}))}
        out += [(dense[t], move) for t, move in hops]
    return out


def _index_rounds(hops: list[MoveInRound]):
    """The rounds as (vm, from, to, offline) arrays, migrations sorted within each round."""
    by_round = defaultdict(list)
    for t, move in hops:
        by_round[t].append(move)
    rounds = []
    for t in sorted(by_round):
        v, a, b, offline = zip(*sorted(by_round[t]), strict=True)
        rounds.append((*(np.array(x, dtype=np.int64) for x in (v, a, b)), np.array(offline, dtype=bool)))
    return rounds
