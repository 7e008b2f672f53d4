"""`block_stream`: the request level's samplers hand out a draw's values in order, block after
block, and draw a block only when the previous one is used up (so a run's random streams are
consumed exactly as before, whatever hands the values out)."""

from __future__ import annotations

import numpy as np

from simulator.scenario.distributions import BLOCK, block_stream


def test_values_in_order_block_after_block_drawn_when_needed():
    rng = np.random.default_rng(7)
    sizes: list[int] = []

    def draw(size: int) -> np.ndarray:
        sizes.append(size)
        return rng.random(size)

    sample = block_stream(draw)
    assert sizes == []  # nothing drawn before the first value is asked for
    taken = [sample() for _ in range(2 * BLOCK + 5)]
    assert sizes == [BLOCK, BLOCK, BLOCK]
    expected = np.random.default_rng(7).random(3 * BLOCK)[: 2 * BLOCK + 5].tolist()
    assert taken == expected
    assert all(type(value) is float for value in taken)
