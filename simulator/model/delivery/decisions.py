"""The delivery model's decisions as pure functions: the SimPy processes only keep time.

Each takes plain numbers (and uniform draws made by the caller from its own stream), so each
is tested without an environment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...scenario.calendar import Calendar
from ...scenario.units import MINUTE

BAD_CHANGE = "bad-change"
MANUAL_ERROR = "manual-error"
INFRASTRUCTURE = "infrastructure"
CAUSES = (BAD_CHANGE, MANUAL_ERROR, INFRASTRUCTURE)

OK = "ok"
FAILED = "failed"
ROLLED_BACK = "rolled-back"
ROLLBACK = "rollback"
FALSE_ALARM = "false-alarm"
REJECTED = "rejected"
OUTCOMES = (OK, FAILED, ROLLED_BACK, FALSE_ALARM, ROLLBACK, REJECTED)
"""Deploy outcomes: ok; failed (it broke production, an incident followed); rolled-back (the
canary analysis caught a bad change and rolled it back); false-alarm (the canary analysis
failed a good release and rolled it back: no service was degraded, so DORA's change failure
rate does not count it); rollback (a deploy that restores service); rejected (staging caught
a bad change: the release never reached production, so it has no finish time and is no
production deploy)."""


def deploy_failure(bad: Sequence[bool], draw: float, manual_error_probability: float) -> str | None:
    """Why a release breaks production, or None: any bad change in the batch breaks it (so a
    bigger batch fails more often); otherwise a manual step goes wrong with its probability."""
    if any(bad):
        return BAD_CHANGE
    if draw < manual_error_probability:
        return MANUAL_ERROR
    return None


def combined_error_ratio(ratios: Sequence[float]) -> float:
    """The share of requests a version fails when each of its faults breaks its own share of
    them, independently (two faults of one half each: three quarters)."""
    combined = 0.0
    for ratio in ratios:
        ratio = min(max(ratio, 0.0), 1.0)
        combined = combined + ratio - combined * ratio  # one fault: exactly its own ratio
    return combined


def detection_delay(
    monitoring: bool,
    scrape_interval: float,
    evaluation_interval: float,
    alert_for: float,
    scrape_draw: float,
    evaluation_draw: float,
    customer_delay: float,
) -> float:
    """Time from the start of an incident to its detection.

    With monitoring: the next scrape that sees it (uniform within one scrape interval), the
    next rule evaluation after that (uniform within one evaluation interval), then the
    alert's `for` duration. Without: when a customer's complaint arrives.
    """
    if not monitoring:
        return customer_delay
    return scrape_draw * scrape_interval + evaluation_draw * evaluation_interval + alert_for


PAGE = "page"
TICKET = "ticket"
CUSTOMER = "customer"
CANARY = "canary"
"""How an incident was detected: an alert that pages, an alert that opens a ticket (read in
working hours), a customer's complaint, or the deploy pipeline during a canary (its analysis,
or an alert it acts on)."""

THRESHOLD_RULE = "threshold"
"""The name of the alert rule of threshold alerting (anything wrong, for `alert_for`)."""


def rule_name(burn: float, long_window: float) -> str:
    """A burn-rate rule's name for the incident timeline, e.g. "burn-rate 14.4x/1h"."""
    for unit, seconds in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if long_window >= seconds and float(long_window / seconds).is_integer():
            return f"burn-rate {burn:g}x/{long_window / seconds:g}{unit}"
    return f"burn-rate {burn:g}x/{long_window:g}s"


def burn_rate_crossing(
    error_ratio: float, slo: float, burn: float, long_window: float, short_window: float
) -> float:
    """Time from the start of an incident until a multiwindow burn-rate rule's condition
    holds, or infinity if it never does.

    The incident is a step from no errors to `error_ratio` (the share of requests failing).
    A window of length W then averages e·t/W for t < W, so it exceeds the threshold
    θ = burn·(1 − slo) at t = θ/e·W, if e > θ; otherwise never. Both windows must exceed θ;
    for a step the long one crosses last (the short window matters for resetting)."""
    threshold = burn * (1.0 - slo)
    if error_ratio <= threshold:
        return math.inf
    return threshold / error_ratio * max(long_window, short_window)


