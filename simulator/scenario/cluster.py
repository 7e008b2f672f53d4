"""Cluster, workloads and scheduler: the container-management half of a scenario.

The shapes follow the Omega paper's lightweight simulator (Schwarzkopf et al., EuroSys 2013)
so its example workload loads as written: a plain duration such as `interarrival: 10s` is the
mean of an exponential distribution and a plain `tasks: 100` the mean of a geometric one (the
discrete exponential), as in the paper's simulator; a full mapping chooses another family.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from .base import ScenarioModel, knob
from .distributions import Constant, Distribution, Exponential, Uniform
from .units import Duration, MoneyPerHour

Runtime = Literal["bare-metal", "vm", "container"]
Architecture = Literal[
    "monolithic-single-path", "monolithic-multi-path", "two-level", "shared-state"
]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
Placement = Literal["random-first-fit", "first-fit", "best-fit", "spread", "manual"]
PLACEMENTS: tuple[str, ...] = get_args(Placement)


def _mean_means_exponential(value: Any) -> Any:
    """`10s` is shorthand for an exponential distribution with that mean."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"distribution": "exponential", "mean": value}
    return value


def _mean_means_geometric(value: Any) -> Any:
    """`100` is shorthand for a geometric count with that mean (the Omega simulator's)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"distribution": "geometric", "mean": value}
    return value


MeanDuration = Annotated[Distribution, BeforeValidator(_mean_means_exponential)]
"""A distribution of durations; a plain duration means an exponential with that mean."""


class GeometricCount(ScenarioModel):
    """A count on 1, 2, 3, ... with the given mean: the discrete twin of the exponential."""

    distribution: Literal["geometric"] = knob("geometric", "distribution family")
    mean: float = knob(1.0, "mean count", "tasks", ge=1)

    @property
    def second_moment(self) -> float:
        """E[N²] = 2m² − m, for the Pollaczek–Khinchine line of the scheduler's queue."""
        return 2 * self.mean**2 - self.mean


class ConstantCount(ScenarioModel):
    """Always the same count."""

    distribution: Literal["constant"] = knob("constant", "distribution family")
    mean: int = knob(1, "the count", "tasks", ge=1)

    @property
    def second_moment(self) -> float:
        return float(self.mean**2)


Count = Annotated[
    Annotated[GeometricCount | ConstantCount, Field(discriminator="distribution")],
    BeforeValidator(_mean_means_geometric),
]
"""A distribution of counts; a plain number means a geometric count with that mean."""


class RuntimeSpec(ScenarioModel):
    """What one instance costs on a node of this runtime, and how fast it starts."""

    overhead_cpu: float = knob(0.0, "CPU each instance costs beyond its request", "cores", ge=0)
    overhead_memory_gb: float = knob(
        0.0, "memory each instance costs beyond its request (a guest OS, say)", "GB", ge=0
    )
    start_time: Duration = knob(0.0, "time from placement to a running instance", "s", ge=0)
    density_limit: int = knob(
        0, "most instances one node may run (0: only resources limit it)", "instances", ge=0
    )


def default_runtimes() -> dict[str, RuntimeSpec]:
    # Bare metal is the Omega model: no overhead. VM: a guest OS (0.5 GB, a little CPU) and an
    # EC2-like cold start (~26 s, REFERENCE.md §4). Container: Kubernetes' pod start (SLO
    # p99 ≤ 5 s without image pull; measured p99 < 3 s) and its 110 pods per node.
    return {
        "bare-metal": RuntimeSpec(),
        "vm": RuntimeSpec(
            overhead_cpu=0.1, overhead_memory_gb=0.5, start_time=26.0, density_limit=0
        ),
        "container": RuntimeSpec(
            overhead_cpu=0.01, overhead_memory_gb=0.05, start_time=2.0, density_limit=110
        ),
    }


class NodeType(ScenarioModel):
    """A kind of machine in the cell, with its price, boot time and runtime."""

    count: int = knob(1, "number of nodes of this type", "nodes", ge=1)
    cpu: float = knob(4.0, "CPU cores per node", "cores", gt=0)
    memory_gb: float = knob(16.0, "memory per node", "GB", gt=0)
    price_per_hour: MoneyPerHour = knob(0.0, "price of one node", "$/h", ge=0)
    boot_time: Duration = knob(
        0.0, "time a node takes to boot: a new node, or one back from repair", "s", ge=0
    )
    runtime: Runtime = knob("bare-metal", "how work runs on the node")


class NodeFailure(ScenarioModel):
    """A node failure at a given time (request level), besides those the MTBF draws."""

    node: int = knob(0, "the node that fails (the first node type's nodes, from 0)", ge=0)
    at: Duration = knob(0.0, "when it fails", "s", ge=0)


