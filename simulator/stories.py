"""A change's way to production and an incident's timeline, told in words.

    print(change_story(result, 412))
    print(incident_story(result, 17))

Pure functions of a run's tables (`change_stages`, `lead_time_breakdown`, `changes`,
`deploys`, `incident_timeline`) and its scenario's settings (the release cadence, the SLO):
they run nothing. `sresim why SCENARIO --change N` / `--incident N` runs the scenario and
prints them. Times read as the organisation's calendar does: time 0 is a Monday at 00:00.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .metrics.delivery import TIMELINE_PHASES
from .scenario.units import DAY, HOUR, WEEK

if TYPE_CHECKING:
    from .results import Result

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class StoryError(LookupError):
    """No such change or incident in the run (or no delivery model in it)."""


# -- words for times ----------------------------------------------------------------------


def clock(t: float, after: float | None = None) -> str:
    """A time as the calendar reads it, "Tue 10:14 of week 2"; only "at 10:14" when it falls
    on the same day as `after`."""
    minutes = math.floor(t / 60.0 + 1e-9)
    day, minute_of_day = divmod(minutes, 24 * 60)
    hour, minute = divmod(minute_of_day, 60)
    if after is not None and math.floor(after / 60.0 + 1e-9) // (24 * 60) == day:
        return f"at {hour:02d}:{minute:02d}"
    return f"{WEEKDAYS[day % 7]} {hour:02d}:{minute:02d} of week {day // 7 + 1}"


def later(seconds: float) -> str:
    """How long after: "at once" under a second, else "12 min later"."""
    return "at once" if seconds < 1.0 else f"{duration(seconds)} later"


def duration(seconds: float) -> str:
    """A duration in its two largest units, rounded: "45 s", "12 min", "3 h 5 min",
    "3 d 4 h"."""
    if math.isnan(seconds):
        return "?"
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(round(seconds / HOUR), 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def release(interval: float) -> str:
    """The release a change waits for: "the weekly release", "the next release (every 2 d)"."""
    if interval == WEEK:
        return "the weekly release"
    if interval == DAY:
        return "the daily release"
    return f"the next release (every {duration(interval)})"


# -- a change's story ---------------------------------------------------------------------


@dataclass
class _Episode:
    """Consecutive stretches of one change in one stage of one deploy; the nights and
    weekends inside work done in working time are kept apart (`outside`)."""

    stage: str
    deploy: int
    start: float
    seconds: float = 0.0
    outside: float = 0.0
    ahead: int = -1


WORK_IN_WORKING_TIME = ("rollout", "rework")
"""Stages whose work is counted in working time: their nights show as outside_hours."""


def episodes(stretches: pd.DataFrame) -> list[_Episode]:
    """A change's stretches (rows of `change_stages`) merged into episodes, in time order:
    an outside_hours stretch joins the work it interrupts (the episode before it, or the
    one after it if the work started at night)."""
    out: list[_Episode] = []
    waiting_outside = 0.0
    ordered = stretches.sort_values("start", kind="stable")
    for stage, deploy, seconds, start, ahead in zip(
        ordered["stage"].astype(str).tolist(),
        ordered["deploy"].astype(int).tolist(),
        ordered["seconds"].astype(float).tolist(),
        ordered["start"].astype(float).tolist(),
        ordered["ahead"].astype(int).tolist(),
        strict=True,
    ):
        last = out[-1] if out else None
        if stage == "outside_hours":
            if last is not None and last.stage in WORK_IN_WORKING_TIME and last.deploy == deploy:
                last.outside += seconds
            else:
                waiting_outside += seconds
            continue
        if last is not None and last.stage == stage and last.deploy == deploy:
            last.seconds += seconds
            continue
        episode = _Episode(stage, deploy, start, seconds, waiting_outside, ahead)
        waiting_outside = 0.0
        out.append(episode)
    if waiting_outside and out:
        out[-1].outside += waiting_outside
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _with_outside(text: str, episode: _Episode, note: str = "") -> str:
    """`text`, with a note in parentheses and the nights inside the work, if any."""
    notes = [note] if note else []
    if episode.outside > 0:
        notes.append(f"plus {duration(episode.outside)} outside working hours")
    return f"{text} ({'; '.join(notes)})" if notes else text


def _incident_of(result: Result, deploy: int) -> int | None:
    timeline = result.tables["incident_timeline"]
    found = timeline.index[timeline["deploy"] == deploy]
    return int(timeline.loc[found[0], "incident"]) if len(found) else None


def _clause(result: Result, episode: _Episode, previous: _Episode | None, seen: set[str]) -> str:
    """One episode of a change's way, in words."""
    delivery = result.scenario.delivery
    assert delivery is not None
    process = delivery.process
    took = duration(episode.seconds)
    again = " again" if episode.stage in seen else ""
    stage = episode.stage
    if stage == "release_batch":
        if process == "automated":
            return f"waited {took} for the pipeline's next rollout{again}"
        settings = delivery.ticket if process == "ticket" else delivery.config_management
        return f"waited {took} for {release(settings.release_interval)}{again}"
    if stage == "change_board":
        return f"{took} for the change board{again}"
    if stage == "operators_queue":
        behind = (
            f"behind {_plural(episode.ahead, 'ticket')}"
            if episode.ahead > 0
            else "(no ticket ahead: every operator was busy)"
        )
        return f"{took} in the operators' queue {behind}"
    if stage == "ci_queue":
        behind = f" behind {_plural(episode.ahead, 'build')}" if episode.ahead > 0 else ""
        return f"{took} waiting for a CI runner{behind}"
    if stage == "build_test":
        return f"{took} in build and test{again}"
    if stage == "preview":
        return f"{took} in a preview environment{again}"
    if stage == "freeze":
        return f"{took} frozen by the error-budget policy"
    if stage == "canary":
        return f"{took} in canary analysis (deploy {episode.deploy})"
    if stage == "rollout":
        how = {
            "ticket": "deployed by hand",
            "config-management": "for the recipe trigger and the converge run",
            "automated": "rolling out",
        }[process]
        return _with_outside(f"{took} {how}", episode, f"deploy {episode.deploy}")
    if stage == "rework" and episode.deploy >= 0:
        outcome = str(result.tables["deploys"]["outcome"].iloc[episode.deploy])
        incident = _incident_of(result, episode.deploy)
        which = f"incident {incident}" if incident is not None else "no incident"
        if outcome == "false-alarm":
            return f"the canary analysis failed a good release (a false alarm): {took} to roll back"
        if outcome == "rolled-back":
            return f"the canary was caught ({which}): {took} for the rollback"
        return f"deploy {episode.deploy} broke production ({which}): {took} until the rollback"
    if stage == "rework":
        why = ""
        if previous is not None and previous.stage == "build_test":
            why = "the tests caught it: "
        elif previous is not None and previous.stage == "preview":
            why = "the preview caught it: "
        elif previous is not None and previous.stage == "canary":
            incident = _incident_of(result, previous.deploy)
            which = f" (incident {incident})" if incident is not None else ""
            why = f"the canary caught it{which} and was rolled back: "
        elif previous is not None and previous.stage == "rework":
            why = "then "
        return _with_outside(f"{why}{took} for a developer's fix", episode)
    return f"{took} in {stage}"


