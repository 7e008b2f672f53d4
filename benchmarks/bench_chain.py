"""Cost of a hop in a call chain: the simulator against a bare SimPy model of the same chain.

    .venv/bin/python benchmarks/bench_chain.py              # about a minute
    .venv/bin/python benchmarks/bench_chain.py --repeats 3 --horizon 500

Both sides simulate five services in a chain (each: 4 workers behind one FCFS queue,
exponential work with mean 10 ms, then a call to the next service), Poisson requests at
200/s into the first, and an exponential one-way network latency of 0.5 ms on every call and
every answer. A request makes five hops. The simulator runs it from a scenario (`simulator.run`:
build, run, KPIs and every table, with one span per hop recorded); the bare SimPy model is the
idiomatic one: one process per request, a `simpy.Resource` per service, `yield` for each
wait, keeping only each request's latency.

Cost per hop is CPU time (not wall time: the machine is shared) over requests × hops. The
target (issue 16, point 3; issue 3 asked for 1.25): a hop in the simulator costs at most 0.8
times a bare SimPy hop. It is a benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import simpy
from targets import record

import simulator

SERVICES = 5
RATE = 200.0
WORK_MEAN = 0.010
LATENCY_MEAN = 0.0005
WORKERS = 4
TARGET = 0.8

T = TypeVar("T")


def scenario(horizon: float) -> simulator.Scenario:
    services = {}
    for i in range(SERVICES):
        service = {
            "replicas": WORKERS,
            "load_balancer": "central-queue",
            "service_time": {"distribution": "exponential", "mean": WORK_MEAN},
        }
        if i < SERVICES - 1:
            service["handler"] = [{"work": None}, {"call": f"s{i + 1}"}]
        services[f"s{i}"] = service
    return simulator.load_scenario(
        {
            "name": "chain",
            "horizon": horizon,
            "services": services,
            "traffic": {"s0": {"rate": RATE}},
            "network": {"latency": {"distribution": "exponential", "mean": LATENCY_MEAN}},
        }
    )


def bare_simpy(horizon: float, seed: int = 1) -> int:
    env = simpy.Environment()
    draw = random.Random(seed).expovariate
    servers = [simpy.Resource(env, WORKERS) for _ in range(SERVICES)]
    latencies: list[float] = []

    def request() -> Generator[simpy.Event, Any, None]:
        sent = env.now
        for hop, server in enumerate(servers):
            if hop:
                yield env.timeout(draw(1 / LATENCY_MEAN))  # the call
            with server.request() as turn:
                yield turn
                yield env.timeout(draw(1 / WORK_MEAN))
        for _ in range(SERVICES - 1):
            yield env.timeout(draw(1 / LATENCY_MEAN))  # the answers, back up the chain
        latencies.append(env.now - sent)

    def source() -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(draw(RATE))
            env.process(request())

    env.process(source())
    env.run(until=horizon)
    return len(latencies)


def timed_cpu(work: Callable[[], T]) -> tuple[float, T]:
    start = time.process_time()
    value = work()
    return time.process_time() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--horizon", type=float, default=1000.0)
    args = parser.parse_args()
    chain = scenario(args.horizon)
    simulator.run(chain)  # warm up imports and caches
    costs: dict[str, list[float]] = {"simulator": [], "bare SimPy": []}
    counts: dict[str, int] = {}
    for repeat in range(args.repeats):
        order = ["simulator", "bare SimPy"] if repeat % 2 == 0 else ["bare SimPy", "simulator"]
        for side in order:
            if side == "simulator":
                cpu, result = timed_cpu(lambda: simulator.run(chain))
                done = int(result.summary["requests_completed"])
            else:
                cpu, done = timed_cpu(lambda: bare_simpy(args.horizon))
            counts[side] = done
            costs[side].append(cpu / (done * SERVICES))
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, SimPy {simpy.__version__}")  # fmt: skip
    print(f"chain of {SERVICES} services, {RATE:g} requests/s, horizon {args.horizon:g} s, "
          f"{args.repeats} repeats (CPU time)")  # fmt: skip
    for side, values in costs.items():
        median = statistics.median(values)
        rate = 1 / (median * SERVICES)
        print(f"  {side:<11} {counts[side]:>9,} requests  {median * 1e6:6.2f} µs per hop "
              f"(min {min(values) * 1e6:.2f})  {rate:,.0f} requests/s")  # fmt: skip
    ratio = statistics.median(costs["simulator"]) / statistics.median(costs["bare SimPy"])
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"cost of a simulator hop / bare SimPy hop: {ratio:.2f} (target ≤ {TARGET}: {verdict})")
    record("chain.hop", ratio, f"runs {args.repeats} × {args.horizon:g} s")


if __name__ == "__main__":
    main()
