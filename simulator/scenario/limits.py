"""Limits that keep a careless or hostile scenario from taking the machine.

Two kinds: what loading may take (file size, nesting depth, nodes after YAML anchors are
expanded, generated services), checked here while a file is read; and what a run may take
(simulated visits, analytic steps, samples, memory), estimated before anything runs by
`simulator.budget`. The defaults fit a laptop; a bigger machine raises them on the command
line (`--limit max_requests=1e9`) or in the environment (`SRESIM_LIMITS="max_memory=64GB"`),
never in a scenario file, which may come from anyone.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ScenarioError

ENVIRONMENT = "SRESIM_LIMITS"

_SIZE_RE = re.compile(r"^\s*([0-9.eE+]+)\s*([kKMGTP])?(i)?B?\s*$")
_PREFIXES = " KMGTP"


@dataclass(frozen=True)
class Limits:
    """What one scenario may take. Counts are per run unless they say otherwise."""

    max_file_bytes: int = 2_000_000
    """Size of one scenario, preset or data file (the shipped ones are below 100 kB)."""
    max_data_bytes: int = 50_000_000
    """Size of one data file (replayed rates, empirical samples)."""
    max_depth: int = 64
    """Nesting of mappings and lists in a scenario file or an override."""
    max_nodes: int = 200_000
    """Keys, values and list items of a scenario file after YAML anchors are expanded."""
    max_services: int = 20_000
    """Services in a scenario, generated ones included."""
    max_requests: float = 1e8
    """Visits to services simulated at request level, over all replications together."""
    max_analytic_steps: float = 1e8
    """Analytic time steps × services, over all replications together."""
    max_samples: float = 2e7
    """Timeseries samples × services of one run."""
    max_replications: int = 100_000
    """Replications of one scenario."""
    max_memory: float = 4e9
    """Bytes one run is estimated to hold (records, samples, analytic arrays)."""

    def raised(self, settings: Iterable[str]) -> Limits:
        """These limits with `name=value` settings applied (from the command line or the
        environment); unknown names and bad values are ScenarioErrors."""
        values: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(self)}
        for setting in settings:
            name, _, text = setting.partition("=")
            name = name.strip()
            if name not in fields or not text.strip():
                from .base import suggest

                raise ScenarioError(
                    "--limit",
                    name,
                    "expected NAME=VALUE with NAME one of the limits; "
                    + (suggest(name, list(fields)) if name not in fields else "give a value"),
                )
            number = parse_amount(text, name)
            values[name] = int(number) if fields[name].type in (int, "int") else number
        return dataclasses.replace(self, **values)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, raised (or lowered) by `SRESIM_LIMITS="name=value,name=value"`."""
        text = (os.environ if environ is None else environ).get(ENVIRONMENT, "")
        settings = [part for part in re.split(r"[,\s]+", text) if part]
        try:
            return cls().raised(settings)
        except ScenarioError as error:
            raise ScenarioError(ENVIRONMENT, error.path, error.message) from None


def parse_amount(text: str, name: str = "") -> float:
    """A positive number, with an optional size suffix: `1e9`, `500000`, `64GB`, `512MiB`."""
    match = _SIZE_RE.match(text)
    number = math.nan
    if match:
        try:
            number = float(match[1])
        except ValueError:
            number = math.nan
        prefix = (match[2] or "").upper()
        number *= (1024.0 if match[3] else 1000.0) ** _PREFIXES.index(prefix) if prefix else 1.0
    if not math.isfinite(number) or number <= 0:
        raise ScenarioError(
            "--limit", name, f"expected a positive number such as 1e9 or 64GB, got {text!r}"
        )
    return number


def human_bytes(value: float) -> str:
    """A byte count for a message: 1.2 GB, 850 MB, 8.1 TB."""
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            amount = value / size
            return f"{amount:.2g} {unit}" if amount < 10 else f"{amount:,.0f} {unit}"
    return f"{value:.0f} B"


# ---------------------------------------------------------------------------- YAML shape


def check_yaml_shape(text: str, label: str, limits: Limits) -> None:
    """Refuse YAML nested deeper than `max_depth`, or with more than `max_nodes` nodes once
    every alias is expanded (a "billion laughs" file), before anything is built.

    Walks PyYAML's event stream, which is produced without recursion, keeping one counter
    per open collection: an anchored node's expanded size is remembered, and an alias adds
    it, so the count is exact and never materialised. The events come from libyaml's
    parser when PyYAML has it (the same events, far faster); if that walk refuses the text
    or libyaml cannot parse it, the pure-Python parser walks it again, so refusals and their
    messages are the pure-Python ones.
    """
    fast = getattr(yaml, "CSafeLoader", None) if getattr(yaml, "__with_libyaml__", False) else None
    if fast is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            _walk_shape(text, label, limits, fast)
            return
        except (ScenarioError, yaml.YAMLError):
            pass
    try:
        _walk_shape(text, label, limits, yaml.SafeLoader)
    except yaml.YAMLError:
        return  # the loader reports malformed YAML with its position


def _walk_shape(text: str, label: str, limits: Limits, loader: Any) -> None:
    """`check_yaml_shape` on the events of one parser (`loader`: its Loader class)."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, nodes so far] per open collection
    total = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) > limits.max_depth:
                line = event.start_mark.line + 1 if event.start_mark else 0
                raise ScenarioError(
                    label,
                    "",
                    f"nested deeper than {limits.max_depth} levels at line {line}; "
                    "the limit is max_depth",
                )
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if stack:
            stack[-1][1] += size
        else:
            total += size
        if (stack[0][1] if stack else 0) + total > limits.max_nodes:
            raise ScenarioError(
                label,
                "",
                f"more than {limits.max_nodes:,} keys and values once anchors (&, *) are "
                "expanded; the limit is max_nodes",
            )


def check_data_shape(data: Any, label: str, limits: Limits) -> None:
    """The same limits on a mapping given through the Python API (which may even contain
    itself): walked with an explicit stack, never by recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise ScenarioError(
                label, "", f"more than {limits.max_nodes:,} keys and values; the limit is max_nodes"
            )
        if isinstance(value, Mapping | list | tuple):
            if depth > limits.max_depth:
                raise ScenarioError(
                    label,
                    "",
                    f"nested deeper than {limits.max_depth} levels (or containing itself); "
                    "the limit is max_depth",
                )
            items = value.values() if isinstance(value, Mapping) else value
            stack.extend((item, depth + 1) for item in items)


def generated_services(section: Any) -> tuple[float, str]:
    """How many services a raw `topology:` mapping would generate, and the key that drives
    it, without generating them (inf when the numbers are absurd; 0 when not yet valid)."""
    if not isinstance(section, Mapping):
        return 0.0, ""

    def whole(key: str, default: int) -> int | None:
        value = section.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    generator = section.get("generator")
    if generator == "chain":
        length = whole("length", 3)
        return (float(length), "topology.length") if length else (0.0, "")
    if generator == "random-dag":
        services = whole("services", 10)
        return (float(services), "topology.services") if services else (0.0, "")
    if generator == "fan-out-tree":
        depth, fanout = whole("depth", 3), whole("fanout", 2)
        if not depth or not fanout or depth < 1 or fanout < 1:
            return 0.0, ""
        if fanout == 1:
            return float(depth), "topology.depth"
        if depth * math.log10(fanout) > 12:
            return math.inf, "topology.depth"
        return float((fanout**depth - 1) // (fanout - 1)), "topology.depth"
    return 0.0, ""
