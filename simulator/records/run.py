"""What the runtime of one run leaves behind, for metrics that need more than their own
subsystem's records (e.g. failed requests by cause)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..scenario.schema import Scenario


@dataclass(frozen=True)
class RunRecords:
    """The scenario and seed of a run, and the request and span columns of the request
    level (empty mappings when requests are not simulated one by one)."""

    scenario: Scenario
    seed: int
    requests: dict[str, np.ndarray]
    spans: dict[str, np.ndarray]
    tables: frozenset[str] | None = None
    """The tables the run's caller will read (None: every table). A sweep's run sends
    back only those it asks for, so a large table nobody reads need not be built."""

    def wants(self, *names: str) -> bool:
        """Whether any of the tables `names` will be read (the KPIs never depend on it)."""
        return self.tables is None or not self.tables.isdisjoint(names)
