"""Charts, the slide theme and the theory reference lines (fast: short horizons only)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure

import simulator
import simulator.plots
from simulator.plots import (
    PALETTE,
    latency_cdf,
    save_figure,
    save_run_charts,
    slide_theme,
    utilisation_over_time,
)
from simulator.plots.data import ecdf_points, latencies_by_service, time_unit
from simulator.theory import ek_m1, mg1, mmc, mmc_sojourn_cdf, mmc_sojourn_quantile
from simulator.theory.reference import Reference, service_reference
from tests.helpers import MMC

TWO_SERVICES = {
    "name": "two-services",
    "horizon": "200s",
    "warmup": "20s",
    "services": {
        "api": {
            "replicas": 2,
            "concurrency": 2,
            "service_time": {"distribution": "exponential", "mean": "100ms"},
            "load_balancer": "central-queue",
        },
        "db": {
            "replicas": 2,
            "service_time": {"distribution": "lognormal", "mean": "20ms", "cv": 2},
            "load_balancer": "least-connections",
        },
    },
    "traffic": {"api": {"rate": "20/s"}, "db": {"rate": "40/s"}},
}


def mmc_scenario(**overrides: object) -> simulator.Scenario:
    return simulator.load_scenario(MMC, overrides=overrides)


@pytest.fixture(scope="module")
def mmc_result() -> simulator.Result:
    return simulator.run(MMC, overrides={"horizon": "2000s"})


@pytest.fixture(scope="module")
def two_result() -> simulator.Result:
    return simulator.run(TWO_SERVICES)


@pytest.fixture(scope="module")
def empty_result() -> simulator.Result:
    """Nothing arrives after warm-up: every request-based table is empty."""
    return simulator.run(
        MMC, overrides={"horizon": "10s", "warmup": "9.9s", "traffic.api.rate": "0.001/s"}
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def title(ax: mpl.axes.Axes) -> str:
    return " ".join(ax.get_title(loc) for loc in ("left", "center", "right"))


def texts(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(mpl.text.Text))


# ------------------------------------------------------------------------------ charts


@pytest.mark.parametrize("which", ["mmc_result", "two_result"])
def test_charts_build(which: str, request: pytest.FixtureRequest) -> None:
    result = request.getfixturevalue(which)
    fig = latency_cdf(result)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert result.scenario.name in title(ax)
    assert "latency (s" in ax.get_xlabel()
    fig = utilisation_over_time(result)
    assert len(fig.axes) == 2
    assert result.scenario.name in fig.get_suptitle()
    for name in result.scenario.services:
        assert name in texts(fig)


def test_latency_cdf_has_percentiles_and_theory(mmc_result: simulator.Result) -> None:
    fig = latency_cdf(mmc_result)
    labels = texts(fig)
    assert "p50" in labels and "p99" in labels
    assert "theory: M/M/4 (Erlang C)" in labels
    for line in fig.axes[0].get_lines():
        assert len(line.get_xdata()) <= 2002  # thinned, plus the 0% start and the run-out


def test_latency_cdf_of_one_service_on_given_axes(two_result: simulator.Result) -> None:
    with slide_theme():
        fig = Figure()
        ax = fig.add_subplot()
        assert latency_cdf(two_result, service="db", ax=ax) is fig
    assert "db" in title(ax)
    assert "theory" not in texts(fig)  # least-connections has no closed form
    with pytest.raises(KeyError):
        latency_cdf(two_result, service="nope")


def test_utilisation_on_given_axes(two_result: simulator.Result) -> None:
    fig = Figure()
    top, bottom = fig.subplots(2, sharex=True)
    assert utilisation_over_time(two_result, ax=(top, bottom)) is fig
    assert top.get_lines() and bottom.get_lines()


def test_many_services_put_percentiles_in_the_legend() -> None:
    services = {
        f"s{i}": {"service_time": {"distribution": "exponential", "mean": "10ms"}} for i in range(5)
    }
    traffic = {name: {"rate": "20/s"} for name in services}
    result = simulator.run(
        {"name": "five", "horizon": "60s", "services": services, "traffic": traffic}
    )
    fig = latency_cdf(result)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert all(f"s{i}: p50" in legend for i in range(5))
    assert legend.count("theory") == 1  # one entry for the five identical M/M/1 lines
    utilisation_over_time(result)


def test_time_axis_unit_follows_horizon(mmc_result: simulator.Result) -> None:
    fig = utilisation_over_time(mmc_result)  # 2000 s: minutes
    assert fig.axes[1].get_xlabel() == "simulated time (min)"
    assert time_unit(30) == ("s", 1.0)
    assert time_unit(6 * 3600) == ("h", 3600.0)


def test_empty_tables_draw_a_note(empty_result: simulator.Result) -> None:
    assert empty_result.tables["requests"].empty
    assert "no completed requests" in texts(latency_cdf(empty_result))
    utilisation_over_time(empty_result)
    empty = {"timeseries": empty_result.tables["timeseries"].iloc[0:0]}
    no_samples = simulator.Result(empty_result.scenario, 1, {}, {**empty_result.tables, **empty})
    assert "no samples" in texts(utilisation_over_time(no_samples))


def test_figures_show_in_notebooks_without_pyplot(empty_result: simulator.Result) -> None:
    png = latency_cdf(empty_result)._repr_png_()  # type: ignore[attr-defined]
    assert png.startswith(b"\x89PNG")


def test_save_run_charts_writes_slide_sized_files(
    two_result: simulator.Result, tmp_path: Path
) -> None:
    written = save_run_charts(two_result, tmp_path)
    names = sorted(p.name for p in written)
    assert names == [
        "latency-cdf.png",
        "latency-cdf.svg",
        "latency-over-time.png",
        "latency-over-time.svg",
        "utilisation.png",
        "utilisation.svg",
    ]
    assert all(p.stat().st_size > 0 for p in written)
    width, height = png_size(tmp_path / "latency-cdf.png")
    assert width / height == pytest.approx(16 / 9, rel=1e-3)
    assert width >= 1920


def test_result_save_writes_data_and_no_charts(
    empty_result: simulator.Result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(simulator.plots, "save_run_charts", lambda *args: calls.append(args))
    written = empty_result.save(tmp_path / "run", table_format="csv")
    assert not calls  # charts are the CLI's to add (tests/interface/test_cli.py)
    assert {p.suffix for p in written} == {".json", ".csv"}


def test_theme_is_scoped_and_save_figure_closes(tmp_path: Path) -> None:
    before = dict(mpl.rcParams)
    with slide_theme():
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(PALETTE)
        fig = Figure()
        fig.add_subplot().plot([0, 1], [0, 1])
    assert dict(mpl.rcParams) == before
    paths = save_figure(fig, tmp_path / "sub" / "line")
    assert [p.name for p in paths] == ["line.png", "line.svg"]
    assert png_size(paths[0]) == (2000, 1125)
    assert not fig.axes  # closed and cleared


# ------------------------------------------------------------------------------ data


def test_ecdf_is_thinned_but_keeps_the_ends() -> None:
    values = np.sort(np.random.default_rng(1).exponential(size=1_000_000))
    x, y = ecdf_points(values)
    assert len(x) <= 2000
    assert x[0] == values[0] and x[-1] == values[-1] and y[-1] == 1.0
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) > 0)
    assert (y > 0.99).sum() >= 200  # the tail keeps its shape (even spacing: 10)
    small = np.array([1.0, 2.0, 3.0])
    assert np.array_equal(ecdf_points(small)[1], [1 / 3, 2 / 3, 1.0])


def test_latencies_by_service_splits_and_sorts(two_result: simulator.Result) -> None:
    requests = two_result.tables["requests"]
    latencies = latencies_by_service(requests)
    assert set(latencies) == {"api", "db"}
    for name, values in latencies.items():
        rows = requests[(requests["service"] == name) & (requests["status"] == "ok")]
        assert np.array_equal(values, np.sort((rows["end"] - rows["arrival"]).to_numpy()))


# ------------------------------------------------------------------------------ theory


def test_reference_for_mmc_matches_theory() -> None:
    reference = service_reference(mmc_scenario(), "api")
    assert isinstance(reference, Reference)
    assert reference.label == "M/M/4 (Erlang C)"
    assert reference.metrics == mmc(3.6, 1.0, 4)
    assert reference.queues == 1
    t = np.array([0.5, 2.0, 10.0])
    assert np.allclose(reference.sojourn_cdf(t), mmc_sojourn_cdf(t, 3.6, 1.0, 4))
    assert reference.sojourn_quantile(0.99) == pytest.approx(
        mmc_sojourn_quantile(0.99, 3.6, 1.0, 4)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"traffic.api.rate": "4/s"},  # utilisation exactly 1
        {"traffic.api.rate": "5/s"},  # overloaded
        {"services.api.load_balancer": "least-connections"},
        {"services.api.load_balancer": "power-of-two"},
        {"services.api.service_time": {"distribution": "gamma", "mean": "1s", "cv": 2}},
        {"services.api.load_balancer": "round-robin", "services.api.concurrency": 2},
    ],
)
def test_reference_is_none_without_exact_theory(overrides: dict[str, object]) -> None:
    assert service_reference(mmc_scenario(**overrides), "api") is None


def test_reference_is_none_without_traffic() -> None:
    scenario = simulator.load_scenario({**TWO_SERVICES, "traffic": {"api": {"rate": "20/s"}}})
    assert service_reference(scenario, "db") is None
    with pytest.raises(KeyError):
        service_reference(scenario, "nope")


def test_random_split_is_mm1_per_replica() -> None:
    reference = service_reference(mmc_scenario(**{"services.api.load_balancer": "random"}), "api")
    assert reference is not None
    assert reference.label == "M/M/1 per replica (random split)"
    assert reference.queues == 4
    assert reference.metrics.arrival_rate == pytest.approx(3.6 / 4)
    assert reference.metrics == mmc(3.6 / 4, 1.0, 1)
    t = np.array([1.0, 10.0])
    assert np.allclose(reference.sojourn_cdf(t), 1 - np.exp(-(1.0 - 0.9) * t))


def test_round_robin_is_ek_m1_per_replica() -> None:
    scenario = mmc_scenario(**{"services.api.load_balancer": "round-robin"})
    reference = service_reference(scenario, "api")
    assert reference is not None
    assert reference.label == "E₄/M/1 per replica (round-robin)"
    assert reference.metrics == ek_m1(0.9, 1.0, 4)
    # GI/M/1: the sojourn time is exponential with the mean sojourn time.
    mean = reference.metrics.sojourn_mean
    assert reference.sojourn_cdf(mean) == pytest.approx(1 - math.exp(-1))
    assert reference.sojourn_quantile(0.5) == pytest.approx(mean * math.log(2))


def test_single_worker_is_mg1() -> None:
    scenario = mmc_scenario(
        **{
            "services.api.replicas": 1,
            "traffic.api.rate": "0.5/s",
            "services.api.service_time": {"distribution": "gamma", "mean": "1s", "cv": 2},
        }
    )
    reference = service_reference(scenario, "api")
    assert reference is not None
    assert reference.label == "M/G/1 (Pollaczek–Khinchine)"
    assert reference.metrics == mg1(0.5, 1.0, 2.0)
    assert reference.sojourn_cdf is None and reference.sojourn_quantile is None


def test_no_theory_line_where_the_textbook_queue_does_not_apply() -> None:
    from simulator.theory.reference import service_reference

    base = {
        "services": {
            "api": {"load_balancer": "central-queue", "replicas": 2},
            "db": {},
        },
        "traffic": {"api": {"rate": 1}},
    }
    assert service_reference(simulator.load_scenario(base), "api") is not None
    for change in (
        {"services.api.handler": [{"work": None}, {"call": "db"}]},
        {"traffic.api.profile": {"profile": "spike"}},
        {"traffic.api.timeout": "1s"},
        {"services.api.queue_limit": 3},
        {"autoscaling.enabled": True},
        {"deployment": "monolith"},
    ):
        assert service_reference(simulator.load_scenario(base, change), "api") is None, change


def test_every_failure_cause_has_a_colour_and_a_label():
    from simulator.metrics.requests import FAILURE_CAUSES
    from simulator.plots.timeline import CAUSE_COLOURS, CAUSE_LABELS

    assert set(CAUSE_COLOURS) == set(CAUSE_LABELS) == set(FAILURE_CAUSES)
