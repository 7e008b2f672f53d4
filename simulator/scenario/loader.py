"""From YAML (or a mapping) to a validated Scenario: presets, overrides and clear errors.

Loading never executes code: YAML is read with the safe loader, which builds only plain
mappings, lists and scalars. It never takes the machine either: files, nesting, anchors
and generated topologies are bounded by `Limits` (see `limits.py`), and files are read only
where `files.py` allows.
"""

from __future__ import annotations

import copy
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ScenarioError
from .base import suggest
from .files import allowed_roots, confine, shipped_file, shipped_name
from .generators import TopologyError, expand_topology
from .limits import Limits, check_data_shape, check_yaml_shape, generated_services
from .mappings import deep_merge
from .messages import first_error
from .schema import Scenario

MAPPING_SOURCE = "<mapping>"


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys (plain YAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)

_FastLoader: type[Any] | None = None
"""The same loader on libyaml's parser (`yaml.CSafeLoader`: about 5x faster on a large
scenario) when PyYAML was built with it; the constructors and resolver are the same Python
ones, so the data is the same. Only for text that loads without error: any problem is
reported by the pure-Python `_StrictLoader`, whose messages and positions the tests fix."""
if getattr(yaml, "__with_libyaml__", False):
    _FastLoader = type("_FastLoader", (yaml.CSafeLoader,), {})
    _FastLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _load_yaml(text: str) -> Any:
    """YAML text to data with `_StrictLoader`'s result and errors, on libyaml when it can:
    text that the pure-Python reader would refuse, or that libyaml does not load, goes
    through `_StrictLoader` itself."""
    if _FastLoader is not None and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            return yaml.load(text, Loader=_FastLoader)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=_StrictLoader)


_STR_TAG = yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG
_FULL = object()
"""`_load_plain`'s answer for text it leaves to the full path (`check_yaml_shape`, then
`_load_yaml`)."""


def _load_plain(text: str, limits: Limits) -> Any:
    """A scenario's data in one pass over libyaml's events, when the text is plain YAML
    within `limits`: one document of mappings, lists and untagged scalars, no anchor, alias,
    merge key or duplicate key. Anything else (and any error) is `_FULL`: the full path
    checks the shape and loads the text as before, with its messages.

    The full path parses a large scenario twice (the shape check's events, then libyaml's
    node graph for the constructor): about a tenth of a second of sre-1000's CPU. Here the
    events are walked once and the data built from them with the loader's own resolver and
    constructors (a scalar's tag from its text, then the constructor of that tag), so the
    data are equal to `_load_yaml`'s; the counts and depth are those `check_yaml_shape`
    checks (without aliases, every node counts once), and text beyond them goes the full
    way, which refuses it."""
    if _FastLoader is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return _FULL
    loader = _FastLoader(text)
    try:
        return _walk_plain(loader, limits)
    except yaml.YAMLError:
        return _FULL
    finally:
        loader.dispose()


def _walk_plain(loader: Any, limits: Limits) -> Any:
    """`_load_plain`'s walk over the events of `loader` (a `_FastLoader`)."""
    resolve, constructors = loader.resolve, loader.yaml_constructors
    scalar_node, str_tag = yaml.ScalarNode, _STR_TAG
    plain: dict[str, Any] = {}  # an unquoted scalar's value by its text (all immutable)
    stack: list[Any] = []  # the open collections
    keys: list[Any] = []  # per open mapping: its key waiting for a value (_FULL: none)
    documents, nodes, max_depth, max_nodes = 0, 0, limits.max_depth, limits.max_nodes
    root: Any = _FULL
    while True:
        event = loader.get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor is not None or event.tag is not None:
                return _FULL
            text = event.value
            if not event.implicit[0]:  # quoted, or a block scalar: a string
                value = text
            else:
                value = plain.get(text, _FULL)
                if value is _FULL:
                    tag = resolve(scalar_node, text, event.implicit)
                    if tag == str_tag:
                        value = text
                    elif tag in constructors and not tag.endswith((":merge", ":value")):
                        value = constructors[tag](loader, scalar_node(tag, text))
                    else:
                        return _FULL
                    plain[text] = value
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or event.tag is not None or len(stack) >= max_depth:
                return _FULL
            nodes += 1
            if stack and type(stack[-1]) is dict and keys[-1] is _FULL:
                return _FULL  # a collection as a key
            stack.append({} if kind is yaml.MappingStartEvent else [])
            keys.append(_FULL)
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            value = stack.pop()
            keys.pop()
            nodes -= 1  # counted at its start
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                return _FULL
            continue
        elif kind is yaml.StreamEndEvent:
            return root if documents == 1 else _FULL
        elif kind is yaml.AliasEvent:
            return _FULL
        else:  # the stream's start, a document's end
            continue
        nodes += 1
        if nodes > max_nodes:
            return _FULL
        if not stack:
            root = value
            continue
        parent = stack[-1]
        if type(parent) is list:
            parent.append(value)
        elif keys[-1] is _FULL:
            if value in parent:
                return _FULL  # a duplicate key: the full path says where
            keys[-1] = value
        else:
            parent[keys[-1]] = value
            keys[-1] = _FULL


