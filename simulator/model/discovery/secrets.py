"""Secrets: one static credential shared by every service, or Vault's leased, per-service ones.

Static: the credential sits in every service's configuration. A leak means revoking it (at
once, once noticed: the attacker must be locked out) and changing every service, one after
another; each service refuses work (`unauthorized`: it cannot reach its own backing services)
until its turn comes. A scheduled rotation is planned (new credential first, old one
revoked last), so it costs hours but no outage.

Vault: each service has its own dynamic credential under a lease, renewed at
`renew_fraction` of the TTL. A leak revokes one lease and Vault issues a new credential:
one service, for `revoke_time`. A renewal that fails is invisible until the lease expires;
then the service refuses work until someone fixes it. Rotation is automatic.
Every issue, renewal, revocation and expiry goes into an audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd
import simpy

from ...engine.recorder import UNAUTHORIZED
from .common import count_status, delivery_of, delivery_service, faults_of

if TYPE_CHECKING:
    from ..world import World


def blast_radius(graph: nx.DiGraph, changed: list[str]) -> list[str]:
    """Services whose requests can fail while `changed` refuse work: they and their callers."""
    affected = set(changed)
    for name in changed:
        if name in graph:
            affected |= nx.ancestors(graph, name)
    return sorted(affected)


def call_graph_of(services) -> nx.DiGraph:  # type: ignore[no-untyped-def]
    graph = nx.DiGraph()
    for name, spec in services.items():
        graph.add_node(name)
        graph.add_edges_from((name, call.call) for call in spec.calls())
    return graph


class SecretsModel:
    """A `Subsystem`: credentials, their leaks, expiries and rotations, and the audit trail."""

    def __init__(self, world: World) -> None:
        self.world = world
        scenario = world.scenario
        self.settings = settings = scenario.secrets
        self.services = list(scenario.services)
        self.graph = call_graph_of(scenario.services)
        self.audit: list[tuple[float, str, str, str, str]] = []
        self.leaks: list[dict] = []
        self.hours = 0.0
        self.expiries = 0
        self.rotations = 0
        # With a delivery model, fixes are the organisation's work: incidents it resolves.
        self.delivery = delivery_of(world)
        self._delivery_rng = world.streams.get("secrets/delivery")
        horizon = scenario.horizon
        if settings.kind == "static":
            for name in self.services:
                self._audit(0.0, name, "shared", "configured", "static credential in config")
            if settings.renewal_failures:
                world.events.record(
                    0.0, "secrets", "ignored", "static credentials are never renewed or expire"
                )
        else:
            self._leases(horizon)
        for leak in settings.leaks:
            self._leak(leak)
        if settings.rotation_interval is not None:
            at = settings.rotation_interval
            while at < horizon:
                self._rotate(at)
                at += settings.rotation_interval
        self.audit.sort(key=lambda row: row[0])

    def _audit(self, time: float, service: str, credential: str, action: str, detail: str) -> None:
        self.audit.append((time, service, credential, action, detail))

    def _refuse(self, service: str, start: float, end: float) -> Callable[[float], None]:
        """Calls to `service` are refused from `start` to `end` (infinite: until the returned
        function is called with the time the credential works again)."""
        station = next(s for s in self.world.stations if s.name == service)
        windows = faults_of(self.world, station).unauthorized
        index = len(windows)
        windows.append((start, end))
        until = f"until {end:.0f} s" if end < np.inf else "until fixed"
        self.world.events.record(
            start, f"service/{service}", "unauthorized", f"credential refused {until}"
        )

        def restore(time: float) -> None:
            windows[index] = (start, time)
            self.world.events.record(time, f"service/{service}", "authorized", "credential works")

        return restore

    def _leases(self, horizon: float) -> None:
        settings = self.settings
        ttl = settings.lease_ttl
        every = settings.renew_fraction * ttl
        failing = {failure.service: failure for failure in settings.renewal_failures}
        for name in self.services:
            lease = f"{name}/lease-1"
            self._audit(0.0, name, lease, "issue", f"dynamic credential, TTL {ttl:.0f} s")
            renewed = 0.0
            at = every
            failure = failing.get(name)
            while at < horizon:
                if failure is not None and at >= failure.at:
                    self._audit(at, name, lease, "renew_failed", "renewal refused")
                    break
                self._audit(at, name, lease, "renew", f"until {at + ttl:.0f} s")
                renewed = at
                at += every
            if failure is None:
                continue
            expiry = renewed + ttl
            if expiry < horizon:
                self.expiries += 1
                self._audit(expiry, name, lease, "expire", "lease expired: calls refused")
                if self.delivery is not None:
                    self._expiry_incident(name, expiry)
                    continue
                fixed = expiry + failure.fix_time
                self._audit(fixed, name, f"{name}/lease-2", "issue", "fixed by hand")
                self._refuse(name, expiry, fixed)
                self.hours += failure.fix_time / 3600

    def _expiry_incident(self, name: str, expiry: float) -> None:
        """The expired lease is an incident (cause `secrets`): monitoring or a customer
        notices the refused calls, the responder issues a new credential (the delivery
        model's diagnosis and repair), and calls work again when the incident is resolved."""
        restore = self._refuse(name, expiry, np.inf)

        def resolved(time: float, hours: float) -> None:
            restore(time)
            self.hours += hours
            self._audit(time, name, f"{name}/lease-2", "issue", "fixed by the responder")

        service = delivery_service(self.world, name)
        self.delivery.report_incident(service, "secrets", expiry, self._delivery_rng, resolved)

    def _leak(self, leak) -> None:  # type: ignore[no-untyped-def]
        settings = self.settings
        noticed = leak.at + leak.detection
        if self.delivery is not None:
            self._leak_incident(leak, noticed)
            return
        if settings.kind == "static":
            credential = "shared"
            changed = list(self.services)
            self._audit(leak.at, leak.service, credential, "leak", "shared credential leaked")
            self._audit(noticed, "", credential, "revoke", "every service must change")
            done = noticed
            for index, name in enumerate(changed):
                done = noticed + (index + 1) * settings.rotation_gap
                self._refuse(name, noticed, done)
                self._audit(done, name, "shared-2", "configured", "new credential deployed")
            hours = len(changed) * settings.rotation_hours_per_service
            restored = done
        else:
            credential = f"{leak.service}/lease-1"
            changed = [leak.service]
            restored = noticed + settings.revoke_time
            self._audit(leak.at, leak.service, credential, "leak", "one lease leaked")
            self._audit(noticed, leak.service, credential, "revoke", "lease revoked")
            self._audit(restored, leak.service, f"{leak.service}/lease-2", "issue", "new lease")
            self._refuse(leak.service, noticed, restored)
            hours = settings.revoke_time / 3600
        self.hours += hours
        self.leaks.append(self._leak_row(leak, credential, noticed, noticed, changed))
        self.leaks[-1].update(restored=restored, engineer_hours=hours)

    def _leak_row(  # type: ignore[no-untyped-def]
        self, leak, credential: str, noticed: float, revoked: float, changed: list[str]
    ) -> dict:
        return {
            "at": leak.at,
            "service": leak.service,
            "credential": credential,
            "noticed": noticed,
            "revoked": revoked,
            "exposure_s": revoked - leak.at,
            "restored": np.nan,
            "services_changed": len(changed),
            "changed": ",".join(changed),
            "affected": ",".join(blast_radius(self.graph, changed)),
            "engineer_hours": 0.0,
        }

    def _leak_incident(self, leak, noticed: float) -> None:  # type: ignore[no-untyped-def]
        """A leak in an organisation with a delivery process: an incident (cause `secrets`)
        from the moment it is noticed. Its responder revokes the credential once diagnosed
        (the exposure lasts until then); with Vault a new lease follows in `revoke_time`;
        with a static shared credential every service refuses work until its configuration
        change, shipped by the delivery process, runs. Resolved when the last one runs."""
        settings = self.settings
        vault = settings.kind == "vault"
        changed = [leak.service] if vault else list(self.services)
        credential = f"{leak.service}/lease-1" if vault else "shared"
        row = self._leak_row(leak, credential, noticed, np.nan, changed)
        self.leaks.append(row)
        self._audit(leak.at, leak.service, credential, "leak", "credential leaked")
        env = self.world.env

        def revoke(by: str) -> simpy.Event:
            now = env.now
            row["revoked"], row["exposure_s"] = now, now - leak.at
            self._audit(now, leak.service if vault else "", credential, "revoke", f"by {by}")
            if vault:
                restored = now + settings.revoke_time
                self._refuse(leak.service, now, restored)
                self._audit(restored, leak.service, f"{leak.service}/lease-2", "issue", "new")
                row["engineer_hours"] += settings.revoke_time / 3600
                self.hours += settings.revoke_time / 3600
                return env.timeout(settings.revoke_time)
            done = env.event()
            left = [len(changed)]
            for name in changed:
                restore = self._refuse(name, now, np.inf)

                def deployed(time: float, hours: float, name=name, restore=restore) -> None:
                    restore(time)
                    self._audit(time, name, "shared-2", "configured", "new credential deployed")
                    row["engineer_hours"] += hours
                    self.hours += hours
                    left[0] -= 1
                    if not left[0]:
                        done.succeed()

                service = delivery_service(self.world, name)
                self.delivery.request_config_change(service, deployed, self._delivery_rng, by)
            return done

        def resolved(time: float, hours: float) -> None:
            row["restored"] = time
            row["engineer_hours"] += hours
            self.hours += hours

        service = delivery_service(self.world, leak.service)
        self.delivery.report_incident(
            service, "secrets", noticed, self._delivery_rng, resolved, revoke, detected=noticed
        )

    def _rotate(self, at: float) -> None:
        self.rotations += 1
        if self.settings.kind == "static":
            self.hours += len(self.services) * self.settings.rotation_hours_per_service
            for name in self.services:
                self._audit(at, name, "shared", "rotate", "by hand, new credential first")
        else:
            for name in self.services:
                self._audit(at, name, f"{name}/lease", "rotate", "automatic")

    def records(self):  # type: ignore[no-untyped-def]
        """Interim: the model itself, until it emits typed records (issue 10)."""
        return self

    def summary(self) -> dict[str, float]:
        leaks = self.leaks
        return {
            "secret_leaks": len(leaks),
            "leak_exposure_s": float(np.mean([r["exposure_s"] for r in leaks]))
            if leaks
            else np.nan,
            "leak_blast_radius_services": float(np.mean([r["services_changed"] for r in leaks]))
            if leaks
            else np.nan,
            "secret_expiries": self.expiries,
            "secret_rotations": self.rotations,
            "unauthorized_errors": count_status(self.world, UNAUTHORIZED),
            "secrets_engineer_hours": self.hours,
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        audit = pd.DataFrame(
            sorted(self.audit, key=lambda row: row[0]),
            columns=["time", "service", "credential", "action", "detail"],
        )
        columns = [
            "at", "service", "credential", "noticed", "revoked", "exposure_s", "restored",
            "services_changed", "changed", "affected", "engineer_hours",
        ]  # fmt: skip
        leaks = pd.DataFrame(self.leaks, columns=columns)
        return {"secret_audit": audit, "secret_leaks": leaks}
