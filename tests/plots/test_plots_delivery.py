"""The value-stream and incident-timeline charts: what they draw is the tables' numbers,
every band is named in the legend, and `save_run_charts` adds them to delivery runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.container import BarContainer

import simulator
from simulator.metrics.delivery import TIMELINE_PHASES
from simulator.plots import save_run_charts
from simulator.plots.delivery import (
    PHASE_LABELS,
    STAGE_LABELS,
    cumulative_flow,
    incident_timeline_chart,
    lead_time_distribution,
    mean_stage_hours,
    value_stream,
)
from simulator.records.delivery import STAGES
from simulator.scenario.units import HOUR
from tests.helpers import SCENARIOS


def small(process: str, **delivery: object) -> dict:
    return {
        "name": process,
        "horizon": "3w",
        "warmup": "1w",
        "delivery": {"services": 4, "process": process, **delivery},
        "organisation": {"operators": 2},
        "monitoring": {"enabled": True},
    }


@pytest.fixture(scope="module")
def runs() -> dict[str, simulator.Result]:
    ticket = small("ticket", defect_probability=0.2, ticket={"cab": {"enabled": True}})
    return {
        "ticket": simulator.run(ticket, seed=1),
        "automated": simulator.run(small("automated", defect_probability=0.2), seed=1),
    }


def bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_value_stream_stacks_the_mean_hours_of_each_stage(runs):
    fig = value_stream(runs)
    hours_ax, share_ax = fig.axes
    means = {name: mean_stage_hours(result) for name, result in runs.items()}
    drawn = [s for s in STAGES if any(means[n][s] > 0 for n in runs)]
    assert legend_texts(fig) == [STAGE_LABELS[s] for s in drawn]
    stacks = bars(hours_ax)
    assert len(stacks) == len(drawn)
    for container, stage in zip(stacks, drawn, strict=True):
        widths = [patch.get_width() for patch in container.patches]
        np.testing.assert_allclose(widths, [means[n][stage] for n in runs])
    # Each bar is the run's mean lead time; the shares add up to 100%.
    totals = np.sum([[p.get_width() for p in c.patches] for c in stacks], axis=0)
    expected = [runs[n].summary["lead_time_mean_s"] / HOUR for n in runs]
    np.testing.assert_allclose(totals, expected, rtol=1e-9)
    shares = np.sum([[p.get_width() for p in c.patches] for c in bars(share_ax)], axis=0)
    np.testing.assert_allclose(shares, 100.0)
    assert [t.get_text() for t in hours_ax.get_yticklabels()] == list(runs)
    assert "hours" in hours_ax.get_xlabel() and "%" in share_ax.get_xlabel()
    # The ticket run waits for releases and the board; the automated one builds and tests.
    assert means["ticket"]["change_board"] > 0 and means["automated"]["build_test"] > 0
    assert means["ticket"]["build_test"] == 0 and means["automated"]["change_board"] == 0


def test_incident_timeline_draws_each_incidents_phases(runs):
    result = runs["ticket"]
    timeline = result.tables["incident_timeline"]
    scenario = result.scenario
    measured = timeline[timeline["started"] >= scenario.warmup].sort_values("started")
    assert len(measured) >= 3
    fig = incident_timeline_chart(result)
    ax = fig.axes[0]
    phases = [p for p in TIMELINE_PHASES if (measured[f"{p}_s"].fillna(0) > 0).any()]
    assert legend_texts(fig)[: len(phases)] == [PHASE_LABELS[p] for p in phases]
    unit = ax.get_xlabel().rsplit("(", 1)[1].rstrip(")")
    seconds = {"h": HOUR, "min": 60.0, "s": 1.0}[unit]
    for container, phase in zip(bars(ax), phases, strict=False):
        widths = [patch.get_width() for patch in container.patches]
        np.testing.assert_allclose(widths, measured[f"{phase}_s"].fillna(0) / seconds)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert [int(label.split()[0][1:]) for label in labels] == list(measured["incident"])


def test_incident_timeline_keeps_the_longest_when_there_are_many(runs):
    result = runs["ticket"]
    fig = incident_timeline_chart(result, limit=2)
    ax = fig.axes[0]
    assert all(len(c.patches) == 2 for c in bars(ax))
    assert "the 2 longest of" in fig.get_suptitle()
    timeline = result.tables["incident_timeline"]
    measured = timeline[timeline["started"] >= result.scenario.warmup]
    longest = set(measured.nlargest(2, "time_to_restore_s")["incident"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {int(label.split()[0][1:]) for label in labels} == longest


def test_value_stream_per_era_from_the_shipped_presets():
    """The charts draw from the era presets as notebooks would use them (delivery only)."""
    from simulator.experiments.growth import DELIVERY_ONLY

    eras = {
        era: simulator.run(
            SCENARIOS / "eras" / f"{era}.yaml", overrides={**DELIVERY_ONLY, "horizon": "3w"}
        )
        for era in ("sysadmin", "sre")
    }
    fig = value_stream(eras)
    labels = legend_texts(fig)
    assert STAGE_LABELS["release_batch"] in labels and STAGE_LABELS["canary"] in labels
    assert incident_timeline_chart(eras["sre"]).axes[0].get_xlabel().endswith("(min)")


def test_save_run_charts_adds_them_to_a_delivery_run(runs, tmp_path: Path):
    written = {p.name for p in save_run_charts(runs["ticket"], tmp_path)}
    assert {"value-stream.png", "incident-timeline.png", "value-stream.svg"} <= written


def test_save_run_charts_leaves_them_out_without_changes_or_incidents(tmp_path: Path):
    """Nothing reaches production in a week of weekly releases committed after Monday's
    cut, and nothing breaks without defects or manual errors."""
    quiet = small("ticket", defect_probability=0.0, ticket={"manual_error_probability": 0.0})
    quiet.update(horizon="5d", warmup="0s")
    result = simulator.run(quiet, seed=1)
    assert result.tables["lead_time_breakdown"].empty
    assert result.tables["incident_timeline"].empty
    written = {p.name for p in save_run_charts(result, tmp_path)}
    assert "cumulative-flow.png" in written
    assert not {"value-stream.png", "incident-timeline.png"} & written
    note = value_stream({"quiet": result})
    assert any("no change reached production" in t.get_text() for t in note.axes[0].texts)


def test_cumulative_flow_never_steps_down_and_marks_the_rollbacks(runs):
    """A rollback is a marker of its own, not a dip in the cumulative lines (a reader of
    cumulative-flow diagrams takes a dip for a bug), and the lines end at the table's counts."""
    result = runs["ticket"]
    deploys, changes = result.tables["deploys"], result.tables["changes"]
    rollbacks = int((deploys["outcome"] == "rollback").sum())
    assert rollbacks > 0, "the fixture should roll back at least one release"
    assert (result.tables["delivery_timeseries"]["deployed"].diff() < 0).any()  # the raw count dips
    ax = cumulative_flow(result).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    ends = {}
    for label in (
        "committed",
        "approved (latest approval)",
        "in production (counted from its last deploy)",
    ):
        y = np.asarray(lines[label].get_ydata(), dtype=float)
        assert (np.diff(y) >= 0).all(), label
        ends[label] = y[-1]
    assert ends["committed"] == len(changes)
    assert ends["in production (counted from its last deploy)"] == changes["deployed"].notna().sum()
    marks = [label for label in lines if label.startswith("rollback (")]
    assert marks == [f"rollback ({rollbacks}): its release leaves production"]
    assert len(lines[marks[0]].get_xdata()) == rollbacks
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("in flight") and "median lead time" in t for t in legend)


def test_cumulative_flow_keeps_lines_that_coincide_visible(runs):
    """The pipeline's three lines lie on top of each other: each keeps its own style."""
    ax = cumulative_flow(runs["automated"]).axes[0]
    styles = {
        (line.get_linestyle(), line.get_linewidth())
        for line in ax.get_lines()
        if not line.get_label().startswith("rollback")
    }
    assert len(styles) == 3


def test_lead_time_distribution_names_each_run_with_its_median(runs):
    ax = lead_time_distribution(runs).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.split(" (")[0] for t in legend] == ["ticket", "automated"]
    assert all("median" in t for t in legend)
    drawn = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len({(line.get_linestyle(), line.get_linewidth()) for line in drawn}) == len(drawn)
    assert "(hours)" in ax.get_xlabel()
