"""Pydantic errors in one line, as a user wrote the data: the key path and what was expected.

Shared by the loader (whole scenarios) and the `topology:` section, which is checked before
the scenario exists, so both word the same mistake the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .base import suggest


def first_error(error: ValidationError, data: Any) -> tuple[list[str], str]:
    """The first problem of `error` (from validating `data`): its key path and message."""
    detail = error.errors(include_url=False)[0]
    path = user_path(detail["loc"], data)
    ctx = detail.get("ctx") or {}
    kind = detail["type"]
    if kind == "unknown_key" or (kind == "extra_forbidden" and path):
        if kind == "unknown_key":
            path = [*path, ctx["key"]]
        message = f"unknown key; {ctx.get('hint', 'not a field of the schema')}"
    elif kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        message = (
            f"unknown {ctx.get('discriminator', 'kind')}; {suggest(str(ctx.get('tag')), tags)}"
        )
        message = message.replace("'distribution'", "distribution")
    elif kind == "union_tag_not_found":
        message = f"missing key {ctx.get('discriminator', '').strip(chr(39))!r}"
    elif kind == "missing":
        message = "required key is missing"
    else:
        message = expected(detail)
        if ctx.get("key"):  # a custom error names the key inside the value it checked
            path = [*path, *str(ctx["key"]).split(".")]
    return [str(part) for part in path], message


def expected(detail: Mapping[str, Any]) -> str:
    """Pydantic's message worded as the rest of the errors: "expected ..., got ..."."""
    message = str(detail["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be"):
        message = "expected " + message.removeprefix("Input should be ").strip()
        value = detail.get("input")
        if not isinstance(value, dict | list):
            message += f", got {value!r}"
    return message


def user_path(loc: tuple[Any, ...], data: Any) -> list[Any]:
    """Drop the parts of pydantic's location that are not in the data (union tags)."""
    path: list[Any] = []
    node = data
    for index, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            path.append(part)
            node = node[part]
        elif index == len(loc) - 1 and _missing(node, part):
            path.append(part)
    return path


def _missing(node: Any, part: Any) -> bool:
    """Whether `part` names a key (or index) missing from `node`, not a union member's tag."""
    if isinstance(node, dict):
        return part not in node.values()
    return isinstance(node, list) and isinstance(part, int)
