"""Host rules: a group's members may only ever be moved to some hosts (SPEC section 8).

A host rule gives some groups each a *host mask* (the hosts their members may
be moved to: a fence, :mod:`.fence`, or the set of an among rule, :mod:`.among`).
A VM in several such groups may be moved only to the hosts of every mask, its
*zone*: the intersection. A migration of a member to a host outside its zone is
a violation, whatever the round and whatever the migration is for (a move to
the target, a bounce, a step aside); staying on a host outside the zone is not
(a start that already breaks the rule is legal), and B keeps the rule (checked
when the instance is read). So the rule is one mask per VM, and every face
follows from it, whatever the plan did before:

- the validator: a migration whose destination is outside its VM's zone;
- greedy and exact (:meth:`~HostRule.allowed`): such a migration is never offered;
- the interval model: a hop to a host outside the zone is absent (the routes
  only stage VMs on allowed hosts in the first place, :mod:`cpplan.planners.cp.routes`);
- the time-indexed model: ``arrives(v, h, t) == 0`` for every round ``t`` and
  every host ``h`` outside v's zone (so ``at[v, h, t] == 0`` but where v starts);
- a certificate (:meth:`~HostRule.infeasibility`): a VM that must move but whose
  zone holds no host, besides its own, that allows migrations and could take it
  alone, among the hosts it may end on.

Zones are computed once per instance and kept as rows of a boolean
[zones x hosts] matrix with a zone index per VM (-1: no rule), so the filters
are vectorised however many groups there are.

>>> zone_of, rows = zones(4, 3, [(np.array([0, 1]), np.array([True, True, False])),
...                              (np.array([1, 2]), np.array([False, True, True]))])
>>> zone_of.tolist(), rows.astype(int).tolist()
([0, 1, 2, -1], [[1, 1, 0], [0, 1, 0], [0, 1, 1]])
"""

from __future__ import annotations

import weakref
from abc import abstractmethod

import numpy as np

from .capacity import fits
from .service_level import ServiceLevel


def host_mask(n_hosts: int, hosts: np.ndarray) -> np.ndarray:
    """A boolean mask of ``hosts`` among ``n_hosts``."""
    mask = np.zeros(n_hosts, dtype=bool)
    mask[hosts] = True
    return mask


def zones(n_vms: int, n_hosts: int,
          masks: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per VM the row of its zone (the intersection of the masks of the ``(vms, mask)`` pairs it is in;
    -1 when in none), and the distinct zones as rows of a [zones x hosts] matrix."""
    zone_of = np.full(n_vms, -1, dtype=np.int64)
    if not masks:
        return zone_of, np.zeros((0, n_hosts), dtype=bool)
    mine: dict[int, np.ndarray] = {}
    for vms, mask in masks:
        for v in vms.tolist():
            mine[v] = mask if v not in mine else mine[v] & mask
    rows: dict[bytes, int] = {}
    matrix = []
    for v, mask in mine.items():
        key = np.packbits(mask).tobytes()
        if key not in rows:
            rows[key] = len(matrix)
            matrix.append(mask)
        zone_of[v] = rows[key]
    return zone_of, np.array(matrix)


class HostRule(ServiceLevel):
    """A rule that lets some groups' members be moved only to the hosts of a mask per group."""

    def __init__(self):
        self._zones: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @abstractmethod
    def masks(self, inst) -> list[tuple[int, np.ndarray]]:
        """(group index, host mask) for each group under this rule."""

    @abstractmethod
    def describe(self, inst, k: int) -> str:
        """The hosts group ``k`` may be moved to, in words, for messages."""

    def zones(self, inst) -> tuple[np.ndarray, np.ndarray]:
        """(zone per VM, zone rows) of ``inst`` under this rule, computed once per instance."""
        if inst not in self._zones:
            pairs = [(inst.groups[k].vms, mask) for k, mask in self.masks(inst)]
            self._zones[inst] = zones(inst.n_vms, inst.n_hosts, pairs)
        return self._zones[inst]

    def allowed(self, inst, vms, src, dst) -> np.ndarray:
        zone_of, rows = self.zones(inst)
        z = zone_of[vms]
        ok = z < 0
        ruled = ~ok
        ok[ruled] = rows[z[ruled], dst[ruled]]
        return ok

    def check(self, inst, rnd) -> list[str]:
        bad = np.flatnonzero(~self.allowed(inst, rnd.vms, rnd.src, rnd.dst))
        if bad.size == 0:
            return []
        masks = self.masks(inst)
        out = []
        for i in bad.tolist():
            v, d = int(rnd.vms[i]), int(rnd.dst[i])
            k = next(k for k, mask in masks if not mask[d] and v in inst.groups[k].vms)
            out.append(f"round {rnd.number}: VM {inst.vm_names[v]} moves to host {inst.host_names[d]}, "
                       f"outside {self.describe(inst, k)}")
        return out

    def infeasibility(self, inst, vms) -> str | None:
        """A VM that must move but whose zone, among the hosts it may end on, has no other host that
        allows migrations and could hold it alone."""
        zone_of, rows = self.zones(inst)
        vms = np.asarray(vms, dtype=np.int64)
        ruled = vms[zone_of[vms] >= 0]
        flexible = inst.domain_of[ruled] >= 0
        fixed, end = ruled[~flexible], inst.target[ruled[~flexible]]
        takes = (rows[zone_of[fixed], end] & (inst.host_limit[end] > 0)
                 & fits(inst.demand[fixed], inst.effective[end]).all(axis=1))
        for v in [*fixed[~takes].tolist(), *ruled[flexible].tolist()]:
            ends = rows[zone_of[v]] & (inst.domains[inst.domain_of[v]] if inst.domain_of[v] >= 0
                                       else host_mask(inst.n_hosts, inst.target[[v]]))
            ends[inst.initial[v]] = False
            hosts = np.flatnonzero(ends & (inst.host_limit > 0))
            if not fits(inst.demand[[v]], inst.effective[hosts]).all(axis=1).any():
                k = next(k for k, mask in self.masks(inst) if v in inst.groups[k].vms)
                return (f"VM {inst.vm_names[v]} must move but no host of {self.describe(inst, k)} that it "
                        f"may end on allows migrations and has room for it alone")
        return None

    def encode_intervals(self, view) -> None:
        zone_of, rows = self.zones(view.inst)
        for hop in view.hops:
            if zone_of[hop.vm] >= 0 and not rows[zone_of[hop.vm], hop.dst]:
                view.model.add(hop.present == 0)

    def encode_round(self, view, t: int) -> None:
        zone_of, rows = self.zones(view.inst)
        for v in view.vms:
            if zone_of[v] >= 0:
                for h in view.hosts[v]:
                    if not rows[zone_of[v], h]:
                        view.model.add(view.arrives(v, h, t) == 0)
