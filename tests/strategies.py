"""Hypothesis strategies: random tiny clouds that the exact planner can settle in milliseconds.

Use as ``@given(tiny_clouds())``, ``@given(tiny_clouds(service_levels=True))``,
``@given(clouds_with_allowed_hosts(tight=None))`` or ``@given(moving_clouds())``.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from cpplan import InputError, Instance
from cpplan.planners.exact import MAX_OFFLINE_VMS


@st.composite
def tiny_clouds(draw, max_hosts: int = 4, max_vms: int = 5, service_levels: bool = False,
                sharing: bool = False, tight: bool = False):
    """A random cloud of 2..max_hosts hosts and 1..max_vms VMs with a valid target.

    ``service_levels`` adds a group, a link and a pinned VM at random;
    ``sharing`` adds page sharing between VMs of one image and offline moves
    (for at most as many VMs as the exact planner proves optimal plans for);
    ``tight`` makes hosts trade VMs (B is A with the VMs' hosts permuted) and
    sizes each host to its larger use in A and B plus 0-3 units, so that the
    order of the moves matters and detours are often needed.
    """
    n_hosts = draw(st.integers(2, max_hosts))
    n_vms = draw(st.integers(1, max_vms))
    two = draw(st.booleans())
    hosts = {}
    for h in range(n_hosts):
        spec = {"ram": draw(st.integers(2, 12))}
        if two:
            spec["cpu"] = draw(st.integers(1, 6))
        hosts[f"h{h}"] = spec
    vms, offline = {}, 0
    for v in range(n_vms):
        spec = {"ram": draw(st.integers(1, 6))}
        if two:
            spec["cpu"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            spec["cost"] = draw(st.integers(0, 9))
        if sharing:
            spec["image"] = draw(st.sampled_from(["a", "b"]))
            if offline < MAX_OFFLINE_VMS and draw(st.integers(0, 3)) == 0:
                offline += 1
                spec["offline_cost"] = draw(st.integers(0, 12))
                spec["live"] = draw(st.booleans())
        vms[f"vm{v}"] = spec
    names = list(hosts)
    initial = {v: draw(st.sampled_from(names)) for v in vms}
    if tight:
        target = dict(zip(vms, draw(st.permutations(list(initial.values()))), strict=True))
    else:
        target = {v: draw(st.sampled_from(names)) for v in vms if draw(st.booleans())}
    extra = {"limits": {"host": draw(st.integers(1, 2))}}
    if draw(st.booleans()):
        extra["limits"]["total"] = draw(st.integers(1, 3))
    if service_levels:
        members = draw(st.lists(st.sampled_from(list(vms)), min_size=1, max_size=3, unique=True))
        if len(members) > 1:
            extra["groups"] = {"g": {"vms": members, "anti_affinity": draw(st.booleans()),
                                     "max_migrating": draw(st.integers(1, 2))}}
        if draw(st.booleans()):
            extra["links"] = {"uplink": {"hosts": names[:1], "max_migrations": 1}}
        if draw(st.booleans()):
            extra["pinned"] = [draw(st.sampled_from(list(vms)))]
    if sharing:
        extra["page_sharing"] = {"ratio": draw(st.sampled_from([0.0, 0.25, 0.5]))}
    try:
        inst = Instance(hosts=hosts, vms=vms, initial=initial, target=target, **extra)
        if tight:
            use = np.maximum(inst.load(inst.initial), inst.load(inst.target))
            hosts = {name: {r: float(np.ceil(use[h, j] - 1e-9)) + draw(st.integers(0, 3))
                            for j, r in enumerate(inst.resources)} for h, name in enumerate(names)}
            inst = inst.replace(hosts=hosts)
        return inst
    except InputError:
        assume(False)


@st.composite
def clouds_with_allowed_hosts(draw, **cloud):
    """Moving ``tiny_clouds(**cloud)`` where some VMs may end on any of a few hosts, often not their own.

    A keyword given as None (e.g. ``tight=None``) is drawn at random.
    """
    inst = draw(tiny_clouds(**{k: draw(st.booleans()) if x is None else x for k, x in cloud.items()}))
    hosts = list(inst.host_names)
    target = {}
    for v, name in enumerate(inst.vm_names):
        others = [h for h in hosts if h != hosts[inst.initial[v]]]
        choices = others if others and draw(st.booleans()) else hosts
        if draw(st.booleans()):
            allowed = st.lists(st.sampled_from(choices), min_size=1, max_size=len(choices), unique=True)
            target[name] = draw(allowed)
        else:
            target[name] = hosts[inst.target[v]]
    try:
        inst = inst.replace(target=target)
    except InputError:
        assume(False)
    assume(inst.moving.any())
    return inst


@st.composite
def moving_clouds(draw):
    """Random tiny clouds (tight, with service levels, page sharing and offline moves, or allowed
    hosts); half of them get a fresh target for every VM (pinned ones stay) on hosts grown to hold it,
    so that most draws move several VMs."""
    inst = draw(st.one_of(tiny_clouds(service_levels=True, sharing=True, tight=True),
                          tiny_clouds(service_levels=True, sharing=True, max_vms=7),
                          tiny_clouds(max_hosts=5, max_vms=7),
                          clouds_with_allowed_hosts(tight=None, service_levels=True)))
    if draw(st.booleans()):
        return inst
    names, spec = list(inst.host_names), inst.to_dict()
    ends = draw(st.lists(st.sampled_from(names), min_size=inst.n_vms, max_size=inst.n_vms))
    spec["target"] = {v: names[inst.initial[j]] if inst.pinned[j] else ends[j]
                      for j, v in enumerate(inst.vm_names)}
    try:
        unlimited = Instance(**{**spec, "hosts": {h: {} for h in names}})
    except InputError:
        assume(False)
    need = unlimited.load(unlimited.target)
    spec["hosts"] = {h: {**caps, **{r: max(caps.get(r, 0), float(np.ceil(need[i, k] - 1e-9)))
                                    for k, r in enumerate(inst.resources) if r in caps}}
                     for i, (h, caps) in enumerate(spec["hosts"].items())}
    try:
        return Instance(**spec)
    except InputError:
        assume(False)
