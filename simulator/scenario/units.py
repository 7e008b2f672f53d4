"""Human units in scenarios: durations, rates and prices, always stored in SI units.

Scenarios are written by people, so `250ms`, `3.6/s` and `$0.096/h` read better than
`0.25`, `3.6` and `0.096`. Internally every duration is in seconds, every rate in events
per second and every price in US dollars per hour.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

SECONDS_PER: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
"""Seconds in a minute, an hour, a day and a week, for code that counts in them."""

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_DURATION_RE = re.compile(rf"^\s*({_NUMBER})\s*([a-z]+)?\s*$")
_RATE_RE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*([a-z]+))?\s*$")
_MONEY_RE = re.compile(rf"^\s*\$?\s*({_NUMBER})\s*(?:/\s*([a-z]+))?\s*$")

DURATION_UNITS = "250ms, 30s, 5min, 4h, 30d, 1w (a plain number means seconds)"
RATE_UNITS = "3.6/s, 120/min, 2/h, 10/d (a plain number means per second)"
MONEY_UNITS = "$0.096/h (US dollars per hour; a plain number means $/h)"


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"expected a finite {what}")
    return value


def _plain_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def parse_duration(value: Any) -> float:
    """Seconds from `250ms`, `30s`, `5min`, `4h`, `30d`, `1w` or a plain number of seconds."""
    number = _plain_number(value)
    if number is not None:
        return _finite(number, "duration")
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            amount, unit = match.groups()
            factor = SECONDS_PER.get(unit or "s")
            if factor is not None:
                return _finite(float(amount) * factor, "duration")
    raise ValueError(f"expected a duration such as {DURATION_UNITS}, got {value!r}")


def parse_rate(value: Any) -> float:
    """Events per second from `3.6/s`, `120/min`, `2/h`, `10/d` or a plain number per second."""
    number = _plain_number(value)
    if number is not None:
        return _finite(number, "rate")
    if isinstance(value, str):
        match = _RATE_RE.match(value)
        if match:
            amount, unit = match.groups()
            factor = SECONDS_PER.get(unit or "s")
            if factor is not None:
                return _finite(float(amount) / factor, "rate")
    raise ValueError(f"expected a rate such as {RATE_UNITS}, got {value!r}")


def parse_money_per_hour(value: Any) -> float:
    """US dollars per hour from `$0.096/h`, `$2.30/d` or a plain number of dollars per hour."""
    number = _plain_number(value)
    if number is not None:
        return _finite(number, "price")
    if isinstance(value, str):
        match = _MONEY_RE.match(value)
        if match and "$" in value:
            amount, unit = match.groups()
            factor = SECONDS_PER.get(unit or "h")
            if factor is not None:
                return _finite(float(amount) * 3600.0 / factor, "price")
    raise ValueError(f"expected a price such as {MONEY_UNITS}, got {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest exact human form of a duration, so `explain` output can be read back."""
    if seconds == 0:
        return "0s"
    for unit in ("w", "d", "h", "min", "s", "ms", "us"):
        amount = seconds / SECONDS_PER[unit]
        if abs(amount) >= 1 and math.isclose(amount, round(amount, 6), rel_tol=0, abs_tol=1e-9):
            return f"{_compact(amount)}{unit}"
    return f"{_compact(seconds)}s"


def format_rate(per_second: float) -> str:
    """A rate in the unit that makes it a readable number, e.g. `3.6/s` or `2/h`."""
    if per_second == 0:
        return "0/s"
    for unit in ("s", "min", "h", "d"):
        amount = per_second * SECONDS_PER[unit]
        if abs(amount) >= 1:
            return f"{_compact(amount)}/{unit}"
    return f"{_compact(per_second * SECONDS_PER['w'])}/w"


def format_money_per_hour(dollars: float) -> str:
    return f"${_compact(dollars)}/h"


def _compact(number: float) -> str:
    text = f"{number:.10g}"
    return text


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A duration in seconds, written as `250ms`, `30s`, `5min`, `4h`, `30d`, `1w` or seconds."""

Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(format_rate, return_type=str, when_used="json"),
]
"""A rate in events per second, written as `3.6/s`, `120/min`, `2/h`, `10/d` or per second."""

MoneyPerHour = Annotated[
    float,
    BeforeValidator(parse_money_per_hour),
    PlainSerializer(format_money_per_hour, return_type=str, when_used="json"),
]
"""A price in US dollars per hour, written as `$0.096/h`."""
