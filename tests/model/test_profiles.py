"""Traffic profiles: their shapes, exact integrals and bounds, validation, and arrivals that
follow them.

The statistical checks bin arrivals into 15-minute windows. Counts of a Poisson process in
disjoint windows are independent Poisson variables with means Λ(b) − Λ(a), so Pearson's
X² = Σ (observed − expected)² / expected is χ² with one degree of freedom per window (no
parameter is fitted); every window expects ≥ 800 arrivals, where the χ² approximation is
excellent. Seeds are fixed, so the verdict is the same every run; a correct generator fails
a check at the 0.1% level. `test_the_chi_square_check_has_power` shows the same check
would catch small errors in the shape.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from simulator.model.profiles import (
    ConstantRate,
    RateFunction,
    arrival_stream,
    arrival_times,
    next_arrival_sampler,
    rate_function,
    window_edges,
)
from simulator.scenario import profiles
from simulator.scenario.base import unit_of
from simulator.scenario.distributions import BLOCK
from tests.helpers import SCENARIOS

PROFILE = TypeAdapter(profiles.Profile)
HN_CSV = SCENARIOS / "data" / "hn-front-page-rates.csv"
DAY = 86400.0
HOUR = 3600.0
LEVEL = 0.001


def profile(data: dict, base_dir: Path | None = None) -> profiles.Profile:
    return PROFILE.validate_python(data, context={"base_dir": base_dir or HN_CSV.parent})


def rate(data: dict, base: float = 2.0, base_dir: Path | None = None) -> RateFunction:
    return rate_function(profile(data, base_dir), base)


def error_message(data: dict, base_dir: Path | None = None) -> str:
    with pytest.raises(ValidationError) as caught:
        profile(data, base_dir)
    message = caught.value.errors(include_url=False)[0]["msg"]
    assert "\n" not in message
    return message


def write_csv(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rates.csv").write_text(text)
    return tmp_path


SHAPES = {
    "diurnal": {"profile": "diurnal"},
    "step": {"profile": "step", "at": "2h", "factor": 3, "until": "5h"},
    "spike": {"profile": "spike"},
    "sudden spike": {"profile": "spike", "ramp_up": 0, "decay": 0, "factor": 0.5},
    "replay step": {"profile": "replay", "file": HN_CSV.name},
    "replay linear looped": {
        "profile": "replay",
        "file": HN_CSV.name,
        "interpolate": "linear",
        "repeat": True,
    },
}


# ---------------------------------------------------------------------------- the schema


def test_every_profile_field_has_a_description_a_unit_and_a_default():
    for model in (
        profiles.ConstantProfile,
        profiles.DiurnalProfile,
        profiles.StepProfile,
        profiles.SpikeProfile,
        profiles.ReplayProfile,
    ):
        assert (model.__doc__ or "").strip()
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert unit_of(field), f"{model.__name__}.{name} has no unit"
            assert not field.is_required(), f"{model.__name__}.{name} has no default"


def test_the_default_profile_is_constant_and_keeps_the_base_rate():
    default = profiles.default_profile()
    assert default == profile({"profile": "constant"})
    function = rate_function(default, 3.6)
    assert isinstance(function, ConstantRate) and function.is_constant
    assert function(1234.5) == 3.6 and function.mean_rate(0, 10) == 3.6


def test_profiles_that_cannot_vary_keep_the_constant_fast_path():
    for data in (
        {"profile": "diurnal", "trough_ratio": 1},
        {"profile": "step", "factor": 1},
        {"profile": "spike", "factor": 1},
    ):
        assert rate(data).is_constant, data


def test_profiles_round_trip_through_json():
    for data in SHAPES.values():
        parsed = profile(data)
        assert profile(parsed.model_dump(mode="json")) == parsed


# ---------------------------------------------------------------------------- shapes


def test_diurnal_mean_over_any_period_is_the_base_rate():
    function = rate({"profile": "diurnal"}, base=5.0)
    for start in (0.0, 1234.5, 3.7 * DAY):
        assert function.mean_rate(start, start + DAY) == pytest.approx(5.0, rel=1e-12)
    assert function.mean_rate(0, 10 * DAY) == pytest.approx(5.0, rel=1e-12)


def test_diurnal_peaks_at_peak_hour_with_the_trough_ratio():
    function = rate({"profile": "diurnal", "peak_hour": "14:30", "trough_ratio": 0.25})
    t = np.arange(0.0, DAY, 1.0)
    values = function(t)
    assert t[values.argmax()] == 14.5 * HOUR
    assert t[values.argmin()] == 2.5 * HOUR
    assert values.min() / values.max() == pytest.approx(0.25)
    assert values.max() == pytest.approx(2.0 * 2 / 1.25)  # base × 2 / (1 + trough_ratio)


def test_diurnal_with_another_period_peaks_at_the_same_fraction_of_it():
    function = rate({"profile": "diurnal", "period": "1h", "peak_hour": 6})
    t = np.arange(0.0, HOUR, 0.5)
    assert t[function(t).argmax()] == 900.0


def test_a_step_multiplies_the_rate_between_at_and_until():
    function = rate({"profile": "step", "at": "1h", "factor": 3, "until": "2h"}, base=4.0)
    assert function(np.array([0.0, 3599.9, 3600.0, 7199.9, 7200.0, 1e6])).tolist() == [
        4.0,
        4.0,
        12.0,
        12.0,
        4.0,
        4.0,
    ]
    assert function.mean_rate(0, 3 * HOUR) == pytest.approx(4.0 * 5 / 3)
    forever = rate({"profile": "step", "at": "1h", "factor": 0.5}, base=4.0)
    assert forever(1e7) == 2.0


def test_a_spike_rises_holds_and_decays_back_towards_the_base_rate():
    spike = {"profile": "spike", "start": "1h", "factor": 10, "ramp_up": "30min"}
    function = rate({**spike, "hold": "2h", "decay": "3h"}, base=1.0)
    start, peak, end = HOUR, 1.5 * HOUR, 3.5 * HOUR
    assert function(start - 1) == 1.0 and function(start) == 1.0
    assert function((start + peak) / 2) == pytest.approx(5.5)  # halfway up the linear ramp
    assert function(peak) == pytest.approx(10.0) and function(end - 1) == pytest.approx(10.0)
    assert function(end + 3 * HOUR) == pytest.approx(1 + 9 / math.e)  # one e-folding time
    assert function(end + 20 * HOUR) == pytest.approx(1 + 9 * math.exp(-20 / 3))  # ~20 h tail
    late = np.linspace(end, end + 30 * HOUR, 1000)
    assert np.all(np.diff(function(late)) <= 0)
    extra = function.expected_count(0, 100 * DAY) - 100 * DAY
    assert extra == pytest.approx(9 * (900 + 7200 + 10800), rel=1e-9)  # (f−1)(ramp/2+hold+decay)


def test_replay_holds_or_interpolates_between_rows_and_loops(tmp_path):
    folder = write_csv(tmp_path, "# made up\ntime,rate\n10min,2/s\n20min,120/min\n30min,6\n1h,2\n")
    step = rate({"profile": "replay", "file": "rates.csv"}, base=99.0, base_dir=folder)
    linear = rate(
        {"profile": "replay", "file": "rates.csv", "interpolate": "linear"}, base_dir=folder
    )
    at = np.array([0.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0, 2700.0, 3600.0, 1e6])
    assert step(at).tolist() == [2, 2, 2, 2, 2, 6, 6, 2, 2]  # the base rate 99 is not used
    assert linear(at).tolist() == [2, 2, 2, 2, 4, 6, 4, 2, 2]
    looped = rate(
        {"profile": "replay", "file": "rates.csv", "repeat": True, "scale": 10}, base_dir=folder
    )
    assert looped(at[:-1] + 5 * HOUR).tolist() == [20, 20, 20, 20, 20, 60, 60, 20]
    assert looped.mean_rate(0, HOUR) == pytest.approx(10 * (2 * 1800 + 6 * 1800) / 3600)
    assert looped.mean_rate(0, 7 * HOUR) == pytest.approx(looped.mean_rate(0, HOUR))


def test_the_example_csv_is_a_plausible_front_page_day():
    function = rate({"profile": "replay", "file": HN_CSV.name, "repeat": True})
    day_total = function.expected_count(0, DAY)
    assert 100_000 < day_total < 200_000  # REFERENCE.md: 132k hits in a front-page day
    assert 5 < function.max_rate(0, DAY) < 10
    assert function.max_rate(0, 9 * HOUR) < 0.5
    assert function.expected_count(DAY, 2 * DAY) == pytest.approx(day_total)


@pytest.mark.parametrize("name", SHAPES)
def test_the_cumulative_rate_is_the_integral_of_the_rate(name):
    function = rate(SHAPES[name])
    edges = np.arange(0.0, 2 * DAY + 1, 5.0)
    numeric = np.concatenate([[0], np.cumsum(function(edges[:-1] + 2.5) * 5.0)])  # midpoints
    exact = function.cumulative(edges)
    assert np.allclose(numeric, exact, rtol=0, atol=1e-6 * exact[-1])
    window = function.mean_rates(edges[::720])
    assert np.allclose(window, np.diff(exact[::720]) / HOUR)


@pytest.mark.parametrize("name", SHAPES)
def test_max_rate_is_a_tight_upper_bound(name):
    function = rate(SHAPES[name])
    rng = np.random.default_rng(7)
    for _ in range(60):
        start = rng.uniform(0, 2 * DAY)
        end = start + math.exp(rng.uniform(0, math.log(6 * HOUR)))
        dense = function(np.linspace(start, end, 20001)).max()
        bound = function.max_rate(start, end)
        assert dense <= bound <= dense * (1 + 1e-3) + 1e-12, (start, end)


# ---------------------------------------------------------------------------- validation


def test_replay_errors_name_the_file_and_line(tmp_path):
    missing = error_message({"profile": "replay", "file": "nope.csv"}, tmp_path)
    assert "nope.csv" in missing and "does not exist" in missing
    rows = "time,rate\n0,1\n10min,2\n10min,3\n"
    folder = write_csv(tmp_path, rows)
    message = error_message({"profile": "replay", "file": "rates.csv"}, folder)
    assert "line 4: expected times to increase, got 10min after 10min" in message
    folder = write_csv(tmp_path, "# comment\n\ntime,rate\n0,1\n10min,-2/s\n")
    message = error_message({"profile": "replay", "file": "rates.csv"}, folder)
    assert "line 5: rate: expected a non-negative rate" in message
    assert "-2/s" not in message  # no cell of the file is echoed
    folder = write_csv(tmp_path, "time,rate\n0,fast\n")
    message = error_message({"profile": "replay", "file": "rates.csv"}, folder)
    assert "line 2: rate: expected a rate" in message and "fast" not in message
    folder = write_csv(tmp_path, "0,1\n10,2\n")
    message = error_message({"profile": "replay", "file": "rates.csv"}, folder)
    assert "line 1: expected a header with the columns time and rate" in message
    folder = write_csv(tmp_path, "time,rate\n0,1\n5\n")
    assert "line 3: expected 2 columns" in error_message(
        {"profile": "replay", "file": "rates.csv"}, folder
    )
    assert "expected 'file'" in error_message({"profile": "replay"})


def test_profile_errors_are_one_clear_line():
    assert "until after at" in error_message({"profile": "step", "at": "2h", "until": "1h"})
    assert "greater than 0" in error_message({"profile": "diurnal", "trough_ratio": 0})
    assert "less than or equal to 1" in error_message({"profile": "diurnal", "trough_ratio": 2})
    assert "less than or equal to 24" in error_message({"profile": "diurnal", "peak_hour": 25})
    assert "expected a duration" in error_message({"profile": "spike", "decay": "soon"})
    assert "trough_ratio" in error_message({"profile": "diurnal", "amplitude": 0.5})
    assert "did you mean" in error_message({"profile": "spike", "ramp": "1h"})
    with pytest.raises(ValidationError) as caught:
        profile({"profile": "hockey-stick"})
    assert caught.value.errors()[0]["type"] == "union_tag_invalid"


# ---------------------------------------------------------------------------- arrivals


def chi_square_p(times: np.ndarray, function: RateFunction, end: float) -> float:
    """The p-value of Pearson's X² for counts in 15-minute windows against Λ."""
    edges = np.arange(0.0, end + 1, 900.0)
    observed = np.histogram(times, edges)[0]
    expected = np.diff(function.cumulative(edges))
    assert expected.min() >= 800  # so the χ² approximation of Poisson counts holds
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(statistic, len(expected)))


