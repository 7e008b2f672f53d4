"""Every number in a notebook's static prose is an input the reader can see, or a cited
constant: a number that the run measures is printed by code, so it cannot drift.

For each markdown cell, every number (digits with optional decimals, a thousands comma, a
percent sign or a unit) must be one of:

* a number in the notebook's code cells, or in a scenario file they load (an input the
  reader sets: `0.9` or a printed "90%" in the code covers "90%" in the prose);
* on the notebook's allow-list below, each with its source (REFERENCE.md, the talk, a paper);
* not a quantity: a section or slide number ("slide 6", "§4", "Figure 7c", "notebook 03"),
  a heading's section number, a number inside a `code span` (code the reader would type)
  or a link's address.

A measured result belongs in a code cell that prints it (`display(Markdown(f"..."))`).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tests.helpers import ROOT, SCENARIOS

NOTEBOOKS = ROOT / "notebooks"

ALLOWED: dict[str, dict[str, str]] = {
    "00": {
        "49": "the wait at full size at the load stated, measured (cell 0; re-measure on change)",
        "1917": "Erlang's paper on waiting times (A. K. Erlang, 1917)",
        "16": "16:9, the slide format of simulator.plots.save_figure",
        "9": "16:9, the slide format of simulator.plots.save_figure",
    },
    "01": {
        "36": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "70": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "2013": "Dean & Barroso, 'The Tail at Scale', Communications of the ACM, 2013",
    },
    "02": {
        "31": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "41": "the wait at full size at the load stated, measured (cell 0; re-measure on change)",
        "2024": "shared/REFERENCE.md, Hacker News front-page spike (harrisonbroadbent.com, 2024)",
        "308": "shared/REFERENCE.md, 'at most 308 at once' (harrisonbroadbent.com, 2024)",
        "25.8": "shared/REFERENCE.md §4: an EC2 cold launch to SSH, about 25.8 s",
        "26": "shared/REFERENCE.md §4: an EC2 cold launch to SSH, about 25.8 s",
        "10": "Kubernetes' HPA tolerance, 10% (REFERENCE.md, 'Other defaults')",
        "2.7": "e ≈ 2.7, a mathematical constant",
    },
    "03": {
        "33": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "77": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "2013": "Schwarzkopf et al., Omega, EuroSys 2013",
        "2011": "Ghodsi et al., DRF, NSDI 2011",
    },
    "04": {
        "34": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
    },
    "07": {
        "45": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "43": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "44": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "6": "the number of section 6 in the notebook's table of its sections",
    },
    "09": {
        "19": "the notebook's own run time at full size, measured (cell 0; re-measure on change)",
        "28": "the wait at full size at the load stated, measured (cell 0; re-measure on change)",
        "0.02": "a value the reader is invited to set in 'What to try' (an input, not a result)",
    },
}
"""Cited constants per notebook (the number as the prose writes it, and where it comes from)."""

_REFERENCE = re.compile(
    r"(?:slides?|figures?|fig\.|sections?|§|notebooks?|cells?|chapter|table|point|"
    r"exercise|step)\s*$",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<![\w.§/\\^_-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:\s?%)?")
_UNIT = re.compile(r"(?:ms|µs|us|s|min|h|d|GB|MB|k|x)\b")
_RANGE_TAIL = re.compile(r"^\s*(?:[–-]|to|and|,)\s*$")
_CODE_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _value(text: str) -> float:
    return float(text.replace(",", "").replace("_", ""))


def _strip(markdown: str) -> str:
    """The prose without code spans, link addresses, math's subscripts and section numbers."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"^(#+\s*)\d+[a-z]?\s*·", r"\1", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*\d+\.\s", " ", text, flags=re.MULTILINE)  # an ordered list's labels
    return re.sub(r"\b\d\d-[a-z][\w-]*", " ", text)  # notebook names, exercise keys


