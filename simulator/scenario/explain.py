"""The fully resolved scenario as YAML, every default filled in and every key explained.

The output is valid YAML that loads back to the same scenario, so `sresim explain` is also
a way to start a new scenario from an old one.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from .base import unit_of


def explain_yaml(model: BaseModel, comments: bool = True) -> str:
    lines: list[str] = []
    _emit_model(model, model.model_dump(mode="json"), 0, lines, comments)
    return "\n".join(lines) + "\n"


def _emit_model(
    model: BaseModel, data: dict[str, Any], indent: int, lines: list[str], comments: bool
) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        unit = unit_of(field)
        note = f"  # {field.description}" + (f" [{unit}]" if unit != "-" else "")
        _emit(name, value, data[name], indent, lines, note if comments else "", comments)


def _emit(
    key: str, value: Any, data: Any, indent: int, lines: list[str], note: str, comments: bool
) -> None:
    pad = "  " * indent
    if isinstance(value, BaseModel):
        lines.append(f"{pad}{key}:{note}")
        _emit_model(value, data, indent + 1, lines, comments)
    elif isinstance(value, dict) and value:
        lines.append(f"{pad}{key}:{note}")
        for entry, item in value.items():
            _emit(str(entry), item, data[entry], indent + 1, lines, "", comments)
    else:
        lines.append(f"{pad}{key}: {_scalar(data)}{note}")


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()
