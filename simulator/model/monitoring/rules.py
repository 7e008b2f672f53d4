"""Monitoring's decisions as pure functions: SLIs from counts, the alert rules, the alert's
pending (`for`) state, and which service an overload alert is about.

Each takes plain numbers, so each is tested without an environment; the SimPy process in
`model.py` only scrapes and evaluates on the clock.

Rules, as Prometheus evaluates them:

- **multiwindow burn rate** (SRE Workbook, "Alerting on SLOs", approach 6): the bad ratio
  averaged over the rule's long window and over its short window both exceed
  `burn` × (1 − slo). After a step to a constant bad ratio e the long window's average
  grows as e·t/W, so the rule fires θ/e × W after the step (θ = burn × (1 − slo)) if
  e > θ, and never otherwise (`simulator.model.delivery.decisions.burn_rate_crossing`);
  once the errors stop, the short window's average falls below θ within S × (1 − θ/e),
  which resolves the alert. No `for`: the long window does that job.
- **error-ratio threshold** (threshold alerting; the Workbook's approach 1 with a `for`):
  the bad ratio over the last scrape interval exceeds a threshold.
- **saturation threshold**: busy workers over workers, averaged over the last scrape
  interval (from the stations' time integrals), exceed a threshold.
- **node down**: a service has replicas on a node that is down (what a scrape of the
  nodes' `up` sees; Nagios' host check, Prometheus' `up == 0` of a node exporter), for
  the rule's `for`.

A window with no requests has no ratio (Prometheus: NaN), and NaN exceeds nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

FIRED = "fired"
RESOLVED = "resolved"


def ratio(bad: float, total: float) -> float:
    """The bad share of `total` requests; NaN when there were none."""
    return bad / total if total > 0 else math.nan


def window_scrapes(window: float, scrape_interval: float) -> int:
    """Scrape intervals a rule's window spans (at least one): Prometheus' `rate(x[W])`
    over samples every `scrape_interval`, with W rounded to whole intervals."""
    return max(1, round(window / scrape_interval))


def trailing(cumulative: Sequence[float], scrapes: int) -> float:
    """The sum of the last `scrapes` samples, from running totals that start with 0 (so the
    first `len(cumulative) - 1` samples are known); fewer when the run is younger than the
    window (Prometheus uses the samples it has)."""
    last = len(cumulative) - 1
    return cumulative[last] - cumulative[max(0, last - scrapes)]


def burn_rate_fires(
    long_bad: float,
    long_total: float,
    short_bad: float,
    short_total: float,
    burn: float,
    slo: float,
) -> bool:
    """Whether a multiwindow burn-rate rule's condition holds: the bad ratio over both the
    long and the short window exceeds `burn` × (1 − `slo`)."""
    threshold = burn * (1.0 - slo)
    return ratio(long_bad, long_total) > threshold and ratio(short_bad, short_total) > threshold


def error_ratio_exceeds(bad: float, total: float, threshold: float) -> bool:
    """The threshold rule's condition: the last interval's bad ratio exceeds `threshold`."""
    return ratio(bad, total) > threshold


def saturation(busy: float, capacity: float) -> float:
    """Busy worker-seconds over available worker-seconds in an interval; NaN without any."""
    return busy / capacity if capacity > 0 else math.nan


def saturated(busy: float, capacity: float, threshold: float) -> bool:
    """The saturation rule's condition: the interval's busy share exceeds `threshold`."""
    return saturation(busy, capacity) > threshold


def node_down(lost: int) -> bool:
    """The node-down rule's condition: replicas of the service run on nodes that are down."""
    return lost > 0


# -- the same conditions over every target at once (a fleet of a thousand services is
# scraped every minute: per-target Python calls would be most of the run) ---------------


def ratios(bad: np.ndarray, total: np.ndarray) -> np.ndarray:
    """`ratio` of each pair: the same division, NaN where there were no requests."""
    return bad / np.where(total > 0, total, math.nan)


def burn_thresholds(burns: Sequence[float], slo: float) -> np.ndarray:
    """Each burn-rate rule's threshold on the bad ratio, `burn` × (1 − `slo`), twice (its
    long window, its short window): one row each, as `burn_rates_fire` reads them."""
    return np.repeat([burn * (1.0 - slo) for burn in burns], 2)[:, None]


def burn_rates_fire(bad: np.ndarray, total: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """`burn_rate_fires` of several rules (a row each) on each target (columns), from the
    bad and all requests over each rule's long and short window (rows: long, short, long,
    ...) and `burn_thresholds`."""
    over = np.asarray(ratios(bad, total) > thresholds)
    return over[0::2] & over[1::2]


def error_ratios_exceed(bad: np.ndarray, total: np.ndarray, threshold: float) -> np.ndarray:
    """`error_ratio_exceeds` of each target."""
    return ratios(bad, total) > threshold


def saturated_each(busy: np.ndarray, capacity: np.ndarray, threshold: float) -> np.ndarray:
    """`saturated` of each service."""
    return ratios(busy, capacity) > threshold


def nodes_down(lost: np.ndarray) -> np.ndarray:
    """`node_down` of each service."""
    return np.asarray(lost) > 0


def unhealthy_since_each(
    previous: np.ndarray, holds: np.ndarray, interval_start: float
) -> np.ndarray:
    """`unhealthy_since` of each target."""
    return np.where(holds, np.where(np.isnan(previous), interval_start, previous), math.nan)


@dataclass(frozen=True)
class AlertState:
    """One rule on one target: since when its condition has held at every evaluation (NaN:
    it does not hold), and whether it fires."""

    active_since: float = math.nan
    firing: bool = False

    @property
    def pending(self) -> bool:
        return not math.isnan(self.active_since) and not self.firing


def evaluate(
    state: AlertState, holds: bool, now: float, hold_for: float
) -> tuple[AlertState, str | None]:
    """One rule evaluation at `now`, as Prometheus' alerting rules: a condition that starts
    to hold makes the alert pending; it fires at the first evaluation at which it has held
    for `hold_for` (at once with 0); it resolves at the first evaluation at which it does
    not hold. Returns the new state and FIRED, RESOLVED or None."""
    if not holds:
        return AlertState(), RESOLVED if state.firing else None
    if state.firing:
        return state, None
    since = now if math.isnan(state.active_since) else state.active_since
    if now - since >= hold_for:
        return AlertState(since, True), FIRED
    return AlertState(since, False), None


def unhealthy_since(previous: float, holds: bool, interval_start: float) -> float:
    """Start of the unbroken run of unhealthy scrape intervals that ends now (NaN when this
    interval is healthy): where an incident's trouble began, as monitoring can tell."""
    if not holds:
        return math.nan
    return interval_start if math.isnan(previous) else previous


def most_saturated(saturations: Mapping[str, float], threshold: float) -> str | None:
    """The service an overload is about: the most saturated one above `threshold` (first in
    order among equals), or None when none is (the errors have another cause)."""
    best, name = threshold, None
    for service, value in saturations.items():
        if value > best:
            best, name = value, service
    return name


def detection_bounds(
    crossing: float, scrape_interval: float, evaluation_interval: float, hold_for: float
) -> tuple[float, float]:
    """Earliest and latest firing time of a rule whose condition starts to hold at
    `crossing` on the underlying signal: it shows at the first scrape at or after the
    crossing (within one scrape interval), is seen at the next evaluation (within one
    evaluation interval), and then must hold `hold_for`, counted in evaluations (one more
    evaluation interval at most)."""
    late = scrape_interval + evaluation_interval + (evaluation_interval if hold_for > 0 else 0)
    return crossing + hold_for, crossing + hold_for + late
