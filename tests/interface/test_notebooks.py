"""Every notebook runs from top to bottom at a small size, and is committed clean.

A notebook takes its sizes from one papermill `parameters` cell. The execution test injects
SMALL (only the names that notebook's parameters cell defines), so the course runs in
seconds here while a student gets the full-size run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from tests.helpers import ROOT

NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNEL = "python3"

SMALL = {
    "horizon": "2000s",
    "warmup": "200s",
    "replications": 2,
    "sweep_points": 3,
    "weeks": 3,
    "growth_weeks": 2,
    "most_services": 100,
}
"""Small sizes for every notebook; a new size parameter in a notebook belongs here too."""

CELL_TIMEOUT_S = 120
"""A cell that runs this long at the small size is a bug (a size left out of SMALL)."""


def _ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def parameters_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", [])
    ]


def test_there_are_notebooks():
    assert PATHS, f"no notebooks in {NOTEBOOKS}"


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_runs_small(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits it: no window, no display
    declared = papermill.inspect_notebook(str(path))
    parameters = {name: value for name, value in SMALL.items() if name in declared}
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters=parameters,
        kernel_name=KERNEL,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
        execution_timeout=CELL_TIMEOUT_S,
    )  # raises PapermillExecutionError, naming the cell and the traceback, if a cell fails


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_is_committed_clean(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    with_outputs = [index for index, cell in enumerate(code) if cell.outputs]
    counted = [index for index, cell in enumerate(code) if cell.execution_count is not None]
    assert not with_outputs, f"code cells {with_outputs} have outputs: clear them before commit"
    assert not counted, f"code cells {counted} have execution counts: clear them before commit"
    assert notebook.metadata.get("kernelspec", {}).get("name") == KERNEL
    tagged = parameters_cells(notebook)
    assert len(tagged) == 1, "expected exactly one code cell tagged 'parameters'"
    assert code[0] is tagged[0], "the parameters cell should be the first code cell"
