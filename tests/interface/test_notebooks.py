"""Every notebook runs from top to bottom at a small size, and is committed clean.

A notebook takes its sizes from one papermill `parameters` cell. The execution test runs the
website's page of the notebook (site/prepare.py): the notebook with SMALL (only the names its
parameters cell defines) set in a cell below that one, so the course runs in seconds here
while a student gets the full-size run. It then hands the executed notebook to the site's
execution cache, so that the site's test (tests/site/, in the same xdist group, hence after
these on the same worker) shows these runs instead of executing the course a second time.
"""

from __future__ import annotations

import importlib.util
import time
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
"""Small sizes for every notebook; a new size parameter in a notebook belongs here too (and
in site/prepare.py's SITE_SIZES: the site shows the notebooks as this test runs them)."""

_SPEC = importlib.util.spec_from_file_location("site_prepare", ROOT / "site" / "prepare.py")
assert _SPEC is not None and _SPEC.loader is not None
prepare = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(prepare)  # the site's sources (site/ is no package)

LEFT_TO_THE_SITE = "00-quickstart"
"""The notebook the site's build executes itself (MyST-NB, in site/notebooks/, reading its
scenario through the `../scenarios` link there), so that this path stays tested in a whole
run; the others it takes from this test's runs. The quickest that reads a scenario file."""

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
    assert NOTEBOOKS / f"{LEFT_TO_THE_SITE}.ipynb" in PATHS


def test_the_site_runs_the_notebooks_at_these_sizes():
    assert prepare.SITE_SIZES == SMALL


@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_the_small_page_sets_the_small_sizes_after_the_parameters(path: Path):
    """The page the execution test runs is the notebook with one cell more: below the
    parameters cell, SMALL's values of the names papermill finds there (what papermill
    would inject)."""
    declared = papermill.inspect_notebook(str(path))
    expected = {name: value for name, value in SMALL.items() if name in declared}
    notebook = nbformat.read(path, as_version=4)
    page = nbformat.reads(prepare.site_notebook_text(path), as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    small = [cell for cell in page.cells if cell.cell_type == "code"]
    tags = [cell.metadata.get("tags", []) for cell in small]
    at = [i for i, tagged in enumerate(tags) if "injected-parameters" in tagged]
    assert len(at) == (1 if expected else 0)
    if expected:
        assert "parameters" in tags[at[0] - 1]  # right below the parameters cell
        assigned: dict[str, object] = {}
        exec(small.pop(at[0]).source, {}, assigned)
        assert assigned == expected
    assert [cell.source for cell in small] == code


@pytest.mark.xdist_group("site")  # on the site's worker, before its build, which reuses them
@pytest.mark.parametrize("path", PATHS, ids=_ids(PATHS))
def test_notebook_runs_small(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits it: no window, no display
    page = tmp_path / f"small-{path.name}"
    page.write_text(prepare.site_notebook_text(path), encoding="utf-8")
    started = time.perf_counter()
    executed = papermill.execute_notebook(
        str(page),
        str(tmp_path / path.name),
        kernel_name=KERNEL,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        log_output=False,
        execution_timeout=CELL_TIMEOUT_S,
    )  # raises PapermillExecutionError, naming the cell and the traceback, if a cell fails
    if path.stem != LEFT_TO_THE_SITE:
        prepare.keep_executed(path, executed, time.perf_counter() - started)


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
