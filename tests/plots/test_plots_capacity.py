"""Capacity and cost charts: replicas, nodes and spend over time (fast: tiny spike runs)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.figure import Figure

import simulator
from simulator.plots import capacity_over_time, cost_over_time, save_figure, slide_theme
from simulator.plots.capacity import (
    _union,
    node_boots,
    nodes_over_time,
    requested_replicas,
    spend_by_kind,
)
from tests.helpers import MMC, SCENARIOS

SPIKE = SCENARIOS / "what-if" / "hacker-news-spike.yaml"

TINY = {
    "horizon": "1500s",
    "warmup": "100s",
    "traffic.blog.profile.start": "200s",
    "traffic.blog.profile.ramp_up": "100s",
    "traffic.blog.profile.hold": "500s",
    "traffic.blog.profile.decay": "100s",
    "cluster.node_types.m5.large.boot_time": "30s",
    "autoscaling.behavior.scale_down.stabilization_window_seconds": "60s",
    "autoscaling.nodes.scale_down_delay": "60s",
}
"""A whole spike in 25 simulated minutes: up, hold, back down, nodes booting and leaving."""


@pytest.fixture(scope="module")
def elastic() -> simulator.Result:
    return simulator.run(SPIKE, overrides={**TINY, "name": "elastic"})


@pytest.fixture(scope="module")
def fixed() -> simulator.Result:
    return simulator.run(SPIKE, overrides={**TINY, "name": "fixed", "autoscaling.enabled": False})


@pytest.fixture(scope="module")
def no_cluster() -> simulator.Result:
    return simulator.run(MMC, overrides={"horizon": "300s", "warmup": "30s"})


@pytest.fixture(scope="module")
def empty() -> simulator.Result:
    """Nothing is sampled after warm-up: the timeseries and costs tables are empty."""
    result = simulator.run(SPIKE, overrides={**TINY, "horizon": "300s", "warmup": "250s"})
    tables = {
        **result.tables,
        "timeseries": result.tables["timeseries"].iloc[0:0],
        "costs": result.tables["costs"].iloc[0:0],
        "requests": result.tables["requests"].iloc[0:0],
    }
    return simulator.Result(result.scenario, result.seed, result.summary, tables)


def texts(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(mpl.text.Text))


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


# ------------------------------------------------------------------------------ data


def test_the_tiny_spike_scales_up_and_back_down(elastic: simulator.Result) -> None:
    kinds = elastic.tables["events"]
    scaled = kinds[kinds["component"].astype(str).str.startswith("autoscaler/")]
    assert {"scale_up", "scale_down"} <= set(scaled["kind"].astype(str))
    assert (scaled["component"].astype(str) == "autoscaler/nodes").any()


def test_nodes_over_time_gives_the_billed_node_seconds(elastic: simulator.Result) -> None:
    steps = nodes_over_time(elastic)
    time, nodes = steps["time"].to_numpy(), steps["nodes"].to_numpy()
    assert time[0] == elastic.scenario.warmup and time[-1] == elastic.scenario.horizon
    assert (np.diff(nodes[:-1]) != 0).all()  # change points only
    node_seconds = float((nodes[:-1] * np.diff(time)).sum())
    period = elastic.scenario.horizon - elastic.scenario.warmup
    assert node_seconds / period == pytest.approx(elastic.summary["nodes_mean"], rel=1e-9)
    samples = elastic.tables["costs"]
    level = nodes[np.searchsorted(time, samples["time"].to_numpy(), side="right") - 1]
    assert (np.abs(level - samples["nodes"].to_numpy()) <= 1).all()


def test_nodes_over_time_falls_back_to_the_samples(elastic: simulator.Result) -> None:
    scaling = elastic.tables["scaling"]
    nodes = scaling["kind"] == "nodes"
    garbled = scaling.copy()
    garbled.loc[nodes, "to"] = 7  # no longer agrees with the samples
    result = simulator.Result(
        elastic.scenario, 1, elastic.summary, {**elastic.tables, "scaling": garbled}
    )
    steps = nodes_over_time(result)
    assert set(steps["time"]) <= {*elastic.tables["costs"]["time"], elastic.scenario.horizon}
    exact = nodes_over_time(elastic)
    assert not set(exact["time"]) <= {*elastic.tables["costs"]["time"], elastic.scenario.horizon}


def test_spend_splits_baseline_and_extra(
    elastic: simulator.Result, fixed: simulator.Result
) -> None:
    spend = spend_by_kind(elastic)
    assert spend is not None
    price = 0.096
    assert spend["price_usd_per_hour"].iloc[0] == pytest.approx(price)
    assert spend["baseline_usd_per_hour"].iloc[0] == pytest.approx(spend["nodes"].min() * price)
    total = spend["baseline_usd_per_hour"] + spend["extra_usd_per_hour"]
    assert np.allclose(total, spend["nodes"] * price)
    assert spend["extra_usd_per_hour"].max() > 0
    flat = spend_by_kind(fixed)
    assert flat is not None and (flat["extra_usd_per_hour"] == 0).all()


def test_requested_replicas_follow_the_scaling_table(elastic: simulator.Result) -> None:
    asked = requested_replicas(elastic, "blog")
    assert asked["time"].iloc[0] == 0.0
    assert asked["replicas"].iloc[0] == elastic.scenario.services["blog"].replicas
    assert asked["replicas"].max() > asked["replicas"].iloc[0]
    assert requested_replicas(elastic, "nothing").empty
    scaling = elastic.tables["scaling"]
    blog = scaling[(scaling["kind"] == "replicas") & (scaling["target"] == "blog")]
    assert list(asked["time"].iloc[1:]) == list(blog["time"])
    assert list(asked["replicas"].iloc[1:]) == list(blog["to"])


def test_capacity_reads_the_scaling_table_not_the_event_prose(elastic: simulator.Result) -> None:
    events = elastic.tables["events"]
    silent = events[~events["component"].astype(str).str.startswith("autoscaler/")]
    without_prose = simulator.Result(
        elastic.scenario, 1, elastic.summary, {**elastic.tables, "events": silent}
    )
    assert requested_replicas(without_prose, "blog").equals(requested_replicas(elastic, "blog"))
    assert node_boots(without_prose).equals(node_boots(elastic))
    assert nodes_over_time(without_prose).equals(nodes_over_time(elastic))
    no_table = {k: v for k, v in elastic.tables.items() if k != "scaling"}
    older = simulator.Result(elastic.scenario, 1, elastic.summary, no_table)
    assert requested_replicas(older, "blog").empty and node_boots(older).empty
    assert "asked for" not in texts(capacity_over_time(older))


def test_node_boots_last_the_boot_time(elastic: simulator.Result) -> None:
    boots = node_boots(elastic)
    assert not boots.empty
    assert np.allclose(boots["ready"] - boots["time"], 30.0)
    assert (boots["nodes"] >= 1).all()


# ------------------------------------------------------------------------------ charts


def test_capacity_over_time_shows_replicas_nodes_and_traffic(elastic: simulator.Result) -> None:
    fig = capacity_over_time(elastic)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3  # traffic against capacity, replicas, nodes: no twin axes
    labels = texts(fig)
    for text in (
        "elastic: capacity over time",
        "blog: replicas serving",
        "replicas asked for by the autoscaler",
        "nodes billed",
        "nodes booting (30 s)",
        "requests sent per second",
    ):
        assert text in labels
    load, replicas = fig.axes[0], fig.axes[1]
    assert replicas.get_xlim() == pytest.approx((100 / 60, 1500 / 60))  # minutes
    serving = replicas.get_lines()[0].get_ydata()
    assert max(serving) > elastic.scenario.services["blog"].replicas
    # the capacity line is in the traffic's own unit: replicas × concurrency / mean service time
    assert load.get_ylabel() == "requests/s" and replicas.get_ylabel() == "replicas"
    (capacity,) = load.get_lines()
    blog = elastic.scenario.services["blog"]
    per_replica = blog.concurrency / blog.service_time.mean
    assert capacity.get_ydata() == pytest.approx(np.asarray(serving) * per_replica)
    assert "blog: most the serving replicas can take (at 100% busy)" in labels


def test_capacity_over_time_zooms(elastic: simulator.Result) -> None:
    fig = capacity_over_time(elastic, start=150, end=500)
    assert fig.axes[0].get_xlim() == pytest.approx((150, 500))  # seconds, for a short window
    with pytest.raises(ValueError, match="end after start"):
        capacity_over_time(elastic, start=500, end=500)


def test_capacity_of_a_fixed_run_has_no_autoscaler_lines(fixed: simulator.Result) -> None:
    labels = texts(capacity_over_time(fixed))
    assert "asked for" not in labels and "nodes booting" not in labels
    assert "nodes billed" in labels


def test_capacity_without_a_cluster_has_one_panel(no_cluster: simulator.Result) -> None:
    fig = capacity_over_time(no_cluster)
    assert len(fig.axes) == 2  # traffic against capacity, and replicas
    assert "nodes" not in fig.axes[0].get_xlabel()


def test_cost_over_time_of_one_run(elastic: simulator.Result) -> None:
    fig = cost_over_time(elastic)
    labels = texts(fig)
    assert "elastic: cost over time" in labels
    assert f"${elastic.summary['cost_usd']:.2f} over" in labels
    assert "nodes added by the autoscaler" in labels
    assert fig.axes[0].get_ylabel() == "spend rate ($/h)"


def test_cost_over_time_compares_runs(
    elastic: simulator.Result, fixed: simulator.Result, no_cluster: simulator.Result
) -> None:
    fig = cost_over_time({"fixed": fixed, "elastic": elastic, "no cluster": no_cluster})
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in panels] == ["fixed", "elastic", "no cluster"]
    assert panels[0].get_ylim() == panels[1].get_ylim()  # shared: areas compare at a glance
    labels = texts(fig)
    assert f"${fixed.summary['cost_usd']:.2f} over" in labels
    assert "no priced nodes" in labels


def test_cost_over_time_on_given_axes(elastic: simulator.Result, fixed: simulator.Result) -> None:
    fig = Figure()
    axes = fig.subplots(2, 1)
    assert cost_over_time({"a": elastic, "b": fixed}, ax=axes) is fig
    assert axes[0].get_title(loc="left") == "a"
    with pytest.raises(ValueError, match="one per run"):
        cost_over_time({"a": elastic, "b": fixed}, ax=axes[0])
    fig = Figure()
    (load, replicas, nodes) = fig.subplots(3, 1)
    assert capacity_over_time(elastic, ax=(load, replicas, nodes)) is fig
    assert (load.get_ylabel(), replicas.get_ylabel()) == ("requests/s", "replicas")
    assert nodes.get_ylabel() == "nodes"
    with pytest.raises(ValueError, match="two or three Axes"):
        capacity_over_time(elastic, ax=load)


def test_empty_runs_say_why(empty: simulator.Result, no_cluster: simulator.Result) -> None:
    assert "no samples after warm-up" in texts(cost_over_time(empty))
    assert "no samples in this period" in texts(capacity_over_time(empty))
    assert "no priced nodes" in texts(cost_over_time(no_cluster))


def test_charts_save_slide_sized_without_pyplot(elastic: simulator.Result, tmp_path: Path) -> None:
    had_pyplot = "matplotlib.pyplot" in sys.modules
    with slide_theme():
        written = save_figure(capacity_over_time(elastic), tmp_path / "capacity")
        written += save_figure(cost_over_time({"elastic": elastic}), tmp_path / "cost")
    assert [p.name for p in written] == ["capacity.png", "capacity.svg", "cost.png", "cost.svg"]
    for path in (tmp_path / "capacity.png", tmp_path / "cost.png"):
        width, height = png_size(path)
        assert width / height == pytest.approx(16 / 9, rel=1e-3) and width >= 1920
    assert cost_over_time(elastic)._repr_png_().startswith(b"\x89PNG")  # type: ignore[attr-defined]
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


def test_overlapping_boots_shade_as_one_span() -> None:
    starts, ends = np.array([0.0, 10.0, 50.0, 5.0]), np.array([30.0, 40.0, 80.0, 20.0])
    assert _union(starts, ends) == [(0.0, 40.0), (50.0, 80.0)]
