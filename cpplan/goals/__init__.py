"""Goals that choose a target placement B: one module per goal, each with the same ``choose``.

``choose(inst, *, drain, tradeoff, slack, search) -> Choice`` returns the chosen placement (a host
index per VM), whether it is proven best for the goal, and a proven lower bound on the goal's
measure. :class:`Tradeoff` is the operator's price of migrations, :class:`Slack` how much a
next-best B gives up, :class:`Search` how long and how precisely to look (``gap_limit``,
:data:`~cpplan.goals.stopping.GAP_LIMIT` by default, is the relative gap of the second objective
at which the search stops).

>>> Tradeoff(max_moves=5).max_moves, Slack(headroom=0.05, max_moves=2).capped(Tradeoff(max_moves=5))
(5, 2)
>>> Tradeoff(move_weight=0.1, max_cost=40)
Traceback (most recent call last):
cpplan.errors.InputError: --move-weight: give at most one of --move-weight, --max-cost and --max-moves
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .stopping import GAP_LIMIT

GOALS = ("consolidate", "rebalance", "evacuate", "repair")


@dataclass(frozen=True)
class Tradeoff:
    """The goal against migration cost, at most one of: a ``move_weight`` W (the objective is
    goal + W x cost), a ``max_cost`` or a ``max_moves`` (hard budgets, counted against A). None:
    the goal first, then the least cost."""

    move_weight: float | None = None
    max_cost: float | None = None
    max_moves: int | None = None

    def __post_init__(self):
        given = [name for name, value in (("--move-weight", self.move_weight), ("--max-cost", self.max_cost),
                                          ("--max-moves", self.max_moves)) if value is not None]
        if len(given) > 1:
            raise InputError("", given[0], "give at most one of --move-weight, --max-cost and --max-moves")


@dataclass(frozen=True)
class Slack:
    """What a next-best B gives up when the best cannot be reached: receiving hosts keep
    ``headroom`` (a fraction of their capacity) free, and at most ``max_moves`` VMs move (None: no
    cap beyond the trade-off's)."""

    headroom: float = 0.0
    max_moves: int | None = None

    def capped(self, tradeoff: Tradeoff) -> int | None:
        """The move budget: the trade-off's, capped by this slack's."""
        caps = [m for m in (tradeoff.max_moves, self.max_moves) if m is not None]
        return min(caps) if caps else None


@dataclass(frozen=True)
class Search:
    """How a goal searches: ``time_limit`` seconds at most, ``seed`` for CP-SAT and the windows,
    and it stops once the second objective is within ``gap_limit`` (relative) of a proven bound."""

    time_limit: float = 30.0
    seed: int = 0
    gap_limit: float = GAP_LIMIT


NO_TRADEOFF, NO_SLACK, DEFAULT_SEARCH = Tradeoff(), Slack(), Search()


@dataclass
class Choice:
    """A goal's answer: the placement, its proof status and the goal's lower bound.

    ``gap`` is the proven relative gap of the second objective (migration cost at the best host
    count, the spread...) when the goal itself is proven, else None; ``stopped`` says why the
    search ended before its time limit: "gap" (within the gap limit), "stall" (no improvement
    for a while), "windows" (windows in a row without improvement), "bound" (at the lower bound),
    or "" (a proof, or the time limit).
    """

    placement: np.ndarray
    proven: bool
    bound: float
    stats: dict = field(default_factory=dict)
    gap: float | None = None
    stopped: str = ""
