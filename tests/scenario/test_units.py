import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.scenario.units import (
    format_duration,
    format_rate,
    parse_duration,
    parse_money_per_hour,
    parse_rate,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("5min", 300),
        ("4h", 14400),
        ("30d", 30 * 86400),
        ("1w", 604800),
        ("1.5 h", 5400),
        (12, 12),
        (0.5, 0.5),
        ("60000s", 60000),
        ("100us", 1e-4),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("3.6/s", 3.6), ("120/min", 2), ("2/h", 2 / 3600), ("10/d", 10 / 86400), (5, 5)],
)
def test_rates(text, per_second):
    assert parse_rate(text) == pytest.approx(per_second)


def test_money():
    assert parse_money_per_hour("$0.096/h") == pytest.approx(0.096)
    assert parse_money_per_hour("$2.4/d") == pytest.approx(0.1)
    assert parse_money_per_hour(0.5) == 0.5


@pytest.mark.parametrize("bad", ["1 fortnight", "fast", "", "1/s", True, None, "nan", [1]])
def test_bad_durations_say_what_was_expected(bad):
    with pytest.raises(ValueError, match="expected a duration such as 250ms"):
        parse_duration(bad)


@pytest.mark.parametrize("bad", ["3.6/yr", "lots", "3/s/s", False])
def test_bad_rates(bad):
    with pytest.raises(ValueError, match="expected a rate"):
        parse_rate(bad)


def test_money_needs_a_dollar_sign_or_a_number():
    with pytest.raises(ValueError, match="expected a price"):
        parse_money_per_hour("0.096/h")


@given(st.floats(min_value=1e-3, max_value=1e8, allow_nan=False))
def test_formatted_durations_read_back(seconds):
    assert math.isclose(parse_duration(format_duration(seconds)), seconds, rel_tol=1e-8)


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False))
def test_formatted_rates_read_back(rate):
    assert math.isclose(parse_rate(format_rate(rate)), rate, rel_tol=1e-8)
