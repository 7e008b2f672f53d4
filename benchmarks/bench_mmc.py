"""Speed and memory of the simulator's two engines against a bare SimPy model of one M/M/4.

    .venv/bin/python benchmarks/bench_mmc.py                 # about a minute
    .venv/bin/python benchmarks/bench_mmc.py --repeats 3 --horizon 20000 --no-memory

Every side simulates scenarios/validation/mmc.yaml (Poisson arrivals at 3.6/s, exponential
service with mean 1 s, 4 servers behind one FCFS queue) in this process, one after the other,
the order rotating. A side's "requests" are all arrivals up to the horizon, warm-up
included; requests per second are those requests over the wall time of one run.

- general: `simulator.run(scenario)` with `engine: general`, which forces the SimPy event
  loop that every scenario with calls, timeouts, retries or autoscaling runs on; timed from
  the call to the returned Result, so it includes building the World, the run, the KPIs and
  every result table (one row per request in `requests`). Loading the YAML is done once,
  outside the timing.
- fast path: the same call on the scenario as shipped, which takes the fast path for simple
  stations (`model/fastpath.py`; the benchmark checks that its requests table has as many
  rows as the general engine's).
- bare SimPy: the textbook model of SimPy's own examples (a source process, one process per
  customer, `simpy.Resource`), keeping only each customer's wait in a list.

It is a benchmark, not a test: it always exits 0 and only says whether the targets (issue 16:
the general engine at least 1.6× bare SimPy's requests per second, the fast path at least 5×)
are met. With the default `--memory`, a child process also runs about 1,000,000 requests
through the general engine and reports what they take (target: at most 300 MB).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import simpy
from targets import record

import simulator
from simulator import Scenario, load_scenario
from simulator.model import fastpath
from simulator.model.world import World

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "validation" / "mmc.yaml"
SERVICE = "api"
TARGET = 1.6  # the general engine / bare SimPy, requests per second (issue 16, point 3)
FAST_TARGET = 5.0  # the fast path / bare SimPy (issue 16, point 2)
MEMORY_TARGET_MB = 300.0  # peak RSS of 1,000,000 recorded requests, general engine
BLOCK = 4096
MIB = 1024 * 1024

T = TypeVar("T")


# ------------------------------------------------------------------------- the two sides


@dataclass(frozen=True)
class Queue:
    """The M/M/c queue of the scenario, as plain numbers for the bare SimPy model."""

    rate: float
    service_mean: float
    servers: int
    horizon: float
    seed: int

    @classmethod
    def of(cls, scenario: Scenario) -> Queue:
        service = scenario.services[SERVICE]
        assert service.load_balancer == "central-queue"
        assert service.service_time.distribution == "exponential"
        assert scenario.traffic[SERVICE].arrivals == "poisson"
        return cls(
            rate=scenario.traffic[SERVICE].rate,
            service_mean=service.service_time.mean,
            servers=service.workers,
            horizon=scenario.horizon,
            seed=scenario.seed,
        )


def exponential_draws(queue: Queue, rng: str) -> tuple[Callable[[], float], Callable[[], float]]:
    """Zero-argument samplers of inter-arrival and service times for the bare SimPy model.

    "numpy" (the default) draws 4,096 values per numpy call from two independent streams and
    hands them out through C iterators, the fastest source of single draws we measured in
    CPython; the simulator draws the same way (numpy blocks). "random" is what SimPy's
    examples use, `random.Random(seed).expovariate`, about 0.24 µs slower per draw.
    """
    if rng == "numpy":
        arrivals, services = (
            np.random.default_rng(s) for s in np.random.SeedSequence(queue.seed).spawn(2)
        )

        def stream(generator: np.random.Generator, mean: float) -> Callable[[], float]:
            blocks = map(lambda _: generator.exponential(mean, BLOCK).tolist(), repeat(None))
            return chain.from_iterable(blocks).__next__

        return stream(arrivals, 1.0 / queue.rate), stream(services, queue.service_mean)
    expovariate = random.Random(queue.seed).expovariate
    return partial(expovariate, queue.rate), partial(expovariate, 1.0 / queue.service_mean)


def scheduled_events(env: simpy.Environment) -> int:
    """How many events an environment has scheduled so far (SimPy numbers them from 0)."""
    return next(env._eid)  # SimPy internals, read once after a run


def bare_simpy(queue: Queue, rng: str) -> tuple[int, float, int]:
    """The M/M/c queue as in SimPy's documentation: (arrivals, mean wait, events)."""
    interarrival, service_time = exponential_draws(queue, rng)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=queue.servers)
    waits: list[float] = []

    def customer() -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        with server.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(service_time())

    def source() -> Generator[simpy.Event, Any, None]:
        timeout, process = env.timeout, env.process
        while True:
            yield timeout(interarrival())
            process(customer())

    env.process(source())
    env.run(until=queue.horizon)
    # Every customer that arrived has either been served (its wait is recorded) or queues.
    return len(waits) + len(server.queue), statistics.fmean(waits), scheduled_events(env)


