"""Time and interruption, as every planner and goal sees them: a :class:`Budget` of wall-clock
time sliced with :meth:`Budget.share`, and :class:`Interrupt`, which turns Ctrl-C into "stop
searching, keep the best so far".

>>> Budget(None).left() > 1e6
True
>>> b = Budget(10.0)
>>> 4.9 < b.share(0.5) <= 5.0
True
"""

from __future__ import annotations

import math
import signal
import threading
import time


class Budget:
    """Wall-clock time left until a deadline (``None``: no limit)."""

    def __init__(self, seconds: float | None):
        self.started = time.perf_counter()
        self.deadline = math.inf if seconds is None else self.started + max(0.0, seconds)

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def share(self, fraction: float, floor: float = 0.05) -> float:
        """A slice of the remaining time (seconds), at least ``floor`` when any time is left."""
        left = self.left()
        if math.isinf(left):
            return 3600.0
        return max(min(floor, left), left * fraction) if left > 0 else 0.0


class Interrupt:
    """Turns Ctrl-C into "stop searching, keep the best plan so far" while active.

    The handler swallows the signal, so a caller that must stop too (an experiment
    between its runs) compares :attr:`caught`, the Ctrl-C presses every Interrupt of
    this process took, before and after a call.

    >>> import os, signal
    >>> before = Interrupt.caught
    >>> with Interrupt() as stop:
    ...     os.kill(os.getpid(), signal.SIGINT)
    ...     stop.requested
    True
    >>> Interrupt.caught - before
    1
    """

    caught = 0

    def __init__(self):
        self.requested = False
        self.solver = None  # a search to stop at once (anything with stop_search(), e.g. a CpSolver)
        self._previous = None

    def _handle(self, signum, frame):
        Interrupt.caught += 1
        self.requested = True
        if self.solver is not None:
            self.solver.stop_search()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
