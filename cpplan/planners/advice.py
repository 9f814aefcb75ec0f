"""What an ``unknown`` answer says to try next: how the search ended, and what may get a plan.

Every ``unknown`` reason ends with one of

- ``the time limit ran out``: a planner was still searching when the time was up (more time may
  help: a longer ``--time-limit``), or
- ``nothing was left to try with time to spare``: every planner gave up before the limit (more time
  will not help),

then what to try: another planner when one searches more than the one asked for (``--planner cp or
auto`` after ``greedy``, ``--planner auto`` after ``cp`` on a cloud small enough for the exhaustive
search; never ``auto`` after ``auto``), ``--relax`` (the least change to the instance that reaches
B, :mod:`cpplan.relax`), and a spare host with room for the largest VM of a deadlocked cycle of
``blocked``. Whether the time ran out is the planner's own ``stats["ran_out_of_time"]`` when it says
(exact, auto), else cp's :data:`~cpplan.planners.cp.planner.NOTHING_LEFT` (with time left), else
whether the planner used at least :data:`TIME_USED` of the time limit.

>>> from cpplan.plan import Plan
>>> stuck = Plan("unknown", 0, [], reason="no migration possible", blocked=[])
>>> print(advice(stuck, "greedy", 0, time_limit=30, seconds=0.1, blocked_demand=None))
nothing was left to try with time to spare, so more time will not help: try --planner cp or auto (they \
search bounces and step-asides more widely), --relax (the least change to the instance that reaches B) \
or a spare host
"""

from __future__ import annotations

import numpy as np

from ..plan import Plan, plain_number
from . import exact
from .cp.planner import NOTHING_LEFT

TIME_USED = 0.9  # a planner that used this share of its time limit ran out of it


def ran_out_of_time(result: Plan, time_limit: float | None, seconds: float) -> bool:
    """Whether ``result`` ended because the time limit ran out (module docstring)."""
    said = result.stats.get("ran_out_of_time")
    if said is not None:
        return bool(said)
    if result.reason.startswith(NOTHING_LEFT):
        return False
    return time_limit is not None and seconds >= TIME_USED * time_limit


def advice(result: Plan, planner: str, n_vms: int, *, time_limit: float | None, seconds: float,
           blocked_demand: str | None) -> str:
    """The phrase that ends the reason of the ``unknown`` answer ``result`` of ``planner``."""
    timed_out = ran_out_of_time(result, time_limit, seconds)
    if timed_out:
        head = "the time limit ran out, so more time may help: try a longer --time-limit"
    else:
        head = "nothing was left to try with time to spare, so more time will not help: try"
    options = []
    if planner == "greedy":
        options.append("--planner cp or auto (they search bounces and step-asides more widely)")
    elif planner == "cp" and n_vms <= exact.MAX_VMS:
        options.append("--planner auto (it also searches exhaustively on small clouds)")
    options.append("--relax (the least change to the instance that reaches B)")
    options.append(f"a spare host with room for {blocked_demand}" if blocked_demand else "a spare host")
    listed = ", ".join(options[:-1]) + f" or {options[-1]}"
    return f"{head}, {listed}" if timed_out else f"{head} {listed}"


def largest_blocked(inst, blocked: list[dict] | None) -> str | None:
    """The largest VM of a deadlocked cycle of ``blocked`` (by its largest share of a host's capacity),
    as ``"a (8 ram)"``; None when no cycle blocks a VM."""
    names = [e["vm"] for g in blocked or [] if g["cycle"] for e in g["vms"]]
    if not names:
        return None
    vms = np.array([inst.vm_index[v] for v in names])
    scale = np.where(np.isfinite(inst.effective) & (inst.effective > 0), inst.effective, np.inf).max(axis=0)
    v = int(vms[np.argmax((inst.demand[vms] / scale).max(axis=1, initial=0.0))])
    need = " and ".join(f"{plain_number(x)} {r}" for r, x in zip(inst.resources, inst.demand[v].tolist(),
                                                                  strict=True) if x > 0)
    return f"{inst.vm_names[v]} ({need})" if need else inst.vm_names[v]
