"""The `rollouts` table (every step of every rollout) and the `replica_versions` table (which
version each replica ran when), and the version that served each request."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..records.rollout import ReplicaLives, RolloutLog, RolloutRecords

if TYPE_CHECKING:
    import pandas as pd

ROLLOUT_COLUMNS = (
    "time", "service", "rollout", "kind", "strategy", "step", "from_version", "to_version",
    "old_serving", "new_serving", "starting",
)  # fmt: skip
"""time (s), service, rollout (numbered in the run), kind (deploy or rollback), strategy
(rolling, blue-green, canary, manual), step (a code, see `simulator.records.rollout.STEPS`),
the versions it goes from and to, and after the step the replicas serving any version but
`to_version` (`old_serving`), serving `to_version` (`new_serving`) and starting with it."""

REPLICA_VERSION_COLUMNS = ("service", "replica", "version", "added", "removed")
"""service, replica (the service's own number, as in the requests and spans tables), the
version it ran, when it started serving (s) and when it stopped taking work (NaN: never)."""


def rollouts_table(log: RolloutLog) -> pd.DataFrame:
    """The steps in time order, with the declared columns even when nothing rolled out."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            "time": np.asarray(log.time, dtype=float),
            "service": pd.Series(log.service, dtype=object),
            "rollout": np.asarray(log.rollout, dtype=np.int64),
            "kind": pd.Series(log.kind, dtype=object),
            "strategy": pd.Series(log.strategy, dtype=object),
            "step": pd.Series(log.step, dtype=object),
            "from_version": np.asarray(log.from_version, dtype=np.int64),
            "to_version": np.asarray(log.to_version, dtype=np.int64),
            "old_serving": np.asarray(log.old_serving, dtype=np.int64),
            "new_serving": np.asarray(log.new_serving, dtype=np.int64),
            "starting": np.asarray(log.starting, dtype=np.int64),
        },
        columns=list(ROLLOUT_COLUMNS),
    )
    return frame.sort_values("time", kind="stable", ignore_index=True)


def replica_versions_table(lives: ReplicaLives) -> pd.DataFrame:
    """One row per replica of a service whose versions were in play."""
    import pandas as pd

    return pd.DataFrame(
        {
            "service": pd.Series(lives.service, dtype=object),
            "replica": np.asarray(lives.replica, dtype=np.int64),
            "version": np.asarray(lives.version, dtype=np.int64),
            "added": np.asarray(lives.added, dtype=float),
            "removed": np.asarray(lives.removed, dtype=float),
        },
        columns=list(REPLICA_VERSION_COLUMNS),
    )


ROLLOUT_TABLES = ("rollouts", "replica_versions")
"""The names of `rollout_tables`' tables."""


def rollout_tables(records: RolloutRecords) -> dict[str, pd.DataFrame]:
    """The tables a request-level run gets from its rollouts."""
    return {
        "rollouts": rollouts_table(records.steps),
        "replica_versions": replica_versions_table(records.replicas),
    }


def served_versions(
    replica: np.ndarray, service: str, replica_versions: pd.DataFrame, default: int = 0
) -> np.ndarray:
    """The version of the replica that served each row (requests or spans of one service,
    by their `replica` column); `default` (the version the services start at) for replicas
    that served before versions were in play, and for rows no replica served (−1)."""
    mine = replica_versions[replica_versions["service"] == service]
    lookup = dict(zip(mine["replica"].to_numpy(), mine["version"].to_numpy(), strict=True))
    return np.fromiter(
        (lookup.get(int(r), default) for r in replica), dtype=np.int64, count=len(replica)
    )
