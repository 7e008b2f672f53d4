"""Where a change's time goes: the bookkeeping the delivery model does as each change passes
its stages (waiting for the release, the board, an operator, a CI runner; build and test,
preview, canary, rollout; rework after a failure).

Nothing here draws a random number or schedules an event: the model tells the log when a
change moves on, and the log closes the stretch it leaves. A change's stretches therefore
tile its time from commit to production, which is what makes the lead-time breakdown add
up (`simulator.metrics.delivery.lead_time_breakdown`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import numpy as np

from ...records.delivery import STAGES, ChangeStages
from ...scenario.calendar import Calendar
from ...scenario.units import DAY

STAGE = {name: code for code, name in enumerate(STAGES)}
"""Stage name → the code the records carry."""

IN_PRODUCTION = len(STAGES)
"""The model's code for a change running in production: not a stage of its lead time. If
its release is rolled back, the stretch in production becomes rework."""

OUTSIDE_HOURS = STAGE["outside_hours"]


def working_pieces(calendar: Calendar, start: float, end: float) -> list[tuple[float, float, bool]]:
    """[start, end] cut into stretches of working time (True) and the nights, weekends and
    holidays between them (False), in order. Work done in working time that spans a night
    (a deploy started at 16:30) is working stretches with a non-working one between."""
    if end <= start:
        return []
    if calendar.always_working:
        return [(start, end, True)]
    pieces: list[tuple[float, float, bool]] = []
    t = start
    while t < end:
        working = calendar.is_working(t)
        if working:
            stop = min(end, math.floor(t / DAY) * DAY + calendar.day_end)
        else:
            stop = min(end, calendar.next_working(t))
        stop = max(stop, math.nextafter(t, math.inf))  # always move on, whatever the rounding
        pieces.append((t, min(stop, end), working))
        t = stop
    return pieces


class Staged(Protocol):
    """What the log needs of a change: its id and where it is now."""

    id: int
    stage: int
    since: float
    ahead: int
    deploy: int
    split: bool


class StageLog:
    """Columnar stretches (change, stage, start, end, ahead, deploy) of every change."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.change: list[int] = []
        self.stage: list[int] = []
        self.start: list[float] = []
        self.end: list[float] = []
        self.ahead: list[int] = []
        self.deploy: list[int] = []

    def move(
        self,
        items: Iterable[Staged],
        stage: str,
        now: float,
        *,
        ahead: int = -1,
        deploy: int = -1,
        split: bool = False,
    ) -> None:
        """The changes enter `stage` at `now`: close the stretch each leaves. With `split`,
        the stage is work done in working time, and its non-working stretches are recorded
        as outside_hours when it closes."""
        code = STAGE[stage]
        for item in items:
            self._close(item, now)
            item.stage, item.since, item.ahead, item.deploy, item.split = (
                code,
                now,
                ahead,
                deploy,
                split,
            )

    def land(self, items: Iterable[Staged], now: float) -> None:
        """The changes run in production from `now`."""
        for item in items:
            self._close(item, now)
            item.stage, item.since, item.ahead, item.split = IN_PRODUCTION, now, -1, False

    def rolled_back(self, items: Iterable[Staged]) -> None:
        """The release the changes were in is rolled back: their time in production since it
        landed was rework (the stretch is closed by their next move)."""
        code = STAGE["rework"]
        for item in items:
            if item.stage == IN_PRODUCTION:
                item.stage, item.split = code, False

    def _close(self, item: Staged, now: float) -> None:
        if now <= item.since:
            return
        assert item.stage != IN_PRODUCTION, f"change {item.id} left production unannounced"
        assert item.stage >= 0, f"change {item.id} moved before it entered a stage"
        if item.split:
            for start, end, working in working_pieces(self.calendar, item.since, now):
                self._append(item, item.stage if working else OUTSIDE_HOURS, start, end)
        else:
            self._append(item, item.stage, item.since, now)

    def _append(self, item: Staged, stage: int, start: float, end: float) -> None:
        self.change.append(item.id)
        self.stage.append(stage)
        self.start.append(start)
        self.end.append(end)
        self.ahead.append(item.ahead)
        self.deploy.append(item.deploy)

    def records(self) -> ChangeStages:
        return ChangeStages(
            np.asarray(self.change, dtype=np.int64),
            np.asarray(self.stage, dtype=np.int8),
            np.asarray(self.start, dtype=float),
            np.asarray(self.end, dtype=float),
            np.asarray(self.ahead, dtype=np.int32),
            np.asarray(self.deploy, dtype=np.int64),
        )
