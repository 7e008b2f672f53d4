"""Service discovery in a run: endpoint changes, who learns when, and stale routing.

Endpoint changes come from the scenario's script (node failures, scale-in and -out, moves,
deploys, agent joins) and from the autoscaler (every replica it adds or retires): a station
tells this model through `on_endpoint_change`. Each change goes through the kind's
`Propagation`; a removed replica becomes a `StaleEndpoint` on the station until the last
client has dropped it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import simpy

from ...records.discovery import DiscoveryRecords, EndpointChange
from .common import callers, delivery_service, faults_of, request_level
from .faults import StaleEndpoint
from .propagation import Learned, Propagation, convergence_time

if TYPE_CHECKING:
    from ...scenario.discovery import EndpointChange as ScriptedChange
    from ...scenario.schema import Scenario
    from ..context import Organisation, RunContext
    from ..services import Station

DEPLOY_STEP = 10.0
"""Seconds between replacing one replica and the next in a scripted deploy, by default."""


def agent_count(scenario: Scenario) -> int:
    """Agents (one per node): discovery.agents, else the cluster's nodes, else replicas."""
    if scenario.discovery.agents is not None:
        return scenario.discovery.agents
    if scenario.cluster is not None:
        return sum(node_type.count for _, node_type in scenario.cluster.node_type_list())
    return max(1, sum(service.replicas for service in scenario.services.values()))


def is_active(scenario: Scenario) -> bool:
    """Discovery matters to the run: a kind other than none, or scripted endpoint changes."""
    return scenario.discovery.kind != "none" or bool(scenario.discovery.events)


