"""The rules a round must keep (SPEC section 4), one module per family.

Every rule checks a round for the validator (``check(inst, rnd) -> list of
violations``); the validator runs every rule in :data:`ALL`.

The *service levels* (links, service groups, pinned VMs, fences and among
rules, :mod:`.host_rules`) are
:class:`ServiceLevel` subclasses, each in one module with all its faces:

- ``check(inst, rnd)``: the validator's (the single source of truth);
- ``allowed(inst, vms, src, dst) -> mask``: greedy's stateless, vectorised
  filter (pinned VMs never move);
- ``budget(inst, placement) -> RoundBudget | None``: greedy's per-round
  budget, asked ``admits(v, s, d)`` for each offered migration in priority
  order and told ``take(v, s, d)`` for each one admitted (``None`` when the
  rule does not limit this instance); planners build them with
  :func:`round_budgets` and ask them all with :func:`take_if_admitted`;
- ``encode_intervals(view)``: its CP-SAT encoding in the interval model, on
  a narrow :class:`cpplan.planners.cp.intervals.IntervalView` (the hops, one
  one-round interval each with its presence literal, source and destination,
  and the stays on each host);
- ``encode_round(view, t)``: its encoding of round ``t`` in the time-indexed
  model (``at``, ``moved``, ``arrives``, ``occupies``);
- optionally ``rounds_bound``, ``infeasibility`` (for the lower bounds and
  the certificates) and ``coupled`` (VMs cp must plan in one part).

A new service level is one new module with one such class, added to
:data:`ALL` below (or with :func:`register`); greedy, cp and the validator
then honour it. Capacity and concurrency are the core resources, a view
encoded by each model: plain checks here, with their encodings in the
planners (greedy admits them in vectorised passes over all offered
migrations at once, its hot path, and the CP models share their intervals
with the capacity cumulatives). :mod:`.capacity` lists capacity's faces;
page sharing, which changes what a set of VMs on a host uses, has its rule
and every face listed in :mod:`.page_sharing`.

>>> [c.name for c in ALL]
['capacity', 'concurrency', 'links', 'pinned', 'groups', 'fence', 'among']
>>> [c.name for c in service_levels()]
['links', 'pinned', 'groups', 'fence', 'among']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .among import Among
from .capacity import Capacity
from .concurrency import Concurrency
from .fence import Fence
from .groups import Groups
from .links import Links
from .pinned import Pinned
from .service_level import RoundBudget, ServiceLevel


@dataclass(frozen=True)
class Round:
    """One round being replayed: where VMs are at its start and what migrates in it."""

    number: int  # 1-based, as an operator counts
    placement: np.ndarray  # host per VM at the start of the round
    load: np.ndarray  # [hosts x resources] use at the start of the round, page sharing applied
    vms: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    offline: np.ndarray | None = None  # per migration: moved offline (not live)


ALL: list = [Capacity(), Concurrency(), Links(), Pinned(), Groups(), Fence(), Among()]


def register(rule: ServiceLevel) -> ServiceLevel:
    """Add a service level to :data:`ALL`: the validator, greedy and cp honour it from then on."""
    ALL.append(rule)
    return rule


def service_levels() -> list[ServiceLevel]:
    """The rules of :data:`ALL` that planners encode through the :class:`ServiceLevel` interface."""
    return [rule for rule in ALL if isinstance(rule, ServiceLevel)]


def allowed_by_service_levels(inst, vms: np.ndarray, src: np.ndarray, dst: np.ndarray,
                              rules: list[ServiceLevel] | None = None) -> np.ndarray:
    """Mask of the migrations ``vms: src -> dst`` that every rule's ``allowed`` filter lets through.

    ``rules`` defaults to :func:`service_levels`; a planner that fixed its list once passes it.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}, "b": {"ram": 4}},
    ...                 initial={"a": "h1", "b": "h1"}, target={"a": "h2"}, pinned=["b"])
    >>> allowed_by_service_levels(inst, np.array([0, 1]), np.array([0, 0]), np.array([1, 1])).tolist()
    [True, False]
    """
    mask = np.ones(len(vms), dtype=bool)
    for rule in service_levels() if rules is None else rules:
        mask &= rule.allowed(inst, vms, src, dst)
    return mask


def round_budgets(inst, placement: np.ndarray, rules: list[ServiceLevel] | None = None) -> list[RoundBudget]:
    """The budgets of one round starting from ``placement``, of the rules that limit it.

    ``rules`` defaults to :func:`service_levels`. Ask them with :func:`admits_all`, or
    :func:`take_if_admitted` to also take what all of them admit.
    """
    return [b for rule in (service_levels() if rules is None else rules)
            if (b := rule.budget(inst, placement)) is not None]


def admits_all(budgets: list[RoundBudget], v: int, s: int, d: int) -> bool:
    """Whether every budget admits the migration ``v: s -> d`` on top of what it took; none takes it."""
    return all(budget.admits(v, s, d) for budget in budgets)


def take_if_admitted(budgets: list[RoundBudget], v: int, s: int, d: int) -> bool:
    """Ask every budget about ``v: s -> d``; only when all admit it does each take it. Whether they did.

    Called in priority order, this is how a round honours every service level at once.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}, "b": {"ram": 4}},
    ...                 initial={"a": "h1", "b": "h1"}, target={"a": "h2", "b": "h2"},
    ...                 groups={"g": {"vms": ["a", "b"], "max_migrating": 1}})
    >>> budgets = round_budgets(inst, inst.initial)
    >>> take_if_admitted(budgets, 0, 0, 1), admits_all(budgets, 1, 0, 1), take_if_admitted(budgets, 1, 0, 1)
    (True, False, False)
    """
    if not admits_all(budgets, v, s, d):
        return False
    for budget in budgets:
        budget.take(v, s, d)
    return True


def anti_affinity_members(inst) -> np.ndarray:
    """Mask of the VMs that belong to at least one anti-affinity group.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}},
    ...                 vms={"a": {"ram": 4}, "b": {"ram": 4}, "c": {"ram": 4}},
    ...                 initial={"a": "h1", "b": "h2", "c": "h1"},
    ...                 groups={"g": {"vms": ["a", "b"], "anti_affinity": True}})
    >>> anti_affinity_members(inst).tolist()
    [True, True, False]
    """
    members = np.zeros(inst.n_vms, dtype=bool)
    members[inst.member_vm[inst.group_anti[inst.member_group]]] = True
    return members


def anti_affinity_mates(inst) -> dict[int, np.ndarray]:
    """For each VM in an anti-affinity group, the other members of its groups (sorted), from one
    pass over the groups.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 8}}, vms={"a": {"ram": 1}, "b": {"ram": 1}, "c": {"ram": 1}},
    ...                 initial={"a": "h1", "b": "h1", "c": "h1"},
    ...                 groups={"g": {"vms": ["a", "b"], "anti_affinity": False}})
    >>> anti_affinity_mates(inst)
    {}
    """
    mates: dict[int, set] = {}
    for g in inst.groups:
        if g.anti_affinity and g.vms.size > 1:
            for v in g.vms.tolist():
                mates.setdefault(v, set()).update(g.vms.tolist())
    return {v: np.array(sorted(m - {v}), dtype=np.int64) for v, m in mates.items()}


__all__ = ["ALL", "Round", "RoundBudget", "ServiceLevel", "register", "service_levels",
           "allowed_by_service_levels", "round_budgets", "admits_all", "take_if_admitted",
           "anti_affinity_members", "anti_affinity_mates",
           "Capacity", "Concurrency", "Links", "Pinned", "Groups", "Fence", "Among"]
