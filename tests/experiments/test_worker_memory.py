"""`simulator.experiments.pool.worker_memory`: the pool's workers keep numpy's arrays on
ordinary pages and, with glibc, large freed blocks in the process; the calling process is
left as it was. Checked in a fresh interpreter: pytest's may have a fork server already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.helpers import ROOT

LINUX_GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


def test_the_workers_memory_settings_and_not_the_callers(tmp_path):
    code = """
        import concurrent.futures, ctypes, json, multiprocessing
        import numpy as np
        from numpy._core import multiarray
        from simulator.experiments import pool

        class Info(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

        def look():
            blocks = None
            try:
                libc = ctypes.CDLL(None)
                libc.mallinfo2.restype = Info
                before = libc.mallinfo2().hblks
                big = np.ones(8 << 20)  # 64 MiB: mmap'd on its own by default glibc settings
                blocks = libc.mallinfo2().hblks - before
                del big
            except (OSError, AttributeError):
                pass
            return {"hugepages": multiarray._get_madvise_hugepage(), "mmapped": blocks}

        if __name__ == "__main__":
            context = pool.context()
            with concurrent.futures.ProcessPoolExecutor(
                1, mp_context=context, initializer=pool.worker_memory
            ) as workers:
                worker = workers.submit(look).result()
            print(json.dumps({"worker": worker, "caller": look(), "numpy": np.__version__}))
    """
    script = tmp_path / "look.py"  # a file: the workers import its `look` by path
    script.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["worker"]["hugepages"] is False
    if LINUX_GLIBC and found["caller"]["mmapped"] is not None:
        assert found["caller"]["mmapped"] == 1  # the caller's 64 MiB array: mmap'd
        assert found["worker"]["mmapped"] == 0  # the worker's: from the heap
