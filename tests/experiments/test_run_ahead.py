"""`run_ahead`: a run started on a worker process and taken later is `simulator.run`'s."""

from __future__ import annotations

import pandas as pd
import pytest

import simulator
from simulator.errors import ScenarioError
from simulator.experiments.ahead import run_ahead
from tests.helpers import MMC, SCENARIOS

FAILURES = SCENARIOS / "omega" / "failures.yaml"
SHORT = ["horizon=3h", "warmup=10min"]


def same_result(a, b) -> None:
    pd.testing.assert_series_equal(pd.Series(a.summary), pd.Series(b.summary), check_exact=True)
    assert a.seed == b.seed and sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    assert a.scenario == b.scenario


@pytest.mark.parametrize("seed", [None, 7])
def test_a_run_ahead_is_the_run_done_here(seed):
    ahead = run_ahead(FAILURES, seed, overrides=SHORT)
    here = simulator.run(FAILURES, seed, overrides=SHORT)
    taken = ahead.result()
    assert ahead.done()
    same_result(taken, here)
    assert len(taken.tables["failures"]) > 0 and len(taken.tables["jobs"]) > 0


def test_bad_input_is_raised_at_the_call():
    with pytest.raises(ScenarioError, match="horizon"):
        run_ahead(MMC, overrides=["horizon=-1s"])
    with pytest.raises(ScenarioError, match="seed"):
        run_ahead(MMC, seed=-1)
