"""The golden results (`cases`), computed with the same CPU kernels on every x86-64 machine.

numpy and OpenBLAS pick their kernels at run time from the CPU: on a machine with AVX-512,
numpy's exp, log, sorts and OpenBLAS's products take other code paths than on one with
AVX2 only, and a result can differ in its last bits (the eras and sre-1000 differed between
an Intel Xeon and an AMD EPYC host of this project's machines, the same code and
libraries). Each machine is reproducible on its own; the golden KPIs, kept bit for bit, are
computed with AVX-512 paths turned off, so that they hold on either (`pin_kernels`).
Recorded on an AMD EPYC host without AVX-512 (session 17); on one with AVX-512 (session 18)
every golden case passed with the pin, and without it the eras and sre-1000 differed.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

PINNED_KERNELS = {
    # OpenBLAS's AVX2 kernels (Haswell), whatever newer core it finds (Zen uses them too)
    "OPENBLAS_CORETYPE": "Haswell",
    # numpy 2.4's dispatch targets beyond X86_V3 (AVX2, FMA3), as `np.show_config()` names
    # them; on a CPU without them this changes nothing
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}

pinned_before_numpy = False
"""Whether `pin_kernels` ran before numpy was imported, so that numpy read the setting."""


def pin_kernels() -> None:
    """Set `PINNED_KERNELS` in this process's environment (its workers inherit it) on an
    x86-64 CPU with AVX2 and FMA, the machines the golden results are kept for (elsewhere
    Haswell's kernels would not run); numpy reads it when imported, so call this first
    (tests/conftest.py and `python -m tests.golden.cases` do)."""
    global pinned_before_numpy
    if not pinnable():
        return
    os.environ.update(PINNED_KERNELS)
    pinned_before_numpy = pinned_before_numpy or "numpy" not in sys.modules


def pinnable() -> bool:
    """Whether this machine is one the kernels are pinned on: x86-64 with AVX2 and FMA."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: cannot tell, so the kernels are left as they are
        return False
    return " avx2" in flags and " fma" in flags
