"""Among: a group's members end within one of several host sets and are only moved to hosts of it
(SPEC section 8).

``groups: {web: {vms: [w1, w2], among: [[h1, h2], [h3, h4]]}}``: w1 and w2
end together in {h1, h2} or in {h3, h4}, and every migration of either, bounces
included, goes to a host of that same set. A member that starts outside the set
(a broken start) is legal: it leaves for the set and never comes back.

*Which set.* It is fixed when the instance is read (:func:`choose_sets`): the
sets that hold every fixed target of the members (a member without a target
ends where it is) and meet the allowed hosts of every member with several; of
those, the one holding most members now (ties: the first listed). None is bad
input (B breaks the rule); the allowed hosts of members with several shrink
to the set. An instance read to choose B (``choosing_target``) ignores its own
fixed targets: the goals then choose B inside the set that holds most members
now, and the instance they write keeps that same set. From then on the rule is
a fence on that set, and each face is that of a host rule (:mod:`.host_rules`),
whatever the plan did before.

Why fix it up front rather than keep every set that could still hold the
group? Sets may overlap: with ``[[h1, h2, h3], [h2, h3, h4]]`` and targets on
h2 and h3, a bounce through h1 leaves only the first set possible and one
through h4 only the second. A rule that looked only at where the members are
now (or are going) would accept a bounce through h1 that has ended and a later
one through h4: a plan SPEC forbids, which only the whole history reveals. Fixing
the set keeps every face a per-migration check; when the targets lie in one set
only (disjoint sets, the usual case), it is no choice at all. To use another
set, list only it.

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={h: {"ram": 8} for h in ("h1", "h2", "h3", "h4")},
...                 vms={"a": {"ram": 4}, "b": {"ram": 4}}, initial={"a": "h1", "b": "h3"},
...                 target={"a": "h2", "b": ["h2", "h4"]},
...                 groups={"web": {"vms": ["a", "b"], "among": [["h1", "h2"], ["h3", "h4"]]}})
>>> [inst.host_names[h] for h in inst.target]      # b follows a into {h1, h2}
['h2', 'h2']
>>> Among().allowed(inst, np.array([1, 1]), np.array([2, 2]), np.array([1, 3])).tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .fence import hosts_text
from .host_rules import HostRule, host_mask


class Among(HostRule):
    name = "among"

    def masks(self, inst) -> list[tuple[int, np.ndarray]]:
        return [(k, host_mask(inst.n_hosts, g.among[inst.among_set[k]]))
                for k, g in enumerate(inst.groups) if g.among]

    def describe(self, inst, k: int) -> str:
        g = inst.groups[k]
        return f"the set of among group {g.name} ({hosts_text(inst, g.among[inst.among_set[k]])})"


def choose_sets(inst, domains) -> np.ndarray:
    """Per group, the index of the set its among rule keeps to (-1: no among rule), as the module
    docstring says; shrinks the allowed hosts in ``domains`` (a :class:`cpplan.allowed.Domains`) to it."""
    chosen = np.full(len(inst.groups), -1, dtype=np.int64)
    ruled = [k for k, g in enumerate(inst.groups) if g.among]
    if not ruled:
        return chosen
    allowed = domains.matrix()
    for k in ruled:
        g, key = inst.groups[k], f"groups.{inst.groups[k].name}.among"
        flexible = domains.domain_of[g.vms] >= 0
        fixed = g.vms[~flexible] if not inst.choosing_target else g.vms[:0]  # B to be chosen: ignored
        ends = inst.target[fixed]
        options = allowed[domains.domain_of[g.vms[flexible]]]
        masks = [host_mask(inst.n_hosts, hosts) for hosts in g.among]
        fit = [i for i, mask in enumerate(masks) if mask[ends].all() and (options & mask).any(axis=1).all()]
        if not fit:
            raise InputError(inst.source, key, f"the target breaks it: no set holds every member's target "
                             f"({_ends_text(inst, fixed, ends)})")
        here = [int(masks[i][inst.initial[g.vms]].sum()) for i in fit]
        chosen[k] = fit[int(np.argmax(here))]
        for v in g.vms[flexible].tolist():
            if not domains.allow(v, masks[chosen[k]]).any():
                raise InputError(inst.source, key, f"no allowed target host of VM {inst.vm_names[v]} is in "
                                 f"the set its group keeps to ({hosts_text(inst, g.among[chosen[k]])})")
    return chosen


def _ends_text(inst, vms: np.ndarray, ends: np.ndarray, at_most: int = 4) -> str:
    """Where some members end, for a message."""
    if not len(vms):
        return "members with several allowed hosts"
    pairs = [f"{inst.vm_names[v]} on {inst.host_names[h]}" for v, h in zip(vms[:at_most], ends[:at_most],
                                                                        strict=True)]
    return ", ".join(pairs) + (" ..." if len(vms) > at_most else "")
