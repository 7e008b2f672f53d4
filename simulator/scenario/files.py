"""Which files a scenario may read: confined to where scenarios live, and read quietly.

A scenario's `extends:` presets and data files (replayed rates, empirical samples) resolve
inside the scenario's own folder tree, the working folder and the shipped scenarios.
Anything else needs the user's word on the command line (`--allow-path DIR`) or in the
Python API (`load_scenario(..., allow=[DIR])`): a scenario passed around between teams
must not read `/etc/shadow` and show a line of it in an error. Errors name files and keys,
never a line of a file's content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any


def _shipped() -> Path:
    """The scenarios shipped inside the package (`simulator/scenarios/`, package data), as
    a folder on disk: installed from a wheel, editable or in a checkout alike. The
    checkout's top-level `scenarios` is a symbolic link to it."""
    folder = resources.files("simulator").joinpath("scenarios")
    return Path(str(folder)).resolve()


SHIPPED = _shipped()
"""The shipped scenarios (package data; a zipped install, which has no folder, is not
supported)."""


def shipped_name(source: str | Path) -> Path:
    """`source` as a file to read: itself if it exists (a path wins over a name), else the
    shipped scenario of that name, with or without `.yaml` (`validation/mmc`,
    `eras/sre.yaml`, `scenarios/eras/sre`), else `source` unchanged, for the caller's
    "file not found"."""
    path = Path(source)
    if path.exists() or path.is_absolute():
        return path
    if path.suffix not in (".yaml", ".yml") and path.with_name(f"{path.name}.yaml").is_file():
        return path.with_name(f"{path.name}.yaml")
    return shipped_file(path) or path


def shipped_file(name: str | Path) -> Path | None:
    """The shipped file called `name` (relative to the shipped folder, `.yaml` optional, a
    leading `scenarios/` allowed), or None: how `sresim run eras/sre` and `extends:
    presets/lb-cluster.yaml` find the package's scenarios from any folder."""
    path = Path(name)
    parts = path.parts[1:] if path.parts[:1] == ("scenarios",) else path.parts
    if not parts or path.is_absolute() or ".." in parts:
        return None
    names = [parts[-1]] if path.suffix in (".yaml", ".yml") else [f"{parts[-1]}.yaml", parts[-1]]
    for file_name in names:
        candidate = SHIPPED.joinpath(*parts[:-1], file_name)
        if candidate.is_file():
            return candidate
    return None


MAX_DATA_BYTES = 50_000_000
"""Size of a data file (CSV of rates or samples) read without a `limits` in the context."""


def allowed_roots(base_dir: Path, allow: Iterable[str | Path] = ()) -> tuple[Path, ...]:
    """The folders a scenario whose file is in `base_dir` may read from."""
    roots = [Path(base_dir), Path.cwd(), SHIPPED, *(Path(p) for p in allow)]
    return tuple(dict.fromkeys(root.resolve() for root in roots))


def confine(path: Path, roots: Iterable[Path]) -> Path:
    """`path` resolved (symbolic links followed), if it lies under one of `roots`; else a
    ValueError that names the path and how to allow it."""
    resolved = path.resolve()
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved
    raise ValueError(
        f"{str(path)!r} is outside the scenario's folder, the working folder and the "
        "shipped scenarios; allow its folder with --allow-path (allow= in Python)"
    )


def data_file(context: Mapping[str, Any] | None, name: str, what: str) -> Path:
    """The data file `name` of a scenario being validated with `context` (base_dir, roots),
    checked to be an allowed, existing, regular file of bounded size (ValueError if not)."""
    context = context or {}
    base = Path(context.get("base_dir", "."))
    roots = context.get("roots") or allowed_roots(base)
    path = confine(base / name, roots)
    if not path.exists():
        raise ValueError(f"expected {what}, but {name!r} does not exist (in {str(base)!r})")
    if not path.is_file():
        raise ValueError(f"expected {what}, but {name!r} is a folder or not a regular file")
    limit = int(context.get("max_data_bytes", MAX_DATA_BYTES))
    size = path.stat().st_size
    if size > limit:
        raise ValueError(
            f"{name!r} is {size:,} bytes, more than the limit of {limit:,} (max_data_bytes)"
        )
    return path


def read_text(path: Path, name: str) -> str:
    """A data file's text as UTF-8; a ValueError naming the file (not its bytes) if not."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"expected a UTF-8 text file, {name!r} is not") from None
    except OSError as error:
        raise ValueError(f"cannot read {name!r}: {error.strerror or 'unreadable'}") from None
