"""Page sharing: VMs of one image on one host share a fraction of their RAM.

The rule. A VM ``v`` of image ``i`` shares a fraction ``R_i`` of its demand
``ram_v`` of the shared resource (``page_sharing.ratio``, overridden per image
by ``page_sharing.images``; the resource is ``page_sharing.resource``, by
default ``ram``). A set ``S`` of VMs of image ``i`` on one host uses::

    use(S) = sum(ram_v) - R_i * (sum(ram_v) - max(ram_v))
           = sum((1 - R_i) * ram_v)  +  max(R_i * ram_v)        (v in S)

each VM's *private* part plus the shared *pages* of the largest, counted
once. A host uses the sum of this over its images plus the plain demands of
everything else (VMs without an image, the other resources). The rule holds
at every moment: at the start, at the end, and during a round, where the VMs
present on a receiving host are those there at the start (live leavers
included, offline leavers not) plus every arrival. Sharing never makes a set
of VMs use more than its plain sum, so a model that counts plain sums, or
shares fewer pages, only over-counts.

Its faces, module by module:

- the validator: :func:`usage` of the VMs present on each receiving host
  (:func:`cpplan.constraints.capacity.during_round`, read by the
  :class:`~cpplan.constraints.capacity.Capacity` check), and the start-of-round
  use ``Round.load`` carried from round to round by :func:`shift_load`
  (``cpplan/validate.py``); :meth:`cpplan.model.Instance.load` is :func:`usage`;
- greedy's rounds (``planners/greedy/round.py``): an arrival adds what
  :class:`SharedPages` leaves of its demand, pages shared only with VMs of its
  image that stay all round, and several arrivals at most the sum of theirs;
  its search and clean-up carry the load with :func:`shift_load`;
- greedy's offline break (``planners/greedy/offline.py``, ``_fits_sharing``): a
  leaver switched back to live is tested with plain sums, then with
  ``during_round`` (this rule, exact);
- greedy's clean-up (``planners/greedy/cleanup.py``, ``_keeps_with_sharing``):
  plain sums, then a replay of the host with :func:`usage_on` where they say no;
- exact (``planners/exact.py``, ``_use_with``): :func:`usage_on` of the
  destination with the arriving VM (the rule, exact);
- the CP models: :class:`cpplan.cpsat.Scaled` scales the :func:`split_ram`
  parts to integers, and :func:`use_from_parts` gives a host's scaled use. The
  interval model (``planners/cp/intervals.py``, ``IntervalModel._shared``)
  puts the private parts in the host's cumulative and each image's largest
  pages as levels, one block per level from the first stay of its VMs to the
  last, above the :func:`largest_pages` of the VMs fixed on the host (at least
  the true use; exact when a level's VMs are there without a gap). The
  time-indexed model (``planners/cp/timeindexed.py``, ``_load``) counts the
  private parts and, per image and round, one Boolean per pages level (exact).

>>> from cpplan.model import Instance
>>> inst = Instance(hosts={"h": {"ram": 16}}, vms={"a": {"ram": 8, "image": "u"},
...                 "b": {"ram": 4, "image": "u"}}, initial={"a": "h", "b": "h"},
...                 page_sharing={"ratio": 0.5})
>>> usage(inst, np.array([0, 1]), np.array([0, 0])).tolist()   # 12 - 0.5 * (12 - 8)
[[10.0]]
>>> private, pages = split_ram(inst)
>>> private.tolist(), pages.tolist(), use_from_parts(private, pages, inst.image)  # 4 + 2 + max(4, 2)
([4.0, 2.0], [4.0, 2.0], 10.0)
"""

from __future__ import annotations

import numpy as np


def usage(inst, vms: np.ndarray, hosts: np.ndarray) -> np.ndarray:
    """[hosts x resources] use when each ``vms[i]`` is present on ``hosts[i]`` (page sharing applied)."""
    out = np.zeros((inst.n_hosts, len(inst.resources)))
    np.add.at(out, hosts, inst.demand[vms])
    if inst.share_ratio.size:
        images = inst.image[vms]
        keep = images >= 0
        n = inst.share_ratio.size
        key = hosts[keep] * n + images[keep]
        ram = inst.demand[vms[keep], inst.share_resource]
        total = np.bincount(key, ram, minlength=inst.n_hosts * n)
        peak = np.zeros(inst.n_hosts * n)
        np.maximum.at(peak, key, ram)
        saved = (np.tile(inst.share_ratio, inst.n_hosts) * (total - peak)).reshape(inst.n_hosts, n)
        out[:, inst.share_resource] -= saved.sum(axis=1)
    return out


def usage_on(inst, vms: np.ndarray, host: int) -> np.ndarray:
    """Use per resource of ``host`` when exactly ``vms`` are on it.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h": {"ram": 16}}, vms={"a": {"ram": 8, "image": "u"},
    ...                 "b": {"ram": 8, "image": "u"}}, initial={"a": "h", "b": "h"},
    ...                 page_sharing={"ratio": 0.25})
    >>> usage_on(inst, np.array([0, 1]), 0).tolist()                # 16 - 0.25 * 8
    [14.0]
    """
    return usage(inst, vms, np.full(len(vms), host))[host]


