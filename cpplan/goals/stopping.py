"""When a goal's search is good enough: stop at a small proven gap, or when it stops improving.

A stage of a goal minimises one integer objective E. Lexicographic stages
encode two objectives as ``E = primary * span + secondary`` (fewest hosts,
then least cost); then the stage is done when the primary is proven (it
equals the lower bound's primary) and the secondary is within ``gap`` of its
lower bound, relative to the secondary found. A plain stage (no span) is done
when E is within ``gap`` of its bound, relative to E. The lower bound is the
solver's, or a better one the goal proves (:class:`Stage` ``lower``).

Besides, a stage is *stalled* when no better solution came for ``patience``
seconds (a rising bound alone does not count: it rarely closes the gap in
time): it stops with its best solution, not proven. :class:`cpplan.cpsat.EarlyStop`
watches the search with :meth:`Stage.done` and the stage's patience.

>>> rule = Stage(expr=None, span=10_000, lower=27 * 10_000 + 1904, gap=0.01)
>>> round(rule.gap_of(27 * 10_000 + 1912, 0), 4)   # 27 hosts proven; cost 1912, at least 1904
0.0042
>>> rule.done(27 * 10_000 + 1912, 0), rule.done(28 * 10_000 + 1904, 0)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

GAP_LIMIT = 0.01     # relative gap of the second objective at which a search stops
PATIENCE_SHARE = 0.1  # a search stalled for this share of its time limit stops ...
MIN_PATIENCE = 0.5    # ... but never sooner than this many seconds without improvement


def patience_for(time_limit: float) -> float:
    """Seconds without improvement after which a search of ``time_limit`` seconds stops.

    >>> patience_for(30), patience_for(2)
    (3.0, 0.5)
    """
    return max(MIN_PATIENCE, PATIENCE_SHARE * time_limit)


@dataclass
class Stage:
    """One objective to minimise, and when to stop: ``span`` splits it into primary and secondary
    (None: a single objective), ``lower`` is a proven lower bound on it, ``gap`` the relative gap
    accepted, ``patience`` the seconds without improvement after which the search stops."""

    expr: object
    span: int | None = None
    lower: float = float("-inf")
    gap: float = GAP_LIMIT
    patience: float | None = None

    def gap_of(self, objective: float, bound: float) -> float | None:
        """The proven relative gap of the secondary objective (of E when no span), or None when
        even the primary objective is not proven (or E is 0 above its bound: no relative gap).

        >>> plain = Stage(expr=None, lower=99)
        >>> plain.gap_of(100, 0), plain.gap_of(99, 0), Stage(expr=None).gap_of(0, -1)
        (0.01, 0.0, None)
        """
        bound = max(bound, self.lower)
        if self.span is None:
            slack = max(0.0, objective - bound)
            return 0.0 if slack == 0 else slack / abs(objective) if objective else None
        primary, secondary = divmod(round(objective), self.span)
        if bound <= primary * self.span - 1e-6:  # the bound allows a smaller primary
            return None
        low = bound - primary * self.span
        return max(0.0, secondary - low) / secondary if secondary else 0.0

    def done(self, objective: float, bound: float) -> bool:
        gap = self.gap_of(objective, bound)
        return gap is not None and gap <= self.gap + 1e-12


def improved(new: tuple, old: tuple, gap: float = GAP_LIMIT) -> bool:
    """Whether score ``new`` beats ``old`` by enough to keep searching: the first component
    (the goal) by any amount, a later one (cost, spread...) by more than ``gap`` of its value,
    the components before it being equal.

    >>> improved((27, 1904.0), (27, 1912.0)), improved((27, 1800.0), (27, 1912.0))
    (False, True)
    >>> improved((26, 2000.0), (27, 0.0))
    True
    """
    for k, (a, b) in enumerate(zip(new, old, strict=True)):
        if a != b:
            return a < b if k == 0 else b - a > gap * abs(b)
    return False


def keep_better(best, candidate, score, gap: float = GAP_LIMIT):
    """``(placement, gained)``: ``candidate`` when its ``score`` is no worse than ``best``'s, else ``best``;
    ``gained`` says whether it beats it by enough to keep searching (:func:`improved`).

    >>> keep_better("A", "B", {"A": (27, 1912.0), "B": (27, 1800.0)}.get)
    ('B', True)
    >>> keep_better("A", None, {"A": (27, 1912.0)}.get)
    ('A', False)
    """
    if candidate is None:
        return best, False
    old, new = score(best), score(candidate)
    if new > old:
        return best, False
    return candidate, improved(new, old, gap)
