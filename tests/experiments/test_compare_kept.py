"""`compare(keep_results=True)` hands each run back whole, so a notebook can run its variants
on two workers and still read their tables: the same Results as `run` one after the other."""

from __future__ import annotations

import pandas as pd

import simulator
from tests.helpers import MMC

SHORT = {"horizon": "600s", "warmup": "100s"}


def test_kept_runs_are_the_runs_of_each_scenario_on_the_shared_seeds():
    four = simulator.load_scenario(MMC, SHORT)
    five = simulator.load_scenario(MMC, {**SHORT, "services.api.replicas": 5})
    kept = simulator.compare(four, five, replications=2, keep_results=True, jobs=2)
    assert [len(reps.results) for reps in kept.replications] == [2, 2]
    for scenario, reps in zip((four, five), kept.replications, strict=True):
        for i, result in enumerate(reps.results):
            alone = simulator.run(scenario, seed=four.seed + i)
            assert result.seed == alone.seed
            pd.testing.assert_series_equal(
                pd.Series(result.summary), pd.Series(alone.summary), check_exact=True
            )
            for name in ("requests", "spans", "timeseries"):
                pd.testing.assert_frame_equal(
                    result.tables[name], alone.tables[name], check_exact=True
                )
    plain = simulator.compare(four, five, replications=2)
    pd.testing.assert_frame_equal(kept.table, plain.table, check_exact=True)


def test_compare_keeps_no_result_unless_asked():
    plain = simulator.compare(simulator.load_scenario(MMC, SHORT), replications=2)
    assert [reps.results for reps in plain.replications] == [[]]