def sample(function: RateFunction, seed: int, horizon: float) -> np.ndarray:
    next_arrival = next_arrival_sampler(function, np.random.default_rng(seed), horizon)
    times, now = [], 0.0
    while (now := next_arrival(now)) != math.inf:
        times.append(now)
    return np.array(times)


def stream(function: RateFunction, seed: int, horizon: float) -> np.ndarray:
    next_time = arrival_stream(function, np.random.default_rng(seed), horizon)
    return np.array(list(iter(next_time, math.inf)))


@pytest.mark.parametrize("name", ["spike", "diurnal"])
def test_arrivals_follow_the_profile(name):
    function = rate(SHAPES[name], base=2.0)
    batch = arrival_times(function, 0.0, DAY, np.random.default_rng(11))
    for times in (batch, sample(function, 12, DAY), stream(function, 13, DAY)):
        assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] <= DAY
        total = function.expected_count(0, DAY)
        assert abs(len(times) - total) / math.sqrt(total) < stats.norm.isf(LEVEL / 2)
        assert chi_square_p(times, function, DAY) > LEVEL


def test_the_chi_square_check_has_power():
    """Power of the check above against small errors: a spike starting 100 s late, 2% too
    high, or decaying 3% too fast (noncentral χ², exact for these expected counts)."""
    edges = np.arange(0.0, DAY + 1, 900.0)
    truth = np.diff(rate(SHAPES["spike"]).cumulative(edges))
    critical = stats.chi2.isf(LEVEL, len(truth))
    for wrong in ({"start": 3700}, {"factor": 10.2}, {"decay": "2.91h"}):
        claimed = np.diff(rate({"profile": "spike", **wrong}).cumulative(edges))
        noncentrality = float(((claimed - truth) ** 2 / truth).sum())
        assert stats.ncx2.sf(critical, len(truth), noncentrality) > 0.99, wrong
    homogeneous = np.sort(np.random.default_rng(3).uniform(0, DAY, 512_790))
    assert chi_square_p(homogeneous, rate(SHAPES["spike"]), DAY) < 1e-100


