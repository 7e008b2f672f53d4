"""Distributions of durations, each given by its mean and, where it has one, a coefficient of
variation (cv = standard deviation / mean).

Parameterising by mean and cv keeps scenarios readable ("1s on average, twice as variable")
and lets the theory module draw reference lines from the same two numbers (the
Pollaczek–Khinchine formula needs exactly E[S] and cv).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from itertools import chain, repeat
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Protocol

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from .base import ScenarioModel, knob
from .files import data_file, read_text
from .units import Duration, parse_duration

BLOCK = 4096
"""Draws are made in blocks: one numpy call per 4,096 values instead of one per value."""


def block_stream(draw: Callable[[int], np.ndarray]) -> Callable[[], float]:
    """A zero-argument sampler that hands out values drawn `BLOCK` at a time.

    The values of `draw(BLOCK)`, block after block, in order, handed out by C iterators:
    a call is `chain`'s `__next__` taking the next item of a list, with no Python frame per
    value (a generator's `yield from` resumed a frame per value: 2-3% of a request-level
    run, which draws once or twice per event); `draw` is called once per block, when the
    previous block is used up, as before."""
    blocks = map(lambda _: draw(BLOCK).tolist(), repeat(None))
    return chain.from_iterable(blocks).__next__


class _HasMean(Protocol):
    """A family that states its mean (all but empirical, which overrides `mean_s`)."""

    @property
    def mean(self) -> float: ...


class _HasCv(Protocol):
    """A family that states its cv (the others override `cv_value`)."""

    @property
    def cv(self) -> float: ...


class _Distribution(ScenarioModel):
    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        raise NotImplementedError

    def sampler(self, rng: np.random.Generator) -> Callable[[], float]:
        """A fast source of single values, for the simulation's hot path."""
        return block_stream(lambda size: self.draw(rng, size))

    @property
    def mean_s(self: _HasMean) -> float:
        """The mean in seconds (every family but empirical states it as `mean`)."""
        return self.mean

    @property
    def cv_value(self: _HasCv) -> float:
        """The coefficient of variation (stated as `cv` by the families that have one)."""
        return self.cv


class Exponential(_Distribution):
    """Memoryless: the service or inter-arrival time of the textbook M/M/c queue (cv = 1)."""

    key_hints: ClassVar[dict[str, str]] = {
        "cv": "an exponential always has cv 1; use gamma or lognormal for another cv"
    }

    distribution: Literal["exponential"] = knob("exponential", "distribution family")
    mean: Duration = knob(1.0, "mean", "s", gt=0)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)

    @property
    def cv_value(self) -> float:
        return 1.0


class Constant(_Distribution):
    """Always the same value (cv = 0): the D in M/D/1."""

    key_hints: ClassVar[dict[str, str]] = {
        "cv": "a constant always has cv 0; use gamma or lognormal for another cv"
    }

    distribution: Literal["constant"] = knob("constant", "distribution family")
    mean: Duration = knob(1.0, "the value", "s", ge=0)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, self.mean)

    def sampler(self, rng: np.random.Generator) -> Callable[[], float]:
        value = self.mean
        return lambda: value

    @property
    def cv_value(self) -> float:
        return 0.0


class LogNormal(_Distribution):
    """Right-skewed with a long tail, as measured service times usually are."""

    distribution: Literal["lognormal"] = knob("lognormal", "distribution family")
    mean: Duration = knob(1.0, "mean", "s", gt=0)
    cv: float = knob(1.0, "coefficient of variation (standard deviation / mean)", "-", gt=0)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


class Gamma(_Distribution):
    """Any cv from one family: cv < 1 is more regular than exponential, cv > 1 burstier."""

    distribution: Literal["gamma"] = knob("gamma", "distribution family")
    mean: Duration = knob(1.0, "mean", "s", gt=0)
    cv: float = knob(1.0, "coefficient of variation (standard deviation / mean)", "-", gt=0)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)