def simulator_arrivals(scenario: Scenario) -> tuple[int, int, int]:
    """All arrivals of the scenario's run, how many the requests table keeps, and events.

    `simulator.run` returns only the requests that arrived after warm-up and finished, so
    the arrivals are counted once, untimed, on a World with the same seed: runs are
    reproducible bit for bit, and the kept count is checked against every timed run.
    """
    world = World(scenario, scenario.seed)
    world.run()
    arrival = np.frombuffer(world.requests.arrival, dtype=np.float64)
    end = np.frombuffer(world.requests.end, dtype=np.float64)
    kept = int(((arrival >= scenario.warmup) & ~np.isnan(end)).sum())
    return len(world.requests), kept, scheduled_events(world.env)


# ------------------------------------------------------------------------------ timing


@dataclass
class Side:
    name: str
    requests: int
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    events: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median_rps(self) -> float:
        return self.requests / self.median

    @property
    def best_rps(self) -> float:
        return self.requests / self.best

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds)

    def add(self, wall: float, cpu: float) -> None:
        self.seconds.append(wall)
        self.cpu_seconds.append(cpu)


def timed(work: Callable[[], T]) -> tuple[float, float, T]:
    """Wall time, CPU time of this process, and the value of `work()`."""
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    value = work()
    return time.perf_counter() - start, time.process_time() - start_cpu, value


def benchmark(
    scenario: Scenario, repeats: int, rng: str
) -> tuple[Side, Side, Side, dict[str, float]]:
    """Timed runs of the general engine, the fast path and bare SimPy, the order rotating."""
    general = load_scenario(scenario, overrides={"engine": "general"})
    queue = Queue.of(scenario)
    arrivals, kept, events = simulator_arrivals(general)  # also warms the simulator up
    simulator.run(scenario)  # warm-up of the fast path, untimed
    _, _, base_events = bare_simpy(queue, rng)  # warm-up for the baseline, untimed
    sim = Side("general", arrivals, events=events)
    fast = Side("fast path", arrivals)
    base = Side("bare SimPy", 0, events=base_events)
    waits: dict[str, float] = {}
    sides = ("sim", "fast", "base")
    for repeat_index in range(repeats):
        shift = repeat_index % len(sides)
        for which in sides[shift:] + sides[:shift]:
            if which in ("sim", "fast"):
                run_scenario = general if which == "sim" else scenario
                side = sim if which == "sim" else fast
                seconds, cpu, result = timed(partial(simulator.run, run_scenario))
                rows = len(result.requests)
                if rows != kept:
                    raise RuntimeError(f"requests table has {rows} rows, expected {kept}")
                if (which == "fast") != fastpath.ran(result.tables["events"]):
                    raise RuntimeError(f"the {side.name} side ran the other engine")
                waits[side.name] = result.summary["wait_mean_s"]
                side.add(seconds, cpu)
            else:
                seconds, cpu, (count, wait, _) = timed(lambda: bare_simpy(queue, rng))
                base.requests, waits["bare SimPy"] = count, wait
                base.add(seconds, cpu)
            print(
                f"  run {repeat_index + 1}/{repeats} {which:>4}: {seconds:6.3f} s "
                f"(CPU {cpu:6.3f} s)",
                flush=True,
            )
    return sim, fast, base, waits


# ------------------------------------------------------------------------------ memory


