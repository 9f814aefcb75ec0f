"""Pinned VMs never migrate.

Greedy never offers them a round (:meth:`Pinned.allowed`); the interval
model drops any route given to one; the time-indexed model leaves them out
of its variables (their load is fixed), so :meth:`Pinned.encode_round` has
nothing to add.

>>> from cpplan.model import Instance
>>> import numpy as np
>>> inst = Instance(hosts={"a": {"ram": 8}, "b": {"ram": 8}}, vms={"x": {"ram": 1}, "y": {"ram": 1}},
...                 initial={"x": "a", "y": "a"}, pinned=["y"])
>>> Pinned().allowed(inst, np.array([0, 1]), np.array([0, 0]), np.array([1, 1])).tolist()
[True, False]
"""

from __future__ import annotations

import numpy as np

from .service_level import ServiceLevel


class Pinned(ServiceLevel):
    name = "pinned"

    def check(self, inst, rnd) -> list[str]:
        return [f"round {rnd.number}: pinned VM {inst.vm_names[v]} migrates"
                for v in rnd.vms[inst.pinned[rnd.vms]]]

    def allowed(self, inst, vms, src, dst) -> np.ndarray:
        return ~inst.pinned[vms]

    def encode_intervals(self, view) -> None:
        if not view.inst.pinned.any():
            return
        for hop in view.hops:
            if view.inst.pinned[hop.vm]:
                view.model.add(hop.present == 0)

    def encode_round(self, view, t: int) -> None:
        """Nothing: the time-indexed model has no variables for pinned VMs."""