class Failures(ScenarioModel):
    """Machine, rack and power failures (defaults: a cluster's first year, REFERENCE.md §6)."""

    enabled: bool = knob(False, "simulate failures at all")
    scripted: list[NodeFailure] = knob(
        default_factory=list,
        description="node failures at given times, besides the MTBF's (either fidelity; "
        "the repair and everything after it as for any failure)",
    )
    node_mtbf: Duration = knob(
        657 * 86400.0,
        "mean time between failures of one node (~1,000 failures a year in ~1,800 machines: "
        "1.8 years)",
        "s",
        gt=0,
    )
    node_repair: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=2 * 3600.0),
        description="time to repair or replace a failed node (no published number; assumed)",
        unit="s",
    )
    rack_mtbf: Duration = knob(
        548 * 86400.0,
        "mean time between failures of one rack (~20 a year in ~30 racks: 1.5 years)",
        "s",
        gt=0,
    )
    rack_repair: MeanDuration = knob(
        default_factory=lambda: Uniform(mean=3.5 * 3600.0, cv=0.4124),
        description="time a rack stays down (1–6 h)",
        unit="s",
    )
    nodes_per_power_domain: int = knob(
        750, "nodes behind one power distribution unit (500–1,000)", "nodes", ge=1
    )
    power_mtbf: Duration = knob(
        876 * 86400.0,
        "mean time between failures of one power domain (one a year per ~1,800 machines)",
        "s",
        gt=0,
    )
    power_repair: MeanDuration = knob(
        default_factory=lambda: Constant(mean=6 * 3600.0),
        description="time a power domain stays down (~6 h)",
        unit="s",
    )


class Cluster(ScenarioModel):
    """The machines of one cell."""

    nodes: int = knob(100, "number of nodes (when node_types is empty)", "nodes", ge=1)
    cpu: float = knob(4.0, "CPU cores per node (when node_types is empty)", "cores", gt=0)
    memory_gb: float = knob(16.0, "memory per node (when node_types is empty)", "GB", gt=0)
    price_per_hour: MoneyPerHour = knob(
        0.0, "price of one node (when node_types is empty)", "$/h", ge=0
    )
    runtime: Runtime = knob("bare-metal", "how work runs on nodes (when node_types is empty)")
    node_types: dict[str, NodeType] = knob(
        default_factory=dict,
        description="the machines by type; when given, nodes/cpu/memory_gb must be left out",
    )
    runtimes: dict[Runtime, RuntimeSpec] = knob(
        default_factory=default_runtimes,
        description="overhead, start time and density limit of each runtime",
    )
    nodes_per_rack: int = knob(40, "nodes in one rack (one failure domain)", "nodes", ge=1)
    prefill: float = knob(
        0.0,
        "share of the cell's CPU taken by long-running work when the run starts",
        "-",
        ge=0,
        le=1,
    )
    prefill_cpu: float = knob(1.0, "CPU of one prefill task", "cores", gt=0)
    prefill_memory_gb: float = knob(2.0, "memory of one prefill task", "GB", gt=0)
    pull_bandwidth_mb_s: float = knob(
        100.0, "speed at which a node pulls image layers it lacks", "MB/s", gt=0
    )
    failures: Failures = knob(default_factory=Failures, description="node, rack, power failures")

    @model_validator(mode="after")
    def _one_way_to_give_nodes(self) -> Cluster:
        # Compared with the defaults rather than with the keys written, so that a dumped
        # scenario (every key present) loads back.
        homogeneous = ("nodes", "cpu", "memory_gb", "price_per_hour", "runtime")
        fields = type(self).model_fields
        given = [k for k in homogeneous if getattr(self, k) != fields[k].default]
        if self.node_types and given:
            key = sorted(given)[0]
            raise PydanticCustomError(
                "node_types_and_nodes",
                "give the machines either as node_types or as nodes/cpu/memory_gb, not both",
                {"key": key},
            )
        return self

    def node_type_list(self) -> list[tuple[str, NodeType]]:
        """The node types in order; a homogeneous cell is one type called `node`."""
        if self.node_types:
            return list(self.node_types.items())
        single = NodeType(
            count=self.nodes,
            cpu=self.cpu,
            memory_gb=self.memory_gb,
            price_per_hour=self.price_per_hour,
            runtime=self.runtime,
        )
        return [("node", single)]


class Image(ScenarioModel):
    """A container image: layers by name and size; nodes cache the layers they have pulled."""

    layers: dict[str, float] = knob(
        default_factory=dict, description="layer name to size in MB, base layers first", unit="MB"
    )


