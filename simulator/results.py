"""What a run gives back: KPIs, tidy tables, and ways to save them."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

TABLE_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class Result:
    """One run: `summary` maps KPI names to numbers; `tables` holds pandas DataFrames.

    Tables of the request model: `requests` (one row per end-to-end request sent after
    warm-up that finished: service (the entry point), replica, arrival, start, end, status,
    attempts), `spans` (one row per visit to a service: service, replica, parent, request,
    attempt, arrival, start, end, responded, status, outcome), `services` (KPIs per service,
    the server's view), `entry_points` (end-to-end KPIs per entry point), `timeseries` (per
    service at a fixed interval: busy, queued, in_system, workers, replicas, and exact
    interval averages utilisation and queued_mean), `costs` (nodes and spend over time),
    `events` (the decision log: time, component, kind, detail) and `scaling` (the
    autoscalers' decisions as numbers: time, target, kind, from, to, reason). The cluster
    scheduler adds `jobs`, `schedulers`, `cluster_utilisation` and `failures`; service
    discovery adds `discovery_changes` and `discovery_convergence`, configuration drift
    `config_drift`, secrets `secret_audit` and `secret_leaks`; the delivery model adds
    `changes`, `deploys`, `incidents`, `operator_work`, `delivery_timeseries`,
    `change_stages`, `lead_time_breakdown` and `incident_timeline`; every run has `scaling`
    (the autoscalers' decisions: time, target, kind, from, to, reason); the analytic
    fidelity adds `entry_timeseries` and leaves `requests` and `spans` empty. A run asked
    for some tables only (`simulator.run(..., tables=...)`) may hold only those.

    `fast_path`: whether the request-level fast path ran it (`simulator.model.fastpath`;
    its decision log says so too), read from the engine, not from a table.
    """

    scenario: Scenario
    seed: int
    summary: dict[str, float]
    tables: dict[str, pd.DataFrame] = field(repr=False)
    fast_path: bool = False

    @property
    def requests(self) -> pd.DataFrame:
        return self.tables["requests"]

    def to_json(self) -> str:
        return json.dumps(json_ready(self.summary), indent=2)

    def save(self, directory: str | Path, table_format: str = "parquet") -> list[Path]:
        """Write summary.json and the tables; all or nothing. Data only: charts are drawn
        from these results by `simulator.plots` (`sresim run --out` adds them)."""
        return write_atomically(directory, lambda tmp: self.write(tmp, table_format))

    def write(self, directory: Path, table_format: str = "parquet") -> None:
        """Write summary.json and the tables into an existing folder (not atomic: to compose
        with other writers inside `write_atomically`)."""
        summary = {"scenario": self.scenario.name, "seed": self.seed, "kpis": self.summary}
        (directory / "summary.json").write_text(json.dumps(json_ready(summary), indent=2))
        write_tables(self.tables, directory, table_format)


def write_tables(tables: dict[str, pd.DataFrame], directory: Path, table_format: str) -> None:
    if table_format not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {table_format!r}; expected parquet or csv")
    for name, table in tables.items():
        if table_format == "parquet":
            table.to_parquet(directory / f"{name}.parquet")
        else:
            table.to_csv(directory / f"{name}.csv", index=name == "services")


MARKER = ".sresim-output"
"""The file that marks a folder as an output of this tool, which a new output may replace."""

_HELD: dict[Path, int] = {}
"""Output folders this process has locked (resolved path → descriptor), so that a caller
holding one (the CLI, for a whole run) can still write into it."""


def check_output(directory: str | Path) -> Path:
    """The output folder `directory`, if a new output may replace it; else an OutputError
    (one line) saying why: an empty name, a file, a symbolic link, a mount point, the
    working folder or one of its parents, a folder with other content than an earlier
    output, or a place this user cannot write. Checked before a run, and again at the end."""
    from .errors import OutputError

    text = str(directory)
    if not text.strip():
        raise OutputError("--out", "", "expected a folder name, got an empty one")
    target = Path(directory)
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or cwd.is_relative_to(resolved):
        raise OutputError(
            text, "", "is the working folder or one of its parents; give a new folder"
        )
    if target.is_symlink():
        raise OutputError(text, "", "is a symbolic link; give the folder itself")
    if target.exists():
        if not target.is_dir():
            raise OutputError(text, "", "exists and is not a folder; give a new folder")
        if os.path.ismount(target):
            raise OutputError(text, "", "is a mount point; give a folder inside it")
        try:
            with os.scandir(target) as entries:
                names = {entry.name for _, entry in zip(range(2), entries, strict=False)}
        except OSError as error:
            raise OutputError(text, "", f"cannot be read: {error.strerror}") from None
        if names and not (target / MARKER).is_file():
            raise OutputError(
                text,
                "",
                "is not empty and not an earlier output of sresim (it has no "
                f"{MARKER}); give a new or empty folder",
            )
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(text, "", f"{parent} is a file, not a folder; give a folder path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            text, "", f"cannot write in {parent} (no permission, or a read-only file system)"
        )
    return target


@contextlib.contextmanager
def reserved_output(directory: str | Path) -> Iterator[Path]:
    """Hold `directory` for this process: checked, created if missing (and removed again if
    it stays empty), and locked so that a second writer is refused at once (OutputError)."""
    from .errors import OutputError

    target = check_output(directory)
    key = target.resolve()
    if key in _HELD:
        yield target
        return
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise OutputError(
            str(directory), "", "another sresim is writing this folder; wait for it to finish"
        ) from None
    _HELD[key] = descriptor
    try:
        yield target
    finally:
        del _HELD[key]
        os.close(descriptor)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()  # only if still empty: nothing was written


def write_atomically(directory: str | Path, write: Callable[[Path], None]) -> list[Path]:
    """Write a whole output folder: `write` fills a scratch folder beside the target (on
    the same file system), which then replaces the target in one step, so a reader sees
    the old output or the new one, never a mix. The target is checked first (see
    `check_output`) and locked against other writers; the scratch folder is removed on any
    failure, Ctrl-C or SIGTERM (the CLI turns SIGTERM into an exception). Returns the files
    written (without the marker)."""
    with reserved_output(directory) as target:
        parent = target.resolve().parent
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.sresim-new-", dir=parent))
        try:
            write(scratch)
            (scratch / MARKER).write_text(
                "This folder was written by sresim; a new --out may replace it whole.\n"
            )
            names = sorted(p.name for p in scratch.iterdir() if p.name != MARKER)
            with _signals_held():
                _replace(scratch, target.resolve())
            return [target / name for name in names]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def write_file_atomically(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write one file: `write` fills a scratch file beside `path`, which is flushed to disk
    and renamed over `path` in one step, so a reader (or a crash) sees the old file or the
    whole new one, never a part. The scratch file is removed on any failure."""
    target = Path(path)
    scratch = target.with_name(f".{target.name}.{os.urandom(6).hex()}.part")
    os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # umask applies
    try:
        write(scratch)
        with open(scratch, "rb") as written:
            os.fsync(written.fileno())
        os.replace(scratch, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            scratch.unlink()
    return target


def _replace(scratch: Path, target: Path) -> None:
    """Put `scratch` at `target`, atomically where the kernel can swap two folders
    (Linux renameat2 RENAME_EXCHANGE); the old folder ends up at `scratch`, to be removed."""
    if _exchange(scratch, target):
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.sresim-old-", dir=target.parent))
    try:
        os.replace(target, old)  # an empty folder `old` is replaced by the target
        os.replace(scratch, target)
    except OSError:
        if old.exists() and not target.exists():
            os.replace(old, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    status = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if status == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOENT):
        return False  # no such call or flag here, or no target yet: rename instead
    raise OSError(error, os.strerror(error), str(second))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the swap is done (main thread only)."""
    signals = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def json_ready(value: object) -> object:
    """NaN is not JSON: write null instead, so every JSON reader can load the file."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Replications:
    """Independent replications of one scenario (seeds seed, seed+1, ...).

    `table`: one row per replication (replication, seed and every KPI). `summary`: one row
    per KPI with the mean, the half-width of its 95% confidence interval and its bounds.
    """

    scenario: Scenario
    table: pd.DataFrame
    summary: pd.DataFrame
    results: list[Result] = field(repr=False, default_factory=list)
    precision: float | None = None
    """With `replications="auto"`: the relative precision asked for, the KPIs it watched
    and whether their half-widths got within it (else None, [] and None)."""
    precision_kpis: list[str] = field(default_factory=list)
    precise: bool | None = None


@dataclass(frozen=True)
class Comparison:
    """Scenarios run on the same seeds, side by side.

    `table` has one row per KPI: each scenario's value (the mean over replications), then for
    every scenario after the first its difference from the first, the relative difference,
    and, with two or more replications, the 95% half-width of the paired difference.
    """

    names: list[str]
    table: pd.DataFrame
    replications: list[Replications] = field(repr=False, default_factory=list)


@dataclass(frozen=True)
class SweepResult:
    """A sweep: a base scenario run at every point of a grid of settings, `replications`
    times per point with seeds seed, seed+1, ... (the same seeds at every point: paired).

    `table`: one row per point and replication (point, the axis values, replication, seed
    and every KPI kept). Axis columns hold the resolved value in SI units (seconds, per
    second, bytes) where the setting is a number, else the value as given. `summary`: one
    row per point and KPI: the axis values, mean, 95% confidence half-width and bounds, how
    many runs had a value, and `theory`, what queueing theory predicts where it applies
    exactly (a one-service M/M/c and kin; NaN elsewhere). `tables`: the tables asked for,
    every run's rows with its point, replication and seed. `runs`, `cached`, `seconds` and
    `run_seconds` say what it took: runs done, runs read back from the store, wall-clock
    time, and the time the runs done took inside their workers, summed. With
    `replications="auto"`, `precision` and `precision_kpis` say what was asked, the summary
    has `replications` (runs of that point) and `precise` (whether it got within the
    precision) columns, and `replications` is the most any point took.
    """

    scenario: Scenario
    axes: list[str]
    table: pd.DataFrame
    summary: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)
    replications: int = 1
    seed: int = 0
    runs: int = 0
    cached: int = 0
    seconds: float = 0.0
    backend: str = "serial"
    run_seconds: float = 0.0
    precision: float | None = None
    precision_kpis: list[str] = field(default_factory=list)

    def means(self, kpi: str) -> pd.DataFrame:
        """One KPI's summary rows (axis values, mean, CI), one per point."""
        rows = self.summary[self.summary["kpi"] == kpi]
        return rows.drop(columns="kpi").reset_index(drop=True)

    def describe(self) -> dict[str, object]:
        """What the sweep was and what it took, for sweep.json and the CLI's last line."""
        return {
            "scenario": self.scenario.name,
            "axes": self.axes,
            "points": int(self.table["point"].nunique()) if len(self.table) else 0,
            "replications": self.replications,
            "seed": self.seed,
            "runs": self.runs,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "run_seconds": round(self.run_seconds, 3),
            "backend": self.backend,
            **(
                {}
                if self.precision is None
                else {"precision": self.precision, "precision_kpis": self.precision_kpis}
            ),
        }

    def write(self, directory: Path) -> list[Path]:
        """sweep.parquet (the tidy table), summary.parquet and summary.csv, sweep.json and
        a Parquet file per table asked for, each file replaced whole, into an existing
        folder (the store beside them is left alone)."""
        written = [
            write_file_atomically(directory / "sweep.parquet", self.table.to_parquet),
            write_file_atomically(directory / "summary.parquet", self.summary.to_parquet),
            write_file_atomically(
                directory / "summary.csv", lambda path: self.summary.to_csv(path, index=False)
            ),
        ]
        for name, table in self.tables.items():
            written.append(write_file_atomically(directory / f"{name}.parquet", table.to_parquet))
        text = json.dumps(json_ready(self.describe()), indent=2)
        written.append(
            write_file_atomically(directory / "sweep.json", lambda path: path.write_text(text))
        )
        return written
