"""What rollouts leave behind: every step of every rollout, and which version each replica
ran from when to when.

`simulator.model.rollout.Rollouts` fills these; `simulator.metrics.rollout` turns them into
the `rollouts` and `replica_versions` tables. Times are seconds from the start of the run.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

DEPLOY = "deploy"
ROLLBACK = "rollback"
KINDS = (DEPLOY, ROLLBACK)
"""A rollout towards a new version, or back to the one before."""

STARTED = "started"
"""The rollout begins (after any earlier rollout of the service ended)."""
STARTING = "starting"
"""New-version replicas were asked for; they serve after the runtime's start time."""
SERVING = "serving"
"""New-version replicas started serving."""
RETIRED = "retired"
"""Old-version replicas stopped taking work (they finish what they have)."""
CANARY = "canary"
"""The canary's slice serves; the analysis period begins."""
PROMOTED = "promoted"
"""The canary passed (or was promoted by script): the rest follows."""
FAILED = "failed"
"""The canary failed its analysis (or was rolled back by script): its slice goes."""
SWITCHED = "switched"
"""Blue-green: all traffic moved to the other copy at once."""
STANDBY_RETIRED = "standby_retired"
"""Blue-green: the copy kept for a quick switch back is gone."""
DOWN = "down"
"""A manual deploy stopped replicas (all of them, or one of them when degraded)."""
UP = "up"
"""A manual deploy's replicas serve again, with the new version."""
DONE = "done"
"""The rollout ended with its version on every replica."""
ROLLED_BACK = "rolled_back"
"""The rollout ended back on the version it started from (a failed canary)."""
INTERRUPTED = "interrupted"
"""The rollout ended unfinished: a rollback took over."""
STEPS = (
    STARTED, STARTING, SERVING, RETIRED, CANARY, PROMOTED, FAILED, SWITCHED, STANDBY_RETIRED,
    DOWN, UP, DONE, ROLLED_BACK, INTERRUPTED,
)  # fmt: skip
ENDS = (DONE, ROLLED_BACK, INTERRUPTED)
"""The steps that end a rollout (its outcome)."""


@dataclass
class RolloutLog:
    """Columns of rollout steps in the order they happened: when, which service and rollout
    (numbered from 0 in the run), deploy or rollback, the strategy, the step (a code from
    `STEPS`), the versions it goes from and to, and the replicas of each serving afterwards
    (`old_serving`: every version but `to_version`) and still starting."""

    time: array[float] = field(default_factory=lambda: array("d"))
    service: list[str] = field(default_factory=list)
    rollout: array[int] = field(default_factory=lambda: array("q"))
    kind: list[str] = field(default_factory=list)
    strategy: list[str] = field(default_factory=list)
    step: list[str] = field(default_factory=list)
    from_version: array[int] = field(default_factory=lambda: array("q"))
    to_version: array[int] = field(default_factory=lambda: array("q"))
    old_serving: array[int] = field(default_factory=lambda: array("q"))
    new_serving: array[int] = field(default_factory=lambda: array("q"))
    starting: array[int] = field(default_factory=lambda: array("q"))

    def record(
        self,
        time: float,
        service: str,
        rollout: int,
        kind: str,
        strategy: str,
        step: str,
        versions: tuple[int, int],
        serving: tuple[int, int, int],
    ) -> None:
        """One step; `versions` is (from, to), `serving` (old serving, new serving, new
        starting). Codes are checked so that a typo does not become a new category."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind of rollout {kind!r}; expected one of {KINDS}")
        if step not in STEPS:
            raise ValueError(f"unknown rollout step {step!r}; expected one of {STEPS}")
        self.time.append(float(time))
        self.service.append(service)
        self.rollout.append(int(rollout))
        self.kind.append(kind)
        self.strategy.append(strategy)
        self.step.append(step)
        self.from_version.append(int(versions[0]))
        self.to_version.append(int(versions[1]))
        self.old_serving.append(int(serving[0]))
        self.new_serving.append(int(serving[1]))
        self.starting.append(int(serving[2]))

    def __len__(self) -> int:
        return len(self.time)


@dataclass
class ReplicaLives:
    """Which version each replica ran, from when it served (`added`) until it stopped taking
    work (`removed`, NaN if it still served at the end), for the services whose versions a
    rollout put in play. Replicas serving when that happened count from then; replica
    numbers are a service's own and never reused, so a request's `replica` finds its row."""

    service: list[str] = field(default_factory=list)
    replica: array[int] = field(default_factory=lambda: array("q"))
    version: array[int] = field(default_factory=lambda: array("q"))
    added: array[float] = field(default_factory=lambda: array("d"))
    removed: array[float] = field(default_factory=lambda: array("d"))

    def add(self, service: str, replica: int, version: int, time: float) -> int:
        """A replica starts serving; returns its row (for `remove`)."""
        self.service.append(service)
        self.replica.append(int(replica))
        self.version.append(int(version))
        self.added.append(float(time))
        self.removed.append(math.nan)
        return len(self.replica) - 1

    def remove(self, row: int, time: float) -> None:
        self.removed[row] = float(time)

    def __len__(self) -> int:
        return len(self.replica)


@dataclass(frozen=True)
class RolloutRecords:
    """Everything rollouts leave for metrics."""

    steps: RolloutLog
    replicas: ReplicaLives
