"""Fences: a group's ``hosts`` are the only hosts its members are ever moved to (SPEC section 8).

``groups: {db: {vms: [db1, db2], hosts: [h1, h2, h3]}}`` keeps db1 and db2 on
h1-h3: every migration of a member, bounces and steps aside included, goes to
one of them. A member that starts elsewhere (a broken start) is legal: it
leaves for a fenced host and never comes back. B must keep the fence: a fixed
target outside it is bad input, and a member with several allowed hosts may
end only on those inside it (:func:`restrict_targets`). A VM in two fences is
kept to the hosts of both, which must meet. The faces are those of every host
rule (:mod:`.host_rules`), with the fence as the mask.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h1": {"ram": 8}, "h2": {"ram": 8}, "h3": {"ram": 8}},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h1"},
...                 target={"a": "h2"}, groups={"db": {"vms": ["a"], "hosts": ["h1", "h2"]}})
>>> Fence().allowed(inst, np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([1, 2, 2])).tolist()
[True, False, True]
>>> from cpplan.constraints import Round
>>> rnd = Round(1, inst.initial, inst.load(inst.initial), np.array([0]), np.array([0]), np.array([2]))
>>> Fence().check(inst, rnd)
['round 1: VM a moves to host h3, outside the hosts of group db (h1, h2)']
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .host_rules import HostRule, host_mask, zones


def hosts_text(inst, hosts: np.ndarray, at_most: int = 5) -> str:
    """Host names for a message, the first ``at_most`` of them."""
    names = [inst.host_names[h] for h in hosts[:at_most]]
    return ", ".join(names) + (" ..." if len(hosts) > at_most else "")


class Fence(HostRule):
    name = "fence"

    def masks(self, inst) -> list[tuple[int, np.ndarray]]:
        return [(k, host_mask(inst.n_hosts, g.hosts)) for k, g in enumerate(inst.groups)
                if g.hosts is not None]

    def describe(self, inst, k: int) -> str:
        g = inst.groups[k]
        return f"the hosts of group {g.name} ({hosts_text(inst, g.hosts)})"


def restrict_targets(inst, domains) -> None:
    """Keep B inside every fence while the instance is read (``inst.target`` holds the fixed targets
    and ``domains`` the allowed hosts of the others, a :class:`cpplan.allowed.Domains`).

    Bad input: a VM in two fences that share no host, a fixed target outside a fence (unless the
    instance is read to choose B, ``inst.choosing_target``), a VM whose allowed hosts all lie outside one.
    """
    fences = Fence().masks(inst)
    zone_of, rows = zones(inst.n_vms, inst.n_hosts, [(inst.groups[k].vms, mask) for k, mask in fences])
    for k, mask in fences:
        g, key = inst.groups[k], f"groups.{inst.groups[k].name}.hosts"
        for v in g.vms.tolist():
            if not rows[zone_of[v]].any():
                other = next(inst.groups[j].name for j, m in fences if v in inst.groups[j].vms and not
                             (m & mask).any())
                raise InputError(inst.source, key, f"VM {inst.vm_names[v]} is also in the fence of group "
                                 f"{other} and the two share no host")
            if domains.domain_of[v] >= 0:
                if not domains.allow(v, mask).any():
                    raise InputError(inst.source, key, f"no allowed target host of VM {inst.vm_names[v]} "
                                     f"is in the fence")
            elif not mask[inst.target[v]] and not inst.choosing_target:
                raise InputError(inst.source, key, f"the target breaks it: VM {inst.vm_names[v]} ends on "
                                 f"{inst.host_names[inst.target[v]]}, outside the fence")
