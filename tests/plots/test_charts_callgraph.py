"""The call-graph chart and latency over time (fast: short horizons only)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import matplotlib as mpl
import pytest
from matplotlib.figure import Figure

import simulator
from simulator.plots import (
    call_graph_chart,
    latency_over_time,
    save_figure,
    slide_theme,
)
from simulator.topology import chain, fan_out_tree
from tests.helpers import MMC, SCENARIOS

SMALL = {
    "name": "small",
    "horizon": "30s",
    "warmup": "2s",
    "services": {
        **fan_out_tree(2, 3, work="2ms", concurrency=2),
        "svc-1": {
            "concurrency": 2,
            "handler": [
                {"work": "2ms"},
                {"parallel": [{"call": "svc-1-1", "count": 2}, {"call": "svc-1-2"}]},
                {"call": "svc-1-3", "probability": 0.5, "timeout": "20ms", "retries": 1},
            ],
        },
        "svc-1-3": {"queue_limit": 0, "handler": [{"work": "30ms"}]},
    },
    "traffic": {"svc-1": {"rate": "40/s", "timeout": "60ms", "retries": 1}},
}
"""A fan-out whose slow third child times out and sheds load: some requests fail, and
some are retried by their clients."""


@pytest.fixture(scope="module")
def small_result() -> simulator.Result:
    return simulator.run(SMALL)


@pytest.fixture(scope="module")
def empty_result() -> simulator.Result:
    """Nothing arrives after warm-up: every request-based table is empty."""
    return simulator.run(
        MMC, overrides={"horizon": "10s", "warmup": "9.9s", "traffic.api.rate": "0.001/s"}
    )


def texts(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(mpl.text.Text))


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


# ---------------------------------------------------------------------------- call graph


def test_call_graph_chart_of_a_run(small_result: simulator.Result) -> None:
    fig = call_graph_chart(small_result)
    assert isinstance(fig, Figure)
    words = texts(fig)
    assert "small: call graph" in words
    for name in SMALL["services"]:
        assert name in words
    assert "p99 latency at the service" in words
    assert "×2" in words and "×0.5" in words  # calls per visit other than 1
    assert "parallel call" in words and "worker" in words
    assert len(fig.axes) == 2  # the graph and its colour bar


def test_call_graph_chart_of_a_scenario_alone() -> None:
    fig = call_graph_chart(simulator.load_scenario({"name": "plain", "services": chain(4)}))
    words = texts(fig)
    assert "mean local work per visit" in words and "svc-4" in words
    assert "parallel call" not in words  # a chain calls in turn


def test_call_graph_chart_of_the_social_network_preset() -> None:
    preset = SCENARIOS / "presets" / "deathstarbench-social-network.yaml"
    with slide_theme():
        fig = call_graph_chart(preset)
    width, height = fig.get_size_inches()
    assert width / height == pytest.approx(16 / 9, rel=1e-3)
    assert "post-storage-" in texts(fig)  # long names are broken at a hyphen
    assert fig._repr_png_().startswith(b"\x89PNG")  # type: ignore[attr-defined]


def test_call_graph_chart_without_requests_or_services(empty_result: simulator.Result) -> None:
    assert "no requests" in texts(call_graph_chart(empty_result))
    empty = simulator.load_scenario({"name": "nothing"})
    assert "no services" in texts(call_graph_chart(empty))


def test_call_graph_chart_on_given_axes(small_result: simulator.Result) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert call_graph_chart(small_result, ax=ax) is fig
    assert "call graph" in ax.get_title()


# ---------------------------------------------------------------------------- latency over time


def test_latency_over_time_shows_traffic_and_failures(small_result: simulator.Result) -> None:
    requests = small_result.tables["requests"]
    assert (requests["status"] != "ok").any() and (requests["attempts"] > 1).any()
    fig = latency_over_time(small_result)
    words = texts(fig)
    assert "small: latency over time" in words
    for label in ("p50 latency", "p99 latency", "requests sent per second", "attempts per second"):
        assert label in words
    assert "timed out" in words or "rejected" in words
    assert len(fig.axes) == 3  # latency, its traffic twin, failures
    latency = fig.axes[0]
    assert "time the request was sent (s)" in fig.axes[1].get_xlabel() or latency.get_xlabel()


def test_latency_over_time_windows(small_result: simulator.Result) -> None:
    default = latency_over_time(small_result).axes[0].get_lines()[0]
    finished = len(small_result.tables["requests"])  # ~1,100: windows of ~200 requests
    assert len(default.get_xdata()) == pytest.approx(finished / 200, abs=1)
    fine = latency_over_time(small_result, window=0.5).axes[0].get_lines()[0]
    assert len(fine.get_xdata()) == 56  # 28 s measured in half-second windows
    whole = latency_over_time(small_result, window=1000).axes[0].get_lines()[0]
    assert len(whole.get_xdata()) == 1
    with pytest.raises(ValueError, match="window"):
        latency_over_time(small_result, window=0)
    with pytest.raises(KeyError, match="svc-1"):
        latency_over_time(small_result, service="nope")


def test_latency_over_time_without_failures_has_one_panel() -> None:
    result = simulator.run(
        {"name": "calm", "horizon": "20s", "services": chain(2, work="1ms"),
         "traffic": {"svc-1": {"rate": "20/s"}}}
    )  # fmt: skip
    fig = latency_over_time(result, service="svc-1")
    assert len(fig.axes) == 2  # latency and the traffic twin
    assert "timed out" not in texts(fig) and "at svc-1" in texts(fig)


def test_latency_over_time_of_an_empty_run(empty_result: simulator.Result) -> None:
    assert empty_result.tables["requests"].empty
    assert "no finished requests" in texts(latency_over_time(empty_result))


def test_latency_over_time_on_given_axes(small_result: simulator.Result) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert latency_over_time(small_result, ax=ax) is fig
    assert "latency over time" in ax.get_title()


def test_charts_save_slide_sized_without_pyplot(
    small_result: simulator.Result, tmp_path: Path
) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    with slide_theme():
        written = save_figure(latency_over_time(small_result), tmp_path / "latency-over-time")
        graph = call_graph_chart(small_result)
    assert [p.name for p in written] == ["latency-over-time.png", "latency-over-time.svg"]
    width, height = png_size(written[0])
    assert width / height == pytest.approx(16 / 9, rel=1e-3) and width >= 1920
    assert graph._repr_png_().startswith(b"\x89PNG")  # type: ignore[attr-defined]
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot
