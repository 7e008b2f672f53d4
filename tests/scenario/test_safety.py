"""Loading as a hostile file or a careless hand would have it: bounded, confined, quiet,
and one line for each mistake (issue 11; docs/reliability.md). One test per defect."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from simulator import ScenarioError, load_scenario
from simulator.budget import check_budget
from simulator.errors import BudgetError
from simulator.scenario.limits import Limits
from tests.helpers import MMC

GOOD = "services:\n  api: {replicas: 2}\ntraffic:\n  api: {rate: 2/s}\nhorizon: 100s\n"
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def refused(source, *args, **kwargs) -> str:
    """The one-line message of loading `source`, which must be refused fast and small."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ScenarioError) as caught:
            load_scenario(source, *args, **kwargs)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # a guard against blow-ups (minutes or hours), not a benchmark: generous for a busy machine
    assert time.monotonic() - started < 30
    assert peak < 64e6, f"loading took {peak / 1e6:.0f} MB"
    message = str(caught.value)
    assert "\n" not in message and message.isprintable()
    return message


# ------------------------------------------------------------------------ safe loading


def test_a_billion_laughs_is_refused_without_expanding_it(write_yaml):
    assert "anchors (&, *) are expanded" in refused(write_yaml(LAUGHS))


def test_deep_nesting_is_refused_before_python_recurses(write_yaml):
    flow = write_yaml("a: " + "[" * 20000 + "]" * 20000 + "\n", "flow.yaml")
    assert "nested deeper than 64 levels" in refused(flow)
    block = write_yaml("".join("  " * i + f"k{i}:\n" for i in range(600)), "block.yaml")
    assert "nested deeper than 64 levels" in refused(block)


def test_a_big_file_is_refused_by_its_size(write_yaml):
    big = write_yaml("# padding\n" * 300_000)
    assert "3,000,000 bytes, more than the limit of 2,000,000" in refused(big)


def test_limits_can_be_raised_from_the_environment(monkeypatch, write_yaml):
    path = write_yaml(GOOD)
    monkeypatch.setenv("SRESIM_LIMITS", "max_file_bytes=10")
    assert "max_file_bytes" in refused(path)
    monkeypatch.setenv("SRESIM_LIMITS", "max_fiel_bytes=10")
    assert "did you mean 'max_file_bytes'" in refused(path)
    monkeypatch.setenv("SRESIM_LIMITS", "max_memory=64GB, max_requests=1e10")
    assert Limits.from_environment() == Limits(max_memory=64e9, max_requests=1e10)
    assert load_scenario(path).services["api"].replicas == 2


def test_a_mapping_that_contains_itself_is_refused():
    data: dict = {"services": {"api": {}}}
    data["services"]["api"]["handler"] = [data]
    assert "nested deeper than 64" in refused(data)


def test_overrides_are_bounded_too():
    assert "anchors" in refused(MMC, ["services.api.service_time=" + LAUGHS.replace("\n", "\n")])
    assert "nested deeper" in refused(MMC, ["horizon=" + "[" * 5000 + "]" * 5000])


def test_a_huge_generated_topology_is_refused_before_it_is_generated(write_yaml):
    path = write_yaml("topology: {generator: fan-out-tree, depth: 40, fanout: 10}\n")
    assert "would generate more than 10^15 services" in refused(path)
    path = write_yaml("topology: {generator: chain, length: 10000000}\n")
    assert "would generate 10,000,000 services" in refused(path)


# ---------------------------------------------------------------- confined file access


@pytest.mark.parametrize(
    "text",
    [
        "extends: /etc/passwd\n",
        "services: {api: {}}\ntraffic: {api: {profile: {profile: replay, file: /etc/passwd}}}\n",
        "services: {api: {service_time: {distribution: empirical, file: /etc/passwd}}}\n",
        "extends: ../../../../../../../../etc/passwd\n",
    ],
)
def test_files_outside_the_allowed_folders_are_refused_and_never_shown(text, write_yaml):
    message = refused(write_yaml(text))
    assert "outside the scenario's folder" in message and "--allow-path" in message
    assert "root:" not in message


def test_a_symbolic_link_out_of_the_tree_is_refused_and_allow_lets_it_in(tmp_path, write_yaml):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "rates.csv").write_text("time,rate\n0,1\n10,2\n")
    inside = tmp_path / "project"
    inside.mkdir()
    (inside / "rates.csv").symlink_to(outside / "rates.csv")
    path = inside / "s.yaml"
    path.write_text(
        "services: {api: {}}\n"
        "traffic: {api: {profile: {profile: replay, file: rates.csv}}}\nhorizon: 20s\n"
    )
    assert "outside the scenario's folder" in refused(path)
    scenario = load_scenario(path, allow=[outside])
    assert scenario.traffic["api"].profile.rates.tolist() == [1.0, 2.0]


def test_data_errors_name_the_file_line_and_column_never_the_content(write_yaml):
    write_yaml("time,rate\n0,1\n5,TOPSECRET-VALUE\n", "rates.csv")
    path = write_yaml(
        "services: {api: {}}\ntraffic: {api: {profile: {profile: replay, file: rates.csv}}}\n"
    )
    message = refused(path)
    assert "'rates.csv' line 3: rate: expected a rate" in message
    assert "TOPSECRET" not in message
    write_yaml("TOPSECRET,header\n1,2\n", "rates.csv")
    message = refused(path)
    assert "expected a header with the columns time and rate" in message
    assert "TOPSECRET" not in message


# ---------------------------------------------------------------- the small defects


def test_a_call_to_an_undefined_service_names_it(write_yaml):
    path = write_yaml("services: {api: {handler: [{call: billing}]}}\n")
    message = refused(path)
    assert "calls a service that does not exist: 'billing'" in message
    assert "{target" not in message


