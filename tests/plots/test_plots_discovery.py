"""The convergence chart names what each of its lines is: the colour the discovery kind,
the line style the change (a node failure, a planned scale-in), each in the legend."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

import simulator
from simulator.plots.discovery import CHANGE_STYLES, convergence_curves
from tests.helpers import SCENARIOS

COMPARE = SCENARIOS / "what-if" / "discovery-compare.yaml"


@pytest.fixture(scope="module")
def runs() -> dict[str, simulator.Result]:
    size = ["horizon=900s", "warmup=60s", "discovery.events.1.at=600s"]
    return {
        kind: simulator.run(COMPARE, overrides=[*size, f"discovery.kind={kind}"])
        for kind in ("consul", "kubernetes")
    }


def test_each_line_is_named_by_its_kind_and_its_change(runs):
    fig = convergence_curves(runs)
    ax = fig.axes[0]
    legend = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    failure, scale_in = CHANGE_STYLES["node-failure"], CHANGE_STYLES["scale-in"]
    assert legend == ["consul", "kubernetes", failure[1], scale_in[1]]
    curves = [line for line in ax.get_lines() if line.get_label().startswith("_")]
    # one line per removal and kind: the node failure and the scale-in, in two styles
    assert len(curves) == 4
    assert {line.get_linestyle() for line in curves} == {failure[0], scale_in[0]}
    assert ax.get_xlabel() == "time since the change (s)"
    plt.close(fig)


def test_on_given_axes_the_legend_stays_on_them(runs):
    fig, ax = plt.subplots()
    convergence_curves(runs["consul"], ax=ax)
    assert ax.get_legend().get_texts()[0].get_text() == "consul"
    plt.close(fig)
