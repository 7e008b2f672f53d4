"""A caller that retries a bad version's failures (`retry_on: [defect]`) draws again: with
one retry on a version that fails a share r of the visits, about r² of the calls fail."""

from __future__ import annotations

import math

import simulator
from simulator.scenario.loader import load_scenario
from tests.helpers import SCENARIOS

ROLLING = SCENARIOS / "one-world" / "rolling-bad-version.yaml"
RATIO = 0.5


def _failed_share(retry_on: list[str]) -> tuple[float, int]:
    handler = [{"work": "1ms"}, {"call": "api", "retries": 1, "retry_on": retry_on}]
    deploy = {"at": "15min", "version": 1, "strategy": "rolling", "defect": {"error_ratio": RATIO}}
    overrides = {
        "services": {
            "front": {"replicas": 4, "concurrency": 8, "handler": handler},
            "api": {
                "replicas": 8,
                "concurrency": 2,
                "service_time": {"distribution": "exponential", "mean": "50ms"},
                "deploys": [deploy],
            },
        },
        "traffic": {"front": {"rate": "80/s", "timeout": "2s"}},
        "horizon": "30min",
    }
    result = simulator.run(load_scenario(ROLLING, overrides=overrides), seed=2)
    requests = result.tables["requests"]
    served = requests[requests["arrival"] > 16 * 60.0]  # the rollout is over: all version 1
    return float((served["status"] == "defect").mean()), len(served)


def test_retrying_a_defect_fails_about_the_square_of_its_ratio():
    once, n = _failed_share(["timeout"])
    retried, m = _failed_share(["timeout", "defect"])
    # binomial standard errors over tens of thousands of requests: six of them apart at most
    assert abs(once - RATIO) < 6 * math.sqrt(RATIO * (1 - RATIO) / n)
    assert abs(retried - RATIO**2) < 6 * math.sqrt(RATIO**2 * (1 - RATIO**2) / m)
