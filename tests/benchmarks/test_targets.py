"""benchmarks/targets.py: the table `make bench` prints last, from the figures the benchmarks
record. A missing figure is never a met target, and each bound is applied as stated."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import targets
from benchmarks.targets import MET, MISSED, NOT_MEASURED, Target, read_results, rows

BENCHMARKS = Path(targets.__file__).parent


def one(op: str, bound: float, value: object, unit: str = "s") -> targets.Row:
    target = Target(16, "k", "what", op, bound, unit, "bench_x.py")
    (row,) = rows([target], {"k": {"key": "k", "value": value, "note": "n", "load": 1.25}})
    return row


@pytest.mark.parametrize(
    ("op", "bound", "value", "verdict"),
    [
        (">=", 1.6, 1.6, MET),
        (">=", 1.6, 1.59, MISSED),
        ("<=", 0.8, 0.8, MET),
        ("<=", 0.8, 0.81, MISSED),
        ("<", 10.0, 9.99, MET),
        ("<", 10.0, 10.0, MISSED),
        ("<=", 0, 0, MET),
        ("<=", 0, 2, MISSED),
    ],
)
def test_each_bound_is_applied_as_stated(op, bound, value, verdict):
    assert one(op, bound, value).verdict == verdict


@pytest.mark.parametrize("value", [None, math.nan, "1.2", True])
def test_no_number_is_not_measured_never_met(value):
    row = one(">=", 1.0, value)
    assert (row.verdict, row.measured) == (NOT_MEASURED, "-")
    assert row.note == "n"  # why there is no figure, as the script said


def test_a_missing_result_is_not_measured_and_names_the_script():
    target = Target(16, "k", "what", "<=", 1.0, "s", "bench_x.py")
    (row,) = rows([target], {"other": {"key": "other", "value": 0.5}})
    assert row.verdict == NOT_MEASURED
    assert row.note == "run bench_x.py"
    assert row.load == ""


def test_figures_and_bounds_are_shown_in_the_targets_unit():
    assert one(">=", 1.6, 1.8642, "×").measured == "1.86×"
    assert one(">=", 1.6, 1.8642, "×").target == "≥ 1.6×"
    assert one("<", 1024.0, 689.4, "MiB").measured == "689 MiB"
    assert one("<", 1024.0, 689.4, "MiB").target == "< 1,024 MiB"
    assert one("<=", 0, 0, "modules").measured == "none"
    assert one("<=", 60.0, 58.21).target == "≤ 60 s"
    assert one("<=", 60.0, 58.21).load == "1.2"  # the 1-minute load when it was measured


def test_the_last_figure_of_a_key_counts():
    lines = [
        json.dumps({"key": "a", "value": 1.0}),
        "",
        json.dumps({"key": "b", "value": 2.0}),
        json.dumps({"key": "a", "value": 3.0}),
    ]
    assert {k: v["value"] for k, v in read_results(lines).items()} == {"a": 3.0, "b": 2.0}


def test_record_appends_a_line_only_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    monkeypatch.delenv(targets.RESULTS_ENV, raising=False)
    targets.record("mmc.general", 1.9)
    assert not path.exists()
    monkeypatch.setenv(targets.RESULTS_ENV, str(path))
    targets.record("mmc.general", 1.9, "5 runs")
    targets.record("sweep.dask", None, "dask: not installed")
    found = read_results(path.read_text().splitlines())
    assert found["mmc.general"]["value"] == 1.9
    assert found["mmc.general"]["note"] == "5 runs"
    (general, dask) = rows(
        [t for t in targets.TARGETS if t.key in ("mmc.general", "sweep.dask")], found
    )
    assert (general.verdict, dask.verdict) == (MET, NOT_MEASURED)
    assert dask.note == "dask: not installed"


def test_one_target_per_notebook_and_issue_16_first(tmp_path):
    for name in ("01-b", "00-a"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    found = targets.all_targets(tmp_path)
    notebooks = [t.key for t in found if t.key.startswith("notebook.")]
    assert notebooks == ["notebook.00-a", "notebook.01-b"]
    issues = [t.issue for t in found]
    assert issues == sorted(issues, key=lambda issue: issue != 16)
    assert len({t.key for t in found}) == len(found)


def test_every_target_is_recorded_by_the_script_it_names():
    for target in targets.all_targets():
        script = BENCHMARKS / target.script.split()[0]
        source = script.read_text(encoding="utf-8")
        made = target.key.rpartition(".")[0] + ".{"  # a key made in an f-string
        assert f'"{target.key}"' in source or made in source, (target.key, script.name)
        assert "record(" in source, script.name


def test_the_table_counts_each_verdict():
    table = [one(">=", 1.0, 2.0), one(">=", 1.0, 0.5), one(">=", 1.0, None)]
    text = targets.render(table, "results.jsonl")
    assert text.splitlines()[0] == "Where the targets stand (results.jsonl)"
    assert text.splitlines()[-1] == "1 of 3 targets met, 1 not met, 1 not measured"
