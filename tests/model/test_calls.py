"""Calls between services in a run: breakers, load shedding, optional calls, slowdowns."""

import pytest

import simulator


def exponential(mean: str) -> dict:
    return {"distribution": "exponential", "mean": mean}


def front_and_back(**front) -> dict:  # type: ignore[no-untyped-def]
    return {
        "horizon": "300s",
        "services": {
            "front": {"replicas": 2, "concurrency": 8, "service_time": exponential("1ms"),
                      "handler": [{"work": None}, {"call": "back", "timeout": "50ms"}], **front},
            "back": {"replicas": 2, "concurrency": 8, "service_time": exponential("5ms"),
                     "slowdowns": [{"at": "100s", "duration": "60s", "factor": 100}]},
        },
        "traffic": {"front": {"rate": 50}},
    }  # fmt: skip


def test_a_circuit_breaker_fails_fast_while_the_dependency_is_slow_then_closes():
    result = simulator.run(front_and_back(circuit_breaker={"enabled": True}))
    requests = result.requests
    during = requests[(requests.arrival > 110) & (requests.arrival < 160)]
    assert (during.status == "circuit_open").mean() > 0.5
    assert ((during.end - during.arrival)[during.status == "circuit_open"] < 0.01).all()
    after = requests[requests.arrival > 200]
    assert (after.status == "ok").mean() > 0.99
    events = result.tables["events"]
    changes = events[events.kind == "circuit_breaker"].detail.tolist()
    assert "calls to back: open" in changes and changes[-1] == "calls to back: closed"


def test_without_a_breaker_requests_wait_for_the_timeout():
    result = simulator.run(front_and_back())
    requests = result.requests
    during = requests[(requests.arrival > 110) & (requests.arrival < 160)]
    assert (during.status == "timeout").mean() > 0.9
    assert (during.status == "circuit_open").sum() == 0


def test_optional_calls_degrade_gracefully():
    scenario = front_and_back()
    scenario["services"]["front"]["handler"][1]["optional"] = True
    requests = simulator.run(scenario).requests
    assert (requests.status == "ok").all()


def test_queue_limits_shed_load_and_bound_the_queue():
    scenario = {
        "horizon": "600s",
        "services": {"api": {"replicas": 2, "queue_limit": 5, "load_balancer": "round-robin",
                             "service_time": exponential("100ms")}},
        "traffic": {"api": {"rate": 30}},  # 150% of capacity
    }  # fmt: skip
    result = simulator.run(scenario)
    assert result.tables["timeseries"].queued.max() <= 2 * 5
    assert result.summary["error_rate_rejected"] == pytest.approx(1 / 3, abs=0.05)
    rejected = result.requests[result.requests.status == "rejected"]
    assert (rejected.end == rejected.arrival).all()


def test_waiting_for_the_first_k_is_faster_than_waiting_for_all():
    def fan_out(wait_for):  # type: ignore[no-untyped-def]
        return {
            "horizon": "300s",
            "services": {
                "root": {"concurrency": 32, "handler": [
                    {"parallel": [{"call": "leaf", "count": 5}], "wait_for": wait_for}]},
                "leaf": {"concurrency": 64, "service_time": exponential("10ms")},
            },
            "traffic": {"root": {"rate": 20}},
        }  # fmt: skip

    first = simulator.run(fan_out(3)).summary
    everyone = simulator.run(fan_out("all")).summary
    assert first["latency_p99_s"] < everyone["latency_p99_s"]
    assert first["requests_completed"] == everyone["requests_completed"]  # same arrivals


def test_calls_to_unknown_services_and_cycles_are_refused():
    with pytest.raises(simulator.ScenarioError, match="calls a service that does not exist"):
        simulator.load_scenario({"services": {"a": {"handler": [{"call": "nope"}]}}})
    with pytest.raises(simulator.ScenarioError, match="cycle: a → b → a"):
        simulator.load_scenario(
            {"services": {"a": {"handler": [{"call": "b"}]}, "b": {"handler": [{"call": "a"}]}}}
        )
    with pytest.raises(simulator.ScenarioError, match="expected a step with one of the keys"):
        simulator.load_scenario({"services": {"a": {"handler": [{"sleep": "1s"}]}}})
