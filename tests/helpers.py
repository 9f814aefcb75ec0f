"""Where the example clouds live, writing instance files, and replaying an order with random
durations: helpers any test may import, e.g. ``from helpers import TINY_CASES, tiny_case_paths``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import yaml

from cpplan.constraints.capacity import fits
from cpplan.constraints.page_sharing import usage_on

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
# The tiny clouds with proven answers that tests/cases/make_cases.py draws and settles.
TINY_CASES = REPO / "tests" / "cases"
KINDS = ("direct", "bounce", "displace", "infeasible")


def tiny_case_paths() -> list[Path]:
    """The tiny instance files, sorted by name."""
    return sorted(TINY_CASES.glob("*.yaml"))


def tiny_truth() -> dict[str, dict]:
    """``truth.json`` by case name: ``{"kind": str, "feasible": bool, "min_cost": number or None, ...}``."""
    return {entry["case"]: entry for entry in json.loads((TINY_CASES / "truth.json").read_text())}


def write_file(path: Path, content) -> Path:
    """Write ``content`` to ``path``: text as is, a mapping as JSON (``.json``) or YAML."""
    if not isinstance(content, str):
        content = (json.dumps(content) if path.suffix == ".json"
                   else yaml.safe_dump(content, sort_keys=False))
    path.write_text(content, encoding="utf-8")
    return path


def racks(clouds: list[dict]) -> dict:
    """The instance mappings ``clouds`` side by side on disjoint hosts (rack k's names prefixed
    ``rk-``; limits and allocation ratios those of the first): cp's decomposition finds one
    independent part per rack that moves."""
    out: dict = {"hosts": {}, "vms": {}, "initial": {}, "target": {}}
    for k, cloud in enumerate(clouds):
        p = f"r{k}-"
        out["hosts"].update({p + h: c for h, c in cloud["hosts"].items()})
        out["vms"].update({p + v: c for v, c in cloud["vms"].items()})
        out["initial"].update({p + v: p + h for v, h in cloud["initial"].items()})
        out["target"].update({p + v: p + h for v, h in cloud.get("target", {}).items()})
    out.update({key: clouds[0][key] for key in ("limits", "allocation_ratio") if key in clouds[0]})
    return out


def replay(inst, plan, after: list[list[int]], rng: random.Random) -> list[str]:
    """Run the migrations in a random interleaving that starts one only once its ``after`` ended (any
    durations: at each step a random ready migration starts or a random one in flight ends), and
    report every instant a receiving host is over capacity or an anti-affinity group shares a host."""
    moves = [m for r in plan.rounds for m in r]
    vm = [inst.vm_index[m["vm"]] for m in moves]
    src = [inst.host_index[m["from"]] for m in moves]
    dst = [inst.host_index[m["to"]] for m in moves]
    where = [{int(h)} for h in inst.initial]
    reached = [set() for _ in range(inst.n_vms)]  # hosts each VM is on by a migration, not since A
    waiting, flying, done, broken = set(range(len(moves))), set(), set(), []
    while waiting or flying:
        ready = [i for i in sorted(waiting) if set(after[i]) <= done]
        if ready and (not flying or rng.random() < 0.5):
            i = rng.choice(ready)
            waiting.discard(i)
            flying.add(i)
            where[vm[i]].add(dst[i])
            reached[vm[i]].add(dst[i])
        else:
            i = rng.choice(sorted(flying))
            flying.discard(i)
            done.add(i)
            where[vm[i]].discard(src[i])
        for h in {dst[j] for j in flying}:
            present = np.array([v for v in range(inst.n_vms) if h in where[v]], dtype=np.int64)
            if not fits(usage_on(inst, present, h), inst.effective[h]).all():
                broken.append(f"host {h} over capacity")
        for g in inst.groups:
            if g.anti_affinity:
                for h in range(inst.n_hosts):  # members together since A are a legal start (SPEC 8)
                    there = [v for v in g.vms.tolist() if h in where[v]]
                    if len(there) > 1 and any(h in reached[v] for v in there):
                        broken.append(f"group {g.name} on host {h}")
    return broken
