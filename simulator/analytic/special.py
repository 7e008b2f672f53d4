"""The functions of `scipy.special` the analytic fidelity uses: the same ufunc objects,
without the import of the `scipy.special` package when nothing has imported it yet.

`scipy.special`'s `__init__` imports its array-API layer, which clones numpy's whole
namespace (`scipy._lib.array_api_compat.numpy`) and so imports `numpy.f2py`,
`numpy.testing`, `numpy.ctypeslib` and the rest: some 0.15 s of an analytic run's CPU
(about 5% of sre-1000's) for six functions that live in the compiled module
`scipy.special._ufuncs`. That module is loaded here under a placeholder parent package
that has only the folder (no `__init__` run), and the placeholder is removed at once: a
later `import scipy.special` runs the real package, which takes the already loaded
`_ufuncs` as its own (`scipy.special.gammainc is gammainc` then; tested). Every function
here is that module's ufunc, the object `scipy.special` exports, so every bit is the same.

When `scipy.special` is already imported (a notebook, scipy.stats), or the placeholder
load fails in any way (a scipy whose layout differs), the package is imported as usual.
The placeholder is in `sys.modules` only while `_ufuncs` loads, at the first import of the
analytic fidelity; a thread importing `scipy.special` in those milliseconds would see it.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

NAMES = ("binom", "gammainc", "gammaincinv", "gammaln", "ndtr", "pdtr")
"""What the analytic fidelity takes from `scipy.special`."""


def _functions() -> Any:
    """`scipy.special._ufuncs`, loaded without its package's `__init__` where possible; or
    `scipy.special` itself."""
    if "scipy.special" not in sys.modules:
        try:
            return _without_package()
        except Exception:  # any surprise: the usual import below gives the same functions
            pass
    from scipy import special

    return special


def _without_package() -> Any:
    import scipy

    placeholder = types.ModuleType("scipy.special")
    placeholder.__path__ = [str(Path(scipy.__file__).parent / "special")]
    sys.modules["scipy.special"] = placeholder
    try:
        functions = importlib.import_module("scipy.special._ufuncs")
    finally:
        if sys.modules.get("scipy.special") is placeholder:
            del sys.modules["scipy.special"]
    if not all(isinstance(getattr(functions, name, None), np.ufunc) for name in NAMES):
        raise ImportError("scipy.special._ufuncs lacks a function")
    return functions


_module = _functions()
binom: np.ufunc = _module.binom
gammainc: np.ufunc = _module.gammainc
gammaincinv: np.ufunc = _module.gammaincinv
gammaln: np.ufunc = _module.gammaln
ndtr: np.ufunc = _module.ndtr
pdtr: np.ufunc = _module.pdtr
del _module
