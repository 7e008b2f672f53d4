"""What serving every delivery service costs (docs/delivery.md, "Every delivery service
serves"): the SRE preset at its own size, `sresim run scenarios/eras/sre.yaml` (100
delivery services, eight weeks, analytic), before and after its 90 services without a
workload got copies of it to run on.

    .venv/bin/python benchmarks/bench_served_world.py --baseline /tmp/old   # side by side
    .venv/bin/python benchmarks/bench_served_world.py --rounds 1            # this checkout

Each round runs, in each checkout (the sides alternating), `python -m simulator run` (the
wall-clock time of the whole command: imports, loading, the run, the printout) and the run
alone in a fresh interpreter (CPU seconds of `simulator.run`, peak RSS, key KPIs). It is a
benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = "simulator/scenarios/eras/sre.yaml"
KEYS = ("availability", "uptime", "incidents", "pages_per_week", "cost_usd", "nodes_mean")

CHILD = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import simulator
began = time.process_time()
result = simulator.run(Path(sys.argv[1]) / sys.argv[2])
cpu = time.process_time() - began
peak = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text()
            .splitlines() if line.startswith("VmHWM:"))
keys = json.loads(sys.argv[3])
print(json.dumps({"cpu": cpu, "peak_mib": peak, "services": len(result.scenario.services),
                  "kpis": {k: result.summary.get(k) for k in keys}}))
"""


def _env(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def command_seconds(checkout: Path) -> float:
    """Wall-clock seconds of `python -m simulator run` in `checkout` (its code)."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "simulator", "run", SCENARIO],
        capture_output=True,
        check=True,
        cwd=checkout,
        env=_env(checkout),
    )
    return time.perf_counter() - began


def run_alone(checkout: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout), SCENARIO, json.dumps(KEYS)],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
        env=_env(checkout),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to run beside this")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    checkouts = [ROOT] + ([args.baseline.resolve()] if args.baseline else [])
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    for round_ in range(args.rounds):
        order = checkouts if round_ % 2 == 0 else checkouts[::-1]
        for checkout in order:
            wall = command_seconds(checkout)
            got = run_alone(checkout)
            print(
                f"  round {round_ + 1}  {checkout}: sresim run {wall:.1f} s wall; run alone "
                f"{got['cpu']:.1f} s CPU, peak {got['peak_mib']:.0f} MiB, "
                f"{got['services']} services; {got['kpis']}",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
