"""Shared fixtures. Plain helpers live in ``helpers.py``: import them from there
(``from helpers import TINY_CASES``), since a subfolder's own conftest.py may shadow
this module's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import MODELS, REPO, TINY_CASES, tiny_case_paths, tiny_truth, write_file
from hypothesis import settings

__all__ = ["MODELS", "REPO", "TINY_CASES", "tiny_case_paths", "tiny_truth", "write_file"]

# The property tests draw the same examples on every run, so a test run passes or fails for the
# code alone. ``pytest --hypothesis-profile explore`` draws fresh examples to hunt for new bugs.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")


@pytest.fixture
def tiny_cases() -> Path:
    """The folder of the tiny cases with proven answers (tests/cases)."""
    return TINY_CASES


@pytest.fixture
def write_instance(tmp_path):
    """``write_instance(content, name="cloud.yaml") -> Path`` in a fresh temporary folder."""
    return lambda content, name="cloud.yaml": write_file(tmp_path / name, content)
