"""The analytic fidelity: exact where queueing theory is exact, and cross-validated against
request-level runs of the same scenarios where it approximates.

The cross-validation (`test_cross_validation`) pools independent request-level
replications and asserts |analytic − simulated| ≤ tolerance·simulated + the 99% Student-t
half-width of the simulated mean: the tolerance is the model error measured with long runs
(docs/analytic.md, `benchmarks/bench_analytic.py --accuracy`), the half-width the noise of
these short runs. A second assertion keeps the runs long enough for the check to mean
something (their 95% half-width at most `precision` of the simulated value).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import simulator
from simulator import theory
from simulator.analytic import compile_model, erlang_b, erlang_c, visits_per_request
from simulator.analytic.crosscheck import call_graph, single_queue
from simulator.analytic.stations import batch_queue, split_sizes
from tests.helpers import MMC, SCENARIOS, confidence_half_width

EXPONENTIAL = {"distribution": "exponential", "mean": "1s"}


def queue(rate: float, service: dict, replicas: int = 1, policy: str = "central-queue", **extra):
    scenario = {
        "name": "q",
        "horizon": "20000s",
        "warmup": "500s",
        "fidelity": "analytic",
        "services": {"q": {"replicas": replicas, "service_time": service, "load_balancer": policy}},
        "traffic": {"q": {"rate": rate}},
    }
    return {**scenario, **extra}


def analytic(scenario) -> simulator.Result:
    if isinstance(scenario, dict):
        scenario = {**scenario, "fidelity": "analytic"}
        return simulator.run(scenario)
    return simulator.run(scenario, overrides={"fidelity": "analytic"})


# ----------------------------------------------------------------------------- building blocks


def test_erlang_arrays_match_the_theory_module():
    rng = np.random.default_rng(3)
    servers = rng.integers(1, 400, 300)
    load = servers * rng.uniform(0.01, 0.999, 300)
    b = erlang_b(servers, load)
    c = erlang_c(servers, load)
    for n, a, got_b, got_c in zip(servers, load, b, c, strict=True):
        assert got_b == pytest.approx(theory.erlang_b(int(n), float(a)), rel=1e-9, abs=1e-300)
        assert got_c == pytest.approx(theory.erlang_c(int(n), float(a)), rel=1e-9, abs=1e-300)
    assert erlang_c(np.array([4]), np.array([4.0]))[0] == 1.0  # saturated: everyone waits


def test_expected_visits_follow_count_times_probability_down_the_dag():
    scenario = simulator.load_scenario(
        {
            "services": {
                "a": {"handler": [{"call": "b", "count": 2, "probability": 0.5}, {"call": "c"}]},
                "b": {"handler": [{"parallel": [{"call": "c", "count": 3}], "wait_for": 1}]},
                "c": {},
            },
            "traffic": {"a": {"rate": 1}},
        }
    )
    visits = visits_per_request(scenario)
    assert visits.tolist() == [[1.0, 1.0, 1.0 + 1.0 * 3]]


def test_batch_queue_is_exact_for_single_arrivals_and_for_mx_m1():
    mean, servers, rho = 0.01, 4, 0.8
    rate = rho * servers / mean
    sizes = np.array([[0.0, 1.0]])
    wait, p_wait = batch_queue(np.array([rate]), sizes, np.array([mean]), servers)
    expected = theory.mmc(rate, mean, servers)
    assert wait[0] == pytest.approx(expected.wait_mean, rel=1e-9)
    assert p_wait[0] == pytest.approx(expected.p_wait, rel=1e-9)
    # M^X/M/1, X uniform on 1..4: Wq = ρE[S]/(1 − ρ) + (E[X²]/E[X] − 1)E[S]/(2(1 − ρ)).
    x = np.arange(5)
    sizes = np.array([[0, 0.25, 0.25, 0.25, 0.25]])
    ex, ex2 = sizes[0] @ x, sizes[0] @ x**2
    rho = 0.7
    batches = rho / (ex * mean)
    wait, _ = batch_queue(np.array([batches]), sizes, np.array([mean]), 1)
    exact = rho * mean / (1 - rho) + (ex2 / ex - 1) * mean / (2 * (1 - rho))
    assert wait[0] == pytest.approx(exact, rel=1e-9)


def test_batches_split_over_replicas():
    sizes = np.array([0.0, 0.0, 0.0, 1.0])  # always 3 calls
    dealt = split_sizes(sizes, 2, "round-robin")  # 1 or 2 each, on average half and half
    assert dealt.tolist() == [0.0, 0.5, 0.5, 0.0]
    thinned = split_sizes(sizes, 3, "random")
    assert thinned @ np.arange(4) == pytest.approx(1.0)
    assert thinned.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- exactness


def test_mmc_mean_is_erlang_c_exactly():
    result = analytic(MMC)
    expected = theory.mmc(3.6, 1.0, 4)
    summary = result.summary
    assert summary["latency_mean_s"] == pytest.approx(expected.sojourn_mean, rel=1e-12)
    assert summary["wait_mean_s"] == pytest.approx(expected.wait_mean, rel=1e-12)
    assert summary["p_wait"] == pytest.approx(expected.p_wait, rel=1e-12)
    assert summary["utilisation"] == pytest.approx(0.9, rel=1e-12)
    assert summary["queue_length_mean"] == pytest.approx(expected.queue_length_mean, rel=1e-12)
    assert summary["in_system_mean"] == pytest.approx(expected.in_system_mean, rel=1e-12)
    for kpi, q in [("latency_p50_s", 0.5), ("latency_p99_s", 0.99), ("latency_p999_s", 0.999)]:
        exact = theory.mmc_sojourn_quantile(q, 3.6, 1.0, 4)
        assert summary[kpi] == pytest.approx(exact, rel=1e-3), kpi  # the lattice's resolution


def test_mm1_p99_is_that_of_an_exponential_sojourn():
    summary = analytic(queue(0.7, EXPONENTIAL)).summary
    mean = theory.mm1(0.7, 1.0).sojourn_mean
    assert summary["latency_mean_s"] == pytest.approx(mean, rel=1e-12)
    assert summary["latency_p99_s"] == pytest.approx(mean * math.log(100), rel=1e-3)
    assert summary["latency_p50_s"] == pytest.approx(mean * math.log(2), rel=1e-3)


@pytest.mark.parametrize(
    "service",
    [
        {"distribution": "gamma", "mean": "1s", "cv": 1.5},
        {"distribution": "lognormal", "mean": "1s", "cv": 0.5},
        {"distribution": "constant", "mean": "1s"},
    ],
)
def test_mg1_mean_wait_is_pollaczek_khinchine(service):
    summary = analytic(queue(0.6, service)).summary
    expected = theory.mg1(0.6, 1.0, service.get("cv", 0.0))
    assert summary["wait_mean_s"] == pytest.approx(expected.wait_mean, rel=1e-12)
    assert summary["p_wait"] == pytest.approx(0.6, rel=1e-12)


def test_random_balancing_is_one_mm1_per_replica():
    summary = analytic(queue(2.8, EXPONENTIAL, 4, "random")).summary
    assert summary["wait_mean_s"] == pytest.approx(theory.mm1(0.7, 1.0).wait_mean, rel=1e-12)


def test_round_robin_over_single_workers_is_ek_m1():
    """Round-robin deals every 4th arrival to a replica: Erlang-4 gaps, an E4/M/1 queue."""
    summary = analytic(queue(3.2, EXPONENTIAL, 4, "round-robin")).summary
    exact = theory.ek_m1(0.8, 1.0, 4)
    assert summary["wait_mean_s"] == pytest.approx(exact.wait_mean, rel=1e-9)
    assert summary["p_wait"] == pytest.approx(exact.p_wait, rel=1e-9)
    # The E_n/M/1 sojourn is exponential: its p99 is ln(100) times its mean.
    assert summary["latency_p99_s"] == pytest.approx(exact.sojourn_mean * math.log(100), rel=1e-3)


# ----------------------------------------------------------------------------- time and tables


def test_diurnal_traffic_folds_into_a_days_states():
    scenario = queue(0.5, {"distribution": "exponential", "mean": "1s"}, horizon="7d")
    scenario["warmup"] = "1d"
    scenario["traffic"]["q"]["profile"] = {"profile": "diurnal", "trough_ratio": 0.3}
    result = analytic(scenario)
    events = result.tables["events"]
    assert "distinct load states" in events.detail.iloc[0]
    states = int(events.detail.iloc[0].split("(")[1].split()[0])
    assert states <= 24 * 6 + 1  # one day at 10-minute steps (7 d / 1000 ≥ 10 min)
    # The daily mean rate is the base rate: 6 measured days of 0.5/s.
    assert result.summary["requests_completed"] == pytest.approx(0.5 * 6 * 86400, rel=1e-3)
    series = result.tables["entry_timeseries"]
    hour = (series.time % 86400) / 3600
    peak = series.loc[series.latency_mean_s.idxmax()]
    assert abs((peak.time % 86400) / 3600 - 14) <= 0.5
    assert series.arrival_rate.max() == pytest.approx(0.5 * 2 / 1.3, rel=1e-3)
    assert len(hour) == 6 * 24 * 6


def test_overload_is_carried_as_a_backlog_and_reported():
    scenario = queue(0.5, EXPONENTIAL, horizon="4h", warmup="0s")
    scenario["traffic"]["q"]["profile"] = {
        "profile": "step",
        "at": "1h",
        "factor": 2.4,
        "until": "2h",
    }
    result = analytic(scenario)
    events = result.tables["events"]
    kinds = events.set_index("kind").time
    assert kinds["saturated"] == pytest.approx(3600)
    assert kinds["recovered"] > 7200  # the backlog takes time to drain
    series = result.tables["timeseries"]
    assert series.utilisation.max() == pytest.approx(1.0)
    assert series.utilisation.max() <= 1.0
    # The backlog builds at (1.2 − 1) work-s per s for an hour: 720 s of delay at its top.
    latency = result.tables["entry_timeseries"].latency_mean_s
    assert 700 < latency.max() < 722
    assert math.isfinite(result.summary["latency_p99_s"])


def test_tables_have_the_request_level_shapes():
    scenario = call_graph(0.6, 2000)
    result = analytic(scenario)
    reference = simulator.run({**scenario, "horizon": 30.0, "fidelity": "request"})
    for name in ("requests", "spans"):
        assert result.tables[name].empty
        assert list(result.tables[name].columns) == list(reference.tables[name].columns)
        assert (result.tables[name].dtypes == reference.tables[name].dtypes).all()
    assert set(reference.summary) <= set(result.summary)
    assert list(result.tables["services"].index) == list(scenario["services"])
    columns = {"time", "service", "utilisation", "queued_mean", "arrival_rate"}
    assert columns <= set(result.tables["timeseries"].columns)
    assert list(result.tables["events"].columns) == ["time", "component", "kind", "detail"]
    assert list(result.tables["entry_points"].index) == ["front"]


def test_a_client_timeout_fails_the_tail_and_leaves_the_successful_requests():
    # M/M/1, ρ = 0.7, mean service 1 s: the sojourn is exponential with rate μ − λ = 0.3.
    scenario = queue(0.7, EXPONENTIAL, slo={"latency": "2s"})
    scenario["traffic"]["q"]["timeout"] = "5s"
    summary = analytic(scenario).summary
    theta, timeout = 0.3, 5.0
    lost = math.exp(-theta * timeout)
    assert summary["error_rate_timeout"] == pytest.approx(lost, abs=1e-4)
    assert summary["availability"] == pytest.approx(1 - lost, abs=1e-4)
    truncated_mean = 1 / theta - timeout * lost / (1 - lost)
    assert summary["latency_mean_s"] == pytest.approx(truncated_mean, rel=1e-3)
    p99 = -math.log(1 - 0.99 * (1 - lost)) / theta  # quantile of the truncated exponential
    assert summary["latency_p99_s"] == pytest.approx(p99, rel=5e-3)
    assert summary["slo_attainment"] == pytest.approx(1 - math.exp(-theta * 2), abs=1e-4)
    assert summary["requests_failed"] / summary["requests_completed"] == pytest.approx(
        lost / (1 - lost), rel=1e-3
    )


def test_what_it_cannot_model_is_nan_and_logged():
    scenario = queue(0.5, EXPONENTIAL)
    scenario["traffic"]["q"].update({"timeout": "5s", "retries": 2})
    result = analytic(scenario)
    assert math.isnan(result.summary["availability"])
    assert math.isnan(result.summary["requests_failed"])
    assert (result.tables["events"].kind == "not_modelled").any()
    assert result.summary["latency_mean_s"] > 0


def test_cost_is_node_hours_times_price_as_at_request_level():
    scenario = queue(0.5, EXPONENTIAL, horizon="2h", warmup="1h")
    scenario["cluster"] = {"nodes": 3, "price_per_hour": 2.5}
    summary = analytic(scenario).summary
    assert summary["nodes_mean"] == 3
    assert summary["cost_usd"] == pytest.approx(3 * 2.5)
    reference = simulator.run({**scenario, "fidelity": "request"}).summary
    assert summary["cost_usd"] == pytest.approx(reference["cost_usd"])


def test_slo_attainment_is_the_mixture_cdf():
    scenario = queue(0.7, EXPONENTIAL, slo={"latency": "10s"})
    summary = analytic(scenario).summary
    mean = theory.mm1(0.7, 1.0).sojourn_mean
    assert summary["slo_attainment"] == pytest.approx(1 - math.exp(-10 / mean), abs=1e-4)


def test_an_autoscaler_sets_replicas_step_by_step():
    from simulator.analytic import AnalyticServices
    from simulator.model.context import RunContext

    scenario = simulator.load_scenario(queue(1.6, EXPONENTIAL, 2, horizon="1h", warmup="0s"))

    def autoscaler(step, metrics):  # pure: metrics in, target replicas out
        return np.where(metrics.utilisation[0] > 0.7, metrics.replicas[0] + 1, metrics.replicas[0])

    _, tables = AnalyticServices(RunContext.start(scenario, 1), autoscaler=autoscaler).results()
    series = tables["timeseries"]
    assert series.workers.iloc[0] == 2
    assert series.workers.iloc[-1] == 3  # 1.6 Erlangs: 80% of two workers, 53% of three
    assert series.utilisation.iloc[-1] == pytest.approx(1.6 / 3)


def elastic_queue(rate: str, step_to: float | None = None) -> dict:
    """One service of single workers (100 ms), autoscaled on 1-CPU slots of 4-CPU nodes."""
    service = {"distribution": "exponential", "mean": "100ms"}
    scenario = queue(rate, service, 2, horizon="2h", warmup="0s")
    if step_to:
        scenario["traffic"]["q"]["profile"] = {"profile": "step", "at": "1h", "factor": step_to}
    scenario["services"]["q"].update({"min_replicas": 1, "max_replicas": 40})
    scenario["cluster"] = {
        "node_types": {"n": {"count": 1, "cpu": 4, "memory_gb": 16, "price_per_hour": 1.0,
                             "boot_time": "60s", "runtime": "container"}}
    }  # fmt: skip
    scenario["workloads"] = {"microservices": {"cpu": 1, "memory_gb": 1}}
    scenario["autoscaling"] = {"enabled": True, "target_utilisation": 0.5}
    return scenario


def test_the_hpa_settles_where_kubernetes_rule_has_its_fixed_point():
    # 50/s × 100 ms = 5 busy workers; at a 0.5 target the rule's fixed point is 10 replicas,
    # on ⌈10 / 4⌉ = 3 nodes of four 1-CPU slots.
    result = analytic(elastic_queue("50/s"))
    series = result.tables["timeseries"]
    assert series.replicas.iloc[0] == 2
    assert series.replicas.iloc[-1] == 10
    assert series.utilisation.iloc[-1] == pytest.approx(0.5)
    assert result.tables["costs"].nodes.iloc[-1] == 3
    assert (result.tables["events"].kind == "scale_up").any()


def test_scale_down_waits_for_stabilisation_and_empty_nodes_for_their_delay():
    # At 1 h the load drops from 5 to 1 busy worker: 2 replicas at the 0.5 target. The HPA
    # may go down only 300 s after its last higher wish, nodes 10 min after they empty.
    result = analytic(elastic_queue("50/s", step_to=0.2))
    series = result.tables["timeseries"].set_index("time")
    assert series.replicas.loc[3600 + 295] == 10
    assert series.replicas.loc[3600 + 330] == 2
    nodes = result.tables["costs"].set_index("time").nodes
    assert nodes.loc[3600 + 330] == 3
    assert nodes.loc[3600 + 330 + 600] == 1
    assert result.summary["cost_usd"] == pytest.approx(
        (nodes * result.tables["costs"].time.diff().shift(-1).fillna(0).values).sum() / 3600,
        rel=0.01,
    )


def test_the_spike_costs_what_the_request_level_says_within_the_documented_bound():
    # docs/analytic.md, "Autoscaling": on the spike the analytic fleet costs 3-5% less (the
    # request-level HPA sees noisy 15 s utilisation and its 300 s window keeps the highest
    # wish); seed to seed the request level's cost moves by about 1%. Bound: 8%.
    path = SCENARIOS / "what-if" / "hacker-news-spike.yaml"
    small = {"horizon": "3h", "traffic.blog.profile.hold": "30min"}
    fast = analytic(simulator.load_scenario(path, small)).summary
    exact = simulator.run(path, overrides=small).summary
    assert fast["cost_usd"] == pytest.approx(exact["cost_usd"], rel=0.08)
    assert fast["nodes_mean"] < exact["nodes_mean"]
    assert fast["latency_p99_s"] == pytest.approx(exact["latency_p99_s"], rel=0.03)


def test_monolith_is_one_station_holding_the_whole_call_tree():
    scenario = call_graph(0.6, 2000)
    scenario["deployment"] = "monolith"
    result = analytic(scenario)
    services = result.tables["services"]
    assert list(services.index) == ["monolith"]
    rate = 100 * 0.6 / 0.8
    work = 0.005 + 0.010 + 0.004 + 3 * 0.008  # everything, in turn, on one worker
    workers = 2 + 2 + 1 + 3  # the services' replicas, round(11 workers / 8) = 1 worker each
    assert services.utilisation.iloc[0] == pytest.approx(rate * work / workers)


def test_sre_1000_is_a_large_analytic_fleet():
    scenario = simulator.load_scenario(SCENARIOS / "scale" / "sre-1000.yaml")
    assert scenario.fidelity == "analytic"
    assert len(scenario.services) == 1000 and len(scenario.traffic) == 20
    assert scenario.horizon == 30 * 86400
    model = compile_model(scenario)
    peak = np.array([t.rate * 2 / 1.3 for t in scenario.traffic.values()])
    utilisation = (peak @ model.loads[1]) / np.array([s.workers for s in model.stations])
    assert utilisation.max() <= 0.8 + 1e-9
    assert np.median(utilisation) >= 0.6
    assert any(b.sizes.size > 2 for b in model.batches)  # it has fan-outs


# ----------------------------------------------------------------------------- cross-validation

# Request-level runs: scenario → (builder, requests per replication by utilisation).
REPLICATIONS = 5
RUNS = {
    "single-queue": (single_queue, {0.3: 20_000, 0.6: 30_000, 0.9: 40_000}),
    "call-graph": (call_graph, {0.3: 8_000, 0.6: 10_000, 0.9: 16_000}),
}

# Measured with `benchmarks/bench_analytic.py --accuracy` (docs/analytic.md): the largest
# model error over utilisations 0.3, 0.6 and 0.9 was 0.2% (mean) and 1.3% (p99) for the
# single queue, 0.4% and 1.6% for the call graph; these are those, rounded up with room
# for what the long runs could not resolve (their 95% half-width at 0.9 is 1.5–5%).
TOLERANCE = {
    "single-queue": {"latency_mean_s": 0.03, "latency_p99_s": 0.05},
    "call-graph": {"latency_mean_s": 0.03, "latency_p99_s": 0.05},
}

# The short runs must resolve each KPI to this (95% half-width / value), or the check is
# void. Near saturation the queues forget their past slowly (relaxation time ∝ 1/(1 − √ρ)²),
# so at 0.9 these runs can only catch gross errors (about 40% and more in the call graph's
# p99); the long runs behind TOLERANCE resolve 0.9 to a few per cent.
PRECISION = {0.3: 0.03, 0.6: 0.06, 0.9: 0.35}


@pytest.mark.slow
@pytest.mark.parametrize("utilisation", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("name", list(RUNS))
def test_cross_validation(name, utilisation):
    build, requests = RUNS[name]
    scenario = build(utilisation, requests[utilisation])
    predicted = analytic(scenario).summary
    table = simulator.run_replications({**scenario, "fidelity": "request"}, REPLICATIONS).table
    report = []
    for kpi, tolerance in TOLERANCE[name].items():
        values = table[kpi].to_numpy(dtype=float)
        mean = float(values.mean())
        half99 = confidence_half_width(values, 0.99)
        half95 = confidence_half_width(values, 0.95)
        report.append(f"{kpi}: analytic {predicted[kpi]:.5g}, request {mean:.5g} ± {half99:.2g}")
        assert half95 <= PRECISION[utilisation] * mean, f"runs too short: {report[-1]}"
        assert abs(predicted[kpi] - mean) <= tolerance * mean + half99, "; ".join(report)


@pytest.mark.parametrize("fidelity", ["request", "analytic"])
def test_both_fidelities_give_the_declared_columns(fidelity):
    from simulator.metrics.columns import COLUMNS, INDEX

    result = simulator.run(
        SCENARIOS / "what-if" / "hacker-news-spike.yaml",
        overrides={"horizon": "40min", "fidelity": fidelity},
    )
    declared = {table: columns for (table, f), columns in COLUMNS.items() if f == fidelity}
    assert declared
    for table, columns in declared.items():
        frame = result.tables[table]
        names = [frame.index.name, *frame.columns] if table in INDEX else list(frame.columns)
        assert names == list(columns), table


def test_the_analytic_services_walk_their_steps_on_the_runs_clock():
    """Another process on the same environment sees, at any time, the step the clock is in."""
    from simulator.analytic import AnalyticServices
    from simulator.model.context import RunContext

    scenario = simulator.load_scenario(
        SCENARIOS / "what-if" / "hacker-news-spike.yaml",
        overrides={"horizon": "2h", "warmup": "0s", "fidelity": "analytic"},
    )
    context = RunContext.start(scenario, 1)
    services = AnalyticServices(context)
    seen: list[tuple[float, float, float]] = []

    def watch():
        for minute in range(1, 120, 7):
            yield context.env.timeout(minute * 60.0 + 1.0 - context.env.now)
            view = services.current
            seen.append((context.env.now, view.start, float(view.utilisation[0])))

    context.env.process(watch())
    context.env.run(until=scenario.horizon)
    _, tables = services.results()
    series = tables["timeseries"].set_index("time")
    assert len(seen) == 17
    for now, start, utilisation in seen:
        assert start <= now < start + services.timeline.dt[services.timeline.starts == start][0]
        assert utilisation == series.loc[start, "utilisation"]
    assert any(event == "started" for event in context.events.table()["kind"])
