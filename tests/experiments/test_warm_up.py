"""`simulator.experiments.warm_up`: the fork server started early, light to import, and the
one every later pool forks its workers from, with the same numbers as without it.

Each check runs in a fresh interpreter: the fork server is per process, and pytest's may
have started one already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import MMC, ROOT

FORK_SERVER = "forkserver" in __import__("multiprocessing").get_all_start_methods()


def fresh(code: str) -> dict:
    """Run `code` in a new interpreter of this checkout; it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_warm_up_loads_neither_the_simulator_nor_its_libraries():
    found = fresh(
        """
        import json, sys
        from simulator.experiments import warm_up
        heavy = ["pandas", "numpy", "simpy", "simulator.runner", "simulator.experiments.executor"]
        print(json.dumps({"loaded": [name for name in heavy if name in sys.modules]}))
        """
    )
    assert found["loaded"] == []


@pytest.mark.skipif(not FORK_SERVER, reason="no fork server on this platform")
def test_the_fork_server_started_early_serves_the_later_pools_with_the_same_numbers():
    found = fresh(
        f"""
        import json, os
        from multiprocessing import forkserver

        if __name__ == "__main__":
            from simulator.experiments import warm_up

            started = warm_up()
            server = forkserver._forkserver
            pid, preload = server._forkserver_pid, list(server._preload_modules)
            os.kill(pid, 0)  # alive

            import simulator

            size = {{"horizon": "300s", "warmup": "30s"}}
            apart = simulator.run_replications({str(MMC)!r}, 3, overrides=size, jobs=2).table
            alone = simulator.run_replications({str(MMC)!r}, 3, overrides=size).table
            print(json.dumps({{
                "started": started,
                "preload": preload,
                "same_server": server._forkserver_pid == pid,
                "same_numbers": apart.equals(alone),
                "again": warm_up(),
            }}))
        """
    )
    assert found == {
        "started": True,
        "preload": ["simulator.experiments.preload"],
        "same_server": True,
        "same_numbers": True,
        "again": True,
    }


def test_a_worker_forked_after_the_preload_imports_nothing_heavy_at_its_first_run():
    """What `preload` is for: a worker's first run, request level or analytic, kept whole or
    summary only, finds its modules and the libraries of its tables already imported."""
    found = fresh(
        f"""
        import json, sys
        import simulator.experiments.preload
        import simulator
        from simulator.experiments.executor import RunTask
        from simulator.runner import run_task

        small = {{"horizon": "60s", "warmup": "10s"}}
        era = {{"horizon": "1d", "warmup": "1h", "delivery.services": 2}}
        runs = [
            ({str(MMC)!r}, small),
            ({str(ROOT / "scenarios/what-if/cascading-failure.yaml")!r}, small),
            ({str(ROOT / "simulator/scenarios/eras/sre.yaml")!r}, era),
        ]
        heavy = ("pandas", "networkx", "scipy", "tqdm", "simulator.model", "simulator.metrics",
                 "simulator.analytic")
        new = []
        for path, size in runs:
            scenario = simulator.load_scenario(path, overrides=size)
            for keep in (True, False):
                before = set(sys.modules)
                run_task(RunTask(scenario, 1, keep=keep))
                new += sorted(set(sys.modules) - before)
        print(json.dumps({{"heavy": [name for name in new if name.startswith(heavy)]}}))
        """
    )
    assert found == {"heavy": []}
