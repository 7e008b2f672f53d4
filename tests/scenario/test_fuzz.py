"""Property-based fuzzing of the loader and the command line (issue 11).

Random YAML structures, random override lists and random CSV files go in; the only
outcomes allowed are a valid scenario or the project's error in one printable line that
repeats no line of a data file, within a time bound per example and a memory bound
(tracemalloc's peak). Derandomised and without an example database, so CI sees the same
examples every time; the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import ScenarioError, load_scenario
from simulator.budget import check_budget
from simulator.cli import main
from simulator.scenario.limits import Limits
from tests.helpers import MMC

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,  # the bound is asserted below, on wall time and memory together
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SECONDS = 5.0
PEAK_BYTES = 80e6
SECRET = "SECRET-CELL"

KEYS = [
    "services", "traffic", "api", "db", "replicas", "concurrency", "rate", "horizon",
    "warmup", "handler", "call", "work", "parallel", "count", "distribution", "mean", "cv",
    "service_time", "profile", "file", "extends", "topology", "generator", "depth",
    "fanout", "length", "fidelity", "metrics", "sample_interval", "seed", "queue_limit",
    "timeout", "retries", "load_balancer", "cluster", "delivery", "&", "*", "<<",
]  # fmt: skip
WORDS = [
    "exponential", "constant", "gamma", "empirical", "replay", "diurnal", "analytic",
    "chain", "fan-out-tree", "random-dag", "round-robin", "5s", "1e15s", "1us", "3/s",
    "1000000/s", "nan", "inf", "-1", "/etc/passwd", "../../etc/shadow", "\x1b[31m", "",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=12)
)
keys = st.sampled_from(KEYS) | st.text(max_size=8)
structures = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=40,
)
documents = st.dictionaries(keys, structures, max_size=6)


def outcome(action) -> object:
    """Run `action` under the bounds: its value, or the ScenarioError's one line."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        value: object = action()
    except ScenarioError as error:
        value = str(error)
        assert "\n" not in value and value.isprintable(), repr(value)
        assert len(value) < 2500
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.monotonic() - started < SECONDS
    assert peak < PEAK_BYTES, f"{peak / 1e6:.0f} MB"
    return value


def load_and_budget(source, overrides=None):
    scenario = load_scenario(source, overrides, limits=Limits())
    check_budget(scenario, Limits())
    return scenario


@FUZZ
@given(documents)
def test_random_yaml_structures_load_or_fail_in_one_line(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=False))
        outcome(lambda: load_and_budget(path))
        outcome(lambda: load_and_budget(document))


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_loads_or_fails_in_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        outcome(lambda: load_and_budget(path))


PATHS = st.sampled_from(
    [
        "services.api.replicas", "services.api.concurrency", "services.api.service_time",
        "services.api.handler", "services.api", "traffic.api.rate", "traffic.api.profile",
        "horizon", "warmup", "seed", "fidelity", "metrics.sample_interval", "topology",
        "services.api.replicas.x", "services..api", "", "traffic.api.profile.file",
        "analytic.time_step", "services.0", "extends",
    ]
) | st.text(max_size=10)  # fmt: skip
OVERRIDES = st.lists(
    st.tuples(
        PATHS, st.sampled_from(WORDS) | st.text(max_size=20) | structures.map(yaml.safe_dump)
    ).map(lambda pair: f"{pair[0]}={pair[1]}"),
    max_size=4,
)


@FUZZ
@given(OVERRIDES)
def test_random_override_lists_apply_or_fail_in_one_line(overrides):
    outcome(lambda: load_and_budget(MMC, overrides))


CELLS = st.sampled_from(["0", "1", "10", "1.5", "5s", "2/s", "-1", "nan", "inf", '"', SECRET])
ROWS = st.lists(st.lists(CELLS | st.text(max_size=5), max_size=4).map(",".join), max_size=8)


@FUZZ
@given(st.sampled_from(["time,rate", "rate,time", "time", "", SECRET]), ROWS)
def test_random_csv_files_load_or_fail_quietly(header, rows):
    text = "\n".join([header, *rows]) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "data.csv").write_text(text)
        replay = Path(folder) / "replay.yaml"
        replay.write_text(
            "services: {api: {}}\nhorizon: 100s\n"
            "traffic: {api: {profile: {profile: replay, file: data.csv}}}\n"
        )
        samples = Path(folder) / "samples.yaml"
        samples.write_text(
            "services: {api: {service_time: {distribution: empirical, file: data.csv}}}\n"
        )
        for path in (replay, samples):
            value = outcome(lambda path=path: load_and_budget(path))
            if isinstance(value, str):
                assert SECRET not in value, value
            else:
                profile = value.traffic["api"].profile if path is replay else None
                if profile is not None:
                    assert all(math.isfinite(r) and r >= 0 for r in profile.rates)


@settings(FUZZ, max_examples=60)
@given(
    st.sampled_from(["validate", "explain", "run"]),
    OVERRIDES,
    st.lists(st.sampled_from(["--seed", "-1", "99999999999999999999", "--replications", "0",
                              "--bogus", "--limit", "max_requests=0", "x", "--out", ""]),
             max_size=3),
)  # fmt: skip
def test_the_command_line_ends_in_one_line_with_a_known_status(command, overrides, extra):
    args = [command, str(MMC), "--set", "horizon=200s"]
    for override in overrides:
        args += ["--set", override]
    if command == "run":
        args += ["--set", "traffic.api.rate=0.5"]
    err = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            status = main([*args, *extra])
        except SystemExit as exit:  # argparse
            status = exit.code
    assert time.monotonic() - started < 20
    assert status in (0, 2), err.getvalue()
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == (0 if status == 0 else 1), err.getvalue()
    assert "Traceback" not in err.getvalue()
