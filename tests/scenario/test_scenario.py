"""Loading scenarios: defaults, presets, overrides, distributions, and one clear error each."""

import numpy as np
import pytest
import yaml

from simulator import ScenarioError, load_scenario
from simulator.scenario.explain import explain_yaml
from tests.helpers import MMC, SCENARIOS

BASE = {"services": {"api": {"replicas": 2}}, "traffic": {"api": {"rate": "2/s"}}}


def test_the_mmc_scenario_is_accepted_as_written():
    scenario = load_scenario(MMC)
    assert scenario.horizon == 60000 and scenario.warmup == 1000
    api = scenario.services["api"]
    assert (api.replicas, api.concurrency, api.load_balancer) == (4, 1, "central-queue")
    assert api.service_time.distribution == "exponential" and api.service_time.mean == 1.0
    assert scenario.traffic["api"].rate == pytest.approx(3.6)


def test_every_field_has_a_description_a_unit_and_a_default():
    from pydantic import BaseModel

    from simulator.scenario import distributions, schema
    from simulator.scenario.base import unit_of

    models = [schema.Scenario, schema.Service, schema.Traffic, schema.Metrics]
    models += [distributions.Exponential, distributions.LogNormal, distributions.Empirical]
    for model in models:
        assert issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert unit_of(field), f"{model.__name__}.{name} has no unit"
            assert not field.is_required(), f"{model.__name__}.{name} has no default"


def test_every_shipped_scenario_is_valid():
    paths = sorted(SCENARIOS.rglob("*.yaml"))
    assert len(paths) >= 3
    for path in paths:
        load_scenario(path)


def test_overrides_by_dotted_path_and_from_strings():
    scenario = load_scenario(
        MMC,
        [
            "services.api.replicas=8",
            "traffic.api.rate=120/min",
            "services.api.service_time={distribution: gamma, mean: 2s, cv: 0.5}",
            "metrics.sample_interval=5s",
        ],
    )
    api = scenario.services["api"]
    assert api.replicas == 8 and scenario.traffic["api"].rate == pytest.approx(2)
    assert api.service_time.distribution == "gamma" and api.service_time.cv == 0.5
    assert scenario.metrics.sample_interval == 5
    again = load_scenario(MMC, {"services.api.concurrency": 3})
    assert again.services["api"].concurrency == 3


def test_overriding_a_scenario_object_keeps_everything_else():
    scenario = load_scenario(MMC)
    changed = load_scenario(scenario, {"seed": 9})
    assert changed.seed == 9
    assert changed.model_dump(exclude={"seed"}) == scenario.model_dump(exclude={"seed"})


@pytest.mark.parametrize("name", ["validation/mmc.yaml", "eras/sre.yaml"])
def test_overriding_a_scenario_object_is_overriding_its_file(name):
    """What the file left out stays left out (not set to its default by hand): a sweep's
    point or a served world must switch on no model the file did not ask for (the
    configuration model, which also kept the fast path off)."""
    reloaded = load_scenario(load_scenario(name), {"seed": 9})
    direct = load_scenario(name, {"seed": 9})
    assert reloaded == direct
    assert reloaded.model_fields_set == direct.model_fields_set
    assert "configuration" not in reloaded.model_fields_set


def test_list_entries_by_index(write_yaml):
    path = write_yaml(
        """
services:
  api:
    service_time: {distribution: empirical, samples: [1s, 2s, 3s]}
"""
    )
    scenario = load_scenario(path, {"services.api.service_time.samples.1": "20s"})
    assert scenario.services["api"].service_time.samples == (1.0, 20.0, 3.0)
    with pytest.raises(ScenarioError, match=r"samples\.3: no such entry"):
        load_scenario(path, {"services.api.service_time.samples.3": "1s"})


def test_presets_merge_with_later_keys_winning(write_yaml):
    write_yaml(
        "name: base\nhorizon: 2h\nservices:\n  api: {replicas: 3, concurrency: 2}\n",
        "base.yaml",
    )
    child = write_yaml("extends: base.yaml\nname: child\nservices:\n  api: {replicas: 5}\n")
    scenario = load_scenario(child)
    assert scenario.name == "child" and scenario.horizon == 7200
    assert scenario.services["api"].replicas == 5
    assert scenario.services["api"].concurrency == 2


def test_preset_cycles_are_refused(write_yaml):
    write_yaml("extends: b.yaml\n", "a.yaml")
    b = write_yaml("extends: a.yaml\n", "b.yaml")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(b)


def test_distributions_by_mean_and_cv():
    rng = np.random.default_rng(3)
    for spec in [
        {"distribution": "exponential", "mean": "2s"},
        {"distribution": "lognormal", "mean": "2s", "cv": 1.5},
        {"distribution": "gamma", "mean": "2s", "cv": 0.5},
        {"distribution": "uniform", "mean": "2s", "cv": 0.5},
        {"distribution": "constant", "mean": "2s"},
    ]:
        scenario = load_scenario({"services": {"api": {"service_time": spec}}})
        dist = scenario.services["api"].service_time
        draws = dist.draw(rng, 400_000)
        assert draws.min() >= 0
        # Standard error of the mean is cv·mean/√n ≤ 1.5·2/632 ≈ 0.005: 0.03 is six of them.
        assert draws.mean() == pytest.approx(2.0, abs=0.03)
        if dist.cv_value > 0:
            assert draws.std() / draws.mean() == pytest.approx(dist.cv_value, rel=0.05)


