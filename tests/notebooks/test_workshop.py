"""The workshop notebook executes top to bottom (tiny epochs)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]


def test_workshop_notebook_executes(tmp_path):
    nb = nbformat.read(REPO / "notebooks" / "workshop.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "finished" in outputs
    assert "TrainConfig(" in outputs
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_studio_notebooks_are_valid():
    for path in (REPO / "notebooks" / "studio.ipynb", REPO / "tl_widgets" / "app" / "studio.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))
