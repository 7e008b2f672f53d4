"""Shipped scenarios by name from any folder; the checkout's `scenarios/` paths unchanged."""

from __future__ import annotations

import pytest

from simulator import ScenarioError, load_scenario
from simulator.cli import main
from simulator.scenario.files import SHIPPED
from tests.helpers import ROOT, SCENARIOS


def test_the_checkout_folder_is_the_packaged_one():
    assert (ROOT / "simulator" / "scenarios").resolve() == SHIPPED
    assert SCENARIOS.resolve() == SHIPPED  # scenarios -> simulator/scenarios
    assert (SCENARIOS / "eras" / "sre.yaml").is_file()


@pytest.mark.parametrize(
    "name", ["validation/mmc", "validation/mmc.yaml", "scenarios/validation/mmc"]
)
def test_a_shipped_name_loads_from_any_folder(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = load_scenario(name)
    assert scenario.name == "mmc"
    assert scenario.base_dir == SHIPPED / "validation"


def test_a_file_of_that_name_in_the_folder_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "validation").mkdir()
    text = (SHIPPED / "validation" / "mmc.yaml").read_text().replace("name: mmc", "name: local")
    (tmp_path / "validation" / "mmc.yaml").write_text(text)
    assert load_scenario("validation/mmc").name == "local"


def test_a_users_file_extends_a_shipped_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("extends: presets/lb-cluster.yaml\nname: mine\n")
    scenario = load_scenario(tmp_path / "mine.yaml", {"services.api.replicas": 9})
    assert scenario.name == "mine"
    assert scenario.services["api"].replicas == 9
    assert scenario.traffic["api"].rate == pytest.approx(68)


@pytest.mark.parametrize("name", ["validation/nope", "../validation/mmc", "/validation/mmc"])
def test_a_name_that_is_not_shipped_is_not_found(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(name)


def test_list_names_the_shipped_scenarios_from_any_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    expected = sorted(
        f"scenarios/{p.relative_to(SHIPPED).as_posix()}" for p in SHIPPED.rglob("*.yaml")
    )
    assert names == expected
