"""`eras.shared_runs`: inside the block an era run asked for again is handed back, not run
again (the site's build draws two era charts of the presenters' page from one set of runs);
a different run, or the same one outside the block, runs."""

from __future__ import annotations

import pandas as pd

from simulator.experiments import eras
from simulator.experiments.eras import run_eras, run_eras_at, shared_runs

SHORT = {"horizon": "2d", "warmup": "1d"}


def counting(monkeypatch) -> list[int]:
    """The number of runs each call of the experiment engine did, in order."""
    calls: list[int] = []
    execute = eras.execute

    def counted(tasks, *args, **kwargs):
        calls.append(len(tasks))
        return execute(tasks, *args, **kwargs)

    monkeypatch.setattr(eras, "execute", counted)
    return calls


def test_the_same_runs_are_run_once_inside_the_block(monkeypatch):
    calls = counting(monkeypatch)
    with shared_runs():
        first = run_eras(overrides=SHORT)
        again = run_eras(overrides=dict(SHORT))
        (mixed,) = run_eras_at([eras.COMMON_SERVICES], overrides=SHORT)
        other = run_eras(overrides=SHORT, seed=2)
    assert calls == [3, 3]  # the first set, and seed 2's; nothing for the two repeats
    assert all(again[era] is first[era] for era in eras.ERAS)
    assert all(mixed[era] is first[era] for era in eras.ERAS)  # the same runs, asked otherwise
    assert all(other[era] is not first[era] for era in eras.ERAS)


def test_outside_the_block_nothing_is_kept(monkeypatch):
    calls = counting(monkeypatch)
    with shared_runs():
        inside = run_eras(overrides=SHORT)
    outside = run_eras(overrides=SHORT)
    assert calls == [3, 3]
    for era in eras.ERAS:  # a fresh run gives the shared run's numbers, bit for bit
        assert outside[era] is not inside[era]
        pd.testing.assert_series_equal(
            pd.Series(outside[era].summary), pd.Series(inside[era].summary), check_exact=True
        )
