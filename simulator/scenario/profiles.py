"""Traffic profiles: how the arrival rate changes over a run.

A profile only describes the shape; `simulator.model.profiles` turns it into a rate
function (values, integrals, bounds) and arrival times. Times in a profile are measured
from the start of the run (time 0, warm-up included), and time 0 is midnight for the
diurnal profile. Every profile except `replay` multiplies the traffic's base `rate`.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from .base import ScenarioModel, knob
from .files import data_file, read_text
from .units import Duration, format_duration, parse_duration, parse_rate

_CLOCK_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")
_KIND = "shape of the rate over time: constant, diurnal, step, spike or replay"


class ConstantProfile(ScenarioModel):
    """The same rate all the time: the traffic's base `rate` (a homogeneous Poisson process)."""

    key_hints: ClassVar[dict[str, str]] = {
        "rate": "the rate is traffic.NAME.rate, next to profile, not inside it"
    }

    profile: Literal["constant"] = knob("constant", _KIND)


class DiurnalProfile(ScenarioModel):
    """A smooth daily cycle (a cosine) whose mean over a period is the traffic's base `rate`.

    Because the base rate is the daily mean, switching a scenario from constant to diurnal
    keeps its total load and only moves it around the day: the peak is
    2 / (1 + trough_ratio) times the mean (1.54× for the default 0.3).
    """

    key_hints: ClassVar[dict[str, str]] = {
        "amplitude": "give trough_ratio (rate at the trough / rate at the peak) instead",
        "peak": "the hour of the peak is peak_hour",
        "rate": "the daily mean rate is traffic.NAME.rate, next to profile",
    }

    profile: Literal["diurnal"] = knob("diurnal", _KIND)
    peak_hour: float = knob(
        14.0,
        'hour of the day of the peak (0–24, or "14:30"; time 0 of the run is midnight); '
        "with a period other than 1d, the same fraction of the period",
        "h",
        ge=0,
        le=24,
    )
    trough_ratio: float = knob(
        0.3, "rate at the trough / rate at the peak (1 means constant)", "-", gt=0, le=1
    )
    period: Duration = knob(86400.0, "length of one cycle", "s", gt=0)

    @field_validator("peak_hour", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, str) and (match := _CLOCK_RE.match(value)):
            hours, minutes = int(match[1]), int(match[2])
            if minutes >= 60:
                raise ValueError(f"expected minutes below 60, got {value!r}")
            return hours + minutes / 60
        return value

    @property
    def peak_time(self) -> float:
        """Seconds into each period at which the rate peaks."""
        return self.peak_hour / 24.0 * self.period % self.period


class StepProfile(ScenarioModel):
    """The base rate times `factor` from `at` on, and back to 1× at `until` if given.

    A launch, a migration that moves traffic over, or an outage upstream that halves it.
    """

    key_hints: ClassVar[dict[str, str]] = {
        "start": "the time of the step is at",
        "end": "the time the step ends is until",
        "rate": "give the multiplier as factor; the base rate is traffic.NAME.rate",
    }

    profile: Literal["step"] = knob("step", _KIND)
    at: Duration = knob(3600.0, "time of the step, from the start of the run", "s", ge=0)
    factor: float = knob(2.0, "multiple of the base rate from `at` on", "-", gt=0)
    until: Duration | None = knob(
        None, "time the rate returns to the base rate; empty means never", "s"
    )

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> StepProfile:
        if self.until is not None and self.until <= self.at:
            raise ValueError(
                f"expected until after at ({format_duration(self.at)}), "
                f"got {format_duration(self.until)}"
            )
        return self


class SpikeProfile(ScenarioModel):
    """A Hacker News front page: a rise to `factor`× the base rate, a plateau, a decay.

    The rise is linear over `ramp_up`, the plateau lasts `hold`, and the excess over 1×
    then decays exponentially with the e-folding time `decay`. The extra requests over the
    base load are rate × (factor − 1) × (ramp_up / 2 + hold + decay).

    Reported front-page spikes (/work/shared/REFERENCE.md, "Hacker News front-page spike"):
    a peak of ~600 req/s on one blog (ma.ttias.be, 2015); 36k visitors and 132k hits in a
    day (dataswamp.org, 2021); 15–20k visitors over ~20 h, at most 308 at once
    (harrisonbroadbent.com, 2024). A tail of ~20 h is 6–7 e-folding times of the default
    3 h decay.
    """

    key_hints: ClassVar[dict[str, str]] = {
        "peak": "the peak multiple of the base rate is factor",
        "at": "the time the spike starts is start",
        "duration": "the spike's length is ramp_up + hold + decay (an e-folding time)",
        "half_life": "give decay, the e-folding time (half-life / ln 2)",
    }

    profile: Literal["spike"] = knob("spike", _KIND)
    start: Duration = knob(3600.0, "time the rise begins, from the start of the run", "s", ge=0)
    factor: float = knob(10.0, "peak rate as a multiple of the base rate", "-", gt=0)
    ramp_up: Duration = knob(1800.0, "linear rise from 1× to factor×", "s", ge=0)
    hold: Duration = knob(7200.0, "time spent at the peak", "s", ge=0)
    decay: Duration = knob(
        10800.0,
        "e-folding time of the exponential decay back towards 1× (0 drops at once); "
        "the excess halves every 0.69 × decay",
        "s",
        ge=0,
    )


