"""Discovery runs on the experiment engine's worker processes are the runs done one after the
other in this process, bit for bit: notebook 04 runs its kinds, its tuned variants, its
misrouting seeds and its organised runs on two workers and reads their tables."""

from __future__ import annotations

import pandas as pd

import simulator
from tests.helpers import ROOT

COMPARE = ROOT / "scenarios" / "what-if" / "discovery-compare.yaml"
SHORT = ["horizon=900s", "warmup=100s"]  # past the node failure (5 min) and its replacement
TABLES = ("discovery_changes", "spans", "requests")


def _same(kept: simulator.Result, alone: simulator.Result) -> None:
    assert kept.seed == alone.seed
    pd.testing.assert_series_equal(
        pd.Series(kept.summary), pd.Series(alone.summary), check_exact=True
    )
    for name in TABLES:
        pd.testing.assert_frame_equal(kept.tables[name], alone.tables[name], check_exact=True)


def test_kinds_compared_on_two_workers_are_the_kinds_run_one_by_one():
    kinds = ["consul", "static"]
    kept = simulator.compare(
        *[simulator.load_scenario(COMPARE, [*SHORT, f"discovery.kind={kind}"]) for kind in kinds],
        names=kinds,
        keep_results=True,
        jobs=2,
    )
    for kind, reps in zip(kinds, kept.replications, strict=True):
        (result,) = reps.results
        alone = simulator.run(COMPARE, overrides=[*SHORT, f"discovery.kind={kind}"])
        assert len(alone.tables["discovery_changes"]) > 0
        _same(result, alone)


def test_seeds_replicated_on_two_workers_are_the_seeds_run_one_by_one():
    overrides = [*SHORT, "discovery.kind=skydns", "discovery.dns_ttl=60s"]
    kept = simulator.run_replications(
        COMPARE, 2, seed=1, overrides=overrides, keep_results=True, jobs=2
    )
    assert [r.seed for r in kept.results] == [1, 2]
    stale = 0
    for result in kept.results:
        alone = simulator.run(COMPARE, seed=result.seed, overrides=overrides)
        _same(result, alone)
        stale += int((alone.tables["spans"]["status"] == "stale_endpoint").sum())
    assert stale > 0  # the runs do route to removed replicas: the comparison is not empty
