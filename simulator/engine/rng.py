"""Random streams: one numpy Generator per component, derived from the run's seed by name.

Deriving by name (not by creation order) means that adding a component, or changing how
many numbers one component draws, leaves every other component's draws unchanged. That
gives common random numbers across the scenarios of a comparison, and so less noise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from itertools import chain, repeat

import numpy as np

BLOCK = 4096
"""Values a `value_stream` draws per numpy call."""


def value_stream(draw: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """A zero-argument sampler of the values `draw(BLOCK)` returns, block after block, in
    order: `scenario.distributions.block_stream`'s values, handed out by C iterators (no
    Python frame per value), for the hot path of the request level."""
    blocks = map(lambda _: draw(BLOCK).tolist(), repeat(None))
    return chain.from_iterable(blocks).__next__


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a component name (Python's hash() changes per process)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


class RandomStreams:
    """The random streams of one run. Nothing here touches numpy's or Python's global state."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._taken: set[str] = set()

    def get(self, name: str) -> np.random.Generator:
        """The stream of the component `name`; each name may be taken once per run."""
        if name in self._taken:
            raise ValueError(f"random stream {name!r} is already in use in this run")
        self._taken.add(name)
        sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=(stream_key(name),))
        return np.random.Generator(np.random.PCG64(sequence))
