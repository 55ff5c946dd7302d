"""Every notebook in notebooks/ runs top to bottom in a real kernel, without an error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXPECTED_ROWS = {"quickstart": 5, "analysis": 240}  # what each waits for with wait_for_rows


def test_there_are_notebooks() -> None:
    assert {path.name for path in NOTEBOOKS} >= {"quickstart.ipynb", "analysis.ipynb"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    # After "Run All" the server still serves (the capture URL shown stays alive) and the
    # table still streams: stopping them is an optional cell's function, not a step.
    notebook.cells.append(nbformat.v4.new_code_cell("assert server.running and table.running"))
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell; stops the kernel
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    # The live table was displayed as a widget, not as text, and once per cell that makes it.
    assert any(WIDGET_VIEW in output.get("data", {}) for output in outputs)
    # Once per cell that makes it, and nowhere else: a second view of one table confuses.
    for cell in notebook.cells:
        makes_one = cell.cell_type == "code" and "bin.live_table(" in cell.source
        views = [o for o in cell.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
        assert len(views) == makes_one, cell.source
    assert client.km is None or not client.km.is_alive()
    # The widget state saved with the notebook (what nbconvert and the docs site draw) is
    # the table's latest: its updates count as the running cell's, and the cell that waits
    # for rows ends once the page has them.
    models = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    [table] = [m["state"] for m in models.values() if "rows" in m["state"]]
    assert table["stats"]["count"] >= EXPECTED_ROWS[path.stem]
