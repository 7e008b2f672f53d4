"""The `scaling` table: the autoscalers' decisions, one row each, as numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..records.scaling import ScalingLog

if TYPE_CHECKING:
    import pandas as pd

SCALING_COLUMNS = ("time", "target", "kind", "from", "to", "reason")
"""time (s), target (a service or a node type), kind ("replicas" or "nodes"), the count
before (`from`) and after (`to`) the decision, and reason (a code, see
`simulator.records.scaling.REASONS`)."""


def scaling_table(log: ScalingLog) -> pd.DataFrame:
    """The decisions in time order, with the declared columns even when nothing scaled."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "time": np.asarray(log.time, dtype=float),
            "target": pd.Series(log.target, dtype=object),
            "kind": pd.Series(log.kind, dtype=object),
            "from": np.asarray(log.from_, dtype=np.int64),
            "to": np.asarray(log.to, dtype=np.int64),
            "reason": pd.Series(log.reason, dtype=object),
        },
        columns=list(SCALING_COLUMNS),
    )
    return frame.sort_values("time", kind="stable", ignore_index=True)