def burn_rate_detection(
    error_ratio: float,
    slo: float,
    rules: Sequence[tuple[float, float, float, bool]],
    scrape_interval: float,
    evaluation_interval: float,
    scrape_draw: float,
    evaluation_draw: float,
) -> tuple[float, str | None]:
    """Time from the start of an incident to the first burn-rate alert, and whether it pages
    (PAGE) or opens a ticket (TICKET); (infinity, None) when no rule ever fires.

    Rules are (burn, long window, short window, pages). Prometheus sees the errors only in
    scrapes (the first one `scrape_draw` of an interval after the start, then one every
    interval): a rule's crossing shows at the first scrape at or after it, and fires at the
    next rule evaluation (`evaluation_draw` of an interval later). No `for`: the Workbook's
    rules rely on the long window instead."""
    delay, kind, _ = burn_rate_alert(
        error_ratio, slo, rules, scrape_interval, evaluation_interval, scrape_draw, evaluation_draw
    )
    return delay, kind


def burn_rate_alert(
    error_ratio: float,
    slo: float,
    rules: Sequence[tuple[float, float, float, bool]],
    scrape_interval: float,
    evaluation_interval: float,
    scrape_draw: float,
    evaluation_draw: float,
) -> tuple[float, str | None, int]:
    """`burn_rate_detection` and the index of the rule that fires first (-1 when none does),
    for the incident's timeline."""
    first_scrape = scrape_draw * scrape_interval
    best, kind, which = math.inf, None, -1
    for index, (burn, long_window, short_window, pages) in enumerate(rules):
        crossing = burn_rate_crossing(error_ratio, slo, burn, long_window, short_window)
        if math.isinf(crossing):
            continue
        scrapes = math.ceil(max(0.0, crossing - first_scrape) / scrape_interval)
        delay = first_scrape + scrapes * scrape_interval + evaluation_draw * evaluation_interval
        if delay < best or (delay == best and pages):
            best, kind, which = delay, PAGE if pages else TICKET, index
    return best, kind, which


def responder(now: float, calendar: Calendar, on_call: bool) -> str:
    """Who takes an incident detected at `now`: the operators at work, the on-call operator
    outside working hours, or (without on-call) the operators when the next day starts."""
    if calendar.is_working(now):
        return "operators"
    return "on-call" if on_call else "morning"


def budget_spent(
    outages: Sequence[tuple[float, float, float]], now: float, window: float, slo: float
) -> bool:
    """Whether a service's downtime within the last `window` exceeds its error budget,
    (1 − slo)·window. Outages are (start, end, share of traffic affected): a canary that
    failed for 40 minutes on 5% of the traffic spends 2 minutes of budget."""
    low = now - window
    down = sum(share * max(0.0, min(end, now) - max(start, low)) for start, end, share in outages)
    return down > (1.0 - slo) * window


def canary_verdict(any_bad: bool, draw: float, detection: float, false_alarm: float) -> str:
    """The canary analysis' verdict on a release: ROLLED_BACK when it catches a bad change
    (probability `detection`), FALSE_ALARM when it fails a good release (probability
    `false_alarm`: noise in the compared metrics), else OK. One uniform draw decides."""
    if any_bad:
        return ROLLED_BACK if draw < detection else OK
    return FALSE_ALARM if draw < false_alarm else OK


ALREADY_FIXED_CHECK = 5 * MINUTE
"""A responder whose bad version went while they worked on it (the pipeline's canary
analysis took it back) reads the pipeline's notice and checks that the errors stopped, in
this long (an assumption), instead of diagnosing on and rolling back nothing."""


def already_fixed_at(begun: float, work: float, gone: float, check: float) -> float:
    """When a responder who began at `begun` a diagnosis of `work` seconds is done, if the
    bad version stopped serving at `gone` (before they began, or meanwhile): a `check`
    after they learn of it, never later than the diagnosis would have ended anyway."""
    return min(begun + work, max(begun, gone) + check)