def _table(result: Result, name: str) -> pd.DataFrame:
    if name not in result.tables or result.scenario.delivery is None:
        raise StoryError("the run has no delivery model (a delivery: section)")
    return result.tables[name]


def change_story(result: Result, change: int) -> str:
    """Where one change's time went, from commit to production (or to the horizon)."""
    changes = _table(result, "changes")
    if not 0 <= change < len(changes):
        raise StoryError(_expected("change", len(changes), change))
    row = changes.iloc[change]
    stages = result.tables["change_stages"]
    mine = stages[stages["change"] == change]
    committed, deployed = float(row["committed"]), float(row["deployed"])
    head = f"change {change} (service {int(row['service'])}) was committed {clock(committed)}"
    clauses: list[str] = []
    seen: set[str] = set()
    previous = None
    for episode in episodes(mine):
        if episode.seconds <= 0 and episode.outside <= 0:
            continue
        clauses.append(_clause(result, episode, previous, seen))
        seen.add(episode.stage)
        previous = episode
    text = head + ("; " + ", ".join(clauses) if clauses else "")
    if not math.isnan(deployed):
        return (
            f"{text}; in production {clock(deployed)}: lead time {duration(deployed - committed)}."
        )
    horizon = result.scenario.horizon
    now = str(row.get("stage", ""))
    since = float(row.get("since", math.nan))
    where = f", {_still(result, now)} since {clock(since)}" if now in STILL else ""
    return (
        f"{text}; not in production at the horizon, {clock(horizon)}{where}: "
        f"{duration(horizon - committed)} so far."
    )


