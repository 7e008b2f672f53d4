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

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import simpy

from ...records import discovery as why  # the audit's reason codes
from ...records.discovery import AuditEntry, LeakRecord, SecretsRecords
from ...scenario.graph import call_graph
from .common import delivery_service, faults_of, request_level

if TYPE_CHECKING:
    import networkx as nx

    from ...scenario.discovery import Leak
    from ..context import Organisation, RunContext


def blast_radius(graph: nx.DiGraph, changed: list[str]) -> list[str]:
    """Services whose requests can fail while `changed` refuse work: they and their callers."""
    from networkx import ancestors  # networkx's import is paid by secrets runs only

    affected = set(changed)
    for name in changed:
        if name in graph:
            affected |= ancestors(graph, name)
    return sorted(affected)


class SecretsModel:
    """A `Subsystem`: credentials, their leaks, expiries and rotations, and the audit trail."""

    def __init__(self, context: RunContext, delivery: Organisation | None = None) -> None:
        """`delivery`: the run's delivery model, if any; fixes are then the organisation's
        work, incidents it resolves."""
        self.context = context
        self.scenario = scenario = context.scenario
        self.stations = request_level(context).stations
        self.settings = settings = scenario.secrets
        self.services = list(scenario.services)
        self.graph = call_graph(scenario)
        self.audit: list[AuditEntry] = []
        self.leaks: list[LeakRecord] = []
        self.hours = 0.0
        self.expiries = 0
        self.rotations = 0
        self.delivery = delivery
        self._delivery_rng = context.streams.get("secrets/delivery")
        horizon = scenario.horizon
        if settings.kind == "static":
            for name in self.services:
                self._audit(0.0, name, "shared", "configured", why.STATIC_CONFIG)
            if settings.renewal_failures:
                context.events.record(
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
        self.audit.sort(key=lambda row: row.time)

    def _audit(
        self,
        time: float,
        service: str,
        credential: str,
        action: str,
        reason: str,
        value: float = math.nan,
        by: str = "",
    ) -> None:
        """One line of the audit trail: `reason` a code of `records.discovery`, `value` the
        number it needs (a TTL, a lease's end), `by` the responder who revoked."""
        self.audit.append(AuditEntry(time, service, credential, action, reason, value, by))

    def _refuse(self, service: str, start: float, end: float) -> Callable[[float], None]:
        """Calls to `service` are refused from `start` to `end` (infinite: until the returned
        function is called with the time the credential works again)."""
        station = next(s for s in self.stations if s.name == service)
        windows = faults_of(self.context, station).unauthorized
        index = len(windows)
        windows.append((start, end))
        until = f"until {end:.0f} s" if end < np.inf else "until fixed"
        self.context.events.record(
            start, f"service/{service}", "unauthorized", f"credential refused {until}"
        )

        def restore(time: float) -> None:
            windows[index] = (start, time)
            self.context.events.record(time, f"service/{service}", "authorized", "credential works")

        return restore

    def _leases(self, horizon: float) -> None:
        settings = self.settings
        ttl = settings.lease_ttl
        every = settings.renew_fraction * ttl
        failing = {failure.service: failure for failure in settings.renewal_failures}
        for name in self.services:
            lease = f"{name}/lease-1"
            self._audit(0.0, name, lease, "issue", why.ISSUED, ttl)
            renewed = 0.0
            at = every
            failure = failing.get(name)
            while at < horizon:
                if failure is not None and at >= failure.at:
                    self._audit(at, name, lease, "renew_failed", why.RENEWAL_REFUSED)
                    break
                self._audit(at, name, lease, "renew", why.RENEWED, at + ttl)
                renewed = at
                at += every
            if failure is None:
                continue
            expiry = renewed + ttl
            if expiry < horizon:
                self.expiries += 1
                self._audit(expiry, name, lease, "expire", why.EXPIRED)
                if self.delivery is not None:
                    self._expiry_incident(name, expiry)
                    continue
                fixed = expiry + failure.fix_time
                self._audit(fixed, name, f"{name}/lease-2", "issue", why.FIXED_BY_HAND)
                self._refuse(name, expiry, fixed)
                self.hours += failure.fix_time / 3600

    def _expiry_incident(self, name: str, expiry: float) -> None:
        """The expired lease is an incident (cause `secrets`): monitoring or a customer
        notices the refused calls, the responder issues a new credential (the delivery
        model's diagnosis and repair), and calls work again when the incident is resolved."""
        assert self.delivery is not None
        restore = self._refuse(name, expiry, np.inf)

        def resolved(time: float, hours: float) -> None:
            restore(time)
            self.hours += hours
            self._audit(time, name, f"{name}/lease-2", "issue", why.FIXED_BY_RESPONDER)

        service = delivery_service(self.scenario, name)
        self.delivery.report_incident(service, "secrets", expiry, self._delivery_rng, resolved)

    def _leak(self, leak: Leak) -> None:
        settings = self.settings
        noticed = leak.at + leak.detection
        if self.delivery is not None:
            self._leak_incident(leak, noticed)
            return
        if settings.kind == "static":
            credential = "shared"
            changed = list(self.services)
            self._audit(leak.at, leak.service, credential, "leak", why.SHARED_LEAKED)
            self._audit(noticed, "", credential, "revoke", why.EVERY_SERVICE)
            done = noticed
            for index, name in enumerate(changed):
                done = noticed + (index + 1) * settings.rotation_gap
                self._refuse(name, noticed, done)
                self._audit(done, name, "shared-2", "configured", why.DEPLOYED)
            hours = len(changed) * settings.rotation_hours_per_service
            restored = done
        else:
            credential = f"{leak.service}/lease-1"
            changed = [leak.service]
            restored = noticed + settings.revoke_time
            self._audit(leak.at, leak.service, credential, "leak", why.LEASE_LEAKED)
            self._audit(noticed, leak.service, credential, "revoke", why.LEASE_REVOKED)
            self._audit(restored, leak.service, f"{leak.service}/lease-2", "issue", why.NEW_LEASE)
            self._refuse(leak.service, noticed, restored)
            hours = settings.revoke_time / 3600
        self.hours += hours
        row = self._leak_row(leak, credential, noticed, noticed, changed)
        row.restored, row.engineer_hours = restored, hours
        self.leaks.append(row)

    def _leak_row(
        self, leak: Leak, credential: str, noticed: float, revoked: float, changed: list[str]
    ) -> LeakRecord:
        return LeakRecord(
            at=leak.at,
            service=leak.service,
            credential=credential,
            noticed=noticed,
            revoked=revoked,
            restored=np.nan,
            changed=tuple(changed),
            affected=tuple(blast_radius(self.graph, changed)),
        )

    def _leak_incident(self, leak: Leak, noticed: float) -> None:
        """A leak in an organisation with a delivery process: an incident (cause `secrets`)
        from the moment it is noticed. Its responder revokes the credential once diagnosed
        (the exposure lasts until then); with Vault a new lease follows in `revoke_time`;
        with a static shared credential every service refuses work until its configuration
        change, shipped by the delivery process, runs. Resolved when the last one runs."""
        settings = self.settings
        delivery = self.delivery
        assert delivery is not None
        vault = settings.kind == "vault"
        changed = [leak.service] if vault else list(self.services)
        credential = f"{leak.service}/lease-1" if vault else "shared"
        row = self._leak_row(leak, credential, noticed, np.nan, changed)
        self.leaks.append(row)
        self._audit(leak.at, leak.service, credential, "leak", why.LEAKED)
        env = self.context.env

        def revoke(by: str) -> simpy.Event:
            now = env.now
            row.revoked = now
            revoked = leak.service if vault else ""  # a shared credential: every service
            self._audit(now, revoked, credential, "revoke", why.REVOKED_BY, by=by)
            if vault:
                restored = now + settings.revoke_time
                self._refuse(leak.service, now, restored)
                self._audit(restored, leak.service, f"{leak.service}/lease-2", "issue", why.NEW)
                row.engineer_hours += settings.revoke_time / 3600
                self.hours += settings.revoke_time / 3600
                return env.timeout(settings.revoke_time)
            done = env.event()
            left = [len(changed)]
            for name in changed:
                restore = self._refuse(name, now, np.inf)

                def deployed(
                    time: float,
                    hours: float,
                    name: str = name,
                    restore: Callable[[float], None] = restore,
                ) -> None:
                    restore(time)
                    self._audit(time, name, "shared-2", "configured", why.DEPLOYED)
                    row.engineer_hours += hours
                    self.hours += hours
                    left[0] -= 1
                    if not left[0]:
                        done.succeed()

                service = delivery_service(self.scenario, name)
                delivery.request_config_change(service, deployed, self._delivery_rng, by)
            return done

        def resolved(time: float, hours: float) -> None:
            row.restored = time
            row.engineer_hours += hours
            self.hours += hours

        service = delivery_service(self.scenario, leak.service)
        delivery.report_incident(
            service, "secrets", noticed, self._delivery_rng, resolved, revoke, detected=noticed
        )

    def _rotate(self, at: float) -> None:
        self.rotations += 1
        if self.settings.kind == "static":
            self.hours += len(self.services) * self.settings.rotation_hours_per_service
            for name in self.services:
                self._audit(at, name, "shared", "rotate", why.ROTATED_BY_HAND)
        else:
            for name in self.services:
                self._audit(at, name, f"{name}/lease", "rotate", why.AUTOMATIC)

    def records(self) -> SecretsRecords:
        """The audit trail in time order, the leaks, and the counts and hours of the run."""
        return SecretsRecords(
            audit=tuple(sorted(self.audit, key=lambda row: row.time)),
            leaks=tuple(self.leaks),
            expiries=self.expiries,
            rotations=self.rotations,
            engineer_hours=self.hours,
        )
