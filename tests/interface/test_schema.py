"""`sresim schema`: the scenario format as a JSON Schema that editors use to check files as
they are typed; every shipped scenario passes it, and the mistakes the loader refuses
(unknown keys, wrong units, wrong types) fail it too."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from simulator.cli import main
from simulator.scenario.editor_schema import scenario_schema
from tests.helpers import SCENARIOS

SHIPPED = sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator, data) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_is_valid(validator, name):
    data = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))
    assert _errors(validator, data) == []


GOOD = {
    "name": "shop",
    "horizon": "1h",
    "warmup": 600,
    "services": {
        "api": {"replicas": 2, "service_time": {"distribution": "exponential", "mean": "20ms"}}
    },
    "traffic": {"api": {"rate": "30/s"}},
}


@pytest.mark.parametrize(
    "path, value",
    [
        (["horizon"], "1 fortnight"),  # not a unit
        (["traffic", "api", "rate"], "30 per second"),
        (["services", "api", "replicas"], "two"),
        (["services", "api", "replicass"], 2),  # a typo: unknown keys are errors
        (["extends"], 3),
    ],
)
def test_mistakes_the_loader_refuses_fail_the_schema(validator, path, value):
    assert _errors(validator, GOOD) == []
    data = json.loads(json.dumps(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert _errors(validator, data) != []


def test_units_may_be_strings_or_numbers_and_extends_a_name_or_a_list(validator):
    for horizon in ("250ms", "5min", "2 h", 3600, 1.5):
        assert _errors(validator, {**GOOD, "horizon": horizon}) == []
    clock = {"profile": {"profile": "diurnal", "peak_hour": "14:30"}}
    assert _errors(validator, {"traffic": {"api": clock}}) == []
    clock["profile"]["peak_hour"] = "2pm"
    assert _errors(validator, {"traffic": {"api": clock}}) != []
    for extends in ("presets/lb-cluster.yaml", ["a.yaml", "b.yaml"]):
        assert _errors(validator, {"extends": extends, "name": "partial"}) == []


def test_the_command_prints_or_writes_it(capsys, tmp_path):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == scenario_schema()
    out = tmp_path / "scenario.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == printed
    assert printed["$schema"].endswith("2020-12/schema")
    assert "extends" in printed["properties"]