STILL = {
    "release_batch": "",
    "change_board": "waiting for the change board",
    "operators_queue": "in the operators' queue",
    "outside_hours": "waiting for working hours",
    "ci_queue": "waiting for a CI runner",
    "build_test": "in build and test",
    "preview": "in a preview environment",
    "freeze": "frozen by the error-budget policy",
    "canary": "in canary analysis",
    "rollout": "rolling out",
    "rework": "in rework",
}
"""Where a change still is at the horizon, in words (the release batch depends on the
process)."""


def _still(result: Result, stage: str) -> str:
    if stage != "release_batch":
        return STILL[stage]
    delivery = result.scenario.delivery
    assert delivery is not None
    if delivery.process == "automated":
        return "waiting for the pipeline's next rollout"
    settings = delivery.ticket if delivery.process == "ticket" else delivery.config_management
    return f"waiting for {release(settings.release_interval)}"


# -- an incident's story ---------------------------------------------------------------------


def _detected_how(source: str, rule: str) -> str:
    alert = f"the alert {rule}" if rule and rule != "threshold" else "a threshold alert"
    if source == "page":
        return f"by a page from {alert}" if rule else "by a page"
    if source == "ticket":
        return f"by a ticket from {alert}"
    if source == "customer":
        return "by a customer's report (no alert fired)"
    if source == "canary":
        if rule == "canary analysis":
            return "by the canary analysis"
        return f"by {alert} during the canary"
    return "(how: not recorded)"


def _cause(result: Result, row: pd.Series) -> str:
    cause, deploy = str(row["cause"]), int(row["deploy"])
    if deploy < 0:
        return {"infrastructure": "an infrastructure failure"}.get(cause, cause)
    stages = result.tables["change_stages"]
    ids = sorted(set(stages.loc[stages["deploy"] == deploy, "change"].astype(int)))
    shown = ", ".join(str(i) for i in ids[:8]) + (", ..." if len(ids) > 8 else "")
    what = "a bad change" if cause == "bad-change" else "a manual deploy error"
    carried = f" with {_plural(len(ids), 'change')} ({shown})" if ids else ""
    return f"{what} in deploy {deploy}{carried}"


