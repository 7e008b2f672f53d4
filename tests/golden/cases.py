"""The golden results: every shipped scenario, shortened where a full run takes long, run at
a fixed seed. Its KPIs (bit for bit) and the row count of each of its tables are kept in
`kpis.json`, so a refactor or a speed-up cannot change a number silently.

Regenerate with `python -m tests.golden.cases` only in a commit that says which numbers
changed and why.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from tests.golden import pin_kernels

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
STORE = Path(__file__).with_name("kpis.json")
SEED = 20261206

SHORTENED: dict[str, dict[str, str]] = {
    # Months of delivery and organisation: a few weeks keep every process in play.
    "delivery/lean-staging.yaml": {"horizon": "4w"},
    "delivery/ticket-with-cab.yaml": {"horizon": "4w"},
    "eras/devops.yaml": {"horizon": "3w"},
    "eras/sre.yaml": {"horizon": "3w"},
    "eras/sysadmin.yaml": {"horizon": "3w"},
    "eras/workload.yaml": {"horizon": "3w"},
    # A day of the Omega cell: a few hours hold thousands of jobs.
    "omega/example.yaml": {"horizon": "3h"},
    "omega/failures.yaml": {"horizon": "3h"},
    "omega/monolithic-multi-path.yaml": {"horizon": "3h"},
    "omega/monolithic-single-path.yaml": {"horizon": "3h"},
    "omega/shared-state.yaml": {"horizon": "3h"},
    "omega/two-level-big-tasks.yaml": {"horizon": "3h"},
    "omega/two-level.yaml": {"horizon": "3h"},
    "scale/sre-1000.yaml": {"horizon": "3d"},
    "validation/mmc.yaml": {"horizon": "20000s"},
    "secrets/leak-organisation.yaml": {"horizon": "4h"},
    "what-if/discovery-delivery.yaml": {"horizon": "6h"},
    "what-if/hacker-news-spike.yaml": {"horizon": "3h"},
    "what-if/honeymoon-fan-out.yaml": {"horizon": "1h"},
    "what-if/honeymoon-microservices.yaml": {"horizon": "1h"},
    "what-if/honeymoon-monolith.yaml": {"horizon": "1h"},
    "presets/lb-cluster.yaml": {"horizon": "30min"},
    "examples/load-balancers/central-queue.yaml": {"horizon": "30min"},
    "examples/load-balancers/least-connections.yaml": {"horizon": "30min"},
    "examples/load-balancers/power-of-two.yaml": {"horizon": "30min"},
    "examples/load-balancers/random.yaml": {"horizon": "30min"},
    "examples/load-balancers/round-robin.yaml": {"horizon": "30min"},
}


def shipped() -> list[str]:
    """Every scenario file shipped under scenarios/, relative to it."""
    return sorted(p.relative_to(SCENARIOS).as_posix() for p in SCENARIOS.rglob("*.yaml"))


def measure(name: str) -> dict:
    """KPIs and table sizes of one shipped scenario at the golden seed."""
    import simulator

    scenario = simulator.load_scenario(SCENARIOS / name, overrides=SHORTENED.get(name))
    result = simulator.run(scenario, seed=SEED)
    return {
        "kpis": {key: float(value) for key, value in result.summary.items()},
        "rows": {table: len(frame) for table, frame in sorted(result.tables.items())},
    }


def to_json(record: dict) -> dict:
    """JSON keeps a float's repr, so reading it back gives the same bits; NaN as a string."""
    kpis = {k: ("nan" if math.isnan(v) else v) for k, v in record["kpis"].items()}
    return {"kpis": kpis, "rows": record["rows"]}


def load() -> dict[str, dict]:
    stored = json.loads(STORE.read_text())
    for record in stored.values():
        record["kpis"] = {
            k: (math.nan if v == "nan" else float(v)) for k, v in record["kpis"].items()
        }
    return stored


def main(names: list[str]) -> None:
    pin_kernels()  # before `measure` imports numpy
    stored = json.loads(STORE.read_text()) if STORE.exists() else {}
    for name in names or shipped():
        print(name, flush=True)
        stored[name] = to_json(measure(name))
    STORE.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
