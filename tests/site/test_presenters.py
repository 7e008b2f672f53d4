"""The presenters' page (site/presenters.md): the talk as ten charts, each shown with the
one command that draws it. The site's build runs every command to draw the page's images
(site/prepare.py, a failing command fails the build) and the browser test loads the page;
these checks need no build: each command is one `sresim chart` would take, names a chart
it knows, and writes the file the page shows."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from simulator.chart_catalogue import ERA_CHARTS, RUN_CHARTS, is_sweep_chart, sweep_chart
from simulator.cli import _parser, main
from tests.helpers import ROOT

_SPEC = importlib.util.spec_from_file_location("site_prepare", ROOT / "site" / "prepare.py")
assert _SPEC is not None and _SPEC.loader is not None
prepare = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(prepare)
PAGE = prepare.PRESENTERS.read_text(encoding="utf-8")
CHARTS = prepare.presenter_charts(PAGE)


def test_the_page_shows_ten_charts_each_with_its_command():
    assert len(CHARTS) == 10
    assert PAGE.count("```{figure}") == 10  # no figure without a command
    images = [image for image, _ in CHARTS]
    assert len(set(images)) == 10


@pytest.mark.parametrize("image, command", CHARTS, ids=[Path(i).stem for i, _ in CHARTS])
def test_each_command_names_a_chart_and_writes_the_file_shown(image, command, tmp_path):
    arguments = prepare.presenter_arguments(command, tmp_path / Path(image).name)
    args = _parser().parse_args(arguments)
    assert args.command == "chart"
    written = command.split(" -o ")[1].split()[0]
    assert Path(written).stem == Path(image).stem  # the page's file is the command's file
    if args.eras:
        assert args.scenario in ERA_CHARTS and args.chart is None
    elif is_sweep_chart(args.chart):
        _, *axes = sweep_chart(args.chart)
        swept = {key for key, _ in args.axis}
        assert {axis for axis in axes if axis is not None} <= swept
    else:
        assert args.chart in RUN_CHARTS


def test_one_command_draws_its_chart(tmp_path):
    image, command = next(chart for chart in CHARTS if "value-stream" in chart[1])
    path = tmp_path / Path(image).name
    assert main(prepare.presenter_arguments(command, path)) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_page_is_linked_from_the_index_and_the_readme():
    index = (ROOT / "site" / "index.md").read_text(encoding="utf-8")
    assert "(presenters)" in index and re.search(r"^For presenters <presenters>$", index, re.M)
    assert "site/presenters.md" in (ROOT / "README.md").read_text(encoding="utf-8")
