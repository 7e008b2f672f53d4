"""The cost of monitoring's samples at the analytic fidelity (`AnalyticSli.scrape`) while
bad versions fail requests, on a large fleet, this checkout against a baseline.

    .venv/bin/python benchmarks/bench_sli.py                      # this checkout
    .venv/bin/python benchmarks/bench_sli.py --baseline /tmp/base # and a baseline checkout

Fleets: scenarios/scale/sre-1000.yaml, and the SRE era's preset copied to 1,000 served
services (`simulator.experiments.fleet.fleet_scenario`). The rollouts are replaced by a
fixed set of bad versions (error ratios on a few stations, some with a manual deploy's
outage), so that every scrape meets them; each scrape reads one minute (the SRE fleet's
scrape interval), and `failed_by_versions` is timed over the whole horizon.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _FixedRollouts:
    """Bad versions on a few stations, for ever (`error_ratios`' protocol); `ramping`: their
    ratios change with every interval (as during a rollout), not steady."""

    def __init__(
        self, defects: dict[int, float], outages: dict[int, float], ramping: bool = False
    ) -> None:
        self.defects = defects
        self.outages = outages
        self.ramping = ramping

    def active(self) -> bool:
        return True

    def first_deploy(self) -> float:
        return 0.0

    def error_ratios(self, start: float, end: float, outages: bool = True) -> dict[int, float]:
        scale = 0.5 + 0.5 * (start / 3600.0) % 1.0 if self.ramping else 1.0
        ratios = {station: ratio * scale for station, ratio in self.defects.items()}
        if outages:
            for station, share in self.outages.items():
                ratios[station] = 1.0 - (1.0 - ratios.get(station, 0.0)) * (1.0 - share)
        return ratios


def _measure(which: str, scrapes: int) -> None:
    sys.path.insert(0, str(Path.cwd()))
    from simulator.analytic import AnalyticServices
    from simulator.experiments.fleet import fleet_scenario
    from simulator.model.context import RunContext
    from simulator.scenario.loader import load_scenario

    if which == "sre-1000":
        scenario = load_scenario("scale/sre-1000.yaml")
    else:
        scenario = fleet_scenario("eras/sre.yaml", 1000, {"fidelity": "analytic"})
    context = RunContext.start(scenario, 1)
    services = AnalyticServices(context)
    sli = services.handles().sli
    n = len(services.model.stations)
    picks = [n // 7, n // 3, n // 2, (4 * n) // 5]
    horizon = scenario.horizon
    for ramping in (False, True):
        defects = {picks[0]: 0.3, picks[1]: 1.0, picks[2]: 0.05}
        sli.rollouts = _FixedRollouts(defects, {picks[3]: 0.5}, ramping)
        sli.scrape(0.0, 60.0)  # build the integrals once
        start = time.process_time()
        bad = 0.0
        for k in range(scrapes):
            t = scenario.warmup + (k * 997.0) % (horizon - scenario.warmup - 60)
            bad += float(sli.scrape(t, t + 60.0).bads.sum())
        per_scrape = (time.process_time() - start) / scrapes
        start = time.process_time()
        defect, down = sli.failed_by_versions(scenario.warmup, horizon)
        toll = time.process_time() - start
        print(
            f"{which:<14} {'ramping' if ramping else 'steady':<8} {n:>5} stations"
            f"  scrape {per_scrape * 1e6:8.1f} µs  failed_by_versions {toll:6.3f} s"
            f"  (bad {bad:.6g}, defect {defect:.6g}, down {down:.6g})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--child", nargs=1)
    args = parser.parse_args()
    if args.child:
        _measure(args.child[0], args.scrapes)
        return
    print(f"load average {os.getloadavg()}")
    sides = {"this": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
    for which in ("sre-1000", "eras-sre-1000"):
        for side, checkout in sides.items():
            print(side, flush=True)
            subprocess.run(
                [str(checkout / ".venv/bin/python"), str(ROOT / "benchmarks/bench_sli.py"),
                 "--child", which, "--scrapes", str(args.scrapes)],
                cwd=checkout, check=True,
            )  # fmt: skip


if __name__ == "__main__":
    main()
