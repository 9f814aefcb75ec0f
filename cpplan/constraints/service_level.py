"""The interface of a service level: one rule, its three faces (validator, greedy, CP-SAT).

A service level is a rule on the migrations of a round that is neither
capacity nor concurrency (links, service groups, pinned VMs, ...). One
subclass of :class:`ServiceLevel`, registered in :mod:`cpplan.constraints`,
is all a new rule needs: the validator calls :meth:`~ServiceLevel.check`,
the greedy round builder :meth:`~ServiceLevel.allowed` and
:meth:`~ServiceLevel.budget`, the CP-SAT interval model
:meth:`~ServiceLevel.encode_intervals` and the time-indexed model
:meth:`~ServiceLevel.encode_round`; the bounds ask it
:meth:`~ServiceLevel.rounds_bound` and :meth:`~ServiceLevel.infeasibility`,
and cp, splitting the cloud into independent parts, :meth:`~ServiceLevel.coupled`.

>>> import numpy as np
>>> class NoMoveTo(ServiceLevel):        # "VM v never moves to host h"
...     name = "no-move-to"
...     def __init__(self, v, h): self.v, self.h = v, h
...     def check(self, inst, rnd):
...         bad = ((rnd.vms == self.v) & (rnd.dst == self.h)).any()
...         return [f"round {rnd.number}: VM {self.v} moves to host {self.h}"] if bad else []
...     def allowed(self, inst, vms, src, dst): return (vms != self.v) | (dst != self.h)
...     def encode_intervals(self, view):
...         for hop in view.hops:
...             if hop.vm == self.v and hop.dst == self.h:
...                 view.model.add(hop.present == 0)
...     def encode_round(self, view, t):
...         view.model.add(view.arrives(self.v, self.h, t) == 0)
>>> NoMoveTo(0, 1).allowed(None, np.array([0, 0]), np.array([0, 0]), np.array([1, 2])).tolist()
[False, True]
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class RoundBudget(ABC):
    """What one rule still allows in the round greedy is building, asked one migration at a time.

    Migrations are offered in priority order; greedy admits a migration only
    when every budget :meth:`admits` it, then has every budget :meth:`take` it.
    """

    @abstractmethod
    def admits(self, v: int, s: int, d: int) -> bool:
        """Whether VM ``v`` may migrate from host ``s`` to host ``d`` on top of what was taken."""

    @abstractmethod
    def take(self, v: int, s: int, d: int) -> None:
        """Count the migration ``v: s -> d`` as part of the round."""


class ServiceLevel(ABC):
    """One service level. ``name`` names it in messages; the methods are its faces.

    - :meth:`check` (validator, the single source of truth): the violations in one round.
    - :meth:`allowed` (greedy, vectorised, stateless): which migrations may ever be in a round.
    - :meth:`budget` (greedy, stateful): per round, a :class:`RoundBudget`, or ``None``
      when the rule does not limit this instance (then greedy pays nothing for it).
    - :meth:`encode_intervals` (CP-SAT interval model): constraints on the view's
      hops (one-round intervals, with presence literals) and stays (intervals on a host).
    - :meth:`encode_round` (CP-SAT time-indexed model): constraints on round ``t``
      from the view's ``at[v, h, t]``, ``moved[v, t]``, ``arrives(v, h, t)`` and ``occupies(v, h, t)``.
    - :meth:`rounds_bound`, :meth:`infeasibility` (bounds), :meth:`coupled` (cp's parts):
      optional; the defaults suit a rule that limits no VM's rounds and ties no VMs together.

    In the last three, ``vms`` are VMs that must move; for a VM with one
    target its move goes from ``inst.initial`` to ``inst.target``, a VM with
    several allowed targets (``inst.domain_of >= 0``) may end on any of them.
    """

    name: str

    @abstractmethod
    def check(self, inst, rnd) -> list[str]:
        """One message per violation in round ``rnd`` (a :class:`cpplan.constraints.Round`)."""

    def allowed(self, inst, vms: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Mask of the migrations ``vms: src -> dst`` this rule ever lets into a round."""
        return np.ones(len(vms), dtype=bool)

    def budget(self, inst, placement: np.ndarray) -> RoundBudget | None:
        """The budget of one round starting from ``placement``; ``None`` when unlimited."""
        return None

    def rounds_bound(self, inst, vms: np.ndarray) -> int:
        """Rounds that moving ``vms`` needs under this rule alone, at least."""
        return 1

    def infeasibility(self, inst, vms: np.ndarray) -> str | None:
        """Why this rule never lets all of ``vms`` move (a reason checkable by hand), else None."""
        return None

    def coupled(self, inst, vms: np.ndarray) -> list[np.ndarray]:
        """Sets of ``vms`` whose moves share a limit of this rule, to be planned together."""
        return []

    @abstractmethod
    def encode_intervals(self, view) -> None:
        """Add the rule to an interval model (:class:`cpplan.planners.cp.intervals.IntervalView`)."""

    @abstractmethod
    def encode_round(self, view, t: int) -> None:
        """Add the rule for round ``t`` to a time-indexed model
        (:class:`cpplan.planners.cp.timeindexed.TimeIndexedModel`)."""
