"""The scenario format as a JSON Schema, for editors: completion, hover text and inline
errors while a scenario is typed (`sresim schema`; docs/editors.md).

It is generated from the pydantic models, so it cannot drift from what the loader accepts,
with what the models alone do not say: durations, rates and prices may be written as
strings with units (`250ms`, `3.6/s`, `$0.096/h`) or as plain numbers, and a file may name
presets in `extends:`. Keys that are required are not marked required, except those that
choose a variant (`kind:`): a file that extends a preset may leave them to the preset, and
`sresim validate`, which reads the presets, says what is missing. Unknown keys are errors,
as they are for the loader.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from .schema import Scenario
from .units import (
    _NUMBER,
    DURATION_UNITS,
    MONEY_UNITS,
    RATE_UNITS,
    SECONDS_PER,
    parse_duration,
    parse_money_per_hour,
    parse_rate,
)

SCHEMA_ID = "https://sre-sandbox.invalid/scenario.schema.json"
"""A name for the schema, not a place to fetch it from: editors get the file itself."""

_UNIT = "(?:" + "|".join(sorted(map(re.escape, SECONDS_PER), key=len, reverse=True)) + ")"

_TEXT_FORMS: dict[Any, tuple[str, str]] = {
    parse_duration: (rf"^\s*{_NUMBER}\s*{_UNIT}?\s*$", f"a duration such as {DURATION_UNITS}"),
    parse_rate: (rf"^\s*{_NUMBER}\s*(?:/\s*{_UNIT})?\s*$", f"a rate such as {RATE_UNITS}"),
    parse_money_per_hour: (
        rf"^\s*\$\s*{_NUMBER}\s*(?:/\s*{_UNIT})?\s*$",
        f"a price such as {MONEY_UNITS}",
    ),
}
"""The parsers of human units, and the text each accepts (the same grammar as units.py)."""


_DURATION: JsonSchemaValue = {
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": _TEXT_FORMS[parse_duration][0]}]
}

_SHORTHANDS: dict[str, JsonSchemaValue] = {
    "simulator.scenario.calls.Work._shorthand": _DURATION,
    "simulator.scenario.topology.Topology._shorthand": _DURATION,
    "simulator.scenario.cluster._mean_means_exponential": _DURATION,
    "simulator.scenario.cluster._mean_means_geometric": {"type": "number"},
    "simulator.scenario.profiles.DiurnalProfile._clock_time": {
        "type": "string",
        "pattern": r"^\s*\d{1,2}:\d{2}\s*$",
    },
}
"""The short forms the models' own validators expand (`work: 5ms` is an exponential with
that mean), by validator; `test_schema` fails when a shipped scenario uses one not here."""


class _EditorSchema(GenerateJsonSchema):
    """pydantic's schema, with numbers in human units also allowed as text, and the
    models' short forms beside their long ones."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        function = schema["function"].get("function")
        form = _TEXT_FORMS.get(function)
        if form is not None:
            pattern, description = form
            text = {"type": "string", "pattern": pattern, "description": f"{description}"}
            return {"anyOf": [inner, text]}
        name = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', '')}"
        short = _SHORTHANDS.get(name)
        return inner if short is None else {"anyOf": [inner, short]}


def scenario_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, as written by people."""
    schema = Scenario.model_json_schema(mode="validation", schema_generator=_EditorSchema)
    _relax_required(schema)
    schema["properties"]["extends"] = {
        "description": "presets (YAML files) merged under this file's keys, later ones "
        "winning: a path relative to this file, or a shipped preset's name "
        "(presets/lb-cluster.yaml)",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def _relax_required(node: Any) -> None:
    """Drop `required` everywhere but for the keys that pick a variant (a `const` or a
    single-value `enum`), which a union of variants needs to tell them apart."""
    if isinstance(node, dict):
        required = node.get("required")
        if isinstance(required, list):
            properties = node.get("properties", {})
            kept = [key for key in required if _picks_variant(properties.get(key, {}))]
            if kept:
                node["required"] = kept
            else:
                del node["required"]
        for value in node.values():
            _relax_required(value)
    elif isinstance(node, list):
        for value in node:
            _relax_required(value)


def _picks_variant(property_schema: Any) -> bool:
    if not isinstance(property_schema, dict):
        return False
    enum = property_schema.get("enum")
    return "const" in property_schema or (isinstance(enum, list) and len(enum) == 1)
