"""The scheduler sweep chart: one legend entry per visible line, saturation marked (fast: a
made-up sweep table, no simulation)."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.plots.scheduling import busyness_and_wait

T_JOBS = [0.1, 1.0, 10.0, 100.0]


def _sweep() -> pd.DataFrame:
    rows = []
    for t in T_JOBS:
        single = min(1.0, 0.15 * (t + 0.35))  # one scheduler: batch and service are the same
        rows.append(
            {"architecture": "monolithic-single-path", "t_job_service": t,
             "busyness_batch": single, "busyness_service": single,
             "wait_mean_s_batch": 0.01 + t, "wait_mean_s_service": 0.02 + t}
        )  # fmt: skip
        for architecture, wait in (("two-level", 1.0), ("shared-state", 0.01)):
            rows.append(
                {"architecture": architecture, "t_job_service": t,
                 "busyness_batch": 0.06, "busyness_service": min(1.0, 0.05 * t),
                 "wait_mean_s_batch": wait, "wait_mean_s_service": 0.001 * t}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_coinciding_lines_are_drawn_once_and_named_together():
    fig = busyness_and_wait(_sweep())
    left, right = fig.axes[:2]
    labels = [line.get_label() for line in left.get_lines()]
    assert labels == [
        "monolithic-single-path, batch = service",
        "two-level, batch = shared-state, batch",
        "two-level, service = shared-state, service",
    ]
    assert [text.get_text() for text in left.get_legend().get_texts()] == labels
    # the waits differ between batch and service, and between two-level and shared-state
    assert len(right.get_lines()) == 5
    assert left.get_xlabel() == "service decision time t_job (s)"
    assert "(s)" in right.get_ylabel()


def test_saturation_points_are_marked_on_both_panels():
    fig = busyness_and_wait(_sweep(), saturation={"monolithic-single-path: saturates": 6.32})
    for axis in fig.axes[:2]:
        marks = [line for line in axis.get_lines() if line.get_linestyle() == ":"]
        assert len(marks) == 1
        assert marks[0].get_xdata()[0] == pytest.approx(6.32)
        assert marks[0].get_label() == "monolithic-single-path: saturates (6.32 s)"


def test_lines_within_half_a_point_are_one_entry_marked_close_and_zero_waits_left_out():
    sweep = _sweep()
    shared = sweep.architecture == "shared-state"
    sweep.loc[shared, "busyness_batch"] = 0.063  # 0.3 points from two-level's 6%
    sweep.loc[shared & (sweep.t_job_service == 0.1), "wait_mean_s_service"] = 0.0
    left, right = busyness_and_wait(sweep).axes[:2]
    labels = [line.get_label() for line in left.get_lines()]
    assert "two-level, batch ≈ shared-state, batch" in labels
    waits = {line.get_label(): line.get_ydata() for line in right.get_lines()}
    assert pd.isna(waits["shared-state, service"][0])  # nothing waited: not on a log scale