def load_scenario(
    source: str | Path | Mapping[str, Any] | Scenario,
    overrides: Mapping[str, Any] | Iterable[str] | str | None = None,
    *,
    limits: Limits | None = None,
    allow: Iterable[str | Path] = (),
) -> Scenario:
    """A validated Scenario from a YAML file or a mapping, with `dotted.path` overrides applied.

    Overrides are a mapping (`{"services.api.replicas": 8}`) or `"path=value"` strings as on
    the command line (one string is one override), where the value is read as YAML (`8`,
    `3.6/s`, `{mean: 2s}`). `limits` bounds what loading may take (default: `Limits` raised
    by `SRESIM_LIMITS`); presets and data files are read only inside the scenario's folder,
    the working folder, the shipped scenarios and the folders in `allow`. A path that does
    not exist is looked up among the shipped scenarios (`"validation/mmc"`), as is a preset
    that `extends:` names and the scenario's folder does not have.
    Raises ScenarioError, whose message is one line naming the file, the key and what was
    expected.
    """
    limits = limits if limits is not None else Limits.from_environment()
    if isinstance(source, Scenario):
        if not overrides:
            return source
        label, base_dir = source.source, source.base_dir
        # what it left out stays left out: a default spelt out would switch on models
        # the file never asked for (those that read `model_fields_set`)
        data = source.model_dump(mode="json", exclude_unset=True)
    elif isinstance(source, Mapping):
        label, base_dir = MAPPING_SOURCE, Path.cwd()
        check_data_shape(source, label, limits)
        data = copy.deepcopy(dict(source))
        roots = allowed_roots(base_dir, allow)
        data = _resolve_extends(data, label, base_dir, (), roots, limits)
    elif isinstance(source, str | Path):
        path = shipped_name(source)
        label, base_dir = str(path), path.parent
        roots = allowed_roots(base_dir, allow)
        data = _read_with_presets(path, (), roots, limits)
    else:
        raise ScenarioError(
            "<arguments>",
            "scenario",
            f"expected a file path, a mapping or a Scenario, got {type(source).__name__}",
        )
    roots = allowed_roots(base_dir, allow)
    parsed = _parse_overrides(overrides, label, limits)
    generated = [(k, v) for k, v in parsed if k == "topology" or k.startswith("topology.")]
    for dotted, value in generated:  # first, so that --set can reach generated services
        _apply_override(data, dotted, value, label)
    data = _expand_topology(data, label, base_dir, limits)
    for dotted, value in parsed:
        if (dotted, value) not in generated:
            _apply_override(data, dotted, value, label)
    services = data.get("services")
    if isinstance(services, Mapping) and len(services) > limits.max_services:
        raise ScenarioError(
            label,
            "services",
            f"{len(services):,} services, more than the limit of {limits.max_services:,}; "
            "raise it with --limit max_services=N",
        )
    context = {
        "base_dir": base_dir,
        "roots": roots,
        "max_data_bytes": limits.max_data_bytes,
    }
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as error:
        raise _first_error(error, label, data, overrides) from None
    except RecursionError:
        raise ScenarioError(label, "", "nested too deeply to check") from None
    scenario._source, scenario._base_dir = label, base_dir
    return scenario


def _expand_topology(
    data: dict[str, Any], label: str, base_dir: Path, limits: Limits
) -> dict[str, Any]:
    if not data.get("topology"):
        return data
    count, key = generated_services(data["topology"])
    if count > limits.max_services:
        size = f"{count:,.0f}" if count < 1e15 else "more than 10^15"
        raise ScenarioError(
            label,
            key,
            f"would generate {size} services, more than the limit of "
            f"{limits.max_services:,}; lower {key.split('.')[-1]} or raise --limit "
            "max_services=N",
        )
    try:
        return expand_topology(data, base_dir)
    except TopologyError as error:
        raise ScenarioError(label, error.key, error.message) from None


