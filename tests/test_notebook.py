"""The walk-through notebook runs top to bottom, and is committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a dev dependency: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a dev dependency: pip install -e '.[dev]'")
pytest.importorskip("ipykernel", reason="ipykernel is a dev dependency: pip install -e '.[dev]'")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
MODEL = NOTEBOOK.parent.parent / "models" / "swap-deadlock.yaml"


def _outputs(nb, kind: str) -> str:
    return "\n".join(str(out.get("text", "")) + str(out.get("data", {}).get(kind, ""))
                     for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_notebook_executes_on_the_swap_deadlock_model():
    if not MODEL.is_file():
        pytest.skip(f"example model {MODEL.name} not found")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    text = _outputs(nb, "text/plain")
    assert "greedy valid" in text and "cp valid" in text
    assert "round 1:" in text and "instance,hosts,vms,moving,planner,status" in text
    assert _outputs(nb, "image/png"), "the timeline and the results plot are drawn"
