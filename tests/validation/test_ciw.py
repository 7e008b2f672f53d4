"""The request-level engine side by side with Ciw, an independent discrete-event simulator.

Ciw (Palmer, Knight, Harper & Tuson, "Ciw: An open-source discrete event simulation library",
Journal of Simulation 2019; test-only dependency) and the project run the same three
systems that the scenario format expresses: a tandem of two M/M/1 stations (a service that
calls another, no network time), an M/M/2 queue at ρ = 0.95, and an M/G/1 queue with
lognormal service of cv 2. Each simulator runs independent replications (its own seeds);
the replication means of a KPI are iid, so the difference of the two pooled means has a
Welch t confidence interval.

Each comparison asserts (`assert_same_mean`):

- the 99% confidence interval of the difference contains 0 (two correct simulators fail
  this with probability ~1%; the seeds are fixed, so the verdict does not change run to
  run), and
- that interval is narrow: its 95% half-width is at most `precision` of the mean, so the
  test would detect a bias of about twice `precision` (a systematic difference between the
  engines, e.g. a wait measured from the wrong instant or a lognormal with the wrong cv).

The theory value (M/M/1 in tandem by Burke's theorem, Erlang C, Pollaczek-Khinchine) is
checked against Ciw's own interval too, so a mistake in setting Ciw up cannot pass as an
agreement. Precisions (95% half-width of the difference, of the mean): 5% for the tandem
(ρ 0.5 and 0.6), 10% for the M/G/1 (ρ 0.5: the lognormal's cv of 2 puts E[S³] at 125 times
the mean cubed, and the mean wait converges slowly), 15% for the M/M/2 at ρ 0.95 (near
saturation one 40,000 s replication of ~76,000 customers has a relative standard deviation
of ~15%). Ciw simulates some 40,000 visits per CPU second, the project several times more,
so the project's replications are the longer ones and Ciw's set the precision; tighter
checks would not fit the ~40 CPU seconds this file may take. Measured: docs/validation.md,
"Against Ciw".
"""

from __future__ import annotations

import math

import ciw
import numpy as np
import pytest
from scipy import stats

import simulator
from simulator import theory

pytestmark = pytest.mark.slow

NO_NETWORK = {"latency": {"distribution": "constant", "mean": "0s"}}


def exponential(mean: float) -> dict:
    return {"distribution": "exponential", "mean": f"{mean}s"}


def lognormal_ciw(mean: float, cv: float) -> object:
    """Ciw's lognormal takes the underlying normal's μ and σ: σ² = ln(1 + cv²),
    μ = ln(mean) − σ²/2 give the lognormal of that mean and cv."""
    sigma2 = math.log1p(cv * cv)
    return ciw.dists.Lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def ciw_means(network: object, horizon: float, warmup: float, seeds: range) -> dict:
    """Per replication: mean wait at the first station, mean total wait and mean sojourn of
    the customers that arrive after `warmup` and leave the system before `horizon`."""
    waits, totals, sojourns = [], [], []
    for seed in seeds:
        ciw.seed(seed)
        simulation = ciw.Simulation(network)
        simulation.simulate_until_max_time(horizon)
        by_customer: dict[int, list] = {}
        for record in simulation.get_all_records():
            by_customer.setdefault(record.id_number, []).append(record)
        first_wait, total_wait, sojourn = [], [], []
        for visits in by_customer.values():
            visits.sort(key=lambda r: r.arrival_date)
            if visits[0].arrival_date < warmup or visits[-1].destination != -1:
                continue  # arrived in the warm-up, or still in the network
            first_wait.append(visits[0].waiting_time)
            total_wait.append(sum(v.waiting_time for v in visits))
            sojourn.append(visits[-1].exit_date - visits[0].arrival_date)
        waits.append(np.mean(first_wait))
        totals.append(np.mean(total_wait))
        sojourns.append(np.mean(sojourn))
    return {
        "wait_mean_s": np.array(waits),
        "wait_total_mean_s": np.array(totals),
        "latency_mean_s": np.array(sojourns),
    }


def project_means(scenario: dict, seeds: range, kpis: tuple[str, ...], horizon: float) -> dict:
    """Per replication (the project is the faster of the two: its runs are longer)."""
    scenario = {**scenario, "horizon": f"{horizon}s"}
    runs = [simulator.run(scenario, seed=seed).summary for seed in seeds]
    return {kpi: np.array([run[kpi] for run in runs]) for kpi in kpis}


def assert_same_mean(ours: np.ndarray, theirs: np.ndarray, precision: float, what: str):
    """Welch's 99% interval for the difference of the pooled means contains 0, and its 95%
    half-width is at most `precision` of the mean (see the module docstring)."""
    va, vb = ours.var(ddof=1) / ours.size, theirs.var(ddof=1) / theirs.size
    se = math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (ours.size - 1) + vb**2 / (theirs.size - 1))
    difference = float(ours.mean() - theirs.mean())
    half99 = float(stats.t.ppf(0.995, dof) * se)
    half95 = float(stats.t.ppf(0.975, dof) * se)
    level = float((ours.mean() + theirs.mean()) / 2)
    summary = (
        f"{what}: project {ours.mean():.4g}, Ciw {theirs.mean():.4g}, difference "
        f"{difference:+.3g} ± {half99:.3g} (99%, Welch, {ours.size} + {theirs.size} runs)"
    )
    assert half95 <= precision * level, f"{summary}: too imprecise for a {precision:.0%} check"
    assert abs(difference) <= half99, summary


