"""Speed of the one world (issue 13, point 6): the three eras over eight weeks with the
organisation acting on the analytic services, and a 1,000-service SRE fleet over 30 days
with its delivery and incidents.

    .venv/bin/python benchmarks/bench_one_world.py                       # about a minute
    .venv/bin/python benchmarks/bench_one_world.py --baseline /tmp/old   # side by side
    .venv/bin/python benchmarks/bench_one_world.py --monitoring          # the fleet watched

Eras: `simulator.run` of each preset (eras/sysadmin, devops, sre; 8 weeks, analytic), each in
a fresh child process that reports the CPU time of the run (imports excluded). Target: the
three together at most twice the eras step of `make demo` before the one world (27.5 s,
issue 13), and, with `--baseline CHECKOUT` (e.g. `git worktree add /tmp/old 390dbe9`), the
same three runs of that checkout beside them, the two sides alternating.

Fleet: scenarios/scale/sre-1000.yaml (1,000 services, 20 entry points, 30 days, analytic)
with the SRE preset's organisation at that size (42 engineers: a couple dozen services each,
as the talk says; 40 CI runners; canaries with automated rollback), its deploys acting on
the services. Target: under 60 s and under 1 GB (peak RSS, `VmHWM`). With `--monitoring`
the fleet also has burn-rate alerting on every entry point and a saturation rule on every
service (on a shorter horizon: the samples grow with services × scrapes).

It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from targets import record

ROOT = Path(__file__).resolve().parents[1]
ERAS = ("sysadmin", "devops", "sre")
ERAS_TARGET = 2 * 27.5
FLEET_TARGET_SECONDS = 60.0
FLEET_TARGET_MIB = 1024.0

FLEET = {
    "organisation": {"operators": 42},
    "delivery": {
        "services": 1000,
        "process": "automated",
        "nodes_per_service": 0.2,
        "automated": {"runners": 40, "strategy": "canary", "auto_rollback": True},
    },
    "incidents": {"follow_up_effort": "5h"},
}

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import simulator
from simulator.scenario.loader import load_scenario
kind, arg, overrides = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
path = Path(sys.argv[1]) / "simulator" / "scenarios" / arg
began = time.process_time()
result = simulator.run(load_scenario(path, overrides=overrides))
cpu = time.process_time() - began
peak = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text()
            .splitlines() if line.startswith("VmHWM:"))
keys = ("incidents", "pages", "availability", "error_rate_defect", "deploys_per_day")
print(json.dumps({"cpu": cpu, "peak_mib": peak,
                  "kpis": {k: result.summary.get(k) for k in keys}}))
"""


def child(checkout: Path, scenario: str, overrides: dict) -> dict:
    """One run in a fresh interpreter of `checkout`'s code (the venv of this one)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout), "run", scenario, json.dumps(overrides)],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def eras(checkouts: list[Path]) -> None:
    print("The three eras, 8 weeks, analytic (CPU s of each run in a fresh process):")
    totals = {str(c): 0.0 for c in checkouts}
    for i, era in enumerate(ERAS):
        order = checkouts if i % 2 == 0 else checkouts[::-1]
        for checkout in order:
            got = child(checkout, f"eras/{era}.yaml", {})
            totals[str(checkout)] += got["cpu"]
            print(f"  {era:9s} {got['cpu']:6.1f} s  {checkout}")
    for checkout, total in totals.items():
        verdict = "met" if total <= ERAS_TARGET else "NOT met"
        print(f"  total {total:.1f} s  {checkout}: target {ERAS_TARGET:.0f} s {verdict}")
    record("one_world.eras", totals[str(checkouts[0])], "one run of each")


def fleet(checkout: Path, monitoring: bool, horizon: str) -> None:
    overrides = {**FLEET, "horizon": horizon}
    if monitoring:
        overrides["monitoring"] = {"enabled": True, "alerting": "burn-rate", "slo": 0.999}
    got = child(checkout, "scale/sre-1000.yaml", overrides)
    what = "with monitoring" if monitoring else "delivery and incidents"
    print(f"1,000-service SRE fleet, {horizon}, {what}:")
    print(f"  CPU {got['cpu']:.1f} s, peak {got['peak_mib']:.0f} MiB; {got['kpis']}")
    if not monitoring:
        ok = got["cpu"] < FLEET_TARGET_SECONDS and got["peak_mib"] < FLEET_TARGET_MIB
        verdict = "met" if ok else "NOT met"
        print(f"  target under {FLEET_TARGET_SECONDS:.0f} s and 1 GiB: {verdict}")
        record("one_world.fleet.cpu", got["cpu"], f"one run, {horizon}")
        record("one_world.fleet.peak", got["peak_mib"], f"one run, {horizon}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to run beside this")
    parser.add_argument("--monitoring", action="store_true", help="the fleet watched too")
    parser.add_argument("--fleet-horizon", default=None, help="default 30d (2d monitored)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    checkouts = [ROOT] + ([args.baseline.resolve()] if args.baseline else [])
    eras(checkouts)
    horizon = args.fleet_horizon or ("2d" if args.monitoring else "30d")
    fleet(ROOT, args.monitoring, horizon)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