class Uniform(_Distribution):
    """Flat between mean·(1 − √3·cv) and mean·(1 + √3·cv); cv ≤ 1/√3 keeps it non-negative."""

    distribution: Literal["uniform"] = knob("uniform", "distribution family")
    mean: Duration = knob(1.0, "mean", "s", gt=0)
    cv: float = knob(
        0.5, "coefficient of variation; at most 1/√3 ≈ 0.577 so no value is negative", "-", ge=0
    )

    @field_validator("cv")
    @classmethod
    def _non_negative_values(cls, cv: float) -> float:
        if cv > 1 / math.sqrt(3) + 1e-12:
            raise ValueError(f"expected at most 0.577 (1/√3) so no value is negative, got {cv}")
        return cv

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        half_width = math.sqrt(3) * self.cv * self.mean
        return rng.uniform(self.mean - half_width, self.mean + half_width, size)


class Empirical(_Distribution):
    """Resampled (with replacement) from measured values: a list, or a CSV file of samples."""

    distribution: Literal["empirical"] = knob("empirical", "distribution family")
    samples: tuple[Duration, ...] | None = knob(None, "the measured values", "s")
    file: str | None = knob(
        None, "CSV of measured values, relative to the scenario file (one value per row)"
    )
    column: str | int = knob(0, "the CSV column to read: its header name or its index")
    mean: Duration | None = knob(
        None, "if given, the samples are scaled so that their mean is this value", "s", gt=0
    )

    _loaded: tuple[float, ...] = PrivateAttr(())

    @model_validator(mode="after")
    def _load_samples(self, info: ValidationInfo) -> Empirical:
        if (self.samples is None) == (self.file is None):
            raise ValueError("give exactly one of 'samples' (a list) or 'file' (a CSV path)")
        if self.file is not None:
            path = data_file(info.context, self.file, "a CSV file of samples")
            self._loaded = _read_samples(path, self.column, self.file)
        else:
            self._loaded = tuple(self.samples or ())
        if not self._loaded:
            raise ValueError("expected at least one sample")
        if any(value < 0 for value in self._loaded):
            raise ValueError("expected non-negative samples")
        if self.mean is not None and sum(self._loaded) == 0:
            raise ValueError("cannot scale samples that are all zero to a mean")
        return self

    @property
    def values(self) -> np.ndarray:
        values = np.asarray(self._loaded, dtype=float)
        if self.mean is not None:
            values = values * (self.mean / values.mean())
        return values

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(self.values, size)

    def sampler(self, rng: np.random.Generator) -> Callable[[], float]:
        values = self.values
        return block_stream(lambda size: rng.choice(values, size))

    @property
    def mean_s(self) -> float:
        return float(self.values.mean())

    @property
    def cv_value(self) -> float:
        values = self.values
        mean = values.mean()
        return float(values.std() / mean) if mean > 0 else 0.0


def _read_samples(path: Path, column: str | int, name: str) -> tuple[float, ...]:
    """Samples from one column of a CSV; errors name the file, line and column, never a
    cell's content."""
    where = repr(name)
    text = read_text(path, name)
    try:
        rows = [
            (line, row)
            for line, row in enumerate(csv.reader(text.splitlines(), strict=True), start=1)
            if any(cell.strip() for cell in row)
        ]
    except csv.Error:
        raise ValueError(f"{where}: unclosed or misplaced quote") from None
    if not rows:
        raise ValueError(f"expected samples in {where}, but it is empty")
    header = [cell.strip() for cell in rows[0][1]]
    if isinstance(column, str):
        if column not in header:
            raise ValueError(f"{where} has no column {column!r} in its header (line 1)")
        index, rows = header.index(column), rows[1:]
    else:
        index = column
        try:
            parse_duration(header[index])
        except (ValueError, IndexError):
            rows = rows[1:]  # the first row is a header
    values = []
    for line, row in rows:
        if not -len(row) <= index < len(row):
            raise ValueError(f"{where} line {line}: expected a column {column}, got {len(row)}")
        try:
            value = parse_duration(row[index].strip())
        except ValueError:
            raise ValueError(
                f"{where} line {line}: expected a duration such as 0.25 or 250ms"
            ) from None
        if not math.isfinite(value):
            raise ValueError(f"{where} line {line}: expected a finite duration")
        values.append(value)
    return tuple(values)


Distribution = Annotated[
    Exponential | Constant | LogNormal | Gamma | Uniform | Empirical,
    Field(discriminator="distribution"),
]
"""A distribution of durations, chosen by its `distribution` key."""