def test_empirical_from_a_csv_file(write_yaml, tmp_path):
    (tmp_path / "times.csv").write_text("latency\n0.1\n0.2\n250ms\n")
    path = write_yaml(
        "services:\n  api:\n    service_time: "
        "{distribution: empirical, file: times.csv, column: latency}\n"
    )
    dist = load_scenario(path).services["api"].service_time
    assert dist.mean_s == pytest.approx(0.55 / 3)
    scaled = load_scenario(path, {"services.api.service_time.mean": "1s"})
    assert scaled.services["api"].service_time.mean_s == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "services:\n  api: {replcas: 2}\n",
            "services.api.replcas: unknown key; did you mean 'replicas'?",
        ),
        ("horizon: 5 parsecs\n", "horizon: expected a duration such as 250ms"),
        (
            "services:\n  api: {replicas: 0}\n",
            "services.api.replicas: expected greater than or equal to 1, got 0",
        ),
        (
            "services:\n  api: {}\ntraffic:\n  apj: {rate: 1/s}\n",
            "traffic.apj: traffic is sent to a service that does not exist; did you mean 'api'?",
        ),
        (
            "services:\n  api:\n    service_time: {distribution: expo}\n",
            "services.api.service_time: unknown distribution; did you mean 'exponential'?",
        ),
        (
            "services:\n  api:\n    service_time: {distribution: exponential, cv: 2}\n",
            "service_time.cv: unknown key; an exponential always has cv 1",
        ),
        (
            "services:\n  api:\n    service_time: {distribution: uniform, cv: 0.9}\n",
            "service_time.cv: expected at most 0.577",
        ),
        (
            "services:\n  api:\n    service_time: {distribution: lognormal, mean: -1s}\n",
            "service_time.mean: expected greater than 0",
        ),
        ("traffic:\n  api: {rate: -3/s}\n", "traffic.api.rate: expected greater than 0"),
        ("horizon: 10s\nwarmup: 20s\n", "warmup: expected warmup shorter than horizon"),
        ("services: [api]\n", "services: expected a valid dictionary"),
        ("seed: [1\n", "malformed YAML: line 2, column 1"),
        ("seed: 1\nseed: 2\n", "duplicate key 'seed'"),
        ("- 1\n- 2\n", "expected a mapping of keys, got list"),
        ("services:\n  my.api: {}\n", "expected a service name of letters"),
        (
            "services:\n  api:\n    service_time: {distribution: empirical, file: nope.csv}\n",
            "does not exist",
        ),
        ("extends: missing.yaml\n", "extends: preset 'missing.yaml' not found"),
        ("zebra: 1\n", "zebra: unknown key; expected one of"),
    ],
)
def test_bad_input_gets_one_clear_line(write_yaml, text, message):
    path = write_yaml(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    line = str(caught.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    assert message in line


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "services.api.replcas=3",
            "services.api.replcas: no such key (--set services.api.replcas); "
            "did you mean 'replicas'?",
        ),
        ("services.web.replicas=3", "services.web: no such entry (--set services.web.replicas)"),
        ("horizon.value=3", "horizon.value: cannot go inside a single value"),
        (
            "services.api.replicas=-2",
            "services.api.replicas: expected greater than or equal to 1, got -2 "
            "(from --set services.api.replicas)",
        ),
        ("noequals", "expected an override of the form dotted.path=value"),
    ],
)
def test_bad_overrides_name_the_override(override, message):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(MMC, [override])
    assert message in str(caught.value)


def test_a_missing_file():
    with pytest.raises(ScenarioError, match=r"nope\.yaml: file not found"):
        load_scenario("nope.yaml")


def test_loading_yaml_never_executes_code(write_yaml, tmp_path):
    marker = tmp_path / "pwned"
    path = write_yaml(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ScenarioError, match="malformed YAML"):
        load_scenario(path)
    assert not marker.exists()


def test_explain_shows_every_default_and_reads_back(tmp_path):
    scenario = load_scenario(BASE)
    text = explain_yaml(scenario)
    assert "concurrency: 1  # requests one replica serves at once" in text
    assert "load_balancer: round-robin" in text
    path = tmp_path / "explained.yaml"
    path.write_text(text)
    assert yaml.safe_load(text)["traffic"]["api"]["rate"] == "2/s"
    assert load_scenario(path).model_dump() == scenario.model_dump()
    assert (
        load_scenario(SCENARIOS / "validation" / "mmc.yaml").model_dump()
        == load_scenario(
            _written(tmp_path, explain_yaml(load_scenario(MMC), comments=False))
        ).model_dump()
    )


def _written(tmp_path, text):
    path = tmp_path / "bare.yaml"
    path.write_text(text)
    return path


def test_overrides_reach_inside_handler_steps_and_map_keys_with_dots():
    handler = [{"work": "1ms"}, {"parallel": [{"call": "leaf", "count": 3}], "wait_for": 2}]
    data = {
        "services": {"root": {"handler": handler}, "leaf": {}},
        "cluster": {"node_types": {"m5.large": {"count": 1}}},
    }
    scenario = load_scenario(
        data,
        {
            "services.root.handler.1.parallel.0.count": 7,
            "services.root.handler.1.wait_for": 5,
            "cluster.node_types.m5.large.count": 4,
        },
    )
    step = scenario.services["root"].handler[1]
    assert step.parallel[0].count == 7 and step.wait_for == 5
    assert scenario.cluster.node_types["m5.large"].count == 4
    with pytest.raises(ScenarioError, match="no such key"):
        load_scenario(data, {"services.root.handler.1.parallel.0.cunt": 7})