def test_thinning_bounds_cost_little_beyond_the_arrivals_themselves():
    """A 10× spike must not make the quiet hours 10× costlier: candidates per arrival."""
    for name in ("spike", "diurnal", "replay step"):
        function = rate(SHAPES[name])
        edges = window_edges(function, 0.0, DAY)
        bounds = [function.max_rate(a, b) for a, b in itertools.pairwise(edges)]
        candidates = float(np.dot(bounds, np.diff(edges)))
        assert candidates / function.expected_count(0.0, DAY) < 1.05, name


def test_the_same_seed_gives_the_same_arrivals():
    function = rate(SHAPES["spike"], base=0.5)
    one, two = sample(function, 5, DAY), sample(function, 5, DAY)
    assert np.array_equal(one, two) and np.array_equal(one, stream(function, 5, DAY))
    assert not np.array_equal(one[:100], sample(function, 6, DAY)[:100])
    batch = arrival_times(function, 0, DAY, np.random.default_rng(5))
    assert np.array_equal(batch, arrival_times(function, 0, DAY, np.random.default_rng(5)))


def test_a_constant_rate_draws_the_exponential_gaps_it_always_drew():
    next_arrival = next_arrival_sampler(ConstantRate(4.0), np.random.default_rng(9), 1e9)
    gaps = np.random.default_rng(9).exponential(0.25, BLOCK)
    now, times = 0.0, []
    for _ in range(BLOCK):
        now = next_arrival(now)
        times.append(now)
    assert np.allclose(times, np.cumsum(gaps), rtol=1e-12)
    streamed = arrival_stream(ConstantRate(4.0), np.random.default_rng(9), 1e9)
    assert [streamed() for _ in range(BLOCK)] == np.cumsum(gaps).tolist()
    ends = stream(ConstantRate(4.0), 9, 3 * BLOCK / 4.0)
    assert ends[-1] <= 3 * BLOCK / 4.0 and abs(len(ends) - 3 * BLOCK) < 5 * math.sqrt(3 * BLOCK)


def test_the_samplers_stop_at_the_horizon_and_skip_past_times():
    for function in (ConstantRate(1.0), rate(SHAPES["spike"], base=1.0)):
        next_arrival = next_arrival_sampler(function, np.random.default_rng(1), 2 * HOUR)
        assert next_arrival(HOUR) >= HOUR
        assert next_arrival(2 * HOUR - 1e-9) == math.inf
        assert next_arrival(2 * HOUR) == math.inf
        next_time = arrival_stream(function, np.random.default_rng(1), 2 * HOUR)
        times = list(iter(next_time, math.inf))
        assert times == sorted(times) and times[-1] <= 2 * HOUR
        assert next_time() == math.inf and next_time() == math.inf


def test_a_window_with_no_traffic_makes_no_arrivals(tmp_path):
    folder = write_csv(tmp_path, "time,rate\n0,0\n1h,5\n2h,0\n")
    function = rate({"profile": "replay", "file": "rates.csv"}, base_dir=folder)
    times = sample(function, 2, 3 * HOUR)
    assert len(times) and np.all((times >= HOUR) & (times < 2 * HOUR))
