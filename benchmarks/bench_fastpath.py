"""The fast path for simple stations against the general engine and bare SimPy, side by side.

    .venv/bin/python benchmarks/bench_fastpath.py                 # about two minutes
    .venv/bin/python benchmarks/bench_fastpath.py --repeats 3 --horizon 20000 --no-balancers

Three sides simulate scenarios/validation/mmc.yaml (M/M/4 at 90% utilisation) in this
process, one after the other, the order rotating from one repeat to the next, after one
untimed run of each:

- fast path: `simulator.run(scenario)`, which takes the fast path for this scenario (checked:
  its decision log says so), timed from the call to the Result: building the World, the
  recursion, the KPIs and every table (one row per measured request in `requests`, one per
  visit in `spans`);
- general engine: the same call with `engine: general` (the SimPy event loop);
- bare SimPy: `bench_mmc.bare_simpy`, the model of SimPy's own examples (a process per
  customer, `simpy.Resource`), keeping only the waits.

Requests are all arrivals before the horizon, warm-up included, on every side. The last
fast-path run is checked, untimed, to give the general engine's requests and spans tables
exactly (and its decision log to say the fast path ran).
Then (unless `--no-balancers`) the eight-replica load-balancer examples, fast path against
the general engine: the central queue takes the Kiefer–Wolfowitz recursion, the policies
with a queue per replica the walk over arrivals and ends. It is a benchmark, not a test: it
always exits 0 and prints whether the target (the fast path at least 5× bare SimPy's
requests per second on M/M/c, full records) is met.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from bench_mmc import Queue, bare_simpy, machine, timed

import simulator
from simulator import Scenario, load_scenario
from simulator.model import fastpath
from simulator.model.world import World

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "validation" / "mmc.yaml"
BALANCERS = ROOT / "scenarios" / "examples" / "load-balancers"
TARGET = 5.0


def arrivals(scenario: Scenario) -> int:
    """All arrivals before the horizon (span rows of the whole run, warm-up included)."""
    world = World(scenario, scenario.seed)
    assert fastpath.simulate(world), fastpath.blocker(scenario)
    return len(world.spans)


def general(scenario: Scenario) -> Scenario:
    return scenario.model_copy(update={"engine": "general"})


def fast_run(scenario: Scenario) -> simulator.Result:
    """The timed fast-path side: the plain call, which chooses the fast path itself."""
    return simulator.run(scenario)


def check(result: simulator.Result, expected: simulator.Result) -> None:
    """The fast path ran, and gave the general engine's requests and spans (untimed)."""
    assert fastpath.ran(result.tables["events"]), "fast path not taken"
    for table in ("requests", "spans"):
        pd.testing.assert_frame_equal(
            result.tables[table], expected.tables[table], check_exact=True
        )


def side_by_side(
    sides: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, object]]:
    """Wall and CPU seconds of each side's timed runs, the order rotating per repeat, and
    each side's last value."""
    names = list(sides)
    last = {name: sides[name]() for name in names}  # untimed warm-up
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            wall, cpu, last[name] = timed(sides[name])
            times[name][0].append(wall)
            times[name][1].append(cpu)
            print(
                f"  run {repeat + 1}/{repeats} {name:>14}: {wall:6.3f} s (CPU {cpu:6.3f} s)",
                flush=True,
            )
    return times, last


def mmc_benchmark(scenario: Scenario, repeats: int) -> None:
    queue = Queue.of(scenario)
    count = arrivals(scenario)
    expected = simulator.run(general(scenario))
    bare_count = bare_simpy(queue, "numpy")[0]
    times, last = side_by_side(
        {
            "fast path": lambda: fast_run(scenario),
            "general engine": lambda: simulator.run(general(scenario)),
            "bare SimPy": lambda: bare_simpy(queue, "numpy"),
        },
        repeats,
    )
    result = last["fast path"]
    assert isinstance(result, simulator.Result)
    check(result, expected)
    counts = {"fast path": count, "general engine": count, "bare SimPy": bare_count}
    print(
        f"\nM/M/{queue.servers}, horizon {queue.horizon:,.0f} s, {repeats} runs per side; "
        "requests = all arrivals, warm-up included.\n"
    )
    header = f"{'side':<16}{'requests':>10}{'median s':>10}{'min s':>8}{'median req/s':>14}"
    header += f"{'median CPU s':>14}"
    print(header)
    print("-" * len(header))
    rates = {}
    cpu_rates = {}
    for name, (walls, cpus) in times.items():
        rates[name] = counts[name] / statistics.median(walls)
        cpu_rates[name] = counts[name] / statistics.median(cpus)
        print(
            f"{name:<16}{counts[name]:>10,}{statistics.median(walls):>10.3f}{min(walls):>8.3f}"
            f"{rates[name]:>14,.0f}{statistics.median(cpus):>14.3f}"
        )
    fast_vs_bare = rates["fast path"] / rates["bare SimPy"]
    print(
        f"\nratio of median req/s, fast path / bare SimPy: {fast_vs_bare:.1f}  "
        f"(by median CPU time {cpu_rates['fast path'] / cpu_rates['bare SimPy']:.1f})"
    )
    print(
        f"ratio of median req/s, fast path / general engine: "
        f"{rates['fast path'] / rates['general engine']:.1f}  (general / bare SimPy: "
        f"{rates['general engine'] / rates['bare SimPy']:.2f})"
    )
    share = sum(sum(c) for _, c in times.values()) / sum(sum(w) for w, _ in times.values())
    print(
        f"CPU time / wall time of the timed runs: {share:.0%}"
        + ("" if share > 0.9 else "  (CPU shared with other work: wall times are noisy)")
    )
    verdict = "met" if fast_vs_bare >= TARGET else "NOT met"
    print(f"target: the fast path at least {TARGET:g}× bare SimPy's req/s: {verdict}")


def balancer_benchmark(repeats: int) -> None:
    print("\nThe load-balancer examples (8 replicas, 85% utilisation, 1 h): fast / general")
    for policy in ("central-queue", "round-robin", "least-connections", "power-of-two"):
        scenario = load_scenario(BALANCERS / f"{policy}.yaml")
        expected = simulator.run(general(scenario))
        times, last = side_by_side(
            {
                "fast path": lambda s=scenario: fast_run(s),
                "general engine": lambda s=scenario: simulator.run(general(s)),
            },
            repeats,
        )
        result = last["fast path"]
        assert isinstance(result, simulator.Result)
        check(result, expected)
        fast, fast_cpu = (statistics.median(x) for x in times["fast path"])
        slow, slow_cpu = (statistics.median(x) for x in times["general engine"])
        print(
            f"  {policy:<18} {arrivals(scenario):>9,} requests: median fast {fast:6.3f} s "
            f"(CPU {fast_cpu:.3f}), general {slow:6.3f} s (CPU {slow_cpu:.3f}); ratio "
            f"{slow / fast:4.1f}, by CPU {slow_cpu / fast_cpu:4.1f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side (5)")
    parser.add_argument(
        "--horizon", type=float, default=None, help="simulated seconds (the scenario's 60,000)"
    )
    parser.add_argument(
        "--no-balancers",
        dest="balancers",
        action="store_false",
        help="skip the load-balancer examples",
    )
    args = parser.parse_args(argv)
    overrides = {"horizon": args.horizon} if args.horizon else None
    scenario = load_scenario(SCENARIO, overrides=overrides)
    print("\n".join(machine()), "\n", flush=True)
    mmc_benchmark(scenario, args.repeats)
    if args.balancers:
        balancer_benchmark(max(1, args.repeats // 2 + 1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
