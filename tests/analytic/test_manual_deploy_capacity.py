"""A degraded manual deploy at the analytic fidelity stops the servers in turn, as at
request level: one fewer serves from the step edge nearest the deploy's start to the one
nearest its end (`AnalyticRollouts.hold_replicas`), then all serve again."""

from __future__ import annotations

import numpy as np

import simulator
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS

BY_HAND = SCENARIOS / "one-world" / "deploys-by-hand.yaml"


def _run(**overrides: object) -> simulator.Result:
    overrides = {"fidelity": "analytic", **overrides}
    return simulator.run(load_scenario(BY_HAND, overrides=overrides), seed=3)


def _nearest(edges: np.ndarray, time: float) -> float:
    return float(edges[np.argmin(np.abs(edges - time))])


def test_one_server_fewer_serves_while_the_operator_deploys():
    result = _run()
    series = result.tables["timeseries"]
    edges = np.unique(np.concatenate([series["time"].to_numpy(), [result.scenario.horizon]]))
    rollouts = result.tables["rollouts"]
    windows = list(
        zip(
            rollouts.loc[rollouts["step"] == "started", "time"],
            rollouts.loc[rollouts["step"] == "done", "time"],
            strict=True,
        )
    )
    assert len(windows) >= 2  # a release and its rollback, both by hand
    during = np.zeros(len(series), dtype=bool)
    for start, end in windows:
        during |= (series["time"] >= _nearest(edges, start)) & (
            series["time"] < _nearest(edges, end)
        )
    assert (series.loc[during, "replicas"] == 2).all() and during.any()
    assert (series.loc[~during, "replicas"] == 3).all()


def test_a_deploy_that_takes_the_service_down_leaves_the_replicas_alone():
    """`down`: every request fails meanwhile (the error ratio), no server counts as lost."""
    result = _run(**{"delivery.on_runtime.manual_outage": "down"})
    assert (result.tables["timeseries"]["replicas"] == 3).all()
