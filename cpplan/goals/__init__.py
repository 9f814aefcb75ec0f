"""Goals that choose a target placement B: one module per goal, each with the same ``choose``.

``choose(inst, *, drain, move_weight, max_cost, max_moves, headroom, time_limit, seed, gap_limit)
-> Choice`` returns the chosen placement (a host index per VM), whether it is
proven best for the goal, and a proven lower bound on the goal's measure;
``gap_limit`` (:data:`~cpplan.goals.stopping.GAP_LIMIT` by default) is the
relative gap of the second objective at which the search stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GOALS = ("consolidate", "rebalance", "evacuate")


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
