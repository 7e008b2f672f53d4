"""Sweep charts draw what the summary says: means, bands, theory, and a heat map."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator.plots.sweep import default_charts, kpi_against_axis, kpi_heatmap, save_sweep_charts
from simulator.plots.theme import close_figure

AXES = ["traffic.api.rate", "services.api.replicas"]


def summary() -> pd.DataFrame:
    rows = []
    point = 0
    for replicas in (4, 5):
        for rate in (2.0, 3.0, 3.5):
            mean = rate / replicas
            rows.append(
                {
                    "point": point,
                    "traffic.api.rate": rate,
                    "services.api.replicas": replicas,
                    "kpi": "wait_mean_s",
                    "mean": mean,
                    "ci95_half_width": 0.1,
                    "ci95_low": mean - 0.1,
                    "ci95_high": mean + 0.1,
                    "n": 3,
                    "theory": mean * 1.01 if replicas == 4 else math.nan,
                }
            )
            point += 1
    return pd.DataFrame(rows)


def test_one_line_per_value_of_the_other_axis_with_band_and_theory():
    fig = kpi_against_axis(summary(), "wait_mean_s", "traffic.api.rate", AXES)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    four = lines["replicas = 4: mean"]
    assert list(four.get_xdata()) == [2.0, 3.0, 3.5]
    assert np.allclose(four.get_ydata(), [0.5, 0.75, 0.875])
    assert np.allclose(lines["replicas = 5: mean"].get_ydata(), [0.4, 0.6, 0.7])
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2  # the 4-replica theory and its legend entry; none for 5
    assert np.allclose(dashed[0].get_ydata(), np.array([0.5, 0.75, 0.875]) * 1.01)
    assert len(ax.collections) == 2  # a confidence band per line
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert math.isclose(band.min(), 0.4) and math.isclose(band.max(), 0.975)
    close_figure(fig)


def test_the_heat_map_has_a_cell_per_point_with_its_value():
    fig = kpi_heatmap(summary(), "wait_mean_s", "traffic.api.rate", "services.api.replicas", AXES)
    ax = fig.axes[0]
    image = ax.get_images()[0].get_array()
    assert image.shape == (2, 3)
    assert np.allclose(image[1], [0.4, 0.6, 0.7])  # replicas 5 on the upper row
    assert {t.get_text() for t in ax.texts} == {"0.5", "0.75", "0.875", "0.4", "0.6", "0.7"}
    close_figure(fig)


def test_a_heat_map_says_why_when_a_third_axis_varies():
    table = summary()
    table["other"] = [1, 2, 1, 2, 1, 2]
    fig = kpi_heatmap(
        table, "wait_mean_s", "traffic.api.rate", "services.api.replicas", [*AXES, "other"]
    )
    assert "other varies too" in fig.axes[0].texts[0].get_text()
    close_figure(fig)


def test_charts_are_written_whole_and_the_defaults_cover_both_axes(tmp_path):
    charts = default_charts(summary(), AXES, ["wait_mean_s"])
    assert charts == [
        ("wait_mean_s", "traffic.api.rate", None),
        ("wait_mean_s", "traffic.api.rate", "services.api.replicas"),
    ]
    written = save_sweep_charts(summary(), AXES, charts, tmp_path / "charts")
    assert sorted(p.name for p in written) == sorted(
        p.name for p in (tmp_path / "charts").iterdir()
    )
    assert len(written) == 4  # PNG and SVG each
