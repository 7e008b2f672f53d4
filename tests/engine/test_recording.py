"""Recording switched off per table (`metrics.record`, issue 11): the same simulation, the
KPIs that need no spans unchanged bit for bit, a budget that drops, and a clear refusal
where a subsystem would read what is not kept (docs/reliability.md)."""

from __future__ import annotations

import math

import pytest

from simulator import ScenarioError, load_scenario, run
from simulator.budget import check_budget
from simulator.errors import BudgetError
from simulator.model.world import World
from simulator.scenario.limits import Limits
from tests.helpers import MMC

RETRIES = {
    "services": {
        "a": {
            "handler": [
                {"call": "b", "timeout": "80ms", "retries": 2, "backoff": "200ms"},
                {"call": "c"},
            ],
            "replicas": 2,
            "concurrency": 64,
            "service_time": {"distribution": "exponential", "mean": "10ms"},
        },
        "b": {
            "replicas": 3,
            "queue_limit": 10,
            "service_time": {"distribution": "exponential", "mean": "40ms"},
        },
        "c": {"replicas": 2, "service_time": {"distribution": "exponential", "mean": "20ms"}},
    },
    "traffic": {"a": {"rate": 20, "timeout": "500ms", "retries": 1, "backoff": "100ms"}},
    "horizon": "600s",
    "warmup": "60s",
}


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_without_spans_every_kpi_but_the_span_derived_ones_is_unchanged():
    """Timeouts and retries exercise every write of a span row: reusing rows must not
    change a single request KPI or station integral."""
    on = run(RETRIES)
    off = run(RETRIES, overrides=["metrics.record.spans=false"])
    # Calls to b time out and retry after a backoff longer than the timeout, when a late
    # answer could land on a reused row: with rows reused at once (`reuse_after` 0) the
    # request KPIs here do change (checked by hand).
    assert on.summary["attempts_mean"] > 1.02 and on.summary["requests_completed"] > 5000
    assert on.summary["error_rate_timeout"] > 0
    differ = [k for k, v in on.summary.items() if not same(v, off.summary[k])]
    assert differ == ["wait_total_mean_s"] and math.isnan(off.summary["wait_total_mean_s"])
    spans = off.tables["spans"]
    assert len(spans) == 0 and list(spans.columns) == list(on.tables["spans"].columns)
    services = off.tables["services"]
    assert services["visits"].isna().all() and services["latency_mean_s"].isna().all()
    assert (services["utilisation"] == on.tables["services"]["utilisation"]).all()
    events = off.tables["events"]
    assert (events["kind"] == "recording_off").sum() == 1


def test_without_spans_the_log_holds_only_the_visits_in_flight():
    world = World(load_scenario(RETRIES, ["metrics.record.spans=false"]), 1)
    world.run()
    visits = run(RETRIES).tables["spans"]
    assert len(world.spans) < len(visits) / 50, (len(world.spans), len(visits))


def test_without_requests_the_request_kpis_are_nan_and_the_rest_unchanged():
    on = run(RETRIES)
    off = run(RETRIES, overrides=["metrics.record.requests=false"])
    assert len(off.tables["requests"]) == 0
    assert math.isnan(off.summary["latency_p99_s"]) and math.isnan(off.summary["availability"])
    assert off.summary["utilisation"] == on.summary["utilisation"]
    assert (off.tables["services"]["visits"] == on.tables["services"]["visits"]).all()


def test_a_run_refused_for_memory_with_spans_fits_without_them():
    limits = Limits(max_memory=100e6)
    with pytest.raises(BudgetError) as caught:
        check_budget(load_scenario(MMC, ["horizon=200000s"]), limits)
    assert "metrics.record.spans=false" in str(caught.value)
    check_budget(load_scenario(MMC, ["horizon=200000s", "metrics.record.spans=false"]), limits)


@pytest.mark.parametrize(
    ("overrides", "key", "reader"),
    [
        (["monitoring.enabled=true", "metrics.record.spans=false"], "spans", "monitoring"),
        (["monitoring.enabled=true", "metrics.record.requests=false"], "requests", "monitoring"),
        (["secrets.kind=vault", "metrics.record.spans=false"], "spans", "secrets"),
    ],
)
def test_subsystems_that_read_a_table_refuse_it_switched_off(overrides, key, reader):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(MMC, overrides)
    message = str(caught.value)
    assert f"metrics.record.{key}" in message and reader in message and "\n" not in message