class DiscoveryModel:
    """A `Subsystem`: the discovery kind's view of every endpoint change in the run."""

    def __init__(self, context: RunContext, delivery: Organisation | None = None) -> None:
        """`delivery`: the run's delivery model, if any; under static discovery address
        changes are its work (and a failed node its incident)."""
        self.context = context
        self.env = context.env
        self.scenario = scenario = context.scenario
        self.services = services = request_level(context)
        self.settings = settings = scenario.discovery
        self.agents = agent_count(scenario)
        self.propagation = Propagation(
            settings, self.agents, context.streams.get("discovery/propagation")
        )
        self.stations = {station.name: station for station in services.stations}
        self.callers = callers(scenario)
        self.changes: list[EndpointChange] = []
        # Static addresses with a delivery model: address changes go through its process.
        self.delivery = delivery if settings.kind == "static" else None
        self._delivery_rng = context.streams.get("discovery/delivery")
        # Changes whose address changes are not all deployed: (time, service, kind, what,
        # when each dependent learned, {"left", "hours", "registry"}).
        self._pending: list[tuple[float, str, str, str, np.ndarray, dict[str, float]]] = []
        self._cause: tuple[str, bool] | None = None  # set while a scripted change runs
        for station in services.stations:
            station.on_endpoint_change = self._changed
        for event in settings.events:

            def script(_: simpy.Event, e: ScriptedChange = event) -> None:
                self._script(e)

            self.env.timeout(event.at).callbacks.append(script)
        context.events.record(
            0.0, "discovery", "model", f"{settings.kind} with {self.agents} agents"
        )

    # ------------------------------------------------------------------ changes

    def clients(self, service: str) -> int:
        """How many views of `service`'s endpoints there are, as the kind implies."""
        settings = self.settings
        if settings.clients is not None:
            return settings.clients
        kind = settings.kind
        entry = 1 if service in self.scenario.traffic else 0
        if kind == "none":
            return 1
        if kind == "static":
            return max(1, len(self.callers.get(service, [])) + entry)
        if kind == "lb-etcd":
            return settings.load_balancers
        if kind == "skydns":
            services = self.scenario.services
            replicas = sum(services[name].replicas for name in self.callers.get(service, []))
            return max(1, replicas + entry)
        return self.agents

    def _station(self, service: str) -> Station | None:
        if service in self.stations:
            return self.stations[service]
        stations = self.services.stations
        return stations[0] if len(stations) == 1 else None

    def _script(self, event: ScriptedChange) -> None:
        now = self.env.now
        if event.kind == "join":
            if self.settings.kind == "consul":
                learned = self.propagation.join(now)  # the alive message spreads by gossip
            else:  # a new node registers like any endpoint; every agent's view must learn it
                learned = self.propagation.learn(now, True, self.agents)
            self._record(now, "", "join", "joined", learned)
            return
        station = self._station(event.service)
        if station is None:
            self.context.events.record(now, "discovery", "ignored", f"no station {event.service}")
            return
        if event.kind in ("node-failure", "scale-in"):
            count = min(event.replicas, station.replicas - 1)
            if count < event.replicas:
                self.context.events.record(
                    now, f"service/{station.name}", "kept_one", "one replica must stay"
                )
            graceful = event.kind == "scale-in"
            # A node failure loses the work in progress there too; a scale-in drains.
            remove = station.remove_replica if graceful else lambda: station.remove_replica(True)
            self._with_cause(event.kind, graceful, remove, count)
            if event.kind == "node-failure" and event.replace_after is not None:
                self.env.timeout(event.replace_after).callbacks.append(
                    lambda _: self._with_cause("replacement", True, station.add_replica, count)
                )
        elif event.kind == "scale-out":
            self._with_cause("scale-out", True, station.add_replica, event.replicas)
        elif event.kind == "move":
            self._move(station, event.replicas)
        else:  # deploy: every replica moves, one after another
            step = event.replace_after if event.replace_after is not None else DEPLOY_STEP
            for index in range(station.replicas):
                self.env.timeout(index * step).callbacks.append(
                    lambda _: self._move(station, 1, "deploy")
                )

    def _move(self, station: Station, count: int, kind: str = "move") -> None:
        for _ in range(count):
            self._with_cause(kind, True, station.add_replica, 1)
            self._with_cause(kind, True, station.remove_replica, 1)

    def _with_cause(
        self, kind: str, graceful: bool, action: Callable[[], None], count: int
    ) -> None:
        self._cause = (kind, graceful)
        try:
            for _ in range(count):
                action()
        finally:
            self._cause = None

    def _changed(self, station: Station, what: str) -> None:
        now = self.env.now
        kind, graceful = self._cause or ("autoscaler", True)
        if self.delivery is not None:
            self._through_delivery(station, what, kind, graceful)
            return
        clients = self.clients(station.name)
        learned = self.propagation.learn(now, graceful, clients, key=station.index)
        if what == "removed":
            delay = 0.0 if graceful else self.settings.stale_connect
            faults = faults_of(self.context, station)
            faults.stale.append(StaleEndpoint(now, learned.clients, delay))
        self._record(now, station.name, kind, what, learned)

    def dependents(self, service: str) -> list[str]:
        """Whose configuration holds `service`'s addresses under static discovery: its
        callers, and the service itself (the edge's configuration) for an entry point or
        when nobody calls it."""
        found = list(self.callers.get(service, []))
        if service in self.scenario.traffic or not found:
            found.append(service)
        return found

    def _through_delivery(self, station: Station, what: str, kind: str, graceful: bool) -> None:
        """Static addresses in an organisation with a delivery process: each dependent's
        configuration change is a deploy of that process, and its clients learn the new
        addresses when it runs. A planned change (scale-in, move, deploy, autoscaler) files
        the changes at once; a failed node is an incident (cause `discovery`) that monitoring
        or a customer detects, and whose responder files them ahead of other work."""
        now = self.env.now
        delivery = self.delivery
        assert delivery is not None
        dependents = self.dependents(station.name)
        learned = np.full(len(dependents), np.inf)
        # "registry": when someone knew what to change (a failure: once diagnosed).
        state = {"left": len(dependents), "hours": 0.0, "registry": now if graceful else np.nan}
        stale = None
        if what == "removed":
            stale = StaleEndpoint(now, learned, 0.0 if graceful else self.settings.stale_connect)
            stale.until = np.inf  # until the last dependent's change is deployed
            faults_of(self.context, station).stale.append(stale)
        pending = (now, station.name, kind, what, learned, state)
        self._pending.append(pending)
        done = self.env.event()

        def deployed(client: int) -> Callable[[float, float], None]:
            def on(time: float, hours: float) -> None:
                learned[client] = time
                state["hours"] += hours
                state["left"] -= 1
                if state["left"]:
                    return
                if stale is not None:
                    stale.until = float(learned.max())
                self._pending.remove(pending)
                result = Learned(state["registry"], learned, state["hours"])
                self._record(now, station.name, kind, what, result)
                done.succeed()

            return on

        def reconfigure(by: str | None) -> simpy.Event:
            state["registry"] = self.env.now  # someone knows what must change
            for client, name in enumerate(dependents):
                service = delivery_service(self.scenario, name)
                delivery.request_config_change(service, deployed(client), self._delivery_rng, by)
            return done

        if graceful:
            reconfigure(None)
        else:
            service = delivery_service(self.scenario, station.name)
            delivery.report_incident(
                service, "discovery", now, self._delivery_rng, remedy=reconfigure
            )

    def _change(
        self, now: float, service: str, kind: str, what: str, learned: Learned
    ) -> EndpointChange:
        delays = learned.clients - now
        return EndpointChange(
            time=now,
            service=service,
            kind=kind,
            endpoint=what,
            registry_s=learned.registry - now,
            delays=delays,
            convergence_s=convergence_time(delays),
            operator_hours=learned.operator_hours,
        )

    def _record(self, now: float, service: str, kind: str, what: str, learned: Learned) -> None:
        change = self._change(now, service, kind, what, learned)
        self.changes.append(change)
        self.context.events.record(
            now,
            f"discovery/{service or 'agents'}",
            f"endpoint_{what}",
            f"{kind}: 99.99% of {change.delays.size} clients know after "
            f"{change.convergence_s:.3g} s",
        )

    def records(self) -> DiscoveryRecords:
        """Every change, those some dependents had not yet learned at the horizon last (they
        count as never: infinite convergence), and the time visits hung on dead addresses."""
        unfinished = []
        for now, service, kind, what, learned, state in self._pending:
            result = Learned(state["registry"], learned, state["hours"])
            unfinished.append(self._change(now, service, kind, what, result))
        faults = [s.faults for s in self.services.stations if s.faults is not None]
        return DiscoveryRecords(
            kind=self.settings.kind,
            changes=(*self.changes, *unfinished),
            stale_seconds=float(sum(f.stale_seconds for f in faults)),
        )
