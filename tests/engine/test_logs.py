"""The columnar logs' buffering: what a reader sees is every row written so far, exactly.

The request log buffers finished requests as tuples and the span log grows its columns in
chunks of new rows (issue 16, point 3); both must look to every reader like the plain
append-only columns they replace.
"""

from __future__ import annotations

import math

import numpy as np
import simpy
from simpy.events import Timeout

from simulator.engine.recorder import (
    FLUSH_ROWS,
    PENDING,
    SPAN_CHUNK,
    RequestLog,
    SpanLog,
)
from simulator.model.services import Step


def _request(i: int) -> tuple[int, int, float, float, float, int, int]:
    return (i % 3, i % 5 - 1, i * 0.5, i * 0.5 + 0.25, i * 0.5 + 1.0, i % 4, 1 + i % 2)


def test_request_log_readers_see_every_buffered_row():
    log = RequestLog()
    rows = [_request(i) for i in range(FLUSH_ROWS + 10)]
    for i, row in enumerate(rows):
        log.pending.append(row)
        log.room -= 1
        if not log.room:
            log.flush()
        if i in (0, 7, FLUSH_ROWS - 1, FLUSH_ROWS + 3):
            assert len(log) == i + 1  # a reader mid-run (monitoring's scrape)
            assert log.end[i] == row[4]
    columns = log.columns()
    for position, (name, _) in enumerate(RequestLog.SCHEMA):
        assert columns[name].tolist() == [row[position] for row in rows]
    assert log.nbytes() == len(rows) * 34


def test_span_log_hands_out_rows_in_chunks_and_readers_see_exact_columns():
    spans = SpanLog()
    for row in range(SPAN_CHUNK + 3):
        if not spans.padding:
            spans.grow()
        assert spans.rows == row
        spans.rows += 1
        spans.padding -= 1
        spans.live_service[row] = row
        if row == 2:
            # A reader in the middle of a chunk sees only the rows handed out, with a new
            # row's values (no replica, NaN times, pending).
            assert len(spans) == 3
            assert spans.service.tolist() == [0, 1, 2]
            assert spans.replica.tolist() == [-1, -1, -1]
            assert all(math.isnan(x) for x in spans.end)
            assert spans.status.tolist() == [PENDING] * 3
    assert len(spans) == SPAN_CHUNK + 3
    columns = spans.columns()
    assert all(len(column) == SPAN_CHUNK + 3 for column in columns.values())
    assert columns["service"].tolist() == list(range(SPAN_CHUNK + 3))
    assert np.isnan(columns["responded"]).all()


def test_span_log_rows_appended_by_a_reader_are_kept():
    """The fast path appends whole columns; a later chunk starts after its rows."""
    spans = SpanLog()
    for name, code in SpanLog.SCHEMA:
        getattr(spans, name).extend([1.5] * 4 if code == "d" else [1] * 4)
    assert len(spans) == 4
    spans.grow()
    row = spans.rows
    assert row == 4
    spans.rows, spans.padding = row + 1, spans.padding - 1
    assert len(spans) == 5
    assert spans.arrival.tolist()[:4] == [1.5] * 4
    assert math.isnan(spans.arrival[4])


def test_step_is_a_timeout_in_the_same_place_of_the_event_queue():
    """`Step` replaces `Timeout(...).callbacks.append(...)`: the same times, ids and order."""
    seen: dict[str, list[tuple[float, object]]] = {}
    for kind in ("timeout", "step"):
        env = simpy.Environment()
        log = seen[kind] = []

        def note(event, log=log, env=env):
            log.append((env.now, event._value))

        for i, delay in enumerate([3.0, 1.0, 1.0, 0.0, 2.5, 1.0]):
            if kind == "timeout":
                Timeout(env, delay, i).callbacks.append(note)
            else:
                Step(env, delay, i, note)
        env.run()
    assert seen["step"] == seen["timeout"]
    assert [value for _, value in seen["step"]] == [3, 1, 2, 5, 4, 0]
