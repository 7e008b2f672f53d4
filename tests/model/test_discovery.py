"""Service discovery: gossip against epidemic theory, each kind's propagation, stale routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simulator
from simulator import ScenarioError, load_scenario
from simulator.model.discovery import (
    Propagation,
    anti_entropy_interval,
    convergence_time,
    epidemic_rounds,
    gossip_spread,
    push_pull_interval,
    retransmit_limit,
    suspicion_timeout,
)
from simulator.scenario.discovery import Discovery
from tests.helpers import SCENARIOS

GOSSIP = SCENARIOS / "validation" / "gossip.yaml"
COMPARE = SCENARIOS / "what-if" / "discovery-compare.yaml"


def _rounds_to_converge(agents: int, seeds: range, **kwargs) -> np.ndarray:
    """Rounds until 99.99% of `agents` (not counting the joining one) have heard."""
    found = []
    for seed in seeds:
        rounds = gossip_spread(
            agents + 1,
            3,
            np.random.default_rng(seed),
            source=agents,
            transmissions=retransmit_limit(4, agents + 1),
            **kwargs,
        )
        found.append(convergence_time(rounds[:agents]))
    return np.array(found)


@pytest.mark.parametrize("agents", [100, 1000, 10000])
def test_gossip_rounds_agree_with_epidemic_theory(agents):
    # Push gossip with fanout f reaches everyone in log_{1+f} N + ln N / f + O(1) rounds
    # (Pittel 1987 for f = 1; Frieze & Grimmett for general f). The O(1) term is a bounded
    # random variable; measured here it is +0.4 to +0.9 rounds. A tolerance of 1.5 rounds
    # on the mean of 10 runs admits that term, and still fails a model that is off by one
    # doubling (log2 instead of log4 alone is ≥ 3.3 rounds more at N = 100) or that forgets
    # the ln N / f tail (1.5 to 3.1 rounds fewer).
    rounds = _rounds_to_converge(agents, range(10))
    assert abs(rounds.mean() - epidemic_rounds(agents, 3)) <= 1.5


def test_gossip_convergence_grows_with_the_logarithm_of_the_cluster():
    # Theory: each tenfold increase adds ln 10·(1/ln 4 + 1/3) ≈ 2.4 rounds. A linear model
    # would multiply by ten; require each decade to add between 1 and 4 rounds.
    means = [_rounds_to_converge(n, range(8)).mean() for n in (100, 1000, 10000)]
    steps = np.diff(means)
    assert np.all((steps >= 1.0) & (steps <= 4.0)), means


def test_the_gossip_scenario_reports_seconds_that_grow_logarithmically():
    times = {}
    for nodes in (100, 1000, 10000):
        result = simulator.run(GOSSIP, overrides=[f"cluster.nodes={nodes}"])
        times[nodes] = result.summary["discovery_convergence_s"]
        changes = result.tables["discovery_changes"]
        assert list(changes["kind"]) == ["join"] and changes["clients"].iloc[0] == nodes
    # 200 ms a round: within 1.5 rounds of theory (see above) plus one round for a single run.
    for nodes, seconds in times.items():
        assert abs(seconds / 0.2 - epidemic_rounds(nodes, 3)) <= 2.5, times
    assert times[100] < times[1000] < times[10000] < 3 * times[100]


def test_packet_loss_and_failed_agents_slow_gossip():
    clean = _rounds_to_converge(1000, range(8)).mean()
    lossy = _rounds_to_converge(1000, range(8), packet_loss=0.3).mean()
    failed = np.zeros(1001, dtype=bool)
    failed[:300] = True
    crippled = []
    for seed in range(8):
        rounds = gossip_spread(
            1001, 3, np.random.default_rng(seed), source=1000, failed=failed,
            transmissions=retransmit_limit(4, 1001),
        )  # fmt: skip
        alive = rounds[300:1000]
        crippled.append(convergence_time(alive))
    # With 30% lost, each round's effective fanout is 2.1: log_3.1 N + ln N/2.1 ≈ 9.4 rounds
    # against 7.3; require at least one round more. Failed agents swallow messages likewise.
    assert lossy >= clean + 1
    assert np.mean(crippled) >= clean + 0.5


def test_memberlist_scaling_helpers():
    assert retransmit_limit(4, 1000) == 16
    assert suspicion_timeout(5, 100, 1.0) == pytest.approx(10.0)
    assert suspicion_timeout(5, 5, 1.0) == pytest.approx(5.0)  # never below mult·interval
    assert push_pull_interval(30, 32) == 30 and push_pull_interval(30, 1000) == 30 * 6
    # Consul's anti-entropy table: 1 min to 128 nodes, 2 to 256, 3 to 512, 4 to 1,024.
    assert [anti_entropy_interval(n) for n in (1, 128, 129, 256, 257, 512, 513, 1024)] == [
        60, 60, 120, 120, 180, 180, 240, 240,
    ]  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["static", "lb-etcd", "skydns", "consul", "kubernetes"]),
    graceful=st.booleans(),
    clients=st.integers(1, 50),
    at=st.floats(0, 1e5),
    seed=st.integers(0, 2**32),
)
def test_nobody_learns_before_the_change_or_the_registry(kind, graceful, clients, at, seed):
    propagation = Propagation(Discovery(kind=kind), 20, np.random.default_rng(seed))
    learned = propagation.learn(at, graceful, clients)
    assert learned.clients.size == clients
    assert learned.registry >= at
    assert np.all(learned.clients >= learned.registry - 1e-9)


def test_each_kind_waits_for_what_its_real_counterpart_waits_for():
    rng = np.random.default_rng(1)
    defaults = Discovery()

    static = Propagation(Discovery(kind="static"), 10, rng).learn(0.0, True, 4)
    effort = defaults.static_change_effort
    assert static.clients == pytest.approx(defaults.static_ticket_delay + effort * np.arange(1, 5))
    assert static.operator_hours == pytest.approx(4 * effort / 3600)

    skydns = Propagation(Discovery(kind="skydns"), 10, rng).learn(0.0, True, 2000)
    # Cached answers are uniformly old within the TTL: the mean wait is TTL/2 (±3% is over
    # 10 standard errors of a mean of 2,000 uniforms) and nobody waits longer than the TTL.
    assert skydns.clients.mean() == pytest.approx(1800, rel=0.03)
    assert skydns.clients.max() <= 3600 + 0.01

    lb = Propagation(Discovery(kind="lb-etcd", confd_watch=True), 10, rng)
    first = lb.learn(0.0, True, 2).clients
    second = lb.learn(1.0, True, 2).clients
    assert np.all(second >= first + defaults.reload_min_gap - 1e-9)  # reloads keep their gap

    polled = Propagation(Discovery(kind="lb-etcd"), 10, rng).learn(0.0, True, 500).clients
    assert polled.max() <= defaults.confd_interval + 1 and polled.mean() > 200

    kube = Propagation(Discovery(kind="kubernetes"), 10, rng).learn(0.0, False, 50)
    assert kube.registry >= defaults.node_monitor_grace

    small = Propagation(Discovery(kind="consul"), 10, rng).learn(0.0, False, 5)
    large = Propagation(Discovery(kind="consul"), 10000, rng).learn(0.0, False, 5)
    # suspicion 4·max(1, log10 N) s (memberlist's LAN default): 4 s at N = 10, 16 s at 10,000
    assert 4.5 <= small.registry <= 7 and large.registry > small.registry + 9
    assert Propagation(Discovery(kind="consul"), 10, rng).learn(0.0, True, 5).registry < 0.01


def _compare(kind: str, **more: str) -> simulator.Result:
    overrides = [f"discovery.kind={kind}", "horizon=12min", "traffic.frontend.rate=10/s"]
    overrides += [f"{key}={value}" for key, value in more.items()]
    return simulator.run(COMPARE, overrides=overrides)


def test_stale_routing_depends_on_the_discovery_kind():
    skydns, consul, none = (_compare(kind) for kind in ("skydns", "consul", "none"))
    s, c, n = (r.summary["stale_routing_errors"] for r in (skydns, consul, none))
    # The same node failure at 5 min: SkyDNS clients cache the dead address for up to an hour,
    # Consul's catalog drops it within ~10 s, and perfect knowledge never routes to it.
    assert n == 0 and c > 0 and 20 * c < s
    assert skydns.summary["discovery_convergence_max_s"] > 1000
    assert consul.summary["discovery_convergence_max_s"] < 30
    spans = skydns.tables["spans"]
    assert (spans["status"] == "stale_endpoint").sum() == s
    events = skydns.tables["events"]
    assert (events["kind"] == "endpoint_removed").any()


def test_stale_failures_are_retried_per_the_callers_policy():
    result = _compare("skydns")
    spans = result.tables["spans"]
    stale = spans[spans["status"] == "stale_endpoint"]
    retried = spans[(spans["attempt"] > 0) & spans["parent"].isin(stale["parent"])]
    assert len(retried) > 0
    # A failed node's address hangs for stale_connect (1 s) before the caller hears.
    hang = stale["responded"] - stale["arrival"]
    assert hang.min() >= 1.0 - 1e-9


def test_static_addresses_cost_operator_hours():
    result = _compare("static")
    hours = result.summary["operator_hours_address_changes"]
    changes = result.tables["discovery_changes"]
    assert hours == pytest.approx(changes["operator_hours"].sum()) and hours > 0


def test_the_same_seed_gives_the_same_changes():
    first, second = _compare("consul"), _compare("consul")
    assert first.tables["discovery_changes"].equals(second.tables["discovery_changes"])
    assert pd.Series(first.summary).equals(pd.Series(second.summary))  # NaNs in place


def test_without_discovery_the_stations_carry_no_fault_state():
    from simulator.model.world import World
    from simulator.subsystems import build_subsystems

    scenario = load_scenario(COMPARE, ["discovery.kind=none", "discovery.events=[]"])
    world = World(scenario, 1, subsystems=build_subsystems)
    assert "discovery" not in world.subsystems
    assert all(station.faults is None for station in world.stations)
    assert all(station.on_endpoint_change is None for station in world.stations)


def test_discovery_kpis_and_tables_come_from_the_records_alone():
    from simulator.engine.recorder import OK, STALE_ENDPOINT
    from simulator.metrics.discovery import CHANGE_COLUMNS, discovery_results
    from simulator.records.discovery import DiscoveryRecords, EndpointChange
    from simulator.records.run import RunRecords

    def change(time: float, delays: list[float], hours: float = 0.0) -> EndpointChange:
        delays_ = np.array(delays)
        return EndpointChange(
            time, "api", "scale-in", "removed", 0.5, delays_, float(delays_.max()), hours
        )

    # Warm-up 60 s: the first change and the first two visits are not measured; the last
    # change never converged (a dependent that had not learned by the horizon).
    records = DiscoveryRecords(
        kind="static",
        changes=(change(10.0, [1.0, 2.0], 9.0), change(100.0, [3.0, 5.0], 1.0),
                 change(200.0, [4.0, np.inf], 2.0)),
        stale_seconds=6.0,
    )  # fmt: skip
    scenario = load_scenario(COMPARE, ["warmup=1min"])
    spans = {
        "arrival": np.array([0.0, 30.0, 70.0, 80.0, 90.0]),
        "status": np.array([STALE_ENDPOINT, STALE_ENDPOINT, STALE_ENDPOINT, OK, STALE_ENDPOINT]),
    }
    requests = {"arrival": np.array([10.0, 70.0, 80.0, 90.0]), "status": np.array([1, 1, 1, 0])}
    summary, tables = discovery_results(records, RunRecords(scenario, 1, requests, spans))
    assert summary["discovery_changes"] == 2
    assert summary["discovery_convergence_s"] == np.inf  # median of 5 s and never
    assert summary["discovery_convergence_max_s"] == np.inf
    assert summary["stale_routing_errors"] == 2
    assert summary["stale_latency_added_s"] == pytest.approx(6.0 / 2)  # 2 finished requests
    assert summary["operator_hours_address_changes"] == pytest.approx(3.0)
    changes = tables["discovery_changes"]
    assert tuple(changes.columns) == CHANGE_COLUMNS and list(changes["change"]) == [0, 1, 2]
    assert list(changes["median_s"]) == [1.5, 4.0, np.inf]
    assert (changes["discovery"] == "static").all() and list(changes["clients"]) == [2, 2, 2]
    curves = tables["discovery_convergence"]
    assert curves.groupby("change").size().tolist() == [101, 101, 101]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("discovery: {kind: consol}\n", "discovery.kind: expected 'none', 'static'"),
        ("discovery: {gossip_intervall: 1s}\n", "did you mean 'gossip_interval'?"),
        (
            "services: {api: {}}\ndiscovery:\n  events: [{at: 1s, service: apy}]\n",
            "discovery.events.0.service: names a service that does not exist: 'apy'; "
            "did you mean 'api'?",
        ),
        (
            "discovery:\n  events: [{at: 1s, kind: scale-in}]\n",
            "discovery.events.0.service: expected the service whose endpoints change",
        ),
        ("discovery: {fanout: 0}\n", "discovery.fanout: expected greater than or equal to 1"),
        ("secrets: {kind: vault, lease_ttl: -1s}\n", "secrets.lease_ttl: expected greater"),
        (
            "configuration: {managed_by: ansible}\n",
            "configuration.managed_by: expected 'scheduler'",
        ),
    ],
)
def test_bad_discovery_input_gets_one_clear_line(write_yaml, text, message):
    path = write_yaml(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    line = str(caught.value)
    assert "\n" not in line and line.startswith(f"{path}: ")
    assert message in line


def test_deploys_moves_and_the_autoscaler_create_endpoint_changes():
    base = {
        "horizon": "10min",
        "services": {"api": {"replicas": 3}},
        "traffic": {"api": {"rate": "5/s"}},
        "discovery": {
            "kind": "skydns",
            "events": [
                {"at": "1min", "kind": "deploy", "service": "api", "replace_after": "5s"},
                {"at": "5min", "kind": "move", "service": "api"},
            ],
        },
    }
    changes = simulator.run(base).tables["discovery_changes"]
    deploy = changes[changes["kind"] == "deploy"]
    assert list(deploy["endpoint"]) == ["added", "removed"] * 3
    assert list(deploy["time"]) == [60.0, 60.0, 65.0, 65.0, 70.0, 70.0]
    assert (changes["kind"] == "move").sum() == 2

    scaled = {
        **base,
        "discovery": {"kind": "consul"},
        "traffic": {"api": {"rate": "5/s", "profile": {"profile": "step", "at": "3min",
                                                       "factor": 0.05}}},
        "autoscaling": {
            "enabled": True,
            "behavior": {"scale_down": {"stabilization_window_seconds": "0s"}},
        },
        "services": {"api": {"replicas": 6, "min_replicas": 1}},
    }  # fmt: skip
    changes = simulator.run(scaled).tables["discovery_changes"]
    assert (changes["kind"] == "autoscaler").any()


def test_every_discovery_knob_has_a_description_a_unit_and_a_default():
    from simulator.scenario import discovery
    from simulator.scenario.base import unit_of

    models = [discovery.Discovery, discovery.EndpointChange, discovery.Configuration]
    models += [discovery.Secrets, discovery.Leak, discovery.RenewalFailure]
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert unit_of(field), f"{model.__name__}.{name} has no unit"
            assert not field.is_required(), f"{model.__name__}.{name} has no default"


@pytest.mark.parametrize("balancer", ["central-queue", "least-connections"])
def test_work_in_flight_on_a_failed_node_fails_and_a_scale_in_drains(balancer):
    # Discovery `none`: clients learn at once, so the only stale failures are the visits the
    # dead replica had: 4 replicas × 4 workers, 2 s of work at 5 requests/s (10 busy workers
    # on average), so a replica holds about 2.5 visits when its node dies at 5 min.
    scenario = {
        "name": "in-flight",
        "horizon": "10min",
        "services": {
            "api": {
                "replicas": 4,
                "concurrency": 4,
                "load_balancer": balancer,
                "service_time": {"distribution": "exponential", "mean": "2s"},
            }
        },
        "traffic": {"api": {"rate": "5/s"}},
        "discovery": {"kind": "none", "events": [{"at": "5min", "kind": "node-failure",
                                                  "service": "api"}]},
    }  # fmt: skip
    failed = simulator.run(scenario)
    spans = failed.tables["spans"]
    lost = spans[spans["status"] == "stale_endpoint"]
    assert len(lost) > 0
    assert (lost["arrival"] < 300).all()  # all were there before the node died
    assert (lost["end"] >= 300).all()  # and failed after it
    scenario["discovery"]["events"][0]["kind"] = "scale-in"
    drained = simulator.run(scenario)
    assert drained.summary["stale_routing_errors"] == 0
