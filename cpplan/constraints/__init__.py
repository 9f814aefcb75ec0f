"""The rules a round must keep (SPEC section 4), one module per family.

Each constraint knows how to check a round for the validator
(``check(inst, rnd) -> list of violations``); planners ask the same module
how to honour it, so a rule's meaning lives in one place.

>>> [c.name for c in ALL]
['capacity', 'concurrency', 'links', 'pinned', 'groups']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .capacity import Capacity
from .concurrency import Concurrency
from .groups import Groups
from .links import Links
from .pinned import Pinned


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


ALL = (Capacity(), Concurrency(), Links(), Pinned(), Groups())

__all__ = ["ALL", "Round", "Capacity", "Concurrency", "Links", "Pinned", "Groups"]
