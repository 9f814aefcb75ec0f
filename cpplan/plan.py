"""A plan: rounds of concurrent migrations, with its status and proofs (SPEC section 3).

>>> p = Plan("optimal", 64, [[{"vm": "db1", "from": "h1", "to": "h2"}]], planner="exact")
>>> p.n_migrations, p.n_rounds
(1, 1)
>>> Plan.from_dict(p.to_dict()) == p
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

STATUSES = ("optimal", "feasible", "infeasible", "unknown")
ROUTE_KEYS = ("vm", "from", "to", "mode")  # what a migration does; the rest is when (SPEC 7.3)

# A round in index form: (vm, from, to) integer arrays of equal length, optionally an offline mask.
IndexRound = tuple[np.ndarray, ...]


class Move(NamedTuple):
    """One migration in index form: VM ``vm`` from host ``src`` to host ``dst``, ``offline`` or live.

    >>> Move(0, 1, 2, False).dst
    2
    """

    vm: int
    src: int
    dst: int
    offline: bool


# A migration in round ``round`` (0-based) of a plan in the making: (round, move).
MoveInRound = tuple[int, Move]


@dataclass
class Plan:
    """The answer of a planner.

    ``rounds`` is a list of rounds, each a list of ``{"vm", "from", "to"}``
    dicts, exactly as in the plan file (with a schedule, each also carries
    ``after``, ``start``, ``end`` and ``bandwidth``, and the plan ``makespan``
    and ``makespan_lower_bound``: SPEC 7.3). ``reason`` explains an
    ``infeasible`` or ``unknown`` status in words an operator can act on, and
    ``blocked`` (on such answers only) lists the VMs that cannot reach their
    target, grouped by the deadlocked cycle they form (:mod:`cpplan.blockers`). ``relaxation``
    (:mod:`cpplan.relax`) says which change to the instance the plan is for, when B was not
    reachable without it. A ``partial`` plan (status ``unknown``) has valid rounds that stop short of
    B (:mod:`cpplan.planners.partial`).
    """

    status: str
    cost: float
    rounds: list[list[dict]]
    planner: str = ""
    lower_bound: float | None = None
    rounds_lower_bound: int | None = None
    reason: str = ""
    stats: dict = field(default_factory=dict)
    makespan: float | None = None  # estimated seconds until the last migration ends (SPEC 7.3)
    makespan_lower_bound: float | None = None
    blocked: list[dict] | None = None  # why an infeasible or unknown answer is stuck (cpplan.blockers)
    relaxation: dict | None = None  # the change to the instance this plan is for (cpplan.relax)
    partial: bool = False  # rounds of an answer without a plan, short of B (cpplan.planners.partial)

    @property
    def n_rounds(self) -> int:
        return sum(1 for r in self.rounds if r)

    @property
    def n_migrations(self) -> int:
        return sum(len(r) for r in self.rounds)

    def routes(self) -> list[list[dict]]:
        """The rounds with each migration's route only (``vm``, ``from``, ``to``, and ``mode`` when
        given), without its order and schedule."""
        return [[{k: m[k] for k in ROUTE_KEYS if k in m} for m in r] for r in self.rounds]

    @property
    def has_order(self) -> bool:
        """Whether the plan gives SPEC 7.3's ``after`` order (else its rounds' barriers hold).

        >>> Plan("feasible", 1, [[{"vm": "a", "from": "h1", "to": "h2", "after": []}]]).has_order
        True
        """
        return any("after" in m for r in self.rounds for m in r)

    @property
    def found(self) -> bool:
        """True when the plan carries rounds that reach the target."""
        return self.status in ("optimal", "feasible")

    def to_dict(self) -> dict:
        out = {"status": self.status, "cost": plain_number(self.cost), "rounds": self.rounds,
               "planner": self.planner, "lower_bound": plain_number(self.lower_bound),
               "rounds_lower_bound": self.rounds_lower_bound}
        for key in ("makespan", "makespan_lower_bound"):
            if getattr(self, key) is not None:
                out[key] = plain_number(getattr(self, key))
        if self.reason:
            out["reason"] = self.reason
        if self.blocked is not None:
            out["blocked"] = self.blocked
        if self.relaxation is not None:
            out["relaxation"] = self.relaxation
        if self.partial:
            out["partial"] = True
        out["stats"] = self.stats
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(status=data["status"], cost=data.get("cost", 0), rounds=data.get("rounds", []),
                   planner=data.get("planner", ""), lower_bound=data.get("lower_bound"),
                   rounds_lower_bound=data.get("rounds_lower_bound"),
                   reason=data.get("reason", ""), stats=data.get("stats", {}),
                   makespan=data.get("makespan"), makespan_lower_bound=data.get("makespan_lower_bound"),
                   blocked=data.get("blocked"), relaxation=data.get("relaxation"),
                   partial=data.get("partial", False))

    @classmethod
    def from_index_rounds(cls, inst, rounds: list[IndexRound], status: str, **kw) -> Plan:
        """Build a plan from rounds of index arrays ``(vms, src, dst[, offline])``.

        Without an ``offline`` mask, a VM that ``inst.offline`` marks (it may
        not move live, or offline is cheaper) migrates with ``"mode": "offline"``.
        The cost is summed per migration by its mode.
        """
        named, cost = [], 0.0
        for vms, src, dst, *rest in rounds:
            if len(vms) == 0:
                continue
            offline = rest[0] if rest else inst.offline[vms]
            named.append([_migration(inst, v, s, d, o) for v, s, d, o in zip(
                vms.tolist(), src.tolist(), dst.tolist(), offline.tolist(), strict=True)])
            cost += float(np.where(offline, inst.offline_cost[vms], inst.live_cost[vms]).sum())
        return cls(status=status, cost=plain_number(cost), rounds=named, **kw)

    def index_rounds(self, inst) -> list[IndexRound]:
        """The rounds as (vm, from, to, offline) arrays; names must be known to ``inst``."""
        out = []
        for r in self.rounds:
            out.append((np.array([inst.vm_index[m["vm"]] for m in r], dtype=np.int64),
                        np.array([inst.host_index[m["from"]] for m in r], dtype=np.int64),
                        np.array([inst.host_index[m["to"]] for m in r], dtype=np.int64),
                        np.array([m.get("mode") == "offline" for m in r], dtype=bool)))
        return out


def _migration(inst, v: int, s: int, d: int, offline: bool) -> dict:
    out = {"vm": inst.vm_names[v], "from": inst.host_names[s], "to": inst.host_names[d]}
    if offline:
        out["mode"] = "offline"
    return out


def plain_number(x):
    """Numbers as JSON likes them: integral floats become ints."""
    if x is None:
        return None
    x = float(x)
    return int(x) if x.is_integer() else x
