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