def test_an_empty_file_is_not_a_scenario(write_yaml):
    assert "the file is empty" in refused(write_yaml(""))
    assert "the file is empty" in refused(write_yaml("# only a comment\n"))


@pytest.mark.parametrize("key", ["replicas", "concurrency", "queue_limit"])
def test_true_is_not_a_number(key, write_yaml):
    message = refused(write_yaml(f"services: {{api: {{{key}: true}}}}\n"))
    assert f"services.api.{key}: expected a number, got true" in message


def test_terminal_escape_sequences_in_keys_are_shown_escaped(write_yaml):
    path = write_yaml('services: {api: {"\\e[2J\\e[31mred": 1}}\n')
    message = refused(path)
    assert "\x1b" not in message and "\\x1b[2J" in message


def test_an_unclosed_quote_in_a_replay_csv_is_refused(write_yaml):
    write_yaml('time,rate\n0,1\n10,"2\n', "rates.csv")
    path = write_yaml(
        "services: {api: {}}\ntraffic: {api: {profile: {profile: replay, file: rates.csv}}}\n"
    )
    assert "'rates.csv' line 3: unclosed or misplaced quote" in refused(path)


def test_a_non_utf8_empirical_csv_is_named(write_yaml, tmp_path):
    (tmp_path / "samples.csv").write_bytes(b"0.1\n\xff\xfe0.2\n")
    path = write_yaml(
        "services: {api: {service_time: {distribution: empirical, file: samples.csv}}}\n"
    )
    assert "expected a UTF-8 text file, 'samples.csv' is not" in refused(path)


def test_a_replay_file_that_is_a_folder_is_called_a_folder(write_yaml, tmp_path):
    (tmp_path / "rates").mkdir()
    path = write_yaml(
        "services: {api: {}}\ntraffic: {api: {profile: {profile: replay, file: rates}}}\n"
    )
    assert "'rates' is a folder" in refused(path)


def test_the_python_api_raises_scenario_errors_for_bad_arguments():
    import simulator

    for bad in (-1, 2**64, 1.5, "7", True):
        with pytest.raises(ScenarioError, match="seed"):
            simulator.run(MMC, bad, overrides={"horizon": "100s"})
    for bad in (0, -3, 2.0, 10**30):
        with pytest.raises(ScenarioError, match="replications"):
            simulator.run_replications(MMC, bad, overrides={"horizon": "100s"})
    with pytest.raises(ScenarioError, match="expected a file path, a mapping or a Scenario"):
        simulator.run(42)  # type: ignore[arg-type]


def test_overrides_given_as_one_string_are_one_override():
    assert load_scenario(MMC, "services.api.replicas=6").services["api"].replicas == 6
    assert "expected an override of the form" in refused(MMC, "replicas")


# ---------------------------------------------------------------- the budget


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (["services.api.replicas=1000000000000"], "services.api.replicas", "of memory"),
        (["horizon=1e15s"], "horizon", "visits to services"),
        (["traffic.api.rate=1000", "horizon=1e6s"], "horizon", "traffic.api.rate"),
        (["metrics.sample_interval=1us"], "metrics.sample_interval", "timeseries samples"),
        (["fidelity=analytic", "horizon=1e15s"], "horizon", "analytic time steps"),
    ],
)
def test_runs_above_the_budget_are_refused_naming_the_knob(overrides, key, words):
    scenario = load_scenario(MMC, overrides)
    started = time.monotonic()
    with pytest.raises(BudgetError) as caught:
        check_budget(scenario, Limits())
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert f": {key}: " in message and words in message and "--limit max_" in message


def test_the_budget_counts_replications_and_can_be_raised():
    scenario = load_scenario(MMC)
    assert check_budget(scenario, Limits(), 10).visits == pytest.approx(3.6 * 60000)
    with pytest.raises(BudgetError, match="in 1,000 replications"):
        check_budget(scenario, Limits(), 1000)
    check_budget(scenario, Limits(max_requests=1e9), 1000)


def test_every_shipped_scenario_fits_the_default_budget():
    from tests.helpers import SCENARIOS

    for path in sorted(SCENARIOS.rglob("*.yaml")):
        check_budget(load_scenario(path), Limits())


def test_the_memory_estimate_is_within_a_factor_of_two_of_a_measured_run():
    """The per-visit costs of budget.py, against the peak memory Python allocates for a
    run of 60,000 requests through three services (tracemalloc counts numpy's arrays)."""
    import simulator
    from simulator.budget import estimate

    scenario = load_scenario(
        {
            "services": {
                "a": {"handler": [{"call": "b"}, {"call": "c"}], "replicas": 4},
                "b": {"replicas": 4},
                "c": {"replicas": 4},
            },
            "traffic": {"a": {"rate": 20}},
            "horizon": "3000s",
        }
    )
    # A short run first: modules imported on a run's first use are not the run's memory.
    simulator.run(scenario, overrides={"horizon": "10s"})
    tracemalloc.start()
    simulator.run(scenario)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ratio = estimate(scenario).memory / peak
    print(f"estimated / measured memory: {ratio:.2f}")
    assert 0.5 < ratio < 2.0


def test_a_preset_outside_the_folder_is_not_even_tested_for_existence(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("extends: /nonexistent/secret.yaml\n")
    message = refused(path)
    assert "not found" not in message and "outside" in message


def test_an_override_cannot_go_inside_a_list_it_replaced_a_mapping_with():
    from simulator import ScenarioError, load_scenario
    from tests.helpers import MMC

    with pytest.raises(ScenarioError) as caught:
        load_scenario(MMC, ["services.api=[]", "services.api.replicas=3"])
    assert "services.api: expected a mapping" in str(caught.value)
