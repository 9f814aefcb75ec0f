"""The rules a round must keep (SPEC section 4), one module per family.

Every rule checks a round for the validator (``check(inst, rnd) -> list of
violations``); the validator runs every rule in :data:`ALL`.

The *service levels* (links, service groups, pinned VMs) are
:class:`ServiceLevel` subclasses, each in one module with all its faces:

- ``check(inst, rnd)``: the validator's (the single source of truth);
- ``allowed(inst, vms, src, dst) -> mask``: greedy's stateless, vectorised
  filter (pinned VMs never move);
- ``budget(inst, placement) -> RoundBudget | None``: greedy's per-round
  budget, asked ``admits(v, s, d)`` for each offered migration in priority
  order and told ``take(v, s, d)`` for each one admitted (``None`` when the
  rule does not limit this instance);
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
then honour it. Capacity and concurrency stay plain checks here, with their
encodings in the planners: greedy admits them in vectorised passes over all
offered migrations at once (its hot path), and the CP models share their
intervals with the capacity cumulatives.

>>> [c.name for c in ALL]
['capacity', 'concurrency', 'links', 'pinned', 'groups']
>>> [c.name for c in service_levels()]
['links', 'pinned', 'groups']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capacity import Capacity
from .concurrency import Concurrency
from .groups import Groups
from .links import Links
from .pinned import Pinned
from .service_level import RoundBudget, ServiceLevel


@dataclass(frozen=True)
class Round:
    """One round being replayed: where VMs are at its start and what migrates in it."""

    number: int  # 1-based, as an operator counts
    placement: np.ndarray  # host per VM at the start of the round
    load: np.ndarray  # [hosts x resources] at the start of the round
    vms: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    offline: np.ndarray | None = None  # per migration: moved offline (not live)


ALL: list = [Capacity(), Concurrency(), Links(), Pinned(), Groups()]


def register(rule: ServiceLevel) -> ServiceLevel:
    """Add a service level to :data:`ALL`: the validator, greedy and cp honour it from then on."""
    ALL.append(rule)
    return rule


def service_levels() -> list[ServiceLevel]:
    """The rules of :data:`ALL` that planners encode through the :class:`ServiceLevel` interface."""
    return [rule for rule in ALL if isinstance(rule, ServiceLevel)]


__all__ = ["ALL", "Round", "RoundBudget", "ServiceLevel", "register", "service_levels",
           "Capacity", "Concurrency", "Links", "Pinned", "Groups"]
