"""Monitoring of the running system: SLIs scraped from what requests saw, alert rules
evaluated on them, and alerts that page the organisation, which acts on the runtime.

The registry (`simulator/subsystems/`) builds a `MonitoringModel` at request level when
`monitoring.enabled` and the scenario sends traffic. Every `monitoring.scrape_interval` it
reads what was appended to the request and span logs since its last scrape (an index into
each append-only log; numpy over the new slice, no per-request Python work) and the
stations' time integrals, and keeps per entry point the requests that finished and the bad
ones (failed, or slower than `slo.latency`), per service the visits that finished and
failed, and the busy and available worker-seconds, all in arrays (a fleet of a thousand
services is scraped every minute). Every `evaluation_interval` the rules of `rules.py` run
on those samples, each on every target at once: the multiwindow burn-rate rules
(`alerting: burn-rate`) or the error-ratio threshold (`alerting: threshold`) per entry
point, and the saturation threshold and (with node failures) the node-down rule per
service. The scrape grid is anchored at the end of the warm-up, so the samples split the
measured period exactly.

An alert that pages opens an incident in the delivery model (`report_incident`, detected
at the firing time), unless an incident is already open on a service the alert concerns
(the delivery model's own, say a bad change's or a dead node's, or one an earlier alert
opened): then it joins it, as an on-call engineer would, so one overload or one bad
change is one incident, not one per rule. An overload (a saturated service, named by the
saturation rule or found among an entry point's call tree when its SLO alert fires) is
remedied by adding replicas by hand (`incidents.manual_scale_out`): the responder orders
them after the diagnosis, and they serve after the lead time. A failed node (the
node-down rule, when the World's `failures.NodeFailures` is watched, or an entry point's
errors while a service of its call tree has replicas on a node that is down) is an
infrastructure incident: the responder replaces the node. Other errors are repaired by
the responder (`incidents.repair_effort`), which does not change the runtime. Alerts
that open tickets, and every alert without a `delivery:` section, are only recorded.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from ...records.monitoring import (
    BURN_RATE,
    ENTRY_POINT,
    ERRORS,
    INFRASTRUCTURE,
    JOINED,
    NODE_DOWN,
    OPENED,
    OVERLOAD,
    RECORDED,
    SATURATION,
    SERVICE,
    THRESHOLD,
    TICKET,
    AlertRecord,
    IncidentRecord,
    MonitoringRecords,
    SliLog,
)
from ...scenario.graph import call_graph
from ...scenario.units import format_duration
from ..context import Organisation, RunContext, Scrape, SliSource
from ..delivery.decisions import rule_name
from ..discovery.common import delivery_service
from ..failures import NodeFailures, replaced_automatically, simulates_node_failures
from .rules import (
    FIRED,
    RESOLVED,
    AlertState,
    burn_rate_fires,
    burn_rates_fire,
    burn_thresholds,
    error_ratio_exceeds,
    error_ratios_exceed,
    evaluate,
    most_saturated,
    nodes_down,
    saturated_each,
    saturation,
    unhealthy_since_each,
    window_scrapes,
)

MAX_SERVICE_SAMPLES = 1_000_000
"""At most about this many service rows in the SLI log (scrapes × services): a larger fleet
or a longer run gets consecutive scrapes summed into one row each (a month of 1,000
services at one-minute scrapes: one row per service every 44 minutes)."""

MONOLITH = "monolith"
"""The name of the one station of a monolith: every service's work runs on it."""


@dataclass(frozen=True)
class Rule:
    """One alert rule as the model evaluates it."""

    name: str
    kind: str
    scope: int
    page: bool
    hold_for: float
    threshold: float = math.nan
    """Error ratio or saturation above which a threshold rule holds."""
    burn: float = math.nan
    long_scrapes: int = 1
    short_scrapes: int = 1


@dataclass
class _Alert:
    rule: Rule
    target: str
    started: float
    fired: float
    resolved: float = math.nan
    action: str = ""
    incident: int = -1


@dataclass
class _Incident:
    service: str
    delivery_service: int
    cause: str
    started: float
    detected: float
    remedied: float = math.nan
    resolved: float = math.nan
    replicas_added: int = 0
    hours: float = 0.0


@dataclass(frozen=True)
class _EntryPoint:
    """What the last scrape left of one entry point's health."""

    unhealthy_since: float = math.nan
    first_bad: float = math.nan
    """End of the first bad request of the current unhealthy run of intervals."""