def incident_story(result: Result, incident: int) -> str:
    """One incident from start to resolution: how it was found, who answered, each phase,
    and what it cost."""
    timeline = _table(result, "incident_timeline")
    if not 0 <= incident < len(timeline):
        raise StoryError(_expected("incident", len(timeline), incident))
    row = timeline.iloc[incident]
    started = float(row["started"])
    share = float(row["impact"])
    slice_ = " (a canary)" if row["source"] == "canary" else ""
    hit = "all of its traffic" if share >= 1 else f"{100 * share:.2g}% of its traffic{slice_}"
    lines = [
        f"incident {incident} (service {int(row['service'])}, {_cause(result, row)}) started "
        f"{clock(started)} and hit {hit}."
    ]
    first_bad = float(row["first_bad_request"])
    if not math.isnan(first_bad):
        lines.append(f"First failed request {clock(first_bad, started)}.")
    detected = float(row["detected"])
    if math.isnan(detected):
        lines.append(f"Not detected by the horizon, {clock(result.scenario.horizon)}.")
        return " ".join(lines)
    how = _detected_how(str(row["source"]), str(row["rule"]))
    lines.append(
        f"Detected {clock(detected, started)} {how}, {duration(detected - started)} after "
        "it started."
    )
    lines.append(_response(row))
    resolved = float(row["resolved"])
    if math.isnan(resolved):
        lines.append(f"Still open at the horizon, {clock(result.scenario.horizon)}.")
        return " ".join(lines)
    phases = " + ".join(
        f"{phase} {duration(float(row[f'{phase}_s']))}" for phase in TIMELINE_PHASES
    )
    lines.append(
        f"Resolved {clock(resolved, detected)}: time to restore "
        f"{duration(float(row['time_to_restore_s']))} = {phases}."
    )
    lines.append(_cost(result, row))
    return " ".join(lines)


def _response(row: pd.Series) -> str:
    """Who answered and when they took it up, knew what to do, and applied the remedy."""
    who, source = str(row["responder"]), str(row["source"])
    detected, paged = float(row["detected"]), float(row["paged"])
    acknowledged, diagnosed = float(row["acknowledged"]), float(row["diagnosed"])
    remediated = float(row["remediated"])
    if who == "pipeline":
        return (
            f"The pipeline rolled back at once ({clock(remediated, detected)}), no human involved."
        )
    if who == "":
        return "Nobody had taken it up by the horizon."
    if who == "on-call":
        told = f"The on-call operator was paged {clock(paged, detected)}"
    elif source == "ticket":
        told = f"The operators picked up the ticket {clock(paged, detected)}"
    elif paged > detected:
        told = f"Nobody was on call: the operators heard when work began, {clock(paged, detected)}"
    else:
        told = f"The operators were told {clock(paged, detected)}"
    if math.isnan(acknowledged):
        return f"{told}; nobody had taken it up by the horizon."
    text = (
        f"{told}, took it up {clock(acknowledged, paged)} ({later(acknowledged - paged)}),"
        f" diagnosed it {clock(diagnosed, acknowledged)} ({duration(diagnosed - acknowledged)})"
    )
    if math.isnan(remediated):
        return text + "."
    return f"{text} and applied the remedy {clock(remediated, diagnosed)}."


def _cost(result: Result, row: pd.Series) -> str:
    """The responder's hours, the error budget, and the requests (where known)."""
    parts = []
    hours = float(row["operator_hours"])
    if not math.isnan(hours) and hours > 0:
        parts.append(f"{hours:.1f} operator hours")
    budget = float(row["budget_s"])
    share = float(row["budget_share"])
    spent = f"{duration(budget)} of error budget (the service fully down for that long)"
    if not math.isnan(share):
        window = (
            result.scenario.delivery.automated.error_budget.window
            if result.scenario.delivery
            else math.nan
        )
        slo = result.scenario.monitoring.slo
        spent += f", {share:.0%} of the {duration(window)} budget at {slo:.1%}"
    parts.append(spent)
    failed = float(row["requests_failed"])
    requests = (
        f"{failed:,.0f} requests failed while it was open"
        if not math.isnan(failed)
        else "failed requests: not simulated at this fidelity"
    )
    return f"It cost {' and '.join(parts)}; {requests}."


def _expected(what: str, count: int, got: int) -> str:
    if count == 0:
        return f"this run has no {what}s (got {got})"
    article = "an" if what[0] in "aeiou" else "a"
    return f"expected {article} {what} from 0 to {count - 1} (this run has {count}), got {got}"
