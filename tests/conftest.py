"""Shared test helpers: where the example clouds live, and writing instance files.

Other test modules may import these names (``from conftest import TINY_CASES``);
keep them small and stable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
# The public cases sit beside the repository (CI clones the repo with shared/ next to it).
TINY_CASES = REPO.parent / "shared" / "cases" / "tiny"


def tiny_case_paths() -> list[Path]:
    """The public tiny instance files, sorted by name (empty when shared/ is absent)."""
    return sorted(TINY_CASES.glob("*.yaml"))


def tiny_truth() -> dict[str, dict]:
    """``truth.json`` by case name: ``{"feasible": bool, "min_cost": number or None, ...}``."""
    return {entry["case"]: entry for entry in json.loads((TINY_CASES / "truth.json").read_text())}


def write_file(path: Path, content) -> Path:
    """Write ``content`` to ``path``: text as is, a mapping as JSON (``.json``) or YAML."""
    if not isinstance(content, str):
        content = (json.dumps(content) if path.suffix == ".json"
                   else yaml.safe_dump(content, sort_keys=False))
    path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def tiny_cases() -> Path:
    """The folder of public tiny cases; skips the test when it is not beside the repository."""
    if not (TINY_CASES / "truth.json").is_file():
        pytest.skip(f"public cases not found at {TINY_CASES}")
    return TINY_CASES


@pytest.fixture
def write_instance(tmp_path):
    """``write_instance(content, name="cloud.yaml") -> Path`` in a fresh temporary folder."""
    return lambda content, name="cloud.yaml": write_file(tmp_path / name, content)
