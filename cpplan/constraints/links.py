"""Network links: a migration crosses a link when exactly one of its hosts is behind it;
at most ``max_migrations`` migrations cross a link per round.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"a": {"ram": 8}, "b": {"ram": 8}}, vms={"x": {"ram": 1}, "y": {"ram": 1}},
...                 initial={"x": "a", "y": "a"}, links={"wan": {"hosts": ["b"], "max_migrations": 1}})
>>> budget = Links().budget(inst, inst.initial)
>>> budget.admits(0, 0, 1), budget.take(0, 0, 1), budget.admits(1, 0, 1)
(True, None, False)
"""

from __future__ import annotations

import weakref

import numpy as np

from .service_level import RoundBudget, ServiceLevel


def crossing(inst, link, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Mask of the migrations (src -> dst) that cross ``link``."""
    inside = np.zeros(inst.n_hosts, dtype=bool)
    inside[link.hosts] = True
    return inside[src] != inside[dst]


def fixed_moves(inst, vms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The VMs of ``vms`` with one target, their hosts and their targets."""
    fixed = vms[inst.domain_of[vms] < 0]
    return fixed, inst.initial[fixed], inst.target[fixed]


class Links(ServiceLevel):
    name = "links"

    def check(self, inst, rnd) -> list[str]:
        out = []
        for link in inst.links:
            n = int(crossing(inst, link, rnd.src, rnd.dst).sum())
            if n > link.max_migrations:
                out.append(f"round {rnd.number}: link {link.name} crossed by {n} migrations, "
                           f"limit {link.max_migrations}")
        return out

    def budget(self, inst, placement) -> RoundBudget | None:
        return LinkBudget(inst) if inst.links else None

    def rounds_bound(self, inst, vms) -> int:
        """The VMs with one target that must cross a link, ``max_migrations`` a round."""
        _, src, dst = fixed_moves(inst, vms)
        need = [1]
        for link in inst.links:
            n = int(crossing(inst, link, src, dst).sum())
            if n and link.max_migrations:
                need.append(-(-n // link.max_migrations))
        return max(need)

    def infeasibility(self, inst, vms) -> str | None:
        fixed, src, dst = fixed_moves(inst, vms)
        for link in inst.links:
            cross = crossing(inst, link, src, dst)
            if link.max_migrations == 0 and cross.any():
                return (f"VM {inst.vm_names[fixed[cross][0]]} must cross link {link.name}, "
                        f"which allows no migration")
        return None

    def coupled(self, inst, vms) -> list[np.ndarray]:
        """Per link, the VMs that cross it on the way to their target, or may cross it to an allowed host."""
        src, dst = inst.initial[vms], inst.target[vms]
        domain = inst.domain_of[vms]
        out = []
        for link in inst.links:
            inside = np.zeros(inst.n_hosts, dtype=bool)
            inside[link.hosts] = True
            across = crossing(inst, link, src, dst)
            if inst.domains.size:  # a flexible VM may end on either side of the link
                # [VM outside, VM inside] x domain: the domain has a host on the link's other side
                reach = np.stack([(inst.domains & inside).any(axis=1), (inst.domains & ~inside).any(axis=1)])
                flexible = domain >= 0
                across[flexible] |= reach[inside[src[flexible]].astype(int), domain[flexible]]
            out.append(vms[across])
        return out

    def encode_intervals(self, view) -> None:
        """Per link, a cumulative of capacity ``max_migrations`` over the hops crossing it."""
        if not view.hops:
            return
        src = np.array([hop.src for hop in view.hops])
        dst = np.array([hop.dst for hop in view.hops])
        for link in view.inst.links:
            ivs = [view.hops[i].interval for i in np.flatnonzero(crossing(view.inst, link, src, dst))]
            if len(ivs) > link.max_migrations:
                view.model.add_cumulative(ivs, [1] * len(ivs), int(link.max_migrations))

    def encode_round(self, view, t: int) -> None:
        """Per link, one Boolean per VM that is on different sides at steps ``t`` and ``t + 1``."""
        m = view.model
        for link in view.inst.links:
            inside = set(link.hosts.tolist())
            crossings = []
            for v in view.vms:
                side = [sum(view.at[v, h, u] for h in view.hosts[v] if h in inside) for u in (t, t + 1)]
                c = m.new_bool_var(f"cross{link.name}_{v}_{t}")
                m.add(c >= side[0] - side[1])
                m.add(c >= side[1] - side[0])
                crossings.append(c)
            m.add(sum(crossings) <= int(link.max_migrations))


class LinkBudget(RoundBudget):
    """Migrations left per link in one round."""

    def __init__(self, inst):
        self.links_of = _links_of(inst)
        self.left = [link.max_migrations for link in inst.links]

    def admits(self, v, s, d) -> bool:
        return all(self.left[k] > 0 for k in self.links_of[s] ^ self.links_of[d])

    def take(self, v, s, d) -> None:
        for k in self.links_of[s] ^ self.links_of[d]:
            self.left[k] -= 1


_LINKS_OF: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _links_of(inst) -> list[frozenset]:
    """The links each host is behind (computed once per instance)."""
    if inst not in _LINKS_OF:
        links_of: list[set] = [set() for _ in range(inst.n_hosts)]
        for k, link in enumerate(inst.links):
            for h in link.hosts.tolist():
                links_of[h].add(k)
        _LINKS_OF[inst] = [frozenset(x) for x in links_of]
    return _LINKS_OF[inst]
