"""Concurrency: per-host migrations (both ends count), the cloud-wide total per round, and the
directional limits (SPEC section 8).

In a round, host ``h`` is touched (as source or destination) by at most
``host_limit[h]`` migrations, the round has at most ``total_limit``
migrations, and ``h`` is the source of at most ``outgoing_limit[h]`` and the
destination of at most ``incoming_limit[h]`` of them (``max_outgoing`` and
``max_incoming`` on the host, else ``limits.outgoing`` and
``limits.incoming``, else :data:`UNLIMITED`). In a schedule (SPEC section 7)
the same numbers bound the migrations in flight at once
(:class:`cpplan.schedule.Limits`). A migration needs a touch at both ends,
an outgoing one at its source and an incoming one at its destination, so a
host sends at all only when :func:`can_send` and receives only when
:func:`can_receive`; ``m`` migrations leaving ``h`` take at least
``ceil(m / outgoing_limit[h])`` rounds (:func:`directional_rounds`).

>>> from cpplan.model import Instance
>>> from cpplan.constraints import Round
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8, "max_incoming": 1}},
...                 vms={"a": {"ram": 1}, "b": {"ram": 1}}, initial={"a": "h1", "b": "h2"},
...                 target={"a": "h3", "b": "h3"}, limits={"host": 2, "outgoing": 1})
>>> inst.incoming_limit.tolist() == [UNLIMITED, UNLIMITED, 1], inst.outgoing_limit.tolist()
(True, [1, 1, 1])
>>> moves = np.array([0, 1]), np.array([0, 1]), np.array([2, 2])
>>> rnd = Round(1, inst.initial, inst.load(inst.initial), *moves)
>>> Concurrency().check(inst, rnd)
['round 1: host h3 is the destination of 2 migrations, incoming limit 1']
>>> within_directions(np.array([0, 1]), np.array([2, 2]), inst.outgoing_limit, inst.incoming_limit).tolist()
[True, False]
>>> directional_rounds(inst, inst.initial[inst.moving], inst.target[inst.moving])
2
"""

from __future__ import annotations

import numpy as np

from ..arrays import rank_within

# A directional limit not set: more than any round or schedule can count (checks.MAX_COUNT, the cap
# of every count read, so that a limit given larger means the same).
UNLIMITED = 2**62


def host_touches(inst, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Migrations touching each host (as source or destination)."""
    return (np.bincount(src, minlength=inst.n_hosts) + np.bincount(dst, minlength=inst.n_hosts))


def has_directional_limits(inst) -> bool:
    """Whether any host has a finite incoming or outgoing limit (else the planners skip them)."""
    return bool((inst.incoming_limit < UNLIMITED).any() or (inst.outgoing_limit < UNLIMITED).any())


def can_send(inst) -> np.ndarray:
    """Mask of the hosts a migration may leave: a touch and an outgoing migration allowed."""
    return (inst.host_limit > 0) & (inst.outgoing_limit > 0)


def can_receive(inst) -> np.ndarray:
    """Mask of the hosts a migration may reach: a touch and an incoming migration allowed."""
    return (inst.host_limit > 0) & (inst.incoming_limit > 0)


def within_directions(src: np.ndarray, dst: np.ndarray, outgoing_left: np.ndarray,
                      incoming_left: np.ndarray) -> np.ndarray:
    """Mask of the migrations (in the given order) that come within the directional limits left:
    fewer than ``outgoing_left[s]`` earlier ones leave their source ``s`` and fewer than
    ``incoming_left[d]`` earlier ones reach their destination ``d``."""
    return (rank_within(src) < outgoing_left[src]) & (rank_within(dst) < incoming_left[dst])


def directional_rounds(inst, src: np.ndarray, dst: np.ndarray | None) -> int:
    """Rounds that migrations leaving ``src`` (and reaching ``dst``, when given) need under the
    directional limits alone: ``ceil(count / limit)`` per host and direction, at least 1."""
    need = 1
    for hosts, limit in ((src, inst.outgoing_limit), (dst, inst.incoming_limit)):
        if hosts is None or not hosts.size:
            continue
        count = np.bincount(hosts, minlength=inst.n_hosts)
        busy = (count > 0) & (limit < UNLIMITED)
        if busy.any():
            need = max(need, int(np.max(-(-count[busy] // np.maximum(limit[busy], 1)))))
    return need


class Concurrency:
    name = "concurrency"

    def check(self, inst, rnd) -> list[str]:
        out = []
        touches = host_touches(inst, rnd.src, rnd.dst)
        for h in np.flatnonzero(touches > inst.host_limit):
            out.append(f"round {rnd.number}: host {inst.host_names[h]} touched by {touches[h]} "
                       f"migrations, limit {inst.host_limit[h]}")
        out += directional_violations(inst, rnd)
        if inst.total_limit is not None and len(rnd.vms) > inst.total_limit:
            out.append(f"round {rnd.number}: {len(rnd.vms)} migrations, total limit "
                       f"{inst.total_limit}")
        return out


def directional_violations(inst, rnd) -> list[str]:
    """The round's hosts that are the source or destination of more migrations than they allow."""
    out = []
    for hosts, limit, role, key in ((rnd.src, inst.outgoing_limit, "source", "outgoing"),
                                    (rnd.dst, inst.incoming_limit, "destination", "incoming")):
        count = np.bincount(hosts, minlength=inst.n_hosts)
        for h in np.flatnonzero(count > limit):
            out.append(f"round {rnd.number}: host {inst.host_names[h]} is the {role} of {count[h]} "
                       f"migrations, {key} limit {limit[h]}")
    return out