class _EntryPoints:
    """Every entry point's running totals and health, in arrays (one column per entry
    point): the rules read them all at once. The running totals start with 0, one more per
    scrape, and only the last `window` + 1 are kept (a ring), as far back as a rule looks.

    With one entry point (`one`) the ring is two lists of Python floats instead, read by
    `trailing_one`: the same sums and differences (IEEE doubles either way), without
    numpy's cost per call on arrays of one element, a scrape and an evaluation a minute."""

    def __init__(self, entries: list[int], window: int) -> None:
        self.column = {entry: column for column, entry in enumerate(entries)}
        self._ring = window + 1
        self.one = len(entries) == 1
        rows = 0 if self.one else self._ring
        self._total = np.zeros((rows, len(entries)))
        self._bad = np.zeros((rows, len(entries)))
        self._total_one = [0.0] * self._ring if self.one else []
        self._bad_one = [0.0] * self._ring if self.one else []
        self.scrapes = 0
        self.unhealthy_since = np.full(len(entries), math.nan)
        self.first_bad = np.full(len(entries), math.nan)
        self.clean = True
        """Whether `unhealthy_since` and `first_bad` are all NaN (nothing to clear)."""
        self._firsts: dict[bytes, np.ndarray] = {}
        """Per window set `trailing` is asked for (its bytes), the ring positions its sums
        start at, for each position of the last sum (`trailing`)."""

    def __getitem__(self, entry: int) -> _EntryPoint:
        column = self.column[entry]
        return _EntryPoint(float(self.unhealthy_since[column]), float(self.first_bad[column]))

    def add(self, total: np.ndarray, bad: np.ndarray) -> None:
        """One more scrape's requests and bad ones, per entry point."""
        last, ring = self.scrapes, self._ring
        if self.one:
            self._total_one[(last + 1) % ring] = self._total_one[last % ring] + float(total[0])
            self._bad_one[(last + 1) % ring] = self._bad_one[last % ring] + float(bad[0])
        else:
            self._total[(last + 1) % ring] = self._total[last % ring] + total
            self._bad[(last + 1) % ring] = self._bad[last % ring] + bad
        self.scrapes += 1

    def trailing(self, scrapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bad and all requests of the last `scrapes[k]` samples (`rules.trailing`), one row
        per window k."""
        if self.one:
            pairs = self.trailing_one(np.asarray(scrapes).tolist())
            return np.array([[b] for b, _ in pairs]), np.array([[t] for _, t in pairs])
        last, ring = self.scrapes, self._ring
        if last >= ring - 1:  # every window within the run (a rule looks back `ring` - 1 at most)
            key = scrapes.tobytes()
            table = self._firsts.get(key)
            if table is None:  # each ring position's first positions, made once
                table = self._firsts[key] = (np.arange(ring)[:, None] - scrapes[None, :]) % ring
            first = table[last % ring]  # `(last - scrapes) % ring`, without three ufuncs
        else:
            first = np.maximum(0, last - scrapes) % ring
        return (
            self._bad[last % ring] - self._bad[first],
            self._total[last % ring] - self._total[first],
        )

    def trailing_one(self, scrapes: list[int]) -> list[tuple[float, float]]:
        """`trailing` of the one entry point (`one`): (bad, all) of each window."""
        last, ring = self.scrapes, self._ring
        bad, total = self._bad_one, self._total_one
        bad_now, total_now = bad[last % ring], total[last % ring]
        return [
            (bad_now - bad[max(0, last - k) % ring], total_now - total[max(0, last - k) % ring])
            for k in scrapes
        ]


@dataclass(frozen=True)
class _Service:
    """What the last scrape saw of one station."""

    busy: float = 0.0
    capacity: float = 0.0
    """Worker-seconds busy and available in the last scrape interval."""
    unhealthy_since: float = math.nan
    lost: int = 0
    """Replicas on nodes that were down at the last scrape."""
    down_since: float = math.nan
    """When the first of those nodes failed."""


class _Services:
    """Every station's last scrape, in arrays (one entry per station)."""

    def __init__(self, size: int) -> None:
        self.busy = np.zeros(size)
        self.capacity = np.zeros(size)
        self.unhealthy_since = np.full(size, math.nan)
        self.lost = np.zeros(size, dtype=np.int64)
        self.down_since = np.full(size, math.nan)
        self.saturated = np.zeros(size, dtype=bool)
        """Busy over the saturation rule's threshold in the last scrape interval."""
        self.any_saturated = False
        self.clean = True
        """Whether `unhealthy_since` is all NaN (nothing to clear)."""

    def __len__(self) -> int:
        return len(self.busy)

    def __getitem__(self, station: int) -> _Service:
        return _Service(
            float(self.busy[station]),
            float(self.capacity[station]),
            float(self.unhealthy_since[station]),
            int(self.lost[station]),
            float(self.down_since[station]),
        )

    def watch(self, nodes: NodeFailures) -> None:
        """The replicas each station has on nodes that are down, and since when the first
        of those nodes is (`NodeFailures.lost` and `down_since` of every station)."""
        self.lost[:] = 0
        self.down_since[:] = math.nan
        for down in nodes.down.values():
            for station, count in down.lost.items():
                if count:
                    self.lost[station] += count
                    self.down_since[station] = np.fmin(self.down_since[station], down.since)


_Process = Generator[simpy.Event, Any, None]


def rules_of(context: RunContext) -> list[Rule]:
    """The rules a scenario's `monitoring` section asks for, in evaluation order."""
    settings = context.scenario.monitoring
    scrape = settings.scrape_interval
    rules: list[Rule] = []
    if settings.alerting == "burn-rate":
        rules += [
            Rule(
                rule_name(r.burn, r.long_window),
                BURN_RATE,
                ENTRY_POINT,
                r.page,
                0.0,
                burn=r.burn,
                long_scrapes=window_scrapes(r.long_window, scrape),
                short_scrapes=window_scrapes(r.short_window, scrape),
            )
            for r in settings.burn_rate_rules
        ]
    else:
        rules.append(
            Rule(
                "error-ratio",
                THRESHOLD,
                ENTRY_POINT,
                True,
                settings.alert_for,
                threshold=settings.error_threshold,
            )
        )
    if settings.saturation.enabled:
        sat = settings.saturation
        rules.append(
            Rule("saturation", SATURATION, SERVICE, sat.page, sat.alert_for, sat.threshold)
        )
    scenario = context.scenario
    if simulates_node_failures(scenario) and not replaced_automatically(scenario):
        # nodes fail (at either fidelity) and only a person brings them back
        rules.append(Rule("node-down", NODE_DOWN, SERVICE, True, settings.alert_for))
    return rules


EntryRows = tuple["array[int]", "array[int]", "array[float]", "array[int]"]
"""The entry points' columns of the SLI log that are the same at every scrape: scope,
target, busy and capacity (NaN), replicas (0)."""


def entry_rows(log: SliLog, entries: list[int]) -> EntryRows:
    """`EntryRows` of `entries`, in the log's own types (its floats doubles, which
    `log_entries` copies as bytes)."""
    assert log.requests.typecode == log.bad.typecode == "d"
    count = len(entries)
    return (
        array(log.scope.typecode, [ENTRY_POINT] * count),
        array(log.target.typecode, entries),
        array(log.busy.typecode, [math.nan] * count),
        array(log.replicas.typecode, [0] * count),
    )


def log_entries(
    log: SliLog, rows: EntryRows, now: float, total: np.ndarray, bad: np.ndarray
) -> None:
    """The entry points' rows of the SLI log at one scrape, in the entry points' order:
    what `SliLog.record` would add one by one, bit for bit. The columns that never change
    are copied from `rows`, made once, and the floats go in as their bytes: a
    thousand-service fleet logs a hundred entry points a minute, and a Python float for each
    cost as much as the rest of the scrape's own work."""
    scopes, targets, nans, zeros = rows
    log.time.extend(array(log.time.typecode, [now]) * len(targets))
    log.scope.extend(scopes)
    log.target.extend(targets)
    log.requests.frombytes(np.asarray(total, dtype=np.float64).tobytes())
    log.bad.frombytes(np.asarray(bad, dtype=np.float64).tobytes())
    log.busy.extend(nans)
    log.capacity.extend(nans)
    log.replicas.extend(zeros)


ServiceRows = tuple["array[int]", "array[int]"]
"""The services' columns of the SLI log that are the same at every scrape: scope and target
(the stations 0, 1, ...)."""


def service_rows(log: SliLog, count: int) -> ServiceRows:
    """`ServiceRows` of `count` stations, in the log's own types."""
    return array(log.scope.typecode, [SERVICE] * count), array(log.target.typecode, range(count))


def log_services(
    log: SliLog,
    rows: ServiceRows,
    now: float,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    replicas: np.ndarray,
) -> None:
    """The services' rows of the SLI log at one scrape (visits, failed, busy and capacity
    in `parts`): what `SliLog.record_services` adds, bit for bit, the floats as their bytes
    and the columns that never change copied from `rows` (as `log_entries`)."""
    assert log.requests.typecode == log.bad.typecode == log.busy.typecode == "d"
    assert log.capacity.typecode == log.time.typecode == "d"
    scopes, targets = rows
    log.time.extend(array(log.time.typecode, [now]) * len(targets))
    log.scope.extend(scopes)
    log.target.extend(targets)
    for column, part in zip((log.requests, log.bad, log.busy, log.capacity), parts, strict=True):
        column.frombytes(np.asarray(part, dtype=np.float64).tobytes())
    log.replicas.extend(np.asarray(replicas, dtype=np.int64).tolist())


def _grid(phase: float, interval: float, k: int) -> float:
    return phase + k * interval


class MonitoringModel:
    """Scrapes, rule evaluations, alerts and the incidents they open, for one run."""

    def __init__(
        self, context: RunContext, source: SliSource, delivery: Organisation | None = None
    ) -> None:
        scenario = context.scenario
        settings = scenario.monitoring
        self.env = context.env
        self.scenario = scenario
        self.events = context.events
        self.settings = settings
        self.source = source
        self.station_names = source.station_names
        self.delivery = delivery if scenario.delivery is not None else None
        self.slo = settings.slo
        self.saturation_threshold = settings.saturation.threshold
        self.scale_out = scenario.incidents.manual_scale_out
        self.names = list(scenario.services)
        self.entries = [i for i, name in enumerate(self.names) if name in scenario.traffic]
        self.rules = rules_of(context)
        self.sli = SliLog()
        self._entry_rows = entry_rows(self.sli, self.entries)
        self._service_rows = service_rows(self.sli, len(self.station_names))
        self.alerts: list[_Alert] = []
        self.incidents: list[_Incident] = []
        window = max((max(r.long_scrapes, r.short_scrapes) for r in self.rules), default=1)
        self._entry = _EntryPoints(self.entries, window)
        self._entry_index = np.array(self.entries, dtype=np.int64)
        self._service = _Services(len(self.station_names))
        self._states: dict[tuple[int, int], AlertState] = {}
        self._firing: dict[tuple[int, int], _Alert] = {}
        self._active: list[set[int]] = [set() for _ in self.rules]
        """Per rule, the targets (positions in its targets) whose alert is pending or fires:
        the only ones an evaluation looks at besides those whose condition holds."""
        self._burn = [i for i, rule in enumerate(self.rules) if rule.kind == BURN_RATE]
        self._windows = np.array(
            [
                w
                for i in self._burn
                for w in (self.rules[i].long_scrapes, self.rules[i].short_scrapes)
            ],
            dtype=np.int64,
        )
        """The burn-rate rules (their indices) and their windows: long, short, long, ..."""
        self._burn_rules = [self.rules[i] for i in self._burn]
        self._window_list: list[int] = self._windows.tolist()
        self._thresholds = burn_thresholds([self.rules[i].burn for i in self._burn], self.slo)
        self._open: dict[int, int] = {}
        """Delivery service index → the monitoring incident open on it."""
        self._added: list[tuple[float, int]] = []
        self._last_scrape = 0.0
        self._scrapes = 0
        self._trees = self._call_trees()
        self._incident_rng = context.streams.get("monitoring/incidents")
        self._lead_rng = context.streams.get("monitoring/scale-out")
        self._nodes: NodeFailures | None = None
        scrapes = math.ceil(scenario.horizon / settings.scrape_interval)
        self._stride = max(1, math.ceil(scrapes * len(self._service) / MAX_SERVICE_SAMPLES))
        """Scrapes per row of each service in the SLI log (1 but for large fleets)."""
        self._sums: list[np.ndarray] | None = None
        self._summed = 0
        self._replicas = np.zeros(0, dtype=np.int64)
        expect = getattr(source, "expect_scrapes", None)
        if expect is not None:  # a source that reads many scrapes at once (the analytic one)
            expect(self._scrape_times())
        self.env.process(self._run())
        rules = ", ".join(rule.name for rule in self.rules)
        self.events.record(
            0.0,
            "monitoring",
            "started",
            f"scrape every {format_duration(settings.scrape_interval)}, rules: {rules}",
        )

    def watch_nodes(self, failures: NodeFailures) -> None:
        """Scrape the nodes' `up` too (the World's node failures), and replace failed nodes
        as a remedy."""
        self._nodes = failures

    def _call_trees(self) -> dict[int, list[int]]:
        """For each entry point, the stations its requests can visit."""
        by_name = {name: index for index, name in enumerate(self.station_names)}
        if MONOLITH in by_name and self.scenario.deployment == "monolith":
            return {entry: [by_name[MONOLITH]] for entry in self.entries}
        import networkx as nx  # here: an analytic run without monitoring needs none of it

        graph = call_graph(self.scenario)
        trees: dict[int, list[int]] = {}
        for entry in self.entries:
            name = self.names[entry]
            reached = {name} | set(nx.descendants(graph, name))
            trees[entry] = [by_name[n] for n in self.names if n in reached and n in by_name]
        return trees

    # -- the clock ---------------------------------------------------------------------
    def _scrape_times(self) -> list[float]:
        """The times `_run` scrapes at, computed as it computes them."""
        scrape = self.settings.scrape_interval
        horizon = self.scenario.horizon
        phase = self.scenario.warmup % scrape
        k = 0 if phase > 0 else 1
        times = []
        while (time := _grid(phase, scrape, k)) < horizon:
            times.append(time)
            k += 1
        return times

    def _run(self) -> _Process:
        """Scrapes and evaluations on two grids anchored at the end of the warm-up (a
        scrape before an evaluation at the same instant)."""
        env = self.env
        settings = self.settings
        scrape, every = settings.scrape_interval, settings.evaluation_interval
        horizon = self.scenario.horizon
        warmup = self.scenario.warmup
        scrape_phase, evaluation_phase = warmup % scrape, warmup % every
        ks = 0 if scrape_phase > 0 else 1
        ke = 0 if evaluation_phase > 0 else 1
        next_scrape = _grid(scrape_phase, scrape, ks)
        next_evaluation = _grid(evaluation_phase, every, ke)
        while True:
            now = min(next_scrape, next_evaluation)
            if now >= horizon:
                return
            yield env.timeout(now - env.now)
            if now == next_scrape:
                self._scrape(now)
                ks += 1
                next_scrape = _grid(scrape_phase, scrape, ks)
            if now == next_evaluation:
                self._evaluate(now)
                ke += 1
                next_evaluation = _grid(evaluation_phase, every, ke)

    # -- scraping ----------------------------------------------------------------------
    def _scrape(self, now: float) -> None:
        """One scrape: what finished since the last one (every target at once)."""
        start = self._last_scrape
        scrape = self.source.scrape(start, now)
        entries = self._entry
        total = np.asarray(scrape.totals, dtype=float)[self._entry_index]
        bad = np.asarray(scrape.bads, dtype=float)[self._entry_index]
        self._log_entries(now, total, bad)
        entries.add(total, bad)
        if entries.one:  # the same test on the one entry point's floats
            exceeds = error_ratio_exceeds(float(bad[0]), float(total[0]), 1.0 - self.slo)
            holds = np.full(1, exceeds)
        else:
            holds = error_ratios_exceed(bad, total, 1.0 - self.slo)
            exceeds = bool(np.count_nonzero(holds))  # `holds.any()` without its Python wrapper
        if exceeds:
            entries.clean = False
            was = entries.unhealthy_since
            entries.unhealthy_since = unhealthy_since_each(was, holds, start)
            entries.first_bad[~holds] = math.nan
            for column in np.flatnonzero(holds & np.isnan(was)).tolist():
                entries.first_bad[column] = scrape.first_bad.get(self.entries[column], math.nan)
        elif not entries.clean:  # healthy everywhere (the usual case): NaN, once
            entries.unhealthy_since.fill(math.nan)
            entries.first_bad.fill(math.nan)
            entries.clean = True
        self._log_services(now, scrape)
        seen = self._service
        seen.busy = np.asarray(scrape.busy, dtype=float)
        seen.capacity = np.asarray(scrape.capacity, dtype=float)
        if self._nodes is not None:
            seen.watch(self._nodes)
        seen.saturated = saturated_each(seen.busy, seen.capacity, self.saturation_threshold)
        seen.any_saturated = bool(np.count_nonzero(seen.saturated))
        if seen.any_saturated:
            seen.unhealthy_since = unhealthy_since_each(seen.unhealthy_since, seen.saturated, start)
            seen.clean = False
        elif not seen.clean:
            seen.unhealthy_since.fill(math.nan)
            seen.clean = True
        self._last_scrape = now
        self._scrapes += 1

    def _log_entries(self, now: float, total: np.ndarray, bad: np.ndarray) -> None:
        log_entries(self.sli, self._entry_rows, now, total, bad)

    def _log_services(self, now: float, scrape: Scrape | None) -> None:
        """The services' rows of the SLI log: one per scrape, or for a large fleet one per
        `_stride` scrapes holding their sums (the rules read every scrape regardless; the
        scrape grid is anchored at the end of the warm-up, where a row ends); without
        `scrape`, the sums so far (at the horizon)."""
        if scrape is not None and self._stride == 1:
            scraped = (scrape.visits, scrape.failed, scrape.busy, scrape.capacity)
            log_services(self.sli, self._service_rows, now, scraped, scrape.replicas)
            return
        if scrape is not None:
            parts = [scrape.visits, scrape.failed, scrape.busy, scrape.capacity]
            if self._sums is None:
                self._sums = [np.asarray(part, dtype=float).copy() for part in parts]
            else:
                for total, part in zip(self._sums, parts, strict=True):
                    total += part
            self._summed += 1
            self._replicas = scrape.replicas
        boundary = now == self.scenario.warmup  # a row never spans the warm-up's end
        if self._sums is not None and (self._summed == self._stride or scrape is None or boundary):
            visits, failed, busy, capacity = self._sums
            summed = (visits, failed, busy, capacity)
            log_services(self.sli, self._service_rows, now, summed, self._replicas)
            self._sums, self._summed = None, 0

    # -- rules -------------------------------------------------------------------------
    def _evaluate(self, now: float) -> None:
        """Every rule on every target, in order; a target whose condition does not hold and
        whose alert is neither pending nor firing changes nothing and is not looked at."""
        if not self._scrapes:
            return
        conditions = self._holds()
        for index, rule in enumerate(self.rules):
            targets = self.entries if rule.scope == ENTRY_POINT else range(len(self._service))
            holds, active = conditions[index], self._active[index]
            if holds is None and not active:
                continue
            looked = active if holds is None else active.union(np.flatnonzero(holds).tolist())
            for position in sorted(looked):
                target = targets[position]
                key = (index, target)
                known = self._states.get(key)
                state, change = evaluate(
                    known if known is not None else AlertState(),
                    holds is not None and bool(holds[position]),
                    now,
                    rule.hold_for,
                )
                self._states[key] = state
                if change == FIRED:
                    self._fire(key, rule, target, now)
                elif change == RESOLVED:
                    alert = self._firing.pop(key)
                    alert.resolved = now
                    self.events.record(
                        now, "monitoring", "alert_resolved", f"{rule.name} on {alert.target}"
                    )
                elif key in self._firing and self._outlived(self._firing[key], rule, now):
                    old = self._firing.pop(key)
                    old.resolved = now  # this episode ends; a new page
                    after = self.incidents[old.incident].resolved
                    self._fire(key, rule, target, now, after)
                state = self._states[key]
                if state.firing or state.pending or key in self._firing:
                    active.add(position)
                else:
                    active.discard(position)

    def _outlived(self, alert: _Alert, rule: Rule, now: float) -> bool:
        """Whether an alert still fires well after the incident it opened was resolved: the
        remedy did not cure what it sees (a bad version under an overload's fix, say), so
        it pages again — once its condition has held on fresh scrapes for the rule's own
        delay (its `for`, or its short window) and an evaluation."""
        # (a node-down alert that joined another node's incident pages again too: the
        # remedy replaced the nodes down then, not one that failed since)
        joined = alert.action == JOINED and rule.kind == NODE_DOWN
        if (alert.action != OPENED and not joined) or alert.incident < 0:
            return False
        resolved = self.incidents[alert.incident].resolved
        if math.isnan(resolved):
            return False
        settings = self.settings
        fresh = max(rule.hold_for, rule.short_scrapes * settings.scrape_interval)
        return now - resolved >= fresh + settings.evaluation_interval

    def _holds(self) -> list[np.ndarray | None]:
        """Per rule, whether its condition holds on each target (entry points or stations),
        from the last scrapes (the burn-rate rules' windows all at once); None where it
        holds on none (the usual case, which an evaluation skips at once)."""
        conditions: list[np.ndarray | None] = [None] * len(self.rules)
        if self._burn and self._entry.one:  # the same tests on the one entry point's floats
            windows = self._entry.trailing_one(self._window_list)
            each = [
                burn_rate_fires(*windows[2 * row], *windows[2 * row + 1], rule.burn, self.slo)
                for row, rule in enumerate(self._burn_rules)
            ]
            if any(each):
                for row, index in enumerate(self._burn):
                    conditions[index] = np.full(1, each[row])
        elif self._burn:
            bad, total = self._entry.trailing(self._windows)
            fires = burn_rates_fire(bad, total, self._thresholds)
            if np.count_nonzero(fires):
                for row, index in enumerate(self._burn):
                    conditions[index] = fires[row]
        for index, rule in enumerate(self.rules):
            if rule.kind == SATURATION:  # its threshold is the one the scrape applied
                if self._service.any_saturated:  # (counted by the scrape)
                    conditions[index] = self._service.saturated
                continue
            if rule.kind == NODE_DOWN:
                holds = nodes_down(self._service.lost)
            elif rule.kind == THRESHOLD and self._entry.one:
                ((bad_one, total_one),) = self._entry.trailing_one([1])
                holds = np.full(1, error_ratio_exceeds(bad_one, total_one, rule.threshold))
            elif rule.kind == THRESHOLD:
                bad, total = self._entry.trailing(np.ones(1, dtype=np.int64))
                holds = error_ratios_exceed(bad[0], total[0], rule.threshold)
            else:
                continue
            conditions[index] = holds if np.count_nonzero(holds) else None
        return conditions

    def _target_name(self, rule: Rule, target: int) -> str:
        return self.names[target] if rule.scope == ENTRY_POINT else self.station_names[target]

    def _fire(
        self, key: tuple[int, int], rule: Rule, target: int, now: float, after: float = 0.0
    ) -> None:
        """An alert fires; the trouble it sees started when its condition began to hold
        (not before `after`: the end of the incident an earlier page of it opened)."""
        name = self._target_name(rule, target)
        if rule.scope == ENTRY_POINT:
            since = self._entry[target].unhealthy_since
        elif rule.kind == NODE_DOWN:
            since = self._service[target].down_since
        else:
            since = self._service[target].unhealthy_since
        started = max(since, after) if not math.isnan(since) else now
        alert = _Alert(rule, name, started, now)
        self.alerts.append(alert)
        self._firing[key] = alert
        self.events.record(
            now, "monitoring", "alert_fired", f"{rule.name} on {name}, {self._describe(rule)}"
        )
        if not rule.page:
            alert.action = TICKET
        elif self.delivery is None:
            alert.action = RECORDED
        else:
            self._page(alert, rule, target, now)

    def _describe(self, rule: Rule) -> str:
        if rule.kind == BURN_RATE:
            return f"error budget burning over {rule.burn:g}x on both windows"
        if rule.kind == THRESHOLD:
            return f"over {rule.threshold:.1%} of requests bad for {rule.hold_for:g} s"
        if rule.kind == NODE_DOWN:
            return f"replicas on a node that is down for {rule.hold_for:g} s"
        return f"over {rule.threshold:.0%} of workers busy for {rule.hold_for:g} s"

    # -- paging and incidents ----------------------------------------------------------
    def _affected(self, rule: Rule, target: int) -> set[int]:
        """The delivery model's services an alert concerns: an entry point's whole call
        tree (its errors may come from any of them), or the one service of a station (every
        service for a monolith)."""
        stations = self._trees[target] if rule.scope == ENTRY_POINT else [target]
        if rule.kind == NODE_DOWN and self._nodes is not None:  # every service on the node
            stations = sorted({target} | self._nodes.sharing(target))
        names: list[str] = []
        for index in stations:
            station = self.station_names[index]
            names += self.names if station == MONOLITH else [station]
        return {delivery_service(self.scenario, name) for name in names}

    def _already_open(self, affected: set[int]) -> int | None:
        """The monitoring incident open on one of `affected` (-1 for one the delivery model
        opened by itself), or None when nobody is working on any of them."""
        for service in sorted(affected):
            if service in self._open:
                return self._open[service]
        assert self.delivery is not None
        for incident in self.delivery.incidents:
            if incident.service in affected and math.isnan(incident.resolved):
                return -1
        return None

    def _page(self, alert: _Alert, rule: Rule, target: int, now: float) -> None:
        delivery = self.delivery
        assert delivery is not None
        joined = self._already_open(self._affected(rule, target))
        if joined is not None:
            alert.action, alert.incident = JOINED, joined
            return
        if rule.scope == SERVICE:
            overloaded: int | None = target
        else:
            found = most_saturated(
                {
                    self.station_names[i]: saturation(
                        self._service[i].busy, self._service[i].capacity
                    )
                    for i in self._trees[target]
                },
                self.saturation_threshold,
            )
            overloaded = None if found is None else self._station_index(found)
        name = alert.target if overloaded is None else self.station_names[overloaded]
        cause = ERRORS if overloaded is None else OVERLOAD
        failed = self._failed_node(rule, target, overloaded)
        if failed is not None:
            name, cause = self.station_names[failed], INFRASTRUCTURE
        elif overloaded is None and rule.scope == ENTRY_POINT:
            culprit = self._bad_version(target)
            if culprit is not None:
                name = self.station_names[culprit]
        service = delivery_service(self.scenario, name)
        number = len(self.incidents)
        incident = _Incident(name, service, cause, alert.started, now)
        self.incidents.append(incident)
        self._open[service] = number
        alert.action, alert.incident = OPENED, number
        self.events.record(now, "monitoring", "paged", f"{cause} of {name}: {rule.name}")

        def resolved(time: float, hours: float) -> None:
            incident.resolved, incident.hours = time, hours
            if self._open.get(service) == number:
                del self._open[service]

        if failed is not None:
            remedy: Callable[[str], simpy.Event] | None = self._replace_node(incident, failed)
        else:
            remedy = None if overloaded is None else self._scale_out(incident, overloaded)
        first_bad = self._first_bad(rule, target, overloaded)
        delivery.report_incident(
            service,
            cause,
            alert.started,
            self._incident_rng,
            on_resolved=resolved,
            remedy=remedy,
            detected=now,
            rule=rule.name,
            first_bad=None if math.isnan(first_bad) else first_bad,
        )

    def _failed_node(self, rule: Rule, target: int, overloaded: int | None) -> int | None:
        """The station whose failed node the trouble is: the node-down rule's, or (the
        diagnosis of an error alert) one of the entry point's call tree that lost
        replicas on a node that is down; None when no node is down there, or it is an
        overload (its remedy adds replicas)."""
        nodes = self._nodes
        if nodes is None:
            return None
        if rule.kind == NODE_DOWN:
            return target
        if rule.scope != ENTRY_POINT or overloaded is not None:
            return None
        for station in self._trees[target]:
            if nodes.lost(station):
                return station
        return None

    def _bad_version(self, entry: int) -> int | None:
        """The diagnosis of an error alert on an entry point: the station of its call tree
        whose bad version has served longest (the entry point's own first), or None when
        none serves one. Its incident is then that service's, and the remedy rolls it back,
        wherever in the tree it is."""
        delivery = self.delivery
        assert delivery is not None
        found: list[tuple[float, int, int]] = []
        for station in self._trees[entry]:
            name = self.station_names[station]
            if name == MONOLITH:
                return None  # one service: the entry point's own diagnosis finds it
            since = delivery.bad_version_since(delivery_service(self.scenario, name))
            if since is not None:
                found.append((since, station != entry, station))
        return min(found)[2] if found else None

    def _replace_node(self, incident: _Incident, station: int) -> Callable[[str], simpy.Event]:
        """The remedy of a failed node: the responder replaces it (`failures.node_repair`);
        it boots and its replicas start; resolved when they serve."""
        nodes = self._nodes
        assert nodes is not None
        env = self.env

        def remedy(who: str) -> simpy.Event:
            done = nodes.repair(station, who)

            def served(_event: simpy.Event) -> None:
                incident.remedied = env.now

            done.callbacks.append(served)
            return done

        return remedy

    def _station_index(self, name: str) -> int:
        return self.station_names.index(name)

    def _first_bad(self, rule: Rule, target: int, station: int | None) -> float:
        """The end of the first bad request of the trouble, as far as monitoring saw it: of
        the alert's entry point, or of the entry points whose requests visit the station."""
        if rule.scope == ENTRY_POINT:
            return self._entry[target].first_bad
        seen = [
            self._entry[entry].first_bad
            for entry, stations in self._trees.items()
            if station in stations and not math.isnan(self._entry[entry].first_bad)
        ]
        return min(seen) if seen else math.nan

    def _scale_out(self, incident: _Incident, station: int) -> Callable[[str], simpy.Event]:
        """The remedy of an overload: once diagnosed, the responder orders
        `manual_scale_out.replicas` more, which serve after the lead time."""
        env = self.env
        settings = self.scale_out
        name = self.station_names[station]

        def remedy(who: str) -> simpy.Event:
            done = env.event()
            lead = float(settings.lead_time.draw(self._lead_rng, 1)[0])
            self.events.record(
                env.now,
                "monitoring",
                "scale_out_ordered",
                f"{who}: {settings.replicas} more replicas of {name}, ready in {lead / 60:.0f} min",
            )

            def serve(_event: simpy.Event) -> None:
                replicas = self.source.add_replicas(station, settings.replicas)
                incident.remedied = env.now
                incident.replicas_added = settings.replicas
                self._added.append((env.now, settings.replicas))
                self.events.record(
                    env.now,
                    f"service/{name}",
                    "replicas_added_by_hand",
                    f"{replicas} replicas now",
                )
                done.succeed()

            env.timeout(lead).callbacks.append(serve)
            return done

        return remedy

    # -- results -----------------------------------------------------------------------
    def records(self) -> MonitoringRecords:
        """What the run left behind (call it at the horizon): the last, partial scrape
        interval up to now is read first, so the samples cover the whole run."""
        now = self.env.now
        if now > self._last_scrape:
            self._scrape(now)
        self._log_services(now, None)
        scenario = self.scenario
        warmup, horizon = scenario.warmup, scenario.horizon
        added = sum(n * max(0.0, horizon - max(t, warmup)) for t, n in self._added)
        return MonitoringRecords(
            warmup=warmup,
            horizon=horizon,
            slo=self.slo,
            slo_latency=self.scenario.slo.latency
            if self.scenario.slo.latency is not None
            else math.inf,
            scrape_interval=self.settings.scrape_interval,
            entry_points=tuple(self.names),
            services=tuple(self.station_names),
            sli=self.sli,
            alerts=tuple(
                AlertRecord(
                    a.rule.name,
                    a.rule.kind,
                    a.rule.scope,
                    a.target,
                    a.started,
                    a.fired,
                    a.resolved,
                    a.rule.page,
                    a.action,
                    a.incident,
                )
                for a in self.alerts
            ),
            incidents=tuple(
                IncidentRecord(
                    i.service,
                    i.delivery_service,
                    i.cause,
                    i.started,
                    i.detected,
                    i.remedied,
                    i.resolved,
                    i.replicas_added,
                    i.hours,
                )
                for i in self.incidents
            ),
            replica_seconds_added=added,
            expected_counts=self.source.expected_counts,
        )
