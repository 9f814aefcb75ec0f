"""Pinned VMs never migrate."""

from __future__ import annotations


class Pinned:
    name = "pinned"

    def check(self, inst, rnd) -> list[str]:
        return [f"round {rnd.number}: pinned VM {inst.vm_names[v]} migrates"
                for v in rnd.vms[inst.pinned[rnd.vms]]]
