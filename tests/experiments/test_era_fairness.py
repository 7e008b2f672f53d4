"""The flagship comparison compares like with like: the same served services, one SLO, and
a monolith released as one (issue 13, point 7)."""

from __future__ import annotations

import pytest

from simulator.experiments.eras import COMMON_SERVICES, ERAS, ERAS_DIR
from simulator.model.discovery.common import delivery_service
from simulator.scenario.loader import load_scenario


@pytest.fixture(scope="module", params=ERAS)
def era(request):
    return load_scenario(ERAS_DIR / f"{request.param}.yaml", {"delivery.services": COMMON_SERVICES})


def test_every_service_the_organisation_deploys_serves_requests(era):
    served = {delivery_service(era, name) for name in era.services}
    assert served == set(range(era.delivery.services))


def test_one_slo_for_the_requests_the_alerts_and_the_error_budget(era):
    target = era.slo.target
    assert era.slo.latency == 1.0
    if era.monitoring.enabled and era.monitoring.alerting == "burn-rate":
        assert era.monitoring.slo == target
    if era.delivery.automated.error_budget.enabled:
        assert era.delivery.automated.error_budget.slo == target


def test_a_monolith_is_released_as_one(era):
    whole = era.delivery.release_unit == "application"
    assert whole == (era.deployment == "monolith")
