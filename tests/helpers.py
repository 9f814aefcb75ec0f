"""Where the example clouds live, and writing instance files: helpers any test may import,
e.g. ``from helpers import TINY_CASES, tiny_case_paths, tiny_truth``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

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
