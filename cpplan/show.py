"""A plan as text an operator reads before pressing go: one table per round with the loads after it.

When every migration of a round carries the estimated ``start`` and ``end`` (SPEC 7.3), its table
has them too, in seconds. With page sharing, loads follow the sharing rule and each host's row
also says how much of the shared resource sharing saves there (its VMs' summed demand less their
use, :func:`sharing_saved`).

>>> from cpplan.model import Instance
>>> from cpplan.plan import Plan
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}}, vms={"a": {"ram": 4}},
...                 initial={"a": "h1"}, target={"a": "h2"})
>>> print(plan_table(inst, Plan("optimal", 4, [[{"vm": "a", "from": "h1", "to": "h2"}]], planner="exact")))
optimal (exact): cost 4, 1 round, 1 migration of 1 VM to move
<BLANKLINE>
round 1: 1 migration, cost 4
  vm  from  to  cost
  a   h1    h2     4
  load after round 1      ram
  h1                   0/8 0%
  h2                  4/8 50%
>>> shared = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}},
...                   vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
...                   initial={"a": "h1", "b": "h2"}, target={"a": "h2"}, page_sharing={"ratio": 0.5})
>>> moved = Plan("optimal", 8, [[{"vm": "a", "from": "h1", "to": "h2"}]])
>>> print(plan_table(shared, moved).split("round 1:")[1])
 1 migration, cost 8
  vm  from  to  cost
  a   h1    h2     8
  load after round 1        ram  ram saved
  h1                    0/16 0%          0
  h2                  12/16 75%          4
"""

from __future__ import annotations

import itertools

import numpy as np

from .constraints.page_sharing import shared_fraction
from .plan import Plan


def replay_placements(inst, plan: Plan) -> list[np.ndarray]:
    """The placement (a host index per VM) before the first round and after each round.

    After an empty round the placement is the same array as before it: nothing is copied.
    """
    placement = inst.initial.copy()
    placements = [placement]
    for moves in plan.rounds:
        if moves:
            placement = placement.copy()
            placement[[inst.vm_index[m["vm"]] for m in moves]] = [inst.host_index[m["to"]] for m in moves]
        placements.append(placement)
    return placements


def replay_loads(inst, plan: Plan) -> list[np.ndarray]:
    """Load per host and resource before the first round and after each round ([rounds + 1] x [H, R]).

    After an empty round the load is the same array as before it: nothing is recomputed.
    """
    loads: list[np.ndarray] = []
    before = None
    for placement in replay_placements(inst, plan):
        loads.append(loads[-1] if placement is before else inst.load(placement))
        before = placement
    return loads


def sharing_saved(inst, placement: np.ndarray) -> np.ndarray | None:
    """Per host, how much of the shared resource page sharing saves under ``placement``: the summed
    demand of its VMs less their use by the sharing rule (None when no VM shares pages)."""
    if not (shared_fraction(inst) > 0).any():
        return None
    r = inst.share_resource
    plain = np.bincount(placement, weights=inst.demand[:, r], minlength=inst.n_hosts)
    return plain - inst.load(placement)[:, r]


def plan_table(inst, plan: Plan) -> str:
    """The plan as aligned text: a header line, then per round its migrations and the touched hosts' loads.

    A run of empty rounds (harmless, see :mod:`cpplan.validate`) is one line, so 10^6 of them print
    one line, not 4 million. The plan must be valid for ``inst`` (check with :func:`cpplan.validate`
    first).
    """
    lines = [_headline(inst, plan)]
    if not plan.found:
        if plan.reason:
            lines.append(f"reason: {plan.reason}")
        return "\n".join(lines)
    placements = replay_placements(inst, plan)
    loads = replay_loads(inst, plan)
    first = 1
    for empty, group in itertools.groupby(plan.rounds, key=lambda moves: not moves):
        rounds = list(group)
        last = first + len(rounds) - 1
        if empty:
            lines += ["", f"{f'round {first}' if first == last else f'rounds {first}-{last}'}: empty"]
        else:
            for t, moves in enumerate(rounds, start=first):
                lines += _round_lines(inst, t, moves, loads[t], sharing_saved(inst, placements[t]))
        first = last + 1
    return "\n".join(lines)


def _round_lines(inst, t: int, moves: list[dict], load: np.ndarray, saved: np.ndarray | None) -> list[str]:
    """Round ``t``: its migrations, then the load after it of the hosts it touches (and, with page
    sharing, what sharing saves on each)."""
    cost = sum(float(inst.cost[inst.vm_index[m["vm"]]]) for m in moves)
    lines = ["", f"round {t}: {_plural(len(moves), 'migration')}, cost {cost:g}"]
    timed = all(_time(m.get("start")) and _time(m.get("end")) for m in moves)  # SPEC 7.3's estimate
    times = (lambda m: [f"{m['start']:.1f}", f"{m['end']:.1f}"]) if timed else (lambda m: [])
    lines += _indent(_columns([["vm", "from", "to", "cost", *(["start s", "end s"] if timed else [])]] +
                              [[m["vm"], m["from"], m["to"], f"{inst.cost[inst.vm_index[m['vm']]]:g}",
                                *times(m)] for m in moves], right={3, 4, 5}))
    touched = sorted({inst.host_index[m[k]] for m in moves for k in ("from", "to")})
    extra = [] if saved is None else [f"{inst.resources[inst.share_resource]} saved"]
    header = [f"load after round {t}", *inst.resources, *extra]
    cells = [(lambda h, r=r: _load(load[h, r], inst.effective[h, r])) for r in range(len(inst.resources))]
    if saved is not None:
        cells.append(lambda h: f"{saved[h]:g}")
    body = [[inst.host_names[h], *(cell(h) for cell in cells)] for h in touched]
    return lines + _indent(_columns([header] + body, right=set(range(1, len(header)))))


def _headline(inst, plan: Plan) -> str:
    head = f"{plan.status} ({plan.planner or 'unknown planner'})"
    moving = _plural(int(inst.moving.sum()), "VM")
    if not plan.found:
        return f"{head}: no plan; {moving} to move"
    bound = f" (lower bound {plan.lower_bound:g})" if plan.lower_bound not in (None, plan.cost) else ""
    rounds_bound = (f" (lower bound {plan.rounds_lower_bound})"
                    if plan.rounds_lower_bound not in (None, plan.n_rounds) else "")
    return (f"{head}: cost {plan.cost:g}{bound}, {_plural(plan.n_rounds, 'round')}{rounds_bound}, "
            f"{_plural(plan.n_migrations, 'migration')} of {moving} to move")


def _time(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _load(used: float, capacity: float) -> str:
    if not np.isfinite(capacity):
        return f"{used:g}"
    share = f" {100 * used / capacity:.0f}%" if capacity > 0 else ""
    return f"{used:g}/{capacity:g}{share}"


def _columns(rows: list[list[str]], right: frozenset | set = frozenset()) -> list[str]:
    """Rows of cells as aligned lines (columns in ``right`` aligned right), two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _indent(lines: list[str]) -> list[str]:
    return ["  " + line for line in lines]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
