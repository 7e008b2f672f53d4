"""Regenerate the charts and tables of docs/validation.md: `make validation-figures`.

Sweeps utilisation for the M/M/4 queue (against Erlang C) and the coefficient of variation of
service times for M/G/1 (against Pollaczek–Khinchine), with independent replications, and
prints the measured figures as Markdown tables.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import simulator
from simulator import theory
from simulator.plots import save_figure, slide_theme

IMAGES = Path(__file__).resolve().parent / "images"
REPLICATIONS = 8


def queue(rate: float, servers: int, service: dict, horizon: str) -> dict:
    return {
        "name": "validation",
        "horizon": horizon,
        "warmup": "1000s",
        "services": {
            "q": {"replicas": servers, "service_time": service, "load_balancer": "central-queue"}
        },
        "traffic": {"q": {"rate": rate}},
    }


def measure(scenario: dict, kpi: str) -> tuple[float, float]:
    row = simulator.run_replications(scenario, REPLICATIONS).summary.loc[kpi]
    return row["mean"], row["ci95_half_width"]


def mmc_sweep() -> list[str]:
    exponential = {"distribution": "exponential", "mean": "1s"}
    utilisations = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
    rows, simulated = [], []
    for rho in utilisations:
        scenario = queue(4 * rho, 4, exponential, "60000s")
        wait, half = measure(scenario, "wait_mean_s")
        p_wait, p_half = measure(scenario, "p_wait")
        expected = theory.mmc(4 * rho, 1.0, 4)
        simulated.append((wait, half))
        rows.append(
            f"| {rho:.2f} | {expected.p_wait:.4f} | {p_wait:.4f} ± {p_half:.4f} | "
            f"{expected.wait_mean:.4f} | {wait:.4f} ± {half:.4f} |"
        )
    grid = np.linspace(0.4, 0.96, 200)
    with slide_theme():
        fig, ax = plt.subplots()
        ax.plot(
            grid, [theory.mmc(4 * r, 1.0, 4).wait_mean for r in grid], label="Erlang C (theory)"
        )
        means, halves = zip(*simulated, strict=True)
        ax.errorbar(
            utilisations,
            means,
            yerr=halves,
            fmt="o",
            capsize=6,
            label=f"simulated (mean ± 95% CI, {REPLICATIONS} runs)",
        )
        ax.set(
            xlabel="utilisation ρ",
            ylabel="mean wait (s)",
            title="M/M/4: simulated mean wait against Erlang C",
        )
        ax.legend()
        save_figure(fig, IMAGES / "validation-mmc")
    header = [
        "| ρ | P(wait), Erlang C | P(wait), simulated | Wq (s), Erlang C | Wq (s), simulated |",
        "|---|---|---|---|---|",
    ]
    return header + rows


def mg1_sweep() -> list[str]:
    cvs = [0.0, 0.5, 1.0, 1.5, 2.0]
    rows, simulated = [], []
    for cv in cvs:
        service = (
            {"distribution": "constant", "mean": "1s"}
            if cv == 0
            else {"distribution": "gamma", "mean": "1s", "cv": cv}
        )
        wait, half = measure(queue(0.7, 1, service, "100000s"), "wait_mean_s")
        expected = theory.mg1(0.7, 1.0, cv).wait_mean
        simulated.append((wait, half))
        rows.append(f"| {cv:.1f} | {expected:.4f} | {wait:.4f} ± {half:.4f} |")
    grid = np.linspace(0, 2.1, 100)
    with slide_theme():
        fig, ax = plt.subplots()
        ax.plot(
            grid,
            [theory.mg1(0.7, 1.0, c).wait_mean for c in grid],
            label="Pollaczek–Khinchine (theory)",
        )
        means, halves = zip(*simulated, strict=True)
        ax.errorbar(
            cvs,
            means,
            yerr=halves,
            fmt="o",
            capsize=6,
            label=f"simulated (mean ± 95% CI, {REPLICATIONS} runs)",
        )
        ax.set(
            xlabel="coefficient of variation of service time",
            ylabel="mean wait (s)",
            title="M/G/1 at ρ = 0.7: mean wait against PK",
        )
        ax.legend()
        save_figure(fig, IMAGES / "validation-mg1")
    return ["| cv | Wq (s), PK | Wq (s), simulated |", "|---|---|---|", *rows]


if __name__ == "__main__":
    sys.stdout.write("\n".join(["## M/M/4", *mmc_sweep(), "", "## M/G/1", *mg1_sweep()]) + "\n")