def peak_rss_mib() -> float:
    """This process's peak resident set size so far.

    Linux's `getrusage(RUSAGE_SELF).ru_maxrss` keeps the peak of the process before `exec`,
    so a child started by a big parent reports the parent's peak; VmHWM belongs to the
    child's own address space. Elsewhere, fall back to ru_maxrss.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def measure_memory(requests: int) -> dict[str, float]:
    """Run the scenario for about `requests` arrivals and report what the records take.

    Runs in a fresh process (see `--memory-child`) so that the peak resident set size is
    this run's (and its imports') alone. `simulator.run` is World + run + `_result`; the
    steps are taken one by one here to read the RequestLog and the peak RSS between them.
    """
    from simulator.runner import _result

    before = peak_rss_mib()
    base = load_scenario(SCENARIO)
    horizon = requests / Queue.of(base).rate
    scenario = load_scenario(SCENARIO, overrides={"horizon": horizon, "engine": "general"})
    start = time.perf_counter()
    world = World(scenario, scenario.seed)
    world.run()
    after_run = peak_rss_mib()
    arrivals, log_bytes = len(world.requests), world.requests.nbytes()  # `_result` empties it
    result = _result(world)
    seconds = time.perf_counter() - start
    return {
        "horizon_s": scenario.horizon,
        "arrivals": arrivals,
        "log_bytes": log_bytes,
        "table_rows": len(result.requests),
        "table_bytes": int(result.requests.memory_usage(deep=True).sum()),
        "all_tables_bytes": int(
            sum(table.memory_usage(deep=True).sum() for table in result.tables.values())
        ),
        "seconds": seconds,
        "peak_rss_after_imports_mib": before,
        "peak_rss_after_run_mib": after_run,
        "peak_rss_mib": peak_rss_mib(),
    }


def memory_report(requests: int) -> None:
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(requests)],
        check=True,
        capture_output=True,
        text=True,
    )
    m = json.loads(child.stdout)
    print(
        f"\nMemory for about {requests:,} requests, general engine (fresh process, horizon "
        f"{m['horizon_s']:,.0f} s, simulator.run steps in {m['seconds']:.1f} s):"
    )
    log = m["log_bytes"]
    print(f"  arrivals simulated          {m['arrivals']:>12,}")
    per_request = log / m["arrivals"]
    print(f"  RequestLog.nbytes()         {log / MIB:>9.1f} MiB  ({per_request:.0f} B/request)")
    print(
        f"  requests table (deep)       {m['table_bytes'] / MIB:>9.1f} MiB  "
        f"({m['table_rows']:,} rows, {m['table_bytes'] / m['table_rows']:.0f} B/row)"
    )
    print(f"  all result tables (deep)    {m['all_tables_bytes'] / MIB:>9.1f} MiB")
    print(f"  peak RSS after imports      {m['peak_rss_after_imports_mib']:>9.1f} MiB")
    print(f"  peak RSS after the run      {m['peak_rss_after_run_mib']:>9.1f} MiB")
    print(f"  peak RSS after the tables   {m['peak_rss_mib']:>9.1f} MiB")
    verdict = "yes" if m["peak_rss_mib"] * MIB <= MEMORY_TARGET_MB * 1e6 else "NO"
    print(f"  whole process ≤ {MEMORY_TARGET_MB:.0f} MB       {verdict:>9}")
    record(
        "mmc.memory",
        m["peak_rss_mib"] * MIB / 1e6,
        f"{m['arrivals']:,} requests, {m['peak_rss_mib']:.0f} MiB",
    )


# ------------------------------------------------------------------------------ report


def machine() -> list[str]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"CPU      {cpu}, {os.cpu_count()} logical CPUs, load average {load}",
        f"OS       {platform.platform()}",
        f"Python   {platform.python_version()} ({platform.python_implementation()})",
        f"SimPy {simpy.__version__}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"sre-sandbox {simulator.__version__}",
    ]


def report(
    sim: Side,
    fast: Side,
    base: Side,
    waits: dict[str, float],
    scenario: Scenario,
    rng: str,
) -> None:
    # Imported here, not at the top: the theory needs scipy, which a run does not import,
    # and the memory child (`measure_memory`) should weigh what a run takes.
    from simulator.theory import mmc

    queue = Queue.of(scenario)
    theory = mmc(queue.rate, queue.service_mean, queue.servers)
    print(
        f"\nM/M/{queue.servers} at {theory.utilisation:.0%} utilisation, horizon "
        f"{queue.horizon:,.0f} s, {len(sim.seconds)} runs per side. Requests = all arrivals, "
        "warm-up included.\n"
    )
    header = (
        f"{'side':<12}{'requests':>10}{'median s':>10}{'min s':>8}"
        f"{'median req/s':>14}{'best req/s':>12}{'median CPU s':>14}{'mean wait s':>13}"
    )
    print(header)
    print("-" * len(header))
    for side in (sim, fast, base):
        print(
            f"{side.name:<12}{side.requests:>10,}{side.median:>10.3f}{side.best:>8.3f}"
            f"{side.median_rps:>14,.0f}{side.best_rps:>12,.0f}{side.median_cpu:>14.3f}"
            f"{waits[side.name]:>13.3f}"
        )
    print(f"{'theory (mean wait of M/M/c)':<80}{theory.wait_mean:>13.3f}")
    print(
        "\ngeneral: simulator.run() with engine: general (the SimPy event loop), from the call "
        "to the Result:\n  World, run, KPIs and all tables, with one row per measured request "
        "in the requests table.\nfast path: the same call on the scenario as shipped (the "
        "fast path for simple stations)."
    )
    print(
        f"bare SimPy: source + one process per customer + simpy.Resource, waits in a list;\n"
        f"  draws: {'numpy blocks (4,096 per call)' if rng == 'numpy' else 'random.expovariate'}."
    )
    print()
    for side, target, key in ((sim, TARGET, "mmc.general"), (fast, FAST_TARGET, "mmc.fast")):
        ratio = side.median_rps / base.median_rps
        by_cpu = base.median_cpu / side.median_cpu * side.requests / base.requests
        verdict = "met" if by_cpu >= target else "NOT met"
        print(
            f"{side.name} / bare SimPy: {ratio:.2f} by median req/s (best: "
            f"{side.best_rps / base.best_rps:.2f}), {by_cpu:.2f} by median CPU time; "
            f"target ≥ {target:g} (by CPU time): {verdict}"
        )
        runs = f"{len(side.seconds)} × {queue.horizon:,.0f} s"
        record(key, by_cpu, f"{ratio:.2f}× by median wall; runs {runs}")
    print(
        f"SimPy events scheduled per request: general {sim.events / sim.requests:.2f}, "
        f"bare SimPy {base.events / base.requests:.2f}"
    )
    share = sum(sim.cpu_seconds + fast.cpu_seconds + base.cpu_seconds) / sum(
        sim.seconds + fast.seconds + base.seconds
    )
    print(
        f"CPU time / wall time of the timed runs: {share:.0%}"
        + ("" if share > 0.9 else "  (CPU shared with other work: read the CPU-time ratios)")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per side (5)")
    parser.add_argument(
        "--horizon",
        type=float,
        default=None,
        help="simulated seconds, warm-up (1,000 s) included (the scenario's 60,000 s)",
    )
    parser.add_argument(
        "--baseline-rng",
        choices=("numpy", "random"),
        default="numpy",
        help="bare SimPy's draws: numpy blocks (fastest, default) or random.expovariate",
    )
    memory = parser.add_mutually_exclusive_group()
    memory.add_argument(
        "--memory",
        dest="memory",
        action="store_true",
        default=True,
        help="also measure the memory of ~1,000,000 requests in a child process (default)",
    )
    memory.add_argument("--no-memory", dest="memory", action="store_false")
    parser.add_argument(
        "--memory-requests", type=int, default=1_000_000, help="requests for --memory"
    )
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.memory_child is not None:
        print(json.dumps(measure_memory(args.memory_child)))
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    overrides = {} if args.horizon is None else {"horizon": args.horizon}
    scenario = load_scenario(SCENARIO, overrides=overrides)
    print("\n".join(machine()))
    print(f"command  {' '.join([os.path.relpath(sys.executable), *sys.argv])}\n")
    sim, fast, base, waits = benchmark(scenario, args.repeats, args.baseline_rng)
    report(sim, fast, base, waits, scenario, args.baseline_rng)
    if args.memory:
        memory_report(args.memory_requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
