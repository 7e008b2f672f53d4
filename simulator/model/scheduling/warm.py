"""The scheduler model's compiled kernels, loaded and ready: imported by the experiment
engine's fork server (`pool.context`) when a sweep has scheduling runs, so that every
worker forked from it starts with numba imported and the kernels' machine code loaded,
instead of paying about 0.4 s (numba's import, the kernels' dispatchers, loading the cached
code at each kernel's first call) in each worker of each sweep.

Importing this module runs a few seconds of simulated time of a 40-node cell under every
architecture: the kernels are called with exactly the argument types the model uses (a
read-only or writable array is a different compiled version), whatever those are. Nothing
of those runs is kept. A failure here must not stop the fork server: it is swallowed (the
workers then load the kernels themselves, as without this module).
"""

from __future__ import annotations

ARCHITECTURES = ("monolithic-single-path", "two-level", "shared-state")

SCENARIO = {
    "name": "warm-up",
    "seed": 1,
    "horizon": "30s",
    "warmup": "0s",
    "cluster": {"nodes": 40, "cpu": 4, "memory_gb": 16, "prefill": 0.6},
    "workloads": {
        "batch": {"interarrival": "1s", "tasks": 20, "duration": "5s", "cpu": 1, "memory_gb": 2},
        "service": {"interarrival": "2s", "tasks": 5, "duration": "10s", "cpu": 1, "memory_gb": 2},
    },
    "scheduler": {"t_job": {"batch": "0.1s", "service": "0.1s"}, "t_task": "5ms"},
}


def warm() -> bool:
    """Run the warm-up; whether it went through."""
    try:
        from ...runner import run

        for architecture in ARCHITECTURES:
            run(SCENARIO, overrides=[f"scheduler.architecture={architecture}"], tables=())
    except Exception:  # a warm-up only: the workers load the kernels themselves then
        return False
    return True


warm()
