"""The eras, growth and scheduler experiments run through the engine and still give what
single runs of their scenarios give, bit for bit, serially and on workers."""

from __future__ import annotations

import pandas as pd

import simulator
from simulator.experiments.eras import ERAS, ERAS_DIR, run_eras
from simulator.experiments.growth import DELIVERY_ONLY, growth_sweep
from simulator.experiments.scheduling import decision_time_sweep
from tests.helpers import SCENARIOS


def test_the_growth_sweep_is_its_single_runs():
    eras = [ERAS_DIR / "sysadmin.yaml", ERAS_DIR / "sre.yaml"]
    serial = growth_sweep(eras, [1, 20], horizon="2w", warmup="1w", seed=3)
    parallel = growth_sweep(eras, [1, 20], horizon="2w", warmup="1w", seed=3, jobs=2)
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)
    overrides = {**DELIVERY_ONLY, "horizon": "2w", "warmup": "1w", "delivery.services": 20}
    alone = simulator.run(ERAS_DIR / "sre.yaml", 3, overrides=overrides)
    row = serial[(serial["era"] == "sre") & (serial["services"] == 20)].iloc[0]
    assert row["lead_time_median_s"] == alone.summary["lead_time_median_s"]
    assert row["operator_utilisation"] == alone.summary["operator_utilisation"]


def test_the_decision_time_sweep_is_its_single_runs():
    example = SCENARIOS / "omega" / "example.yaml"
    short = ["horizon=2h", "warmup=10min"]
    sweep = decision_time_sweep(example, [0.1, 10], ["monolithic-single-path"], short, jobs=2)
    assert list(sweep["t_job_service"]) == [0.1, 10]
    alone = simulator.run(
        example,
        overrides=[
            *short,
            "scheduler.architecture=monolithic-single-path",
            "scheduler.t_job.service=10s",
        ],
    )
    row = sweep.iloc[1]
    for kpi, value in alone.summary.items():
        assert row[kpi] == value or (value != value and row[kpi] != row[kpi]), kpi


def test_the_eras_are_their_single_runs():
    short = {"horizon": "2w", "warmup": "1w"}
    results = run_eras(seed=2, overrides=short, jobs=2)
    assert list(results) == list(ERAS)
    alone = simulator.run(ERAS_DIR / "devops.yaml", 2, overrides={**short, "delivery.services": 10})
    assert pd.Series(results["devops"].summary).equals(pd.Series(alone.summary))
    pd.testing.assert_frame_equal(results["devops"].tables["changes"], alone.tables["changes"])
