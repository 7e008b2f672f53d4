"""The exact queueing-theory reference for one service of a scenario, where one exists.

`service_reference(scenario, name)` looks at the service's external traffic, its replicas,
concurrency, load balancer and service-time distribution, and returns the classical model
that describes it *exactly* in steady state, or None. Charts draw it as a dashed reference
line and validation tests compare the simulator against it.

Scope: only the service's external Poisson traffic (`scenario.traffic[name].rate`) is
counted, which is all the traffic a service receives in the current model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .queues import QueueMetrics, ek_m1, mg1, mmc, mmc_sojourn_cdf, mmc_sojourn_quantile

if TYPE_CHECKING:
    from ..scenario.schema import Scenario

__all__ = ["Reference", "service_reference"]

Curve = Callable[[npt.ArrayLike], "float | npt.NDArray[np.float64]"]

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Reference:
    """A queueing model that describes a service exactly, and what it predicts.

    Attributes:
        label: the model in Kendall notation, for legends, e.g. "M/M/4 (Erlang C)".
        metrics: steady-state means of one queue (see `queues`).
        sojourn_cdf: t (seconds, scalar or array) -> P(latency <= t), or None when only the
            means are known. Latency is the sojourn time: waiting plus service.
        sojourn_quantile: q in [0, 1) -> the latency t with P(latency <= t) = q, or None.
        queues: how many identical, independent queues the service splits into. `metrics`
            describe one of them: its latencies are those of the whole service, but its
            arrival rate and queue lengths are 1/queues of the service's. 1 for a single
            shared queue; the number of replicas when each replica is its own queue.
    """

    label: str
    metrics: QueueMetrics
    sojourn_cdf: Curve | None = None
    sojourn_quantile: Curve | None = None
    queues: int = 1


def _plain_queue(scenario: Scenario, service: str) -> bool:
    """Whether the service is the textbook queue the formulas assume: one work step, constant
    Poisson traffic without client timeouts or retries, fixed replicas, no load shedding, no
    slowdowns, its own process. Anything else (calls, spikes, autoscaling...) has no exact
    closed form here."""
    spec = scenario.services[service]
    traffic = scenario.traffic[service]
    return (
        scenario.deployment == "microservices"
        and spec.handler is None
        and spec.queue_limit is None
        and not spec.slowdowns
        and traffic.profile.profile == "constant"
        and traffic.timeout is None
        and traffic.retries == 0
        and not scenario.autoscaling.enabled
    )


def service_reference(scenario: Scenario, service: str) -> Reference | None:
    """The exact steady-state model of `service`, or None when there is none.

    Let λ be the service's external Poisson arrival rate, n its replicas, k its concurrency
    (workers per replica) and S its service time. Cases, and why each one is exact:

    * Central queue, exponential S: one FCFS queue feeds all c = n·k identical workers,
      arrivals are Poisson and service memoryless, which is the definition of M/M/c
      (Erlang C). Latency distribution known (CDF and quantiles). With a single replica
      every load balancer is a central queue (all requests wait in that replica's queue),
      so the same holds for any policy when n = 1.
    * One worker in total (c = 1), any S: an M/G/1 queue. The Pollaczek–Khinchine formula
      gives the exact mean wait from E[S] and the cv of S alone; the latency distribution
      has no simple closed form, so only means are given (exponential S is M/M/1 above).
    * `random` balancer: each request picks a replica independently and uniformly, and
      independent thinning of a Poisson stream gives n independent Poisson streams of rate
      λ/n. Each replica is then its own M/M/k queue (exponential S; with CDF) or, with
      k = 1, an M/G/1 queue (means only). `metrics` describe one replica.
    * `round-robin`, k = 1, exponential S: replica i receives arrivals i, i+n, i+2n, ...,
      so its inter-arrival time is the sum of n exponential gaps, Erlang-n with mean n/λ:
      an E_n/M/1 queue per replica (a GI/M/1 queue). The GI/M/1 sojourn time is exactly
      exponential with mean 1/(μ(1 − σ)) (an arrival finds a geometric number of jobs, each
      needing an exponential service), so the CDF is given too.

    None when the service is not such a plain queue (see `_plain_queue`), when it has no
    traffic, when it is unstable (λ·E[S] ≥ c: no steady state),
    when E[S] is zero, and for the other combinations (least-connections, power-of-two,
    round-robin with k > 1 or non-exponential S, several workers with non-exponential S),
    which have no closed form.
    """
    if service not in scenario.services:
        known = ", ".join(scenario.services) or "none"
        raise KeyError(f"no service {service!r} in scenario {scenario.name!r} (has: {known})")
    spec = scenario.services[service]
    traffic = scenario.traffic.get(service)
    if traffic is None or not _plain_queue(scenario, service):
        return None
    rate = float(traffic.rate)
    mean = float(spec.service_time.mean_s)
    cv = float(spec.service_time.cv_value)
    if not (rate > 0 and mean > 0 and math.isfinite(rate * mean)):
        return None
    if rate * mean / spec.workers >= 1.0:
        return None
    family = getattr(spec.service_time, "distribution", "")
    exponential = family == "exponential"
    replicas, concurrency = spec.replicas, spec.concurrency
    try:
        if spec.load_balancer == "central-queue" or replicas == 1:
            return _poisson_queue(rate, mean, cv, family, spec.workers, split=None, copies=1)
        if spec.load_balancer == "random":
            return _poisson_queue(
                rate / replicas,
                mean,
                cv,
                family,
                concurrency,
                split="random split",
                copies=replicas,
            )
        if spec.load_balancer == "round-robin" and concurrency == 1 and exponential:
            return _round_robin(rate, mean, replicas)
    except ValueError:  # a boundary case the formulas reject (e.g. utilisation ≈ 1)
        return None
    return None


def _poisson_queue(
    rate: float, mean: float, cv: float, family: str, servers: int, split: str | None, copies: int
) -> Reference | None:
    """Poisson arrivals at `rate` into one FCFS queue with `servers` workers."""
    if family == "exponential":
        return Reference(
            label=_label(f"M/M/{servers}", split, "Erlang C" if servers > 1 else None),
            metrics=mmc(rate, mean, servers),
            sojourn_cdf=partial(_mmc_cdf, arrival_rate=rate, service_mean=mean, servers=servers),
            sojourn_quantile=partial(
                _mmc_quantile, arrival_rate=rate, service_mean=mean, servers=servers
            ),
            queues=copies,
        )
    if servers == 1:
        kendall = "M/D/1" if family == "constant" else "M/G/1"
        return Reference(
            label=_label(kendall, split, "Pollaczek–Khinchine"),
            metrics=mg1(rate, mean, cv),
            queues=copies,
        )
    return None  # M/G/c with c > 1: approximations only


def _round_robin(rate: float, mean: float, replicas: int) -> Reference:
    metrics = ek_m1(rate / replicas, mean, replicas)
    sojourn = metrics.sojourn_mean
    return Reference(
        label=_label(f"E{str(replicas).translate(_SUBSCRIPTS)}/M/1", "round-robin", None),
        metrics=metrics,
        sojourn_cdf=partial(_exponential_cdf, mean=sojourn),
        sojourn_quantile=partial(_exponential_quantile, mean=sojourn),
        queues=replicas,
    )


def _label(kendall: str, split: str | None, formula: str | None) -> str:
    """E.g. "M/M/4 (Erlang C)" or "M/M/1 per replica (random split)"."""
    notes = [note for note in (split, formula) if note]
    where = " per replica" if split else ""
    return f"{kendall}{where} ({', '.join(notes)})" if notes else kendall


def _mmc_cdf(
    t: npt.ArrayLike, *, arrival_rate: float, service_mean: float, servers: int
) -> float | npt.NDArray[np.float64]:
    return mmc_sojourn_cdf(t, arrival_rate, service_mean, servers)


def _mmc_quantile(
    q: npt.ArrayLike, *, arrival_rate: float, service_mean: float, servers: int
) -> float | npt.NDArray[np.float64]:
    return mmc_sojourn_quantile(q, arrival_rate, service_mean, servers)


def _exponential_cdf(t: npt.ArrayLike, *, mean: float) -> float | npt.NDArray[np.float64]:
    """P(T <= t) for T exponential with this mean; t < 0 gives 0."""
    tv = np.asarray(t, dtype=float)
    out = np.where(tv < 0, 0.0, -np.expm1(-np.maximum(tv, 0.0) / mean))
    return float(out) if np.ndim(t) == 0 else out


def _exponential_quantile(q: npt.ArrayLike, *, mean: float) -> float | npt.NDArray[np.float64]:
    qv = np.asarray(q, dtype=float)
    if not np.all((qv >= 0.0) & (qv < 1.0)):
        raise ValueError(f"quantile level q must lie in [0, 1), got {q!r}")
    out = -mean * np.log1p(-qv)
    return float(out) if np.ndim(q) == 0 else out