def shared_fraction(inst) -> np.ndarray:
    """Per VM, the fraction ``R`` of its shared-resource demand it shares with its image (0 without one)."""
    ratio = np.zeros(inst.n_vms)
    if inst.share_ratio.size:
        has_image = inst.image >= 0
        ratio[has_image] = inst.share_ratio[inst.image[has_image]]
    return ratio


def split_ram(inst) -> tuple[np.ndarray, np.ndarray]:
    """Per VM, ``(private, pages)``: ``(1 - R) * ram`` and ``R * ram`` of the shared resource.

    Meaningful only when the instance has page sharing (``inst.share_resource``
    names the resource then).
    """
    ratio = shared_fraction(inst)
    ram = inst.demand[:, inst.share_resource]
    return (1 - ratio) * ram, ratio * ram


def largest_pages(pages: np.ndarray, images: np.ndarray) -> dict:
    """Image -> the largest ``pages`` among the given VMs of that image (VMs without an image left out).

    >>> largest_pages(np.array([3, 5, 2, 9]), np.array([0, 0, 1, -1]))
    {0: 5, 1: 2}
    """
    out: dict = {}
    for p, i in zip(pages.tolist(), images.tolist(), strict=True):
        if i >= 0:
            out[i] = max(out.get(i, p), p)
    return out


def use_from_parts(private: np.ndarray, pages: np.ndarray, images: np.ndarray):
    """The rule on split demands: the VMs' private parts plus each image's largest pages.

    ``private``, ``pages`` and ``images`` are per VM present on one host; in
    integers (the CP models' scaled parts) the result is an exact integer.
    """
    return private.sum().item() + sum(largest_pages(pages, images).values())


class SharedPages:
    """Page sharing in a round: what an arriving VM adds where its image already holds pages.

    A VM of an image with shared fraction ``R`` arriving on a host where a VM
    of its image stays for the whole round (one that always moves live) adds
    ``(1 - R) * ram + R * max(0, ram - M)``, ``M`` the largest such VM's RAM
    there (the rule's increase when it alone arrives); several arrivals
    together add at most the sum of theirs, so rounds stay valid.

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}},
    ...                 vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
    ...                 initial={"a": "h1", "b": "h2"}, page_sharing={"ratio": 0.5})
    >>> SharedPages(inst, inst.initial).discount(np.array([1]), np.array([0]), inst.demand[[1]]).tolist()
    [[4.0]]
    """

    def __init__(self, inst, placement: np.ndarray):
        self.inst = inst
        n = inst.share_ratio.size
        stays = np.flatnonzero((inst.image >= 0) & inst.can_live & ~np.isfinite(inst.offline_cost))
        keys = placement[stays] * n + inst.image[stays]
        self.keys, where = np.unique(keys, return_inverse=True)
        self.peak = np.zeros(self.keys.size)
        np.maximum.at(self.peak, where, inst.demand[stays, inst.share_resource])

    def discount(self, vms: np.ndarray, dst: np.ndarray, demand: np.ndarray) -> np.ndarray:
        """``demand`` (of ``vms`` arriving on ``dst``) with the shared pages already there taken off."""
        inst, r = self.inst, self.inst.share_resource
        image = inst.image[vms]
        shared = np.flatnonzero(image >= 0)
        if shared.size == 0 or self.keys.size == 0:
            return demand
        want = dst[shared] * inst.share_ratio.size + image[shared]
        pos = np.minimum(np.searchsorted(self.keys, want), self.keys.size - 1)
        peak = np.where(self.keys[pos] == want, self.peak[pos], 0.0)
        ram, ratio = demand[shared, r], inst.share_ratio[image[shared]]
        demand = demand.copy()
        demand[shared, r] = (1 - ratio) * ram + ratio * np.maximum(0.0, ram - peak)
        return demand


def shift_load(inst, load: np.ndarray, placement: np.ndarray, vms, src, dst) -> None:
    """Update ``load`` (in place) for the migrations ``vms: src -> dst``; ``placement`` is after them.

    Without page sharing a VM's demand moves with it. With page sharing, the
    hosts that a VM of an image left or entered are recomputed from the VMs now
    on them (a leaving VM may free less than its size, an arriving one take less).

    >>> from cpplan.model import Instance
    >>> inst = Instance(hosts={"h1": {"ram": 16}, "h2": {"ram": 16}},
    ...                 vms={"a": {"ram": 8, "image": "u"}, "b": {"ram": 8, "image": "u"}},
    ...                 initial={"a": "h1", "b": "h1"}, page_sharing={"ratio": 0.5})
    >>> load, after = inst.load(inst.initial), np.array([0, 1])
    >>> shift_load(inst, load, after, np.array([1]), np.array([0]), np.array([1]))
    >>> load.tolist()                               # 12 on h1 before: b frees only 4
    [[8.0], [8.0]]
    """
    np.subtract.at(load, src, inst.demand[vms])
    np.add.at(load, dst, inst.demand[vms])
    if not inst.share_ratio.size:
        return
    shared = inst.image[vms] >= 0
    if not shared.any():
        return
    hosts = np.unique(np.concatenate([src[shared], dst[shared]]))
    touched = np.zeros(inst.n_hosts, dtype=bool)
    touched[hosts] = True
    here = np.flatnonzero(touched[placement])
    load[hosts] = usage(inst, here, placement[here])[hosts]
