"""The entry points' rows of the SLI log go in as bytes and copies (`log_entries`): the log
holds what `SliLog.record` adds row by row, bit for bit (NaN, infinities, −0.0 and the
smallest floats included)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.model.monitoring.model import entry_rows, log_entries, log_services, service_rows
from simulator.records.monitoring import ENTRY_POINT, SliLog

COLUMNS = ("time", "scope", "target", "requests", "bad", "busy", "capacity", "replicas")
floats = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.lists(st.integers(0, 2000), min_size=0, max_size=20, unique=True),
    scrapes=st.lists(st.tuples(st.floats(0, 1e7), st.data()), min_size=1, max_size=4),
)
def test_the_rows_are_those_record_adds_one_by_one(entries, scrapes):
    fast, slow = SliLog(), SliLog()
    rows = entry_rows(fast, entries)
    for now, data in scrapes:
        total = np.array(data.draw(st.lists(floats, min_size=len(entries), max_size=len(entries))))
        bad = np.array(data.draw(st.lists(floats, min_size=len(entries), max_size=len(entries))))
        log_entries(fast, rows, now, total.astype(float), bad.astype(float))
        for k, entry in enumerate(entries):
            slow.record(
                now, ENTRY_POINT, entry, float(total[k]), float(bad[k]), math.nan, math.nan, 0
            )
    for column in COLUMNS:
        ours, theirs = getattr(fast, column), getattr(slow, column)
        assert ours.typecode == theirs.typecode
        assert ours.tobytes() == theirs.tobytes(), column


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 30),
    scrapes=st.lists(st.tuples(st.floats(0, 1e7), st.data()), min_size=1, max_size=4),
)
def test_the_service_rows_are_those_record_services_adds(count, scrapes):
    fast, slow = SliLog(), SliLog()
    rows = service_rows(fast, count)
    for now, data in scrapes:
        parts = [
            np.array(data.draw(st.lists(floats, min_size=count, max_size=count)), dtype=float)
            for _ in range(4)
        ]
        replicas = np.array(
            data.draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count)),
            dtype=np.int64,
        )
        log_services(fast, rows, now, (parts[0], parts[1], parts[2], parts[3]), replicas)
        slow.record_services(now, *parts, replicas)
    for column in COLUMNS:
        ours, theirs = getattr(fast, column), getattr(slow, column)
        assert ours.typecode == theirs.typecode
        assert ours.tobytes() == theirs.tobytes(), column