def prose_numbers(markdown: str) -> list[tuple[str, bool]]:
    """Each number in a markdown cell's prose, with whether it is a percentage; section,
    slide and figure numbers (and ranges of them, "slides 9 to 14") left out."""
    text = _strip(markdown)
    found: list[tuple[str, bool]] = []
    reference_until = -1
    for match in _NUMBER.finditer(text):
        before = text[: match.start()]
        if _REFERENCE.search(before[-20:]) or (
            match.start() <= reference_until + 6
            and _RANGE_TAIL.match(text[reference_until : match.start()])
        ):
            reference_until = match.end()
            continue
        glued = text[match.end() :]
        if glued[:1].isalpha() and not _UNIT.match(glued):
            continue  # a name ("4xx", "2b"), not a quantity; "20ms" and "16k" are quantities
        found.append((match.group(1), match.group(0).rstrip().endswith("%")))
    return found


def _scenario_files(code: str) -> set[Path]:
    """The scenario files a notebook's code names, with the presets they extend."""
    names = set(re.findall(r"([\w-]+)\.yaml", code))
    files = {path for path in SCENARIOS.rglob("*.yaml") if path.stem in names}
    pending = list(files)
    while pending:
        path = pending.pop()
        for parent in re.findall(r"^extends:\s*(\S+)", path.read_text(), re.MULTILINE):
            target = (path.parent / parent).resolve()
            if not target.exists():
                target = SCENARIOS / parent
            if target.exists() and target not in files:
                files.add(target)
                pending.append(target)
    return files


def _inputs(notebook: nbformat.NotebookNode) -> tuple[set[float], set[float]]:
    """Every number the reader can see in the code cells and the scenarios they load, and
    the percentages among them ("90%" in a string, "90%" in a comment)."""
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    text = "\n".join([code, *(path.read_text() for path in _scenario_files(code))])
    text = text.replace("_", "")
    values = {float(token) for token in _CODE_NUMBER.findall(text)}
    percents = {float(token) for token in re.findall(r"(\d+(?:\.\d+)?)\s?%", text)}
    return values, percents


def violations(path: Path) -> list[str]:
    """'cell N: number' for each number in the static prose that nothing explains."""
    notebook = nbformat.read(path, as_version=4)
    values, percents = _inputs(notebook)
    allowed = ALLOWED.get(path.name[:2], {})
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for number, percent in prose_numbers(cell.source):
            value = _value(number)
            # "90%" is the code's 0.9 or a "90%" it prints; a bare 90 in the code is another 90
            seen = value in percents or value / 100 in values if percent else value in values
            if number in allowed or seen:
                continue
            found.append(f"cell {index}: {number}{'%' if percent else ''}")
    return found


PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in PATHS])
def test_every_number_in_the_prose_is_an_input_or_cited(path: Path):
    found = violations(path)
    assert not found, (
        f"{path.name}: numbers in the prose that no code cell, scenario or citation gives "
        f"(print measured ones from code): {', '.join(found)}"
    )


@pytest.mark.parametrize("key", sorted(ALLOWED))
def test_every_allowed_number_is_still_quoted(key: str):
    # a citation the prose no longer quotes is a stale exemption that would hide a drift
    (path,) = NOTEBOOKS.glob(f"{key}-*.ipynb")
    notebook = nbformat.read(path, as_version=4)
    quoted = {
        number
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for number, _ in prose_numbers(cell.source)
    }
    assert set(ALLOWED[key]) <= quoted, sorted(set(ALLOWED[key]) - quoted)


def test_the_check_finds_numbers_and_leaves_references_alone():
    text = "Slide 6 and §4 say: 3.6 requests per second, 90% busy, 1,000 agents; `x = 7`."
    assert prose_numbers(text) == [("3.6", False), ("90", True), ("1,000", False)]
    assert prose_numbers("Figures 5–8 of the paper; slides 9 to 14 of the talk") == []
    assert prose_numbers("## 2b · The m5.large node, 00-quickstart, [a](x/4.html)") == []


def test_a_drifted_number_fails(tmp_path: Path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("rate = 3.6"),
        nbformat.v4.new_markdown_cell("At 3.6 per second the mean wait is 2.05 s."),
    ]
    path = tmp_path / "99-example.ipynb"
    nbformat.write(notebook, path)
    assert violations(path) == ["cell 1: 2.05"]
