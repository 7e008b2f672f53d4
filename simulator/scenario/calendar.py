"""Working time: when people work, and how wall-clock time maps to working time.

Operators deploy and do toil only in working hours, so an effort of two hours that starts at
16:30 on a Friday ends at 10:30 on Monday. Time 0 is a Monday at 00:00. Everything here is a
pure function of the scenario's working hours (`organisation`), tested without a simulation,
so the delivery model, its metrics and the charts all read the same calendar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .units import DAY

if TYPE_CHECKING:
    from .delivery import Organisation


@dataclass(frozen=True)
class Calendar:
    """Working hours [day_start, day_end) on the first `working_days` days of each week,
    except `holidays` (day numbers from time 0)."""

    day_start: float = 9 * 3600.0
    day_end: float = 17 * 3600.0
    working_days: int = 5
    holidays: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def from_organisation(cls, organisation: Organisation) -> Calendar:
        return cls(
            organisation.day_start,
            organisation.day_end,
            organisation.working_days,
            frozenset(organisation.holidays),
        )

    @classmethod
    def always(cls) -> Calendar:
        """Every second is working time (operators who never sleep: the textbook queue)."""
        return cls(0.0, DAY, 7)

    @property
    def day_length(self) -> float:
        return self.day_end - self.day_start

    @property
    def always_working(self) -> bool:
        return (
            self.day_start == 0
            and self.day_end == DAY
            and self.working_days == 7
            and (not self.holidays)
        )

    def is_working_day(self, day: int) -> bool:
        return day % 7 < self.working_days and day not in self.holidays

    def is_working(self, t: float) -> bool:
        day = math.floor(t / DAY)
        clock = t - day * DAY
        return self.is_working_day(day) and self.day_start <= clock < self.day_end

    def next_working(self, t: float) -> float:
        """`t` itself if it is working time, else the start of the next working period."""
        if self.always_working:
            return t
        day = math.floor(t / DAY)
        clock = t - day * DAY
        if self.is_working_day(day):
            if clock < self.day_start:
                return day * DAY + self.day_start
            if clock < self.day_end:
                return t
        for ahead in range(1, 400):
            if self.is_working_day(day + ahead):
                return (day + ahead) * DAY + self.day_start
        raise ValueError("no working day within 400 days: check working_days and holidays")

    def add_working_time(self, t: float, work: float) -> float:
        """The wall-clock time at which `work` seconds of working time started at `t` end."""
        if self.always_working:
            return t + work
        t = self.next_working(t)
        while True:
            day = math.floor(t / DAY)
            left = day * DAY + self.day_end - t
            if work <= left:
                return t + work
            work -= left
            t = self.next_working(day * DAY + self.day_end)

    def working_seconds(self, start: float, end: float) -> float:
        """Working time within [start, end]."""
        if end <= start:
            return 0.0
        if self.always_working:
            return end - start
        total = 0.0
        for day in range(math.floor(start / DAY), math.floor(end / DAY) + 1):
            if not self.is_working_day(day):
                continue
            low = max(start, day * DAY + self.day_start)
            high = min(end, day * DAY + self.day_end)
            total += max(0.0, high - low)
        return total

    def next_tick(self, t: float, every: float, offset: float) -> float:
        """The first time `offset + k·every` (k = 0, 1, ...) at or after `t`."""
        if t <= offset:
            return offset
        return offset + math.ceil((t - offset) / every - 1e-12) * every