def _unshared(value: Any) -> Any:
    """A copy with no shared parts: YAML anchors (&a, *a) would otherwise make one override
    change every place that used the anchor."""
    if isinstance(value, dict):
        return {key: _unshared(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshared(item) for item in value]
    return value


def _read_yaml(path: Path, limits: Limits) -> dict[str, Any]:
    label = str(path)
    if not path.exists():
        raise ScenarioError(label, "", "file not found")
    if not path.is_file():
        raise ScenarioError(label, "", "expected a YAML file, found a folder or something else")
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise ScenarioError(
                label,
                "",
                f"{size:,} bytes, more than the limit of {limits.max_file_bytes:,} for a "
                "scenario file (max_file_bytes)",
            )
        with path.open("rb") as handle:  # the size may change between stat and read
            raw = handle.read(limits.max_file_bytes + 1)
    except OSError as error:
        raise ScenarioError(label, "", f"cannot read: {error.strerror or 'unreadable'}") from None
    if len(raw) > limits.max_file_bytes:
        raise ScenarioError(
            label, "", f"more than the limit of {limits.max_file_bytes:,} bytes (max_file_bytes)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(label, "", "expected a UTF-8 text file") from None
    data = _load_plain(text, limits)  # without anchors: no part shared, none to copy
    shared = data is _FULL
    if shared:
        data = _parse_yaml(text, label, limits)
    if data is None:
        raise ScenarioError(
            label, "", "the file is empty; expected a mapping of keys (services:, traffic:, ...)"
        )
    if not isinstance(data, dict):
        raise ScenarioError(label, "", f"expected a mapping of keys, got {type(data).__name__}")
    return _unshared(data) if shared else data


def _parse_yaml(text: str, label: str, limits: Limits) -> Any:
    """YAML text to plain data, refusing duplicate keys and shapes beyond `limits`; errors
    give the position and PyYAML's problem, never the text."""
    check_yaml_shape(text, label, limits)
    try:
        return _load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScenarioError(label, "", f"malformed YAML: {where}{problem}") from None
    except RecursionError:  # not reached within max_depth; kept as a last guard
        raise ScenarioError(label, "", "nested too deeply (max_depth)") from None


def _read_with_presets(
    path: Path, seen: tuple[Path, ...], roots: tuple[Path, ...], limits: Limits
) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ScenarioError(str(path), "extends", f"presets extend each other in a cycle: {chain}")
    if len(seen) >= limits.max_depth:
        raise ScenarioError(str(path), "extends", f"more than {limits.max_depth} presets deep")
    data = _read_yaml(path, limits)
    return _resolve_extends(data, str(path), path.parent, (*seen, resolved), roots, limits)


def _resolve_extends(
    data: dict[str, Any],
    label: str,
    base_dir: Path,
    seen: tuple[Path, ...],
    roots: tuple[Path, ...],
    limits: Limits,
) -> dict[str, Any]:
    """Merge the presets named by `extends:` under this file's keys, later keys winning."""
    parents = data.pop("extends", None)
    if parents is None:
        return data
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise ScenarioError(label, "extends", "expected a file path or a list of file paths")
    merged: dict[str, Any] = {}
    for parent in parents:
        parent_path = base_dir / parent
        if not parent_path.exists():  # a shipped preset, by its name in the package
            parent_path = shipped_file(parent) or parent_path
        try:
            confine(parent_path, roots)
        except ValueError as error:
            raise ScenarioError(label, "extends", f"preset {error}") from None
        if not parent_path.exists():
            raise ScenarioError(label, "extends", f"preset {parent!r} not found in {base_dir}")
        merged = deep_merge(merged, _read_with_presets(parent_path, seen, roots, limits))
    return deep_merge(merged, data)


# ---------------------------------------------------------------------------- overrides


def _parse_overrides(
    overrides: Mapping[str, Any] | Iterable[str] | str | None, label: str, limits: Limits
) -> list[tuple[str, Any]]:
    if overrides is None:
        return []
    if isinstance(overrides, str):  # one override, not its characters
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        check_data_shape(dict(overrides), "overrides", limits)
        return [(str(k), v) for k, v in overrides.items()]
    if not isinstance(overrides, Iterable):
        raise ScenarioError(
            label,
            "",
            "expected overrides as a mapping or a list of 'path=value' strings, "
            f"got {type(overrides).__name__}",
        )
    parsed = []
    for item in overrides:
        if not isinstance(item, str):
            raise ScenarioError(
                label, "", f"expected an override 'path=value' string, got {type(item).__name__}"
            )
        if "=" not in item:
            raise ScenarioError(label, item, "expected an override of the form dotted.path=value")
        dotted, text = item.split("=", 1)
        if len(text) > limits.max_file_bytes:
            raise ScenarioError(label, dotted, "override longer than max_file_bytes")
        check_yaml_shape(text, f"{label}: --set {dotted.strip()}", limits)
        try:
            value = _load_yaml(text)
        except yaml.YAMLError:
            value = text
        parsed.append((dotted.strip(), _unshared(value)))
    return parsed


def _apply_override(data: dict[str, Any], dotted: str, value: Any, label: str) -> None:
    """Set one `dotted.path`, which must name a field of the schema or an existing entry."""
    parts = dotted.split(".")
    if not dotted or any(not part for part in parts):
        raise ScenarioError(label, dotted, "expected a dotted path such as services.api.replicas")
    where = f"--set {dotted}"
    model: Any = Scenario
    node: Any = data
    depth = 0
    part: str | int  # a key, or an index once inside a list
    while depth < len(parts):
        part = parts[depth]
        model = _unwrap(model, node)
        keyed = isinstance(model, type) and issubclass(model, BaseModel)
        if (keyed or _origin(model) in (dict, Mapping)) and not isinstance(node, dict):
            path = ".".join(parts[:depth])
            raise ScenarioError(label, path, f"expected a mapping to go inside ({where})")
        if keyed:
            fields = model.model_fields
            if part not in fields:
                hints = getattr(model, "key_hints", {})
                hint = hints.get(part) or suggest(part, list(fields))
                path = ".".join(parts[: depth + 1])
                raise ScenarioError(label, path, f"no such key ({where}); {hint}")
            model = fields[part].annotation
        elif _origin(model) in (dict, Mapping):
            # Map keys may hold dots ("m5.large"): take the longest run of parts that is a key.
            have = node if isinstance(node, dict) else {}
            for end in range(len(parts), depth, -1):
                if ".".join(parts[depth:end]) in have:
                    part = ".".join(parts[depth:end])
                    parts = [*parts[:depth], part, *parts[end:]]
                    break
            else:
                path = ".".join(parts[: depth + 1])
                raise ScenarioError(
                    label, path, f"no such entry ({where}); {suggest(part, list(have))}"
                )
            model = typing.get_args(model)[1]
        elif _origin(model) in (list, tuple):
            if not isinstance(node, list) or not part.isdigit() or int(part) >= len(node):
                size = len(node) if isinstance(node, list) else 0
                path = ".".join(parts[: depth + 1])
                raise ScenarioError(
                    label, path, f"no such entry ({where}); expected an index below {size}"
                )
            model = typing.get_args(model)[0]
            part = int(part)
        else:
            path = ".".join(parts[: depth + 1])
            raise ScenarioError(
                label, path, f"cannot go inside a single value ({where}); it has no keys"
            )
        if depth == len(parts) - 1:
            node[part] = value
            return
        if isinstance(node, dict) and not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
        depth += 1


def _origin(annotation: Any) -> Any:
    return typing.get_origin(annotation)


def _unwrap(annotation: Any, node: Any) -> Any:
    """The concrete type behind Annotated, Optional and tagged unions, given the data there."""
    while True:
        origin = _origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = _pick_member(members, node)
        else:
            return annotation


def _pick_member(members: list[Any], node: Any) -> Any:
    """The member of a union that the data there is: by its tag (`distribution: gamma`), or
    by its keys (a handler step is a `work`, `call` or `parallel` mapping)."""
    members = [typing.get_args(m)[0] if _origin(m) is typing.Annotated else m for m in members]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if models and isinstance(node, dict):
        for model in models:
            for name, field in model.model_fields.items():
                tag = typing.get_args(field.annotation)
                if _origin(field.annotation) is typing.Literal and node.get(name) in tag:
                    return model
        for model in models:
            if node and set(node) <= set(model.model_fields):
                return model
        return models[0]
    containers = [m for m in members if _origin(m) in (dict, list, tuple, Mapping)]
    if containers:
        return containers[0]
    return models[0] if models else members[0]


# ---------------------------------------------------------------------------- errors


def _first_error(
    error: ValidationError,
    label: str,
    data: dict[str, Any],
    overrides: Mapping[str, Any] | Iterable[str] | str | None,
) -> ScenarioError:
    """One line for the first problem, with the key path as the user wrote it."""
    path, message = first_error(error, data)
    dotted = ".".join(path)
    override_keys = _override_keys(overrides)
    source = next((k for k in override_keys if dotted == k or dotted.startswith(k + ".")), None)
    if source is not None:
        message = f"{message} (from --set {source})"
    return ScenarioError(label, dotted, message)


def _override_keys(overrides: Mapping[str, Any] | Iterable[str] | str | None) -> list[str]:
    if overrides is None:
        return []
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        return [str(k) for k in overrides]
    return [str(item).split("=", 1)[0].strip() for item in overrides]
