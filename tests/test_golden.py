"""Every shipped scenario gives the KPIs it gave when the golden results were recorded."""

from __future__ import annotations

import math

import pytest

from tests import golden
from tests.golden.cases import load, measure, shipped

GOLDEN = load()


def test_the_kernels_are_pinned_before_numpy_loads():
    """Else numpy reads no setting and an AVX-512 machine computes other last bits."""
    if not golden.pinnable():
        pytest.skip("the kernels are pinned on x86-64 with AVX2 and FMA only")
    assert golden.pinned_before_numpy, "numpy was imported before tests/conftest.py ran"


def test_every_shipped_scenario_has_golden_results():
    assert sorted(GOLDEN) == shipped()


@pytest.mark.parametrize("name", shipped())
def test_kpis_bit_identical(name):
    expected = GOLDEN[name]
    got = measure(name)
    changed = {
        kpi: (expected["kpis"].get(kpi), value)
        for kpi, value in got["kpis"].items()
        if not _same(expected["kpis"].get(kpi), value)
    }
    missing = sorted(set(expected["kpis"]) - set(got["kpis"]))
    assert not changed and not missing, f"{name}: changed {changed}, missing {missing}"
    for table, rows in expected["rows"].items():
        assert got["rows"].get(table) == rows, f"{name}: table {table} rows"


def _same(a: float | None, b: float) -> bool:
    if a is None:
        return False
    return (math.isnan(a) and math.isnan(b)) or a == b
