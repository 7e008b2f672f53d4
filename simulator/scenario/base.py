"""The base of every scenario model: frozen, strict about keys, every field documented once."""

from __future__ import annotations

import difflib
import types
import typing
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from pydantic.config import JsonDict


def knob(default: Any = ..., description: str = "", unit: str = "-", **kwargs: Any) -> Any:
    """A scenario field with its default, meaning and unit, as `explain` and the docs show."""
    extra: JsonDict = {"unit": unit}
    if "default_factory" in kwargs:
        return Field(description=description, json_schema_extra=extra, **kwargs)
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def unit_of(field_info: Any) -> str:
    extra = field_info.json_schema_extra or {}
    return extra.get("unit", "-") if isinstance(extra, dict) else "-"


def suggest(word: str, choices: list[str]) -> str:
    """A "did you mean" hint, or a list of what is allowed when nothing is close."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [choice for choice in choices if choice.startswith(word)][:1]
    if close:
        return f"did you mean {close[0]!r}?"
    if not choices:
        return "nothing is allowed here"
    return "expected one of: " + ", ".join(sorted(choices))


class ScenarioModel(BaseModel):
    """Scenario parts are immutable values: a run never changes the scenario it was given."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    key_hints: ClassVar[dict[str, str]] = {}
    """Advice for keys people often write here by mistake, instead of "did you mean"."""

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known, known_set, numbers = _keys_of(cls)
            for key in data:
                if key not in known_set:
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key; {hint}",
                        {
                            "key": str(key),
                            "hint": cls.key_hints.get(key) or suggest(str(key), known),
                        },
                    )
            for key, value in data.items():  # pydantic would read true as 1 for a number
                if isinstance(value, bool) and key in numbers:
                    raise PydanticCustomError(
                        "bool_for_number",
                        "expected a number, got {value}",
                        {"key": str(key), "value": str(value).lower()},
                    )
        return data


_KEYS: dict[type, tuple[list[str], frozenset[str], frozenset[str]]] = {}
"""Per model class, once (a large scenario validates thousands of parts): its keys (field
names, then aliases: the order of the "did you mean" choices), the same as a set, and the
names of its number fields that refuse a bool."""


def _keys_of(cls: type[ScenarioModel]) -> tuple[list[str], frozenset[str], frozenset[str]]:
    keys = _KEYS.get(cls)
    if keys is None:
        fields = cls.model_fields
        known = list(fields) + [f.alias for f in fields.values() if f.alias]
        numbers = frozenset(name for name, field in fields.items() if _takes_no_bool(field))
        keys = _KEYS[cls] = (known, frozenset(known), numbers)
    return keys


def _takes_no_bool(field: Any) -> bool:
    """Whether a field is a number (int or float, maybe optional) that cannot be a bool."""
    kinds: set[Any] = set()
    todo = [field.annotation]
    while todo:
        annotation = todo.pop()
        args = typing.get_args(annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            todo.append(args[0])
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            todo.extend(args)
        else:
            kinds.add(annotation)
    return bool(kinds & {int, float}) and bool not in kinds and Any not in kinds
