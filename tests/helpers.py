"""What tests share: the repository's paths, and statistical assertions for simulation
output, with tolerances that can be justified.

`assert_agrees` pools independent replications (different seeds) and asserts two things:
the theory value lies inside the 99% Student-t confidence interval of the replication means,
and that interval is narrow (its 95% half-width at most `precision` of the theory value),
so the test could detect a bias of about twice that size. Seeds are fixed, so a test gives
the same verdict every time; a correct engine fails a given check with probability ~1%.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
MMC = SCENARIOS / "validation" / "mmc.yaml"


def confidence_half_width(values: np.ndarray, confidence: float) -> float:
    n = len(values)
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))


def assert_agrees(values, theory: float, precision: float, what: str = "") -> None:
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    half99 = confidence_half_width(values, 0.99)
    half95 = confidence_half_width(values, 0.95)
    label = f"{what}: " if what else ""
    assert half95 <= precision * abs(theory), (
        f"{label}the 95% CI half-width {half95:.4g} is wider than {precision:.1%} of "
        f"{theory:.4g}: run longer or more replications for this test to mean anything"
    )
    assert abs(mean - theory) <= half99, (
        f"{label}simulated {mean:.5g} ± {half99:.3g} (99% CI over {len(values)} "
        f"replications) does not contain the theory value {theory:.5g}"
    )
