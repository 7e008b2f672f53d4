"""Analytic lines for the cluster scheduler: its busyness and its queue when nothing conflicts.

A single-path monolithic scheduler is one server taking jobs first come, first served, and
spending `t_job + t_task × tasks` on each. With Poisson job arrivals and every job placed at
its first attempt, that is an M/G/1 queue: busyness is ρ = λ·E[S] (while ρ < 1) and the wait
until the first attempt follows Pollaczek–Khinchine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .queues import QueueMetrics, mg1


def decision_moments(
    t_job: float, t_task: float, tasks_mean: float, tasks_second: float
) -> tuple[float, float]:
    """E[S] and E[S²] of S = t_job + t_task·N, from E[N] and E[N²]."""
    first = t_job + t_task * tasks_mean
    second = t_job**2 + 2 * t_job * t_task * tasks_mean + t_task**2 * tasks_second
    return first, second


def busyness_line(classes: Sequence[tuple[float, float, float]]) -> float:
    """The no-conflict line Σ λ·(t_job + mean_tasks·t_task), capped at 1 (saturation).

    `classes` holds (λ, t_job, t_task × mean tasks + 0) per job type as (rate, t_job, work).
    """
    return min(1.0, sum(rate * (t_job + work) for rate, t_job, work in classes))


def single_path_queue(
    classes: Sequence[tuple[float, float, float, float, float]],
) -> QueueMetrics:
    """M/G/1 for a mix of job types, each (λ, t_job, t_task, E[N], E[N²])."""
    rate = sum(c[0] for c in classes)
    first = second = 0.0
    for lam, t_job, t_task, mean, square in classes:
        m1, m2 = decision_moments(t_job, t_task, mean, square)
        first += lam / rate * m1
        second += lam / rate * m2
    cv = math.sqrt(max(second / first**2 - 1.0, 0.0))
    return mg1(rate, first, cv)
