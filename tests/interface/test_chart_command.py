"""`sresim chart`: one chart of one run into one file, at the size asked, in a theme."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator import load_scenario, run
from simulator.cli import main
from simulator.plots.registry import CHARTS, ChartError, draw_chart, save_one
from simulator.plots.theme import THEMES, chart_theme
from tests.helpers import MMC, SCENARIOS

SHORT_MMC = ["--set", "horizon=2000s", "--set", "warmup=100s"]

WHERE: dict[str, dict[str, str]] = {
    "validation/mmc.yaml": {"horizon": "2000s", "warmup": "100s"},
    "secrets/leak.yaml": {},
    "what-if/discovery-compare.yaml": {},
    "omega/failures.yaml": {"horizon": "1h"},
    "delivery/ticket-with-cab.yaml": {"horizon": "2w"},
}
"""Short runs of shipped scenarios that, between them, have every chart."""

SOURCE: dict[str, str] = {
    **dict.fromkeys(
        ["latency-cdf", "latency-over-time", "utilisation", "capacity", "cost"],
        "validation/mmc.yaml",
    ),
    **dict.fromkeys(["call-graph", "blast-radius"], "secrets/leak.yaml"),
    **dict.fromkeys(["discovery-convergence", "stale-errors"], "what-if/discovery-compare.yaml"),
    **dict.fromkeys(["cluster-heatmap", "failure-timeline"], "omega/failures.yaml"),
    **dict.fromkeys(
        ["cumulative-flow", "lead-time", "operator-time", "value-stream", "incident-timeline"],
        "delivery/ticket-with-cab.yaml",
    ),
}

_RESULTS: dict = {}


def _result(name: str):
    if name not in _RESULTS:
        scenario = load_scenario(SCENARIOS / name, overrides=WHERE[name])
        _RESULTS[name] = run(scenario, progress=False)
    return _RESULTS[name]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_size(path: Path) -> tuple[int, int]:
    root = ET.parse(path).getroot()  # parses: well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.get("viewBox", "").split()) == 4
    return int(root.get("width", "0")), int(root.get("height", "0"))


def test_every_chart_has_a_short_scenario_here():
    assert set(SOURCE) == set(CHARTS)


@pytest.mark.parametrize("name", list(CHARTS))
def test_each_chart_is_drawn_into_a_file_of_the_asked_size(name, tmp_path):
    result = _result(SOURCE[name])
    assert CHARTS[name].applies(result)
    kind = "svg" if list(CHARTS).index(name) % 2 == 0 else "png"
    width, height = (800, 450) if kind == "png" else (1280, 720)
    path = tmp_path / f"{name}.{kind}"
    with chart_theme("slide"):
        save_one(draw_chart(name, result), path, width, height, dpi=100)
    size = png_size(path) if kind == "png" else svg_size(path)
    assert size == (width, height)


@pytest.mark.parametrize("theme", list(THEMES))
def test_themes_change_the_look_and_nothing_outside(theme, tmp_path):
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    with chart_theme(theme):
        figure = draw_chart("latency-cdf", _result("validation/mmc.yaml"))
    background = figure.get_facecolor()
    save_one(figure, tmp_path / "cdf.png", 640, 360, 100)
    assert png_size(tmp_path / "cdf.png") == (640, 360)
    dark = sum(background[:3]) < 1.0
    assert dark == (theme == "dark")
    assert dict(mpl.rcParams) == before


def test_a_chart_the_run_cannot_show_is_refused_with_what_it_needs():
    with pytest.raises(ChartError, match="needs a scheduling: section"):
        draw_chart("cluster-heatmap", _result("validation/mmc.yaml"))


def test_the_command_writes_one_svg(capsys, tmp_path):
    out = tmp_path / "cdf.svg"
    args = ["chart", str(MMC), "latency-cdf", "-o", str(out), *SHORT_MMC, "--size", "1000x500"]
    assert main(args) == 0
    assert svg_size(out) == (1000, 500)
    assert list(tmp_path.iterdir()) == [out]
    assert "latency-cdf of mmc" in capsys.readouterr().out


def test_the_command_takes_a_shipped_name_and_a_theme(tmp_path):
    out = tmp_path / "u.png"
    args = ["chart", "validation/mmc", "utilisation", "-o", str(out), "--theme", "paper"]
    assert main([*args, *SHORT_MMC, "--dpi", "200"]) == 0
    assert png_size(out) == (1280, 720)


def test_list_names_every_chart_once_with_what_it_shows(capsys):
    assert main(["chart", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(CHARTS)
    assert all(len(line.split()) > 3 for line in lines)


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["validation/mmc", "latency-cfd", "-o", "x.svg"],
            "no chart 'latency-cfd'; expected one of",
        ),
        (
            ["validation/mmc", "latency-cdf", "-o", "x.pdf"],
            "expected a file ending in .svg or .png",
        ),
        (["validation/mmc", "latency-cdf"], "expected an output file"),
        (["validation/mmc"], "expected SCENARIO CHART"),
        (["validation/mmc", "cluster-heatmap", "-o", "x.svg", *SHORT_MMC], "needs a scheduling"),
        (["validation/mmc", "latency-cdf", "-o", "x.svg", "--size", "big"], "WIDTHxHEIGHT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(["chart", *args])
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
