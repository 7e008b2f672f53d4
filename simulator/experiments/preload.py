"""What the experiment engine's fork server imports before it forks any worker: the run
(`simulator.runner`), the request level's engine and fast path, the subsystems' models
(which `simulator.subsystems` imports only when a scenario builds them), the analytic
fidelity, and
the libraries their summaries and tables use (pandas, networkx, tqdm), all of which a run
would otherwise import lazily at its first call.

Why here and not in the run: a worker is forked from the fork server for each pool (each
`compare`, `run_replications` or sweep with `jobs` ≥ 2) and ends with it, so what the
server has not imported, every worker of every pool imports again: about 0.5 s of CPU a
worker for a request-level run (pandas and networkx most of it), some 23 worker starts in
notebook 01. Imported once here, it is in every worker from the fork, and the server pays
it in the background (a notebook starts it with `warm_up()` before its own imports). An
analytic run needs little of it (its own modules, about 0.06 s); its first pool waits
about half a second longer for the server, once per process.

Dask workers take the same module: `dask worker ... --preload simulator.experiments.preload`
imports it as the worker starts and calls `dask_setup`, which gives the worker the memory
settings of the engine's local workers (`pool.worker_memory`); the local cluster the
engine starts itself (`--backend dask --workers N`) preloads it too.

Importing this module changes no number: it only imports.
"""

from __future__ import annotations

import networkx  # noqa: F401
import pandas  # noqa: F401
import tqdm  # noqa: F401

import simulator.analytic.run
import simulator.model.delivery
import simulator.model.discovery.configuration
import simulator.model.discovery.model
import simulator.model.discovery.secrets
import simulator.model.fastpath
import simulator.model.monitoring
import simulator.model.monitoring.sources
import simulator.model.scheduling
import simulator.model.world
import simulator.runner  # noqa: F401
from simulator.experiments.pool import worker_memory


def dask_setup(worker: object) -> None:
    """Dask's hook for a `--preload` module, called as a worker starts: the memory settings
    of the engine's local workers."""
    worker_memory()