class JobClass(ScenarioModel):
    """Jobs of one kind: how often they come, how big they are, how long their tasks run."""

    interarrival: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=10.0),
        description="time between job arrivals (a plain duration: exponential with that mean)",
        unit="s",
    )
    tasks: Count = knob(
        default_factory=lambda: GeometricCount(mean=100.0),
        description="tasks per job (a plain number: geometric with that mean)",
        unit="tasks",
    )
    duration: MeanDuration = knob(
        default_factory=lambda: Exponential(mean=100.0),
        description="run time of the job's tasks, shared by all of them (a plain duration: "
        "exponential with that mean)",
        unit="s",
    )
    cpu: float = knob(1.0, "CPU each task asks for", "cores", gt=0)
    memory_gb: float = knob(2.0, "memory each task asks for", "GB", gt=0)
    image: str | None = knob(None, "name of the container image its tasks start from")
    anti_affinity: bool = knob(False, "at most one task of a job per node")


class Replicas(ScenarioModel):
    """What one replica of a microservice asks of the cluster, when services are scheduled."""

    cpu: float = knob(0.5, "CPU per replica", "cores", gt=0)
    memory_gb: float = knob(1.0, "memory per replica", "GB", gt=0)
    image: str | None = knob(None, "name of the container image replicas start from")
    anti_affinity: bool = knob(True, "spread a service's replicas over different nodes")


class Workloads(ScenarioModel):
    """Jobs that arrive at the cluster's schedulers."""

    batch: JobClass | None = knob(None, "batch jobs (empty: none)")
    service: JobClass | None = knob(None, "service jobs (empty: none)")
    microservices: Replicas = knob(
        default_factory=Replicas,
        description="per-replica requests of the scenario's services, submitted as service "
        "jobs at time 0",
    )
    images: dict[str, Image] = knob(default_factory=dict, description="container images, by name")

    @model_validator(mode="after")
    def _images_exist(self) -> Workloads:
        for where, spec in (
            ("batch", self.batch),
            ("service", self.service),
            ("microservices", self.microservices),
        ):
            if spec is not None and spec.image is not None and spec.image not in self.images:
                raise PydanticCustomError(
                    "unknown_image",
                    "image '{image}' is not among workloads.images",
                    {"key": f"{where}.image", "image": spec.image},
                )
        return self


class JobTimes(ScenarioModel):
    """A decision time per job type."""

    batch: Duration = knob(0.1, "per-job decision time for batch jobs", "s", ge=0)
    service: Duration = knob(
        0.1,
        "per-job decision time for service jobs (single-path uses it for every job)",
        "s",
        ge=0,
    )


class Scheduler(ScenarioModel):
    """The cluster scheduler's architecture and its decision times."""

    architecture: Architecture = knob(
        "monolithic-single-path",
        "monolithic-single-path (one scheduler, one code path: service decision time for every "
        "job), monolithic-multi-path (one scheduler, a decision time per job type), two-level "
        "(a resource manager offers all free resources to one framework at a time) or "
        "shared-state (schedulers on private copies of the cell, committing optimistically)",
    )
    t_job: JobTimes = knob(default_factory=JobTimes, description="per-job decision time", unit="s")
    t_task: Duration = knob(0.005, "decision time per task still to place", "s", ge=0)
    batch_schedulers: int = knob(
        1, "parallel batch schedulers (two-level and shared-state)", "schedulers", ge=1
    )
    placement: Placement = knob(
        "random-first-fit",
        "where tasks go: random-first-fit (scan from a random node), first-fit, best-fit "
        "(tightest node), spread (emptiest nodes, one each in turn) or manual (a fixed "
        "assignment by hand, no search)",
    )
    conflict_mode: Literal["fine", "coarse"] = knob(
        "fine",
        "shared-state conflict detection: fine (a claim fails only if the node lacks room now) "
        "or coarse (fails if the node changed at all since the snapshot: sequence numbers)",
    )
    commit_mode: Literal["incremental", "all-or-nothing"] = knob(
        "incremental",
        "shared-state commit: incremental (keep the claims that still fit) or all-or-nothing",
    )
    max_attempts: int = knob(
        1000, "scheduling attempts before an incompletely placed job is abandoned", ge=1
    )
    offer_cost: Duration = knob(0.0, "two-level: a framework's time to handle one offer", "s", ge=0)
    allocator: Literal["drf", "round-robin"] = knob(
        "drf",
        "two-level: which framework gets the next offer: drf (the lowest dominant share of "
        "resources in use) or round-robin",
    )

    def decision_time(self, kind: str) -> float:
        """t_job of a job type under this architecture (single-path has one path for all)."""
        if self.architecture == "monolithic-single-path":
            return self.t_job.service
        return self.t_job.batch if kind == "batch" else self.t_job.service