class ReplayProfile(ScenarioModel):
    """Absolute rates replayed from a CSV file with the columns `time` and `rate`.

    The file's rates replace the traffic's base `rate`, which is then ignored; they are
    multiplied by `scale`. Before the first row the first rate applies;
    after the last row the last rate holds, unless `repeat` loops the file, in which case
    the last row's time is the length of a loop (and that row marks the end: with step
    interpolation its rate is not used, so make it equal to the first row's).
    Lines starting with `#` and blank lines are skipped.
    """

    key_hints: ClassVar[dict[str, str]] = {
        "path": "the CSV is given by file",
        "column": "the columns must be named time and rate",
        "loop": "use repeat: true",
        "interpolation": "the key is interpolate (step or linear)",
    }

    profile: Literal["replay"] = knob("replay", _KIND)
    file: str | None = knob(
        None,
        "CSV with a header and the columns time (a duration, plain numbers are seconds) and "
        "rate (a rate, plain numbers are per second), relative to the scenario file",
    )
    interpolate: Literal["step", "linear"] = knob(
        "step", "between rows: step (hold each row's rate until the next) or linear"
    )
    repeat: bool = knob(False, "loop the file: its last row's time is the length of a loop")
    scale: float = knob(1.0, "multiplier applied to every rate in the file", "-", gt=0)

    _times: tuple[float, ...] = PrivateAttr(())
    _rates: tuple[float, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _load_rates(self, info: ValidationInfo) -> ReplayProfile:
        if self.file is None:
            raise ValueError("expected 'file': a CSV of time,rate rows to replay")
        path = data_file(info.context, self.file, "a CSV file of time,rate rows")
        self._times, self._rates = read_rates(path, self.file)
        if self.repeat and self._times[-1] <= 0:
            raise ValueError(
                f"{self.file!r}: cannot repeat, the last row's time (the loop length) is 0"
            )
        return self

    @property
    def times(self) -> np.ndarray:
        """Seconds from the start of the run, strictly increasing."""
        return np.asarray(self._times, dtype=float)

    @property
    def rates(self) -> np.ndarray:
        """Arrivals per second at each time, already multiplied by `scale`."""
        return np.asarray(self._rates, dtype=float) * self.scale


def read_rates(path: Path, name: str | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Times (s) and rates (1/s) from a CSV with a `time,rate` header, checked row by row.

    Errors name the file (as `name`, what the scenario wrote), the line and the column, on
    one line, as scenario errors must, and never repeat the file's content.
    """
    where = repr(name if name is not None else str(path))
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ValueError(f"expected a CSV file of time,rate rows, but {where} {what}")
    return _parsed_rates(read_text(path, name if name is not None else str(path)), where)


@functools.lru_cache(maxsize=16)
def _parsed_rates(text: str, where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`read_rates`' parsing of a file's text, kept for the same text: a fleet of a thousand
    services validates its hundred entry points' replay profile of one file on every load
    (about 80 ms each), and the tuples are immutable, so they are shared, not copied (an
    error is raised again, never kept)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error:
            raise ValueError(f"{where} line {number}: unclosed or misplaced quote") from None
        rows.append((number, [cell.strip() for cell in cells]))
    if not rows:
        raise ValueError(f"expected a header and rows of time,rate in {where}, but it is empty")
    header_line, header = rows[0]
    names = [cell.lower() for cell in header]
    missing = [name for name in ("time", "rate") if name not in names]
    if missing:
        raise ValueError(
            f"{where} line {header_line}: expected a header with the columns time and rate"
        )
    time_at, rate_at = names.index("time"), names.index("rate")
    if len(rows) < 2:
        raise ValueError(f"{where}: expected at least one row after the header")
    times: list[float] = []
    rates: list[float] = []
    for number, row in rows[1:]:
        if len(row) <= max(time_at, rate_at):
            raise ValueError(
                f"{where} line {number}: expected {len(header)} columns, got {len(row)}"
            )
        try:
            time = parse_duration(row[time_at])
        except ValueError:
            raise ValueError(
                f"{where} line {number}: time: expected a duration such as 90 or 1.5min"
            ) from None
        try:
            rate = parse_rate(row[rate_at])
        except ValueError:
            raise ValueError(
                f"{where} line {number}: rate: expected a rate such as 20 or 1200/min"
            ) from None
        if not (math.isfinite(time) and math.isfinite(rate)):
            raise ValueError(f"{where} line {number}: expected finite numbers")
        if time < 0:
            raise ValueError(
                f"{where} line {number}: time: expected a time from the start of the run (≥ 0)"
            )
        if times and time <= times[-1]:
            raise ValueError(
                f"{where} line {number}: expected times to increase, got "
                f"{format_duration(time)} after {format_duration(times[-1])}"
            )
        if rate < 0:
            raise ValueError(f"{where} line {number}: rate: expected a non-negative rate")
        times.append(time)
        rates.append(rate)
    return tuple(times), tuple(rates)


Profile = Annotated[
    ConstantProfile | DiurnalProfile | StepProfile | SpikeProfile | ReplayProfile,
    Field(discriminator="profile"),
]
"""A traffic profile, chosen by its `profile` key."""


def default_profile() -> ConstantProfile:
    """The default profile: a constant rate, the behaviour before profiles existed."""
    return ConstantProfile()
