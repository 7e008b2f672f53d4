"""`StationColumns`, the stationary queue's arrays kept as their distinct columns (a fleet
of copies): every reader's index gathers the bits of the spread array at those cells,
rows gathered from several parts are the parts' rows, and the mean wait computed on the
distinct columns is the spread formula's, bit for bit (Hypothesis); a fleet of copies'
steps are those computed station by station."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analytic import run as analytic_run
from simulator.analytic import stations
from simulator.analytic.flows import Model
from simulator.analytic.stations import StationColumns, StationSteps
from simulator.experiments.eras import ERAS_DIR
from simulator.experiments.fleet import fleet_scenario

SPECIAL = [0.0, -0.0, 1.0, 0.25, 1e-300, 3.5e7, np.inf, np.nan]
"""Cells whose bits an arithmetic slip would change (−0.0 + 0.0 is +0.0; NaN stays NaN)."""


def _bits(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=np.float64).tobytes()


@st.composite
def columns(draw: st.DrawFn, rows: int | None = None) -> tuple[StationColumns, np.ndarray]:
    """Distinct columns and a grouping of the stations (or none), with the spread array."""
    rows = draw(st.integers(1, 6)) if rows is None else rows
    distinct = draw(st.integers(1, 4))
    cells = st.one_of(st.sampled_from(SPECIAL), st.floats(-1e3, 1e3))
    values = np.array(draw(st.lists(cells, min_size=rows * distinct, max_size=rows * distinct)))
    values = values.reshape(rows, distinct)
    if draw(st.booleans()):  # one row broadcast over the steps, as the scenario's replicas
        values = np.broadcast_to(values[0], values.shape)
    if draw(st.booleans()):
        return StationColumns(values), np.asarray(values)
    stations = draw(st.integers(distinct, 9))
    extra = stations - distinct
    rest = draw(st.lists(st.integers(0, distinct - 1), min_size=extra, max_size=extra))
    order = draw(st.permutations(list(range(distinct)) + rest))
    inverse = np.array(order, dtype=np.intp)
    return StationColumns(values, inverse), np.take(values, inverse, axis=1)


@st.composite
def index(draw: st.DrawFn, size: int) -> object:
    """Rows or stations as the readers index them: one, a slice, positions, a mask."""
    kind = draw(st.sampled_from(["int", "slice", "array", "mask"]))
    if kind == "int":
        return draw(st.integers(0, size - 1))
    if kind == "slice":
        start = draw(st.integers(0, size))
        return slice(start, draw(st.integers(start, size)))
    if kind == "array":
        return np.array(draw(st.lists(st.integers(0, size - 1), max_size=5)), dtype=np.intp)
    return np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)))


@settings(max_examples=400, deadline=None)
@given(case=columns(), data=st.data())
def test_an_index_gathers_the_spread_arrays_cells(
    case: tuple[StationColumns, np.ndarray], data: st.DataObject
) -> None:
    kept, spread = case
    assert kept.shape == spread.shape
    assert _bits(kept.array()) == _bits(spread)
    rows, stations = spread.shape
    row = data.draw(index(rows))
    key = data.draw(st.sampled_from(["rows", "cells", "pairs"]))
    if key == "rows":  # a block of rows of every station (the summaries)
        assert _bits(kept[row]) == _bits(spread[row])
    elif key == "cells":  # rows of some stations (a station's column: the moments)
        column = data.draw(index(stations))
        if isinstance(row, np.ndarray) and isinstance(column, np.ndarray):
            row, column = np.ix_(row, column)  # two position arrays: the block they span
        assert _bits(kept[row, column]) == _bits(spread[row, column])
    else:  # (step, station) pairs, as the lattice's evaluator reads the waits
        count = data.draw(st.integers(0, 6))
        at = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=count, max_size=count)))
        at = at.astype(np.intp)
        where = data.draw(st.lists(st.integers(0, stations - 1), min_size=count, max_size=count))
        where_array = np.array(where, dtype=np.intp)
        assert _bits(kept[at, where_array]) == _bits(spread[at, where_array])
        assert _bits(kept[at[:, None], where_array[None, :]]) == _bits(
            spread[at[:, None], where_array[None, :]]
        )


@st.composite
def parts(draw: st.DrawFn) -> tuple[list, int, np.ndarray]:
    """Rows of a result taken from two or three parts, grouped alike or not."""
    count = draw(st.integers(1, 7))
    stations = draw(st.integers(1, 6))
    filled = draw(st.permutations(list(range(count))))
    cuts = sorted(draw(st.lists(st.integers(0, count), min_size=1, max_size=2)))
    pieces = [filled[a:b] for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    found, expected = [], np.full((count, stations), np.nan)
    for piece in pieces:
        rows = np.array(sorted(piece), dtype=np.intp)
        available = draw(st.integers(max(rows.size, 1), 8))
        distinct = draw(st.integers(1, stations))
        values = np.array(
            draw(
                st.lists(
                    st.floats(-1e3, 1e3) | st.sampled_from(SPECIAL),
                    min_size=available * distinct,
                    max_size=available * distinct,
                )
            )
        ).reshape(available, distinct)
        if draw(st.booleans()) or distinct == stations:
            inverse = np.arange(stations) % distinct
        else:
            extra = stations - distinct
            picked = draw(st.lists(st.integers(0, distinct - 1), min_size=extra, max_size=extra))
            inverse = np.array(draw(st.permutations(list(range(distinct)) + picked)))
        grouped = StationColumns(values, inverse if distinct < stations else None)
        taken = np.array(draw(st.permutations(list(range(available))))[: rows.size], dtype=np.intp)
        found.append((grouped, taken, rows))
        expected[rows] = grouped.array()[taken]
    return found, count, expected


@settings(max_examples=300, deadline=None)
@given(case=parts())
def test_gathered_rows_are_the_parts_rows(case: tuple[list, int, np.ndarray]) -> None:
    found, count, expected = case
    gathered = StationColumns.gathered(found, count)
    assert _bits(gathered.array()) == _bits(expected)
    distinct = {c.values.shape[1] for c, _, _ in found if c.inverse is not None}
    if gathered.inverse is not None:  # never more columns than the stations
        assert gathered.values.shape[1] <= gathered.inverse.size
    assert distinct or gathered.values.shape[1] == expected.shape[1]


def _steps(wait: StationColumns, share: np.ndarray, low: np.ndarray, high: np.ndarray):
    zeros = np.zeros(share.shape)
    kept = StationColumns(np.zeros(wait.values.shape), wait.inverse)
    return StationSteps(
        replicas=zeros,
        workers=zeros,
        work_rate=zeros,
        service_mean=kept,
        offered=zeros,
        utilisation=zeros,
        p_wait_stationary=kept,
        wait_stationary_mean=wait,
        wait_shape=kept,
        wait_scale=kept,
        delay_share=share,
        delay_low=low,
        delay_high=high,
        backlog=zeros,
        queued_mean=zeros,
    )


@settings(max_examples=300, deadline=None)
@given(case=columns(), backlog=st.sampled_from(["none", "negative zero", "some"]))
def test_the_mean_wait_is_the_spread_formulas(
    case: tuple[StationColumns, np.ndarray], backlog: str
) -> None:
    """Without a backlog, computed on the distinct columns (−0.0 waits included: the
    formula's + 0.0 makes them +0.0); with one, or with a −0.0 share, on every station."""
    wait, spread = case
    share, low, high = (np.zeros(spread.shape) for _ in range(3))
    if backlog == "negative zero":
        share[..., 0] = -0.0
    elif backlog == "some":
        share[0, 0], low[0, 0], high[0, 0] = 0.5, 1.0, 3.0
    steps = _steps(wait, share, low, high)
    expected = (1.0 - share) * spread + share * ((low + high) / 2)
    assert _bits(steps.wait_mean.array()) == _bits(expected)
    distinct = wait.inverse is not None and backlog == "none"
    width = wait.values.shape[1] if distinct else spread.shape[1]
    assert steps.wait_mean.values.shape[1] == width


@pytest.fixture(scope="module")
def copies() -> tuple[Model, np.ndarray, np.ndarray | None, np.ndarray]:
    """The SRE era's ten services copied to two hundred (the growth sweep's fleet): its
    load states' work, batches and replicas."""
    scenario = fleet_scenario(ERAS_DIR / "sre.yaml", 200, {"horizon": "3d", "warmup": "1d"})
    model = analytic_run.compile_model(scenario)
    timeline, steps = analytic_run._simulate(scenario, model, None)
    work, batches = stations.station_work(model, timeline.state_arrivals)
    return model, work, batches, steps.replicas


def _every_column(model: Model, *_: object) -> tuple[np.ndarray, np.ndarray]:
    """`_distinct_columns` finding no copies."""
    n = len(model.stations)
    return np.arange(n), np.arange(n)


def _all_bits(steps: StationSteps) -> dict[str, bytes]:
    found = {}
    for f in fields(StationSteps):
        value = getattr(steps, f.name)
        if f.name not in ("slow", "coupled"):
            found[f.name] = _bits(value.array() if isinstance(value, StationColumns) else value)
    found["wait_mean"] = _bits(steps.wait_mean.array())
    found["wait_variance"] = _bits(steps.wait_variance)
    found["saturated"] = steps.saturated.tobytes()
    return found


@pytest.mark.parametrize("load", ["as is", "overloaded"])
@pytest.mark.parametrize("start", ["none", "alike", "one copy"])
def test_a_fleets_steps_are_those_of_every_column(
    copies, monkeypatch: pytest.MonkeyPatch, load: str, start: str
) -> None:
    """The steps of copies kept once are, bit for bit, those computed station by station:
    with the fluid backlog carried (overloaded states), and from a backlog at the start
    alike between copies (kept once) or not (one copy's own: every station computed)."""
    model, work, batches, replicas = copies
    if load == "overloaded":  # every third state at four times the load: backlogs build
        work = work.copy()
        work[:, ::3] *= 4.0
    dt = np.full(work.shape[1], 300.0)
    first, inverse = stations._distinct_columns(
        model, work, replicas, stations.coupled_parts(model, work, replicas, batches)
    )
    assert first.size * 10 < inverse.size  # copies found
    backlog = np.zeros(len(model.stations))
    if start == "alike":
        backlog = (np.arange(first.size) * 0.75)[inverse]
    elif start == "one copy":
        backlog[first[-1]] = 2.5
    coupled = stations.coupled_parts(model, work, replicas, batches)
    kept = stations.simulate_rows(model, work, batches, dt, replicas, backlog, coupled)
    distinct = start != "one copy"
    assert (kept.offered.inverse is not None) == distinct
    assert (kept.wait_mean.inverse is not None) == (distinct and not kept._backlogged)
    assert kept._backlogged == (load == "overloaded" or start != "none")
    with monkeypatch.context() as patch:
        patch.setattr(stations, "_distinct_columns", _every_column)
        every = stations.simulate_rows(model, work, batches, dt, replicas, backlog, coupled)
    assert every.offered.inverse is None
    assert _all_bits(kept) == _all_bits(every)
