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