def assert_contains(values: np.ndarray, value: float, what: str) -> None:
    half99 = stats.t.ppf(0.995, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - value) <= half99, f"{what}: {values.mean():.4g} ± {half99:.3g}"


def test_a_tandem_of_two_mm1_stations_agrees_with_ciw():
    rate, first, second = 1.0, 0.5, 0.6  # ρ 0.5 and 0.6: M/M/1 waits 0.5 s and 0.9 s
    horizon, warmup = 10000.0, 500.0
    scenario = {
        "horizon": f"{horizon}s",
        "warmup": f"{warmup}s",
        "network": NO_NETWORK,
        "services": {
            "a": {"service_time": exponential(first), "handler": [{"work": None}, {"call": "b"}]},
            "b": {"service_time": exponential(second)},
        },
        "traffic": {"a": {"rate": rate}},
    }
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate), None],
        service_distributions=[
            ciw.dists.Exponential(1 / first),
            ciw.dists.Exponential(1 / second),
        ],
        number_of_servers=[1, 1],
        routing=[[0.0, 1.0], [0.0, 0.0]],
    )
    kpis = ("wait_mean_s", "wait_total_mean_s", "latency_mean_s")
    ours = project_means(scenario, range(1, 13), kpis, 2 * horizon)
    theirs = ciw_means(network, horizon, warmup, range(1, 13))
    burke = sum(theory.mm1(rate, m).wait_mean for m in (first, second))
    assert_contains(theirs["wait_total_mean_s"], burke, "Ciw's tandem against Burke")
    assert_same_mean(ours["wait_mean_s"], theirs["wait_mean_s"], 0.05, "entry wait")
    assert_same_mean(ours["wait_total_mean_s"], theirs["wait_total_mean_s"], 0.05, "total wait")
    assert_same_mean(ours["latency_mean_s"], theirs["latency_mean_s"], 0.05, "sojourn")


def test_an_mm2_queue_at_rho_095_agrees_with_ciw():
    rate, mean, servers = 1.9, 1.0, 2
    horizon, warmup = 40000.0, 2000.0
    scenario = {
        "horizon": f"{horizon}s",
        "warmup": f"{warmup}s",
        "network": NO_NETWORK,
        "services": {"q": {"concurrency": servers, "service_time": exponential(mean)}},
        "traffic": {"q": {"rate": rate}},
    }
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate)],
        service_distributions=[ciw.dists.Exponential(1 / mean)],
        number_of_servers=[servers],
    )
    kpis = ("wait_mean_s", "latency_mean_s")
    ours = project_means(scenario, range(1, 9), kpis, 4 * horizon)
    theirs = ciw_means(network, horizon, warmup, range(1, 7))
    erlang = theory.mmc(rate, mean, servers).wait_mean
    assert_contains(theirs["wait_mean_s"], erlang, "Ciw's M/M/2 against Erlang C")
    assert_same_mean(ours["wait_mean_s"], theirs["wait_mean_s"], 0.15, "M/M/2 wait")
    assert_same_mean(ours["latency_mean_s"], theirs["latency_mean_s"], 0.15, "M/M/2 sojourn")


def test_an_mg1_queue_with_lognormal_service_agrees_with_ciw():
    rate, mean, cv = 0.5, 1.0, 2.0  # ρ 0.5; P-K mean wait ρ·mean·(1 + cv²) / (2(1 − ρ)) = 2.5 s
    horizon, warmup = 40000.0, 1000.0
    scenario = {
        "horizon": f"{horizon}s",
        "warmup": f"{warmup}s",
        "network": NO_NETWORK,
        "services": {
            "q": {"service_time": {"distribution": "lognormal", "mean": f"{mean}s", "cv": cv}}
        },
        "traffic": {"q": {"rate": rate}},
    }
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate)],
        service_distributions=[lognormal_ciw(mean, cv)],
        number_of_servers=[1],
    )
    kpis = ("wait_mean_s", "latency_mean_s")
    ours = project_means(scenario, range(1, 17), kpis, 4 * horizon)
    theirs = ciw_means(network, horizon, warmup, range(1, 17))
    pollaczek = theory.mg1(rate, mean, cv).wait_mean
    assert_contains(theirs["wait_mean_s"], pollaczek, "Ciw's M/G/1 against Pollaczek-Khinchine")
    assert_same_mean(ours["wait_mean_s"], theirs["wait_mean_s"], 0.1, "M/G/1 wait")
    assert_same_mean(ours["latency_mean_s"], theirs["latency_mean_s"], 0.1, "M/G/1 sojourn")
