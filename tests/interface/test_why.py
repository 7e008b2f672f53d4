"""`sresim why`: a change's or an incident's story from the command line, the same words the
Python API gives; bad ids and scenarios without delivery are one line and exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

import simulator
from simulator.cli import main
from simulator.stories import change_story, incident_story
from tests.helpers import MMC, ROOT, SCENARIOS

TICKET = SCENARIOS / "delivery" / "ticket-with-cab.yaml"
SHORT = ["--set", "horizon=3w"]


@pytest.fixture(scope="module")
def ticket_run() -> simulator.Result:
    return simulator.run(TICKET, overrides={"horizon": "3w"})


def test_why_change_prints_the_story_of_the_api(capsys, ticket_run):
    assert main(["why", str(TICKET), *SHORT, "--change", "5"]) == 0
    out = capsys.readouterr().out
    assert out == change_story(ticket_run, 5) + "\n"
    assert out.startswith("change 5 (service ") and "lead time" in out


def test_why_incident_prints_the_story_of_the_api(capsys, ticket_run):
    assert len(ticket_run.tables["incident_timeline"]) > 0
    assert main(["why", str(TICKET), *SHORT, "--incident", "0"]) == 0
    out = capsys.readouterr().out
    assert out == incident_story(ticket_run, 0) + "\n"
    assert "time to restore" in out


def test_why_takes_the_seed_like_run(capsys):
    assert main(["why", str(TICKET), *SHORT, "--change", "5"]) == 0
    first = capsys.readouterr().out
    assert main(["why", str(TICKET), *SHORT, "--seed", "7", "--change", "5"]) == 0
    assert capsys.readouterr().out != first


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([str(TICKET), *SHORT, "--change", "100000"], "--change: expected a change from 0 to"),
        ([str(TICKET), *SHORT, "--incident", "5000"], "--incident: expected an incident from 0"),
        ([str(MMC), "--change", "0"], "delivery: expected a delivery: section"),
        ([str(TICKET), "--change", "1", "--incident", "1"], "not allowed with argument"),
        ([str(TICKET)], "one of the arguments --change --incident is required"),
        ([str(TICKET), "--change", "-1"], "--change"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected):
    process = subprocess.run(
        [sys.executable, "-m", "simulator", "why", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert process.returncode == 2
    assert process.stdout == ""
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], process.stderr
    assert "Traceback" not in process.stderr
