"""The requests that bad versions fail at the analytic fidelity (`AnalyticSli`), against the
request level's: a request survives its call tree, not its expected visits.

Three entry points share leaf services whose versions fail a share of their visits:
`front` calls `rare` (error ratio 1) with probability 0.05, `twice` (0.3) twice in turn and
`extra` (1) as an optional call; `fan` sends three calls at once to `twice` and needs two
answers; `retrying` calls `twice` once and retries a defect once. Exactly, a request fails
with 1 − 0.95 × 0.7² = 0.5345 at `front` (the expected-visits formula said 1: the 5% of
requests that reach `rare` counted as all of them), 1 − (0.7³ + 3 × 0.3 × 0.7²) = 0.216 at
`fan` and 0.3² = 0.09 at `retrying`.

The request level draws about 24,000 requests per entry point in the measured four
minutes (after the rollouts end): its failed share is binomial, and the test allows four
standard errors, sqrt(p(1 − p) / n), about 0.013 at `front` (a false alarm about once in
16,000 runs per entry point). Measured at seed 1: 0.5367, 0.2192, 0.0916.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import simulator
from simulator.analytic import AnalyticServices
from simulator.model.context import RunContext
from simulator.scenario.loader import load_scenario

EXACT = {"front": 1 - 0.95 * 0.7**2, "fan": 1 - (0.7**3 + 3 * 0.3 * 0.7**2), "retrying": 0.3**2}


def _leaf(error_ratio: float) -> dict[str, Any]:
    """A service whose version 1 (all of it from the first minute on) fails a share."""
    deploy = {
        "at": "1min",
        "version": 1,
        "strategy": "rolling",
        "rolling": {"max_surge": "100%", "max_unavailable": "0%", "min_ready": "0s"},
        "defect": {"error_ratio": error_ratio},
    }
    exponential = {"distribution": "exponential", "mean": "2ms"}
    return {"replicas": 2, "concurrency": 4, "service_time": exponential, "deploys": [deploy]}


SCENARIO: dict[str, Any] = {
    "name": "call-tree",
    "horizon": "6min",
    "warmup": "2min",
    "services": {
        "front": {
            "replicas": 2,
            "concurrency": 8,
            "handler": [
                {"work": "1ms"},
                {"call": "rare", "probability": 0.05},
                {"call": "twice", "count": 2},
                {"call": "extra", "optional": True},
            ],
        },
        "fan": {
            "replicas": 2,
            "concurrency": 8,
            "handler": [
                {"work": "1ms"},
                {"parallel": [{"call": "twice", "count": 3}], "wait_for": 2},
            ],
        },
        "retrying": {
            "replicas": 2,
            "concurrency": 8,
            "handler": [
                {"work": "1ms"},
                {"call": "twice", "retries": 1, "retry_on": ["timeout", "defect"]},
            ],
        },
        "rare": _leaf(1.0),
        "twice": _leaf(0.3),
        "extra": _leaf(1.0),
    },
    "traffic": {e: {"rate": "100/s"} for e in EXACT},
}


def _analytic(overrides: dict[str, Any] | None = None) -> AnalyticServices:
    scenario = load_scenario(SCENARIO, {"fidelity": "analytic", **(overrides or {})})
    context = RunContext.start(scenario, 1)
    services = AnalyticServices(context)
    context = replace(context, analytic=services.handles())
    context.env.run(until=scenario.horizon)
    return services


def test_a_scrape_fails_the_share_the_call_tree_gives():
    """Every scrape after the rollouts: bad requests / requests = the exact share per entry
    point (no SLO latency, no timeout: only the versions make requests bad)."""
    services = _analytic()
    assert services._sli is not None
    scrape = services._sli.scrape(200.0, 260.0)
    names = list(SCENARIO["services"])
    for entry, share in EXACT.items():
        i = names.index(entry)
        assert scrape.bads[i] / scrape.totals[i] == pytest.approx(share, rel=1e-12)
    # the visits that fail at each station are still its visits × its error ratio
    for leaf, ratio in (("rare", 1.0), ("twice", 0.3), ("extra", 1.0)):
        i = names.index(leaf)
        assert scrape.failed[i] == pytest.approx(scrape.visits[i] * ratio, rel=1e-12)


def test_the_run_counts_the_requests_the_call_tree_fails():
    """The KPIs: the mean of the three shares (equal traffic), all as defects (to 1e-4: the
    failed are counted of the requests sent in the measured period, the rate divides them
    by those that finished in it)."""
    summary, _ = _analytic().results()
    assert summary["error_rate_defect"] == pytest.approx(np.mean(list(EXACT.values())), rel=1e-4)


def test_the_request_level_fails_the_same_shares():
    """Within four binomial standard errors, per entry point."""
    result = simulator.run(load_scenario(SCENARIO, {"fidelity": "request"}), seed=1)
    requests = result.tables["requests"]
    served = requests[requests["arrival"] > 120.0]
    for entry, share in EXACT.items():
        mine = served[served["service"] == entry]
        n = len(mine)
        assert n > 20_000
        measured = float((mine["status"] != "ok").mean())
        assert abs(measured - share) < 4 * math.sqrt(share * (1 - share) / n), entry


def test_an_outage_retried_as_unavailable_and_a_defect_not():
    """A caller that retries `unavailable` but not `defect`: its callee down for a share u
    of the time and failing d of the rest, one retry: the call fails with
    d + u × (d + u) (the unretried defect, or an outage and then anything)."""
    from simulator.analytic.sli import _final_failure

    d, u = 0.2, 0.1
    failed = _final_failure(
        np.array([1 - d - u]), np.array([1 - d]), np.array([2.0]), np.array([False]),
        np.array([True]),
    )  # fmt: skip
    assert failed[0] == pytest.approx(d + u * (d + u))
    # no retry: the attempt's failure; both retried: its square
    for on, expected in (((False, False), d + u), ((True, True), (d + u) ** 2)):
        got = _final_failure(
            np.array([1 - d - u]), np.array([1 - d]), np.array([1.0 + any(on)]),
            np.array([on[0]]), np.array([on[1]]),
        )  # fmt: skip
        assert got[0] == pytest.approx(expected)


def test_a_monolith_fails_each_request_once():
    """A monolith's request is one visit of its one station: it fails with the station's
    error ratio, whatever its in-process calls."""
    only_twice = {"services.rare.deploys": [], "services.extra.deploys": []}
    services = _analytic({"deployment": "monolith", **only_twice})
    assert services._sli is not None
    scrape = services._sli.scrape(200.0, 260.0)
    names = list(SCENARIO["services"])
    for entry in EXACT:
        i = names.index(entry)
        assert scrape.bads[i] / scrape.totals[i] == pytest.approx(0.3, rel=1e-12)
