"""`sresim`: run, check, explain and compare scenarios from the command line.

Every command stands on the public Python API, so what the command line shows is what a
notebook gets. Every failure ends with one line on stderr and a non-zero status: 2 for
bad input (a scenario, an option, a run above the limits, an output folder that cannot be
used), 1 for a fault of the machine (disk full, no permission, out of memory) or a bug,
130 on Ctrl-C and 143 on SIGTERM (see docs/reliability.md).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .errors import ScenarioError, printable
from .scenario.limits import Limits
from .scenario.loader import load_scenario

if TYPE_CHECKING:  # the results and metrics load pandas: imported where a command needs them
    from .results import Comparison, Replications, Result
    from .scenario.schema import Scenario

EXIT_FAULT = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
MAX_SEED = 2**63 - 1


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that `finally` blocks (scratch folders)
    run as they do for Ctrl-C. A BaseException: no `except Exception` swallows it."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """The `sresim` command: its exit status, after at most one line on stderr."""
    previous: Any = None
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        return args.handler(args)
    except ScenarioError as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Terminated:
        return _fail("terminated (SIGTERM)", EXIT_TERMINATED)
    except BrokenPipeError:
        return 0
    except MemoryError:
        return _fail(
            "out of memory; lower the horizon, the rates or the replications, or lower "
            "--limit max_memory so that such runs are refused up front",
            EXIT_FAULT,
        )
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or type(error).__name__}", EXIT_FAULT)
    except RecursionError:
        return _fail("input nested too deeply to handle", EXIT_BAD_INPUT)
    except Exception as error:
        if os.environ.get("SRESIM_DEBUG"):
            raise
        return _fail(
            f"internal error: {type(error).__name__}: {error} (SRESIM_DEBUG=1 shows the "
            "traceback; please report it)",
            EXIT_FAULT,
        )


def _fail(message: str, status: int) -> int:
    """One line on stderr (printable, never a terminal escape), and the exit status."""
    with contextlib.suppress(OSError, ValueError):
        print(f"sresim: {printable(message, 1000)}", file=sys.stderr)
    return status


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line with a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        line = printable(message, 500)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {line} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sresim",
        description="Simulate how running software behaves as an organisation grows.",
    )
    parser.add_argument("--version", action="version", version=f"sresim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and print its KPIs")
    run.add_argument(
        "scenario", help="scenario YAML file, or a shipped scenario's name (validation/mmc)"
    )
    _scenario_options(run)
    _safety_options(run)
    run.add_argument(
        "--replications",
        type=_replications_option,
        default=1,
        metavar="N|auto",
        help="independent runs with seeds seed..seed+N-1 (default 1); auto: until --precision",
    )
    _precision_options(run)
    _parallel_options(run)
    _output_options(run)
    run.add_argument(
        "--all",
        action="store_true",
        help="print every KPI, also those without a value in this run (not modelled or not "
        "applicable, such as cost without priced nodes)",
    )
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a scenario without running it")
    validate.add_argument(
        "scenario", help="scenario YAML file, or a shipped scenario's name (validation/mmc)"
    )
    validate.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    _safety_options(validate)
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser(
        "explain", help="print the fully resolved scenario with every default"
    )
    explain.add_argument(
        "scenario", help="scenario YAML file, or a shipped scenario's name (validation/mmc)"
    )
    explain.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    explain.add_argument("--bare", action="store_true", help="without the comments")
    _safety_options(explain)
    explain.set_defaults(handler=_explain)

    compare = commands.add_parser("compare", help="run scenarios on the same seeds, side by side")
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    _scenario_options(compare)
    _safety_options(compare)
    compare.add_argument("--replications", type=_positive_int, default=1, metavar="N")
    _parallel_options(compare)
    _output_options(compare)
    compare.set_defaults(handler=_compare)

    why = commands.add_parser(
        "why", help="run a scenario and tell one change's or one incident's story in words"
    )
    why.add_argument("scenario", help="scenario YAML file (with a delivery: section)")
    story = why.add_mutually_exclusive_group(required=True)
    story.add_argument("--change", type=_non_negative_int, metavar="N", help="change id N")
    story.add_argument("--incident", type=_non_negative_int, metavar="N", help="incident id N")
    _scenario_options(why)
    _safety_options(why)
    why.set_defaults(handler=_why)

    sweep = commands.add_parser(
        "sweep",
        help="run a scenario over a grid of settings, with replications (or an experiment file)",
        description="Run a scenario at every combination of --axis values (or run an "
        "experiment file), with replications paired across points; see docs/experiments.md.",
    )
    sweep.add_argument("target", metavar="SCENARIO|EXPERIMENT", help="scenario or experiment YAML")
    sweep.add_argument(
        "--axis",
        action="append",
        default=[],
        type=_axis_option,
        metavar="PATH=V1,V2,...",
        help="a setting and its values, e.g. --axis traffic.api.rate=2/s,3/s,3.6/s "
        "(repeatable; the grid of every combination)",
    )
    sweep.add_argument(
        "--zip",
        action="append",
        default=[],
        type=_zip_option,
        metavar="PATH,PATH,...",
        help="axes whose values go together (the i-th values form one point), not a grid",
    )
    _scenario_options(sweep)
    _safety_options(sweep)
    sweep.add_argument(
        "--replications",
        type=_replications_option,
        metavar="N|auto",
        help="runs per point, seeds seed..seed+N-1 at every point (default 1, or the file's); "
        "auto: until --precision",
    )
    _precision_options(sweep)
    sweep.add_argument(
        "--kpi", action="append", default=[], metavar="NAME", help="keep only these KPIs"
    )
    sweep.add_argument(
        "--table", action="append", default=[], metavar="NAME", help="also keep this run table"
    )
    _parallel_options(sweep)
    sweep.add_argument(
        "--out",
        type=_out_option,
        metavar="DIR",
        help="write sweep.parquet, summary.csv/.parquet and sweep.json into DIR, and keep "
        "every finished run in DIR/runs, so that an interrupted sweep resumes",
    )
    sweep.add_argument(
        "--force", action="store_true", help="with --out, run again what DIR/runs already has"
    )
    sweep.add_argument(
        "--chart",
        action="append",
        default=[],
        type=_chart_option,
        metavar="KPI:AXIS[:AXIS]",
        help="with --out, draw KPI against an axis (two axes: a heat map); default: the "
        "KPIs printed, against the first axis",
    )
    sweep.add_argument("--no-charts", action="store_true", help="with --out, skip the charts")
    sweep.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print: a table of means ± 95%% CI (default) or JSON",
    )
    sweep.set_defaults(handler=_sweep)

    chart = commands.add_parser(
        "chart",
        help="draw one chart of a run, a sweep or the eras into a file (--list: the charts)",
        description="Draw one chart into an SVG or PNG file, at a size and in a theme: of one "
        "run of a scenario (SCENARIO CHART), of a sweep (SCENARIO KPI:AXIS --axis ..., an "
        "experiment file, or a folder `sresim sweep --out` wrote), or of the Sysadmin, "
        "DevOps and SRE eras (--eras CHART); `sresim chart --list` names the charts.",
    )
    chart.add_argument(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help="scenario YAML file or shipped name; for a sweep chart also an experiment file "
        "or a sweep's --out folder",
    )
    chart.add_argument("chart", nargs="?", metavar="CHART", help="chart name (see --list)")
    chart.add_argument("--list", action="store_true", help="list the charts and what they show")
    chart.add_argument(
        "--eras",
        action="store_true",
        help="a chart of the eras experiment: sresim chart --eras CHART (--set horizon=3w "
        "shortens it)",
    )
    chart.add_argument(
        "--delivery-only",
        action="store_true",
        help="for --eras growth: grow the delivery model alone (6 sizes, 4 weeks; no requests "
        "served) instead of the one world (4 sizes, 3 weeks, every service serving requests)",
    )
    chart.add_argument("-o", "--output", metavar="FILE", help="FILE.svg or FILE.png")
    chart.add_argument(
        "--size",
        type=_size_option,
        default=(1280, 720),
        metavar="WxH",
        help="width and height in pixels (default 1280x720)",
    )
    chart.add_argument(
        "--dpi",
        type=_positive_int,
        metavar="N",
        help="pixels per inch: larger makes type and lines smaller relative to the picture "
        "(default 100; paper theme 200)",
    )
    chart.add_argument(
        "--theme", choices=("slide", "paper", "dark"), default="slide", help="the look"
    )
    _scenario_options(chart)
    _safety_options(chart)
    chart.add_argument(
        "--axis",
        action="append",
        default=[],
        type=_axis_option,
        metavar="PATH=V1,V2,...",
        help="for a sweep chart of a scenario: an axis, as for `sresim sweep` (repeatable)",
    )
    chart.add_argument(
        "--zip",
        action="append",
        default=[],
        type=_zip_option,
        metavar="PATH,PATH,...",
        help="for a sweep chart: axes whose values go together, as for `sresim sweep`",
    )
    chart.add_argument(
        "--replications",
        type=_positive_int,
        metavar="N",
        help="for a sweep chart: runs per point (default 1, or the experiment file's)",
    )
    _parallel_options(chart)
    chart.set_defaults(handler=_chart)

    schema = commands.add_parser(
        "schema", help="print the scenario format's JSON Schema (for editors' completion)"
    )
    schema.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead")
    schema.set_defaults(handler=_schema)

    listing = commands.add_parser("list", help="list the shipped scenarios")
    listing.add_argument(
        "folder", nargs="?", help="folder of scenarios (default: the shipped ones)"
    )
    listing.set_defaults(handler=_list)
    return parser


def _scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value, e.g. --set services.api.replicas=8 (repeatable)",
    )
    parser.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")


def _safety_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="raise (or lower) a limit for this command, e.g. --limit max_requests=1e9 or "
        "--limit max_memory=32GB (repeatable; also SRESIM_LIMITS; see docs/reliability.md)",
    )
    parser.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="also let presets and data files be read from DIR (by default only the "
        "scenario's folder, the working folder and the shipped scenarios)",
    )


def _precision_options(parser: argparse.ArgumentParser) -> None:
    """--replications auto: the precision, the KPIs it watches and the ceiling."""
    parser.add_argument(
        "--precision",
        type=_precision_option,
        metavar="P",
        help="with --replications auto: add runs until each watched KPI's 95%% half-width "
        "is at most P × |mean| (5%% or 0.05; default 5%%)",
    )
    parser.add_argument(
        "--precision-kpi",
        action="append",
        default=[],
        metavar="NAME",
        help="a KPI --replications auto watches (default latency_mean_s, else wait_mean_s)",
    )
    parser.add_argument(
        "--max-replications",
        type=_positive_int,
        metavar="N",
        help="with --replications auto: at most N runs (per point; default 50)",
    )


def _replications_option(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or auto)") from None


def _precision_option(text: str) -> float:
    """A relative precision: 5% or 0.05, above 0 and below 1."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a relative precision such as 5% or 0.05 (above 0, below 1), got {text!r}"
        )
    return value


def _auto_options(args: argparse.Namespace, auto: bool) -> dict[str, Any]:
    """The --precision options as API arguments; a mistake without auto is one line."""
    if not auto:
        for flag, value in (
            ("--precision", args.precision),
            ("--precision-kpi", args.precision_kpi or None),
            ("--max-replications", args.max_replications),
        ):
            if value is not None:
                raise ScenarioError("<arguments>", flag, "applies only with --replications auto")
        return {}
    options: dict[str, Any] = {
        "precision": args.precision,
        "precision_kpis": args.precision_kpi or None,
    }
    if args.max_replications is not None:
        options["max_replications"] = args.max_replications
    return options


def _auto_line(
    counts: Sequence[int],
    reached: Sequence[bool],
    args_kpis: Sequence[str],
    precision: float | None,
) -> str:
    """What --replications auto took: how many runs, and whether the precision was met."""
    short = sum(not r for r in reached)
    verdict = (
        "reached everywhere"
        if not short
        else f"NOT reached at {short} of {len(reached)} (the ceiling; raise --max-replications)"
    )
    took = f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}..{max(counts)}"
    return (
        f"replications auto: {took} runs{' per point' if len(counts) > 1 else ''} "
        f"for ±{precision:.3g} × |mean| "
        f"on {', '.join(args_kpis)}: precision {verdict}"
    )


def _parallel_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes on this machine (default 1; same numbers on any count)",
    )
    parser.add_argument(
        "--backend",
        choices=("local", "dask"),
        default="local",
        help="where runs go: local processes (default) or a Dask cluster (the dask extra)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --backend dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default "
        "DASK_SCHEDULER_ADDRESS, else a local cluster of --workers processes)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="with --backend dask and no scheduler: the local cluster's processes (default --jobs)",
    )


def _parallel(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "jobs": args.jobs,
        "backend": args.backend,
        "scheduler": args.scheduler,
        "workers": args.workers,
    }


def _axis_option(text: str) -> tuple[str, list[str]]:
    """`path=v1,v2,...`: commas inside brackets, braces or quotes do not split values."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"expected PATH=V1,V2,..., e.g. traffic.api.rate=2/s,3/s; got {printable(text, 80)!r}"
        )
    parts = [part.strip() for part in _split_values(values)]
    if not parts or any(not part for part in parts):
        raise argparse.ArgumentTypeError(f"expected values separated by commas after {key}=")
    return key, parts


def _split_values(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _chart_option(text: str) -> tuple[str, str, str | None]:
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"expected KPI:AXIS or KPI:AXIS:AXIS, got {text!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _zip_option(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or any(not name for name in names):
        raise argparse.ArgumentTypeError(f"expected two or more axis paths, got {text!r}")
    return names


def _limits(args: argparse.Namespace) -> Limits:
    return Limits.from_environment().raised(getattr(args, "limit", []))


def _load(args: argparse.Namespace, path: str) -> Scenario:
    """A scenario as the command's options say: overrides, limits and allowed folders."""
    return load_scenario(
        path, args.set, limits=_limits(args), allow=getattr(args, "allow_path", [])
    )


def _out_option(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty one")
    return text


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=_out_option,
        metavar="DIR",
        help="also write summary.json, tables and charts into DIR, a new folder or an "
        "earlier output (replaced whole)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print: a table (default) or one JSON object of KPIs",
    )
    parser.add_argument(
        "--tables",
        choices=("parquet", "csv"),
        default="parquet",
        help="file format of the tables written with --out (default parquet)",
    )
    parser.add_argument("--no-charts", action="store_true", help="with --out, skip the charts")


def _size_option(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (
        16 <= int(width) <= 10_000 and 16 <= int(height) <= 10_000
    ):
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels between 16 and 10000, got {printable(text, 40)!r}"
        )
    return int(width), int(height)


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    value = _non_negative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed of at most {MAX_SEED}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {printable(text, 40)!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


# ---------------------------------------------------------------------------- commands


def _run(args: argparse.Namespace) -> int:
    with _fewer_collections(), _output(args):  # the collector's thresholds first: the
        return _run_and_print(args)  # imports the command needs make many objects too


@contextlib.contextmanager
def _fewer_collections() -> Any:
    """The collector's young generation at 20,000 allocations instead of 700, for one run.

    A run allocates millions of short-lived objects while it holds a large, long-lived model
    (the scenario, the call graph, the imported libraries). At Python's default thresholds the
    oldest generation is scanned again and again: about a tenth of sre-1000's CPU time
    (`docs/performance.md`, "Session 11"). Collections change no number, only when memory is
    given back; the thresholds are restored afterwards, for callers of `main` in-process.

    What is alive when the command starts (the libraries, their classes) is moved out of
    the collector's reach for the command (`gc.freeze`, unless a caller froze objects
    already): a full collection scans what the command made, not the libraries. The engine's
    import, pandas included, runs with the collector paused: young collections of objects
    that are all kept (modules, classes) free nothing."""
    thresholds = gc.get_threshold()
    enabled = gc.isenabled()
    gc.disable()
    try:
        from .engine.loop import FEWER_COLLECTIONS
    finally:
        if enabled:
            gc.enable()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(*FEWER_COLLECTIONS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()


def _output(args: argparse.Namespace) -> Any:
    """With --out, the folder checked and locked for the whole command (refused before
    anything runs if it cannot be used); without, nothing."""
    from .results import reserved_output

    return reserved_output(args.out) if args.out else contextlib.nullcontext()


def _run_and_print(args: argparse.Namespace) -> int:
    from .budget import check_budget
    from .results import json_ready
    from .runner import run, run_replications

    scenario = _load(args, args.scenario)
    limits = _limits(args)
    auto = _auto_options(args, args.replications == "auto")
    if auto:
        reps = run_replications(
            scenario, "auto", args.seed, progress=True, limits=limits, **auto, **_parallel(args)
        )
        kpis = {str(k): (row["mean"], row["ci95_half_width"]) for k, row in reps.summary.iterrows()}
        if args.out:
            _save_replications(reps, Path(args.out), args.tables)
        line = _auto_line(
            [len(reps.table)], [bool(reps.precise)], reps.precision_kpis, reps.precision
        )
        if args.format == "json":
            summary = {k: {"mean": m, "ci95_half_width": h} for k, (m, h) in kpis.items()}
            summary["replications"] = {"n": len(reps.table), "precise": bool(reps.precise)}
            print(json.dumps(json_ready(summary)))
        else:
            print(_summary_table(scenario, kpis, len(reps.table), show_all=args.all))
            print(f"\n{line}")
        return 0
    check_budget(scenario, limits, args.replications)
    if args.replications == 1:
        # without --out no table is read: an analytic run builds none (seconds and hundreds
        # of MiB for a large fleet) and does not import pandas; whether the fast path ran
        # is the engine's word (`Result.fast_path`), not the events table's
        wanted = None if args.out else ()
        result = run(scenario, args.seed, progress=True, limits=limits, tables=wanted)
        if args.out:
            _save_run(result, Path(args.out), args.tables, charts=not args.no_charts)
        if args.format == "json":
            print(json.dumps(json_ready(result.summary)))
        else:
            kpis = {k: (v, math.nan) for k, v in result.summary.items()}
            print(_summary_table(scenario, kpis, show_all=args.all))
            if result.fast_path:
                from .model import fastpath

                print(f"\n  {fastpath.NOTE}")
        return 0
    reps = run_replications(
        scenario, args.replications, args.seed, progress=True, limits=limits, **_parallel(args)
    )
    kpis = {str(k): (row["mean"], row["ci95_half_width"]) for k, row in reps.summary.iterrows()}
    if args.out:
        _save_replications(reps, Path(args.out), args.tables)
    if args.format == "json":
        print(
            json.dumps(
                json_ready({k: {"mean": m, "ci95_half_width": h} for k, (m, h) in kpis.items()})
            )
        )
    else:
        print(_summary_table(scenario, kpis, args.replications, show_all=args.all))
    return 0


def _save_run(result: Result, directory: Path, table_format: str, charts: bool) -> list[Path]:
    """The run's data and, unless asked not to, its charts: one folder, all or nothing."""
    from .results import write_atomically

    def write(folder: Path) -> None:
        result.write(folder, table_format)
        if charts:
            from .plots import save_run_charts

            save_run_charts(result, folder)

    return write_atomically(directory, write)


def _save_replications(reps: Replications, directory: Path, table_format: str) -> None:
    from .results import json_ready, write_atomically, write_tables

    def write(folder: Path) -> None:
        summary = reps.summary.reset_index().to_dict(orient="records")
        (folder / "summary.json").write_text(json.dumps(json_ready(summary), indent=2))
        write_tables({"replications": reps.table}, folder, table_format)

    write_atomically(directory, write)


def _validate(args: argparse.Namespace) -> int:
    from .budget import check_budget

    scenario = _load(args, args.scenario)
    estimate = check_budget(scenario, _limits(args))
    services = len(scenario.services)
    print(
        f"{args.scenario}: valid ({scenario.name}: {services} services, "
        f"horizon {scenario.horizon:g}s, warm-up {scenario.warmup:g}s; "
        f"{estimate.describe()})"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    from .scenario.explain import explain_yaml

    scenario = _load(args, args.scenario)
    print(explain_yaml(scenario, comments=not args.bare), end="")
    return 0


def _compare(args: argparse.Namespace) -> int:
    with _output(args):
        return _compare_and_print(args)


def _compare_and_print(args: argparse.Namespace) -> int:
    from .budget import check_budget
    from .results import write_atomically
    from .runner import compare

    scenarios = [_load(args, path) for path in args.scenarios]
    limits = _limits(args)
    for scenario in scenarios:
        check_budget(scenario, limits, args.replications)
    comparison = compare(
        *scenarios,
        seed=args.seed,
        replications=args.replications,
        progress=True,
        limits=limits,
        **_parallel(args),
    )
    if args.out:
        write_atomically(args.out, lambda folder: comparison.table.to_csv(folder / "compare.csv"))
    if args.format == "json":
        print(comparison.table.to_json(orient="index"))
    else:
        print(_comparison_text(comparison))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    """Check the whole sweep, then (with --out) hold the folder, keep each finished run in
    DIR/runs as it ends, and write the tables; print the summary and what it took."""
    from .experiments.executor import Store
    from .experiments.sweep import is_experiment, load_experiment, prepare

    limits = _limits(args)
    axes: dict[str, list[Any]] = {}
    zipped: list[list[str]] = []
    kpis: list[str] | None = None
    tables: list[str] = []
    charts: list[tuple[str, str, str | None]] = []
    replications: int | str = 1
    seed = None
    precision: float | None = None
    if _is_experiment_file(args.target, limits, is_experiment):
        experiment, source = load_experiment(args.target)
        base = load_scenario(source, experiment.overrides, limits=limits, allow=args.allow_path)
        if args.set:
            base = load_scenario(base, args.set, limits=limits)
        axes.update(experiment.axes)
        zipped += experiment.zipped
        kpis, tables = experiment.kpis, list(experiment.tables)
        charts = [(c.kpi, c.x, c.y) for c in experiment.charts]
        replications, seed = experiment.replications, experiment.seed
        precision = experiment.precision
    else:
        base = _load(args, args.target)
    for key, values in args.axis:
        axes[key] = values
    zipped += args.zip
    if not axes:
        raise ScenarioError(args.target, "--axis", "expected at least one --axis PATH=V1,V2,...")
    charts = args.chart or charts
    for kpi, *names in charts:
        for name in names:
            if name is not None and name not in axes:
                raise ScenarioError(args.target, "charts", f"{name!r} is not an axis of the sweep")
        if (kpis or args.kpi) and kpi not in (args.kpi or kpis or []):
            raise ScenarioError(args.target, "charts", f"KPI {kpi!r} is not among those kept")
    chosen = args.replications or replications
    auto = _auto_options(args, chosen == "auto")
    if auto and auto["precision"] is None:
        auto["precision"] = precision
    elif precision is not None and not auto and not args.replications:
        raise ScenarioError(args.target, "precision", "applies only with replications: auto")
    plan = prepare(
        base,
        axes,
        zipped=zipped,
        replications=chosen,
        **auto,
        seed=args.seed if args.seed is not None else seed,
        kpis=args.kpi or kpis,
        tables=args.table or tables,
        limits=limits,
    )
    with _output(args) as out:
        store = None
        if out is not None:
            from .results import MARKER

            (out / MARKER).write_text(
                "This folder was written by sresim; a new --out may replace it whole.\n"
            )
            store = Store(out / "runs")
        result = plan.run(store=store, force=args.force, progress=True, **_parallel(args))
        shown = _shown_kpis(result.summary, args.kpi or kpis)
        if out is not None:
            result.write(out)
            if not args.no_charts:
                from .plots.sweep import default_charts, save_sweep_charts

                found = set(result.summary["kpi"])
                missing = [kpi for kpi, _, _ in charts if kpi not in found]
                if missing:
                    raise ScenarioError(
                        args.target, "charts", f"no KPI {missing[0]!r} in these runs"
                    )
                drawn = charts or default_charts(result.summary, result.axes, shown[:3])
                save_sweep_charts(result.summary, result.axes, drawn, out / "charts")
    if args.format == "json":
        from .results import json_ready

        summary = result.summary.to_dict(orient="records")
        print(json.dumps(json_ready({"sweep": result.describe(), "summary": summary})))
        return 0
    print(_sweep_text(result, shown))
    if result.precision is not None:
        per_point = result.summary.drop_duplicates("point")
        print(
            "\n"
            + _auto_line(
                list(per_point["replications"]),
                list(per_point["precise"]),
                result.precision_kpis,
                result.precision,
            )
        )
    took = (
        f"{result.runs} runs ({result.cached} more from the store) in "
        f"{result.seconds:.1f} s on {result.backend}"
    )
    print(f"\n{took}" + (f"; tables in {args.out}/" if args.out else ""))
    return 0


def _is_experiment_file(path: str, limits: Limits, test: Any) -> bool:
    """Whether `path` is an experiment file (scenario: and axes: at the top), read only if
    it is small enough to be one; anything else is left to the scenario loader."""
    import yaml

    try:
        if Path(path).stat().st_size > limits.max_file_bytes:
            return False
        return bool(test(yaml.safe_load(Path(path).read_text())))
    except (OSError, ValueError, yaml.YAMLError):
        return False


HEADLINE_KPIS = (
    "throughput_rps",
    "wait_mean_s",
    "latency_mean_s",
    "latency_p99_s",
    "availability",
    "utilisation",
)
"""What `sresim sweep` prints without --kpi (those with a value)."""


def _shown_kpis(summary: Any, kpis: Sequence[str] | None) -> list[str]:
    """The KPIs asked for, else the headline ones that have a value (else any six)."""
    if kpis:
        return list(kpis)
    valued = set(summary.loc[summary["mean"].notna(), "kpi"])
    return [k for k in HEADLINE_KPIS if k in valued] or sorted(valued)[:6]


def _sweep_text(result: Any, shown: Sequence[str]) -> str:
    """One line per point: its axis values, then mean ± 95% half-width per KPI shown."""
    summary = result.summary
    rows = {}
    for kpi in shown:
        part = summary[summary["kpi"] == kpi].set_index("point")
        rows[kpi] = [
            _number(m) + ("" if _missing(h) else f" ± {_number(h)}")
            for m, h in zip(part["mean"], part["ci95_half_width"], strict=True)
        ]
    points = result.table.drop_duplicates("point").set_index("point")[result.axes]
    frame = points.assign(**rows)
    header = (
        f"{result.scenario.name}: {len(points)} points × {result.replications} replications "
        f"(seeds {result.seed}..{result.seed + result.replications - 1}), mean ± 95% CI"
    )
    if result.precision is not None:
        first = summary.drop_duplicates("point").set_index("point")
        frame = frame.assign(runs=list(first["replications"]), precise=list(first["precise"]))
        header = (
            f"{result.scenario.name}: {len(points)} points × up to {result.replications} "
            f"replications (seeds from {result.seed}, auto), mean ± 95% CI"
        )
    return header + "\n\n" + frame.to_string(index=False)


def _why(args: argparse.Namespace) -> int:
    """Run the scenario, then print where change N's time went or incident N's timeline
    (simulator/stories.py); an id the run does not have is bad input."""
    from .runner import run
    from .stories import StoryError, change_story, incident_story

    scenario = _load(args, args.scenario)
    if scenario.delivery is None:
        raise ScenarioError(args.scenario, "delivery", "expected a delivery: section to tell")
    result = run(scenario, args.seed, progress=True, limits=_limits(args))
    try:
        if args.change is not None:
            print(change_story(result, args.change))
        else:
            print(incident_story(result, args.incident))
    except StoryError as error:
        option = "--change" if args.change is not None else "--incident"
        raise ScenarioError(args.scenario, option, str(error)) from None
    return 0


def _chart(args: argparse.Namespace) -> int:
    """One chart of one run, of a sweep or of the eras into one file; every argument is
    checked before anything runs (simulator/chart_catalogue.py, plots/registry.py)."""
    from .chart_catalogue import ChartError, era_chart, is_sweep_chart, listing, run_chart
    from .chart_catalogue import sweep_chart as sweep_chart_name

    if args.list:
        print("\n".join(listing()))
        return 0
    given = [text for text in (args.scenario, args.chart) if text]
    if args.eras and len(given) != 1:
        raise ScenarioError("<arguments>", "chart", "expected --eras CHART (see --list)")
    if not args.eras and len(given) != 2:
        raise ScenarioError(
            "<arguments>", "chart", "expected SCENARIO CHART (or --eras CHART, or --list)"
        )
    name = given[-1]
    sweep = not args.eras and is_sweep_chart(name)
    if not args.output:
        raise ScenarioError("<arguments>", "-o", "expected an output file: -o FILE.svg|png")
    output = Path(args.output)
    try:
        (era_chart if args.eras else sweep_chart_name if sweep else run_chart)(name)
    except ChartError as error:
        raise ScenarioError("<arguments>", "chart", str(error)) from None
    if output.suffix.lower() not in (".svg", ".png"):
        raise ScenarioError(
            "<arguments>", "-o", f"expected a file ending in .svg or .png, got {output.name!r}"
        )
    if not output.parent.is_dir():
        raise ScenarioError(str(output), "-o", "expected an existing folder to write into")
    if not sweep and (args.axis or args.zip or args.replications):
        raise ScenarioError(
            "<arguments>", "--axis", "applies only to a sweep chart (KPI:AXIS, see --list)"
        )
    if args.delivery_only and not (args.eras and name == "growth"):
        raise ScenarioError("<arguments>", "--delivery-only", "applies only to --eras growth")
    if not sweep and args.backend != "local":
        raise ScenarioError(
            "<arguments>", "--backend", "applies only to a sweep chart; the eras take --jobs N"
        )
    from .plots.registry import save_one
    from .plots.theme import chart_theme

    if args.eras:
        draw, what = _era_drawing(args, name)
    elif sweep:
        draw, what = _sweep_drawing(args, given[0], name)
    else:
        draw, what = _run_drawing(args, given[0], name)
    dpi = args.dpi or (200 if args.theme == "paper" else 100)
    width, height = args.size
    with chart_theme(args.theme):
        try:
            figure = draw()
        except ChartError as error:
            raise ScenarioError("--eras" if args.eras else given[0], "chart", str(error)) from None
        save_one(figure, output, width, height, dpi)
    print(f"{output}: {what}, {width}x{height} px, {args.theme} theme")
    return 0


def _run_drawing(args: argparse.Namespace, source: str, name: str) -> tuple[Any, str]:
    """Run the scenario once; a function drawing chart `name` of it, and what it is."""
    from .budget import check_budget
    from .plots.registry import draw_chart
    from .runner import run

    scenario = _load(args, source)
    limits = _limits(args)
    check_budget(scenario, limits)
    result = run(scenario, args.seed, progress=True, limits=limits)
    return lambda: draw_chart(name, result), f"{name} of {scenario.name}"


def _sweep_drawing(args: argparse.Namespace, source: str, name: str) -> tuple[Any, str]:
    """A sweep's summary: read from a folder `sresim sweep --out` wrote, or run here from
    an experiment file or a scenario with --axis (as `sresim sweep` would, keeping nothing);
    a function drawing chart `name` (KPI:AXIS[:AXIS]) of it, and what it is."""
    from .chart_catalogue import ChartError, sweep_chart
    from .plots.sweep import draw_sweep_chart, read_sweep

    if Path(source).is_dir():
        if args.axis or args.zip or args.set or args.replications or args.seed is not None:
            raise ScenarioError(
                source,
                "--axis",
                "a sweep folder is drawn as it is: --axis, --set, --seed and "
                "--replications apply when `sresim sweep` runs it",
            )
        try:
            summary, swept = read_sweep(Path(source))
        except ChartError as error:
            raise ScenarioError(source, "chart", str(error)) from None
        return lambda: draw_sweep_chart(summary, swept, name), f"{name} of the sweep in {source}"
    from .experiments.sweep import is_experiment, load_experiment, prepare

    kpi, *names = sweep_chart(name)
    limits = _limits(args)
    axes: dict[str, list[Any]] = {}
    zipped: list[list[str]] = []
    replications: int | str = 1
    seed: int | None = None
    precision: float | None = None
    if _is_experiment_file(source, limits, is_experiment):
        experiment, base_source = load_experiment(source)
        base = load_scenario(
            base_source, experiment.overrides, limits=limits, allow=args.allow_path
        )
        if args.set:
            base = load_scenario(base, args.set, limits=limits)
        axes.update(experiment.axes)
        zipped += experiment.zipped
        replications, seed = experiment.replications, experiment.seed
        if replications == "auto" and not args.replications:
            precision = experiment.precision
    else:
        base = _load(args, source)
    for key, values in args.axis:
        axes[key] = values
    zipped += args.zip
    if not axes:
        raise ScenarioError(
            source,
            "--axis",
            "a sweep chart needs --axis PATH=V1,V2,..., an experiment file or a folder "
            "`sresim sweep --out` wrote",
        )
    for axis in names:
        if axis is not None and axis not in axes:
            raise ScenarioError(source, "chart", f"{axis!r} is not an axis of the sweep")
    plan = prepare(
        base,
        axes,
        zipped=zipped,
        replications=args.replications or replications,
        precision=precision,
        seed=args.seed if args.seed is not None else seed,
        kpis=[kpi],
        limits=limits,
    )
    result = plan.run(progress=True, **_parallel(args))
    points = result.table["point"].nunique()
    what = f"{name} of {base.name}, {points} points × {result.replications} replications"
    return lambda: draw_sweep_chart(result.summary, result.axes, name), what


def _era_drawing(args: argparse.Namespace, name: str) -> tuple[Any, str]:
    """Run what era chart `name` needs: the three era presets (with --set, at the common ten
    services unless --set delivery.services=N) or the growth sweep; a function drawing the
    chart, and what it is. Every era scenario is checked before the first run."""
    import yaml

    from .budget import check_budget
    from .chart_catalogue import ERA_CHARTS
    from .experiments.eras import COMMON_SERVICES, ERAS, ERAS_DIR, era_table, run_eras
    from .experiments.growth import flagship_growth
    from .plots.registry import EraData, draw_era_chart

    limits = _limits(args)
    seed = 1 if args.seed is None else args.seed
    paths = [ERAS_DIR / f"{era}.yaml" for era in ERAS]
    for path in paths:
        check_budget(load_scenario(path, args.set, limits=limits), limits)
    overrides: dict[str, Any] = {}
    for item in args.set:  # read as the loader reads --set (checked above)
        key, _, text = item.partition("=")
        try:
            overrides[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            overrides[key.strip()] = text
    if ERA_CHARTS[name][1] == "growth":
        other = [key for key in overrides if key != "horizon"]
        if other:
            raise ScenarioError(
                "--eras", "--set", f"the growth chart takes only --set horizon=..., not {other[0]}"
            )
        horizon = str(overrides["horizon"]) if "horizon" in overrides else None
        growth = flagship_growth(
            paths, horizon=horizon, seed=seed, jobs=args.jobs, delivery_only=args.delivery_only
        )
        counts = sorted(growth["services"].unique())
        kind = "delivery model alone" if args.delivery_only else "one world"
        what = (
            f"growth of the eras ({kind}), {', '.join(f'{n:,}' for n in counts)} services, "
            f"{growth.attrs['horizon']} runs, seed {seed}"
        )
        return lambda: draw_era_chart(name, EraData(growth=growth)), what
    services = None if "delivery.services" in overrides else COMMON_SERVICES
    results = run_eras(seed=seed, services=services, overrides=overrides, jobs=args.jobs)
    data = EraData(results=results, table=era_table(results))
    horizon_text = f", horizon {overrides['horizon']}" if "horizon" in overrides else ""
    return lambda: draw_era_chart(name, data), f"{name} of the eras, seed {seed}{horizon_text}"


def _schema(args: argparse.Namespace) -> int:
    """The scenario format's JSON Schema, for editors (docs/editors.md)."""
    from .scenario.editor_schema import scenario_schema

    text = json.dumps(scenario_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    folder = Path(args.folder) if args.folder else shipped_scenarios()
    if not folder.is_dir():
        raise ScenarioError(str(folder), "", "expected a folder of scenarios")
    rows = []
    for path in sorted(folder.rglob("*.yaml")):
        try:
            description = load_scenario(path).description
        except ScenarioError as error:
            description = f"(invalid: {error.message})"
        rows.append((str(path.relative_to(folder.parent)), printable(description, 200)))
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0


def shipped_scenarios() -> Path:
    """The scenarios shipped inside the package (the checkout's `scenarios` links to it)."""
    from .scenario.files import SHIPPED

    return SHIPPED


# ---------------------------------------------------------------------------- formatting


def _summary_table(
    scenario: Scenario,
    kpis: dict[str, tuple[float, float]],
    replications: int = 1,
    show_all: bool = False,
) -> str:
    """One line per KPI. Without `show_all`, KPIs with no value (NaN: not modelled here, or
    not applicable, as cost without priced nodes) are only named at the end."""
    from .metrics import KPI_DESCRIPTIONS

    header = f"{scenario.name}: {scenario.description}".rstrip(": ")
    if replications > 1:
        header += f"  ({replications} replications, mean ± 95% CI)"
    lines = [header, ""]
    shown = {k: v for k, v in kpis.items() if show_all or not _missing(v[0])}
    hidden = [k for k in kpis if k not in shown]
    width = max((len(k) for k in shown), default=0)
    for kpi, (value, half_width) in shown.items():
        text = _number(value)
        if not math.isnan(half_width):
            text += f" ± {_number(half_width)}"
        lines.append(f"  {kpi:<{width}}  {text:>22}  {KPI_DESCRIPTIONS.get(kpi, '')}")
    if hidden:
        lines += ["", f"  no value in this run (--all shows them): {', '.join(hidden)}"]
    return "\n".join(lines)


def _missing(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _comparison_text(comparison: Comparison) -> str:
    """Values side by side, then each scenario's difference from the first, in percent."""
    table = comparison.table
    names = comparison.names
    values = table[names].to_string(float_format=_number, na_rep="–")
    if len(names) == 1:
        return values
    deltas = table[[f"Δ% {name}" for name in names[1:]]]
    deltas.columns = names[1:]
    text = deltas.to_string(float_format=lambda v: f"{v:+.1f}%", na_rep="–")
    lines = [values, "", f"difference from {names[0]}:", text]
    if f"Δ ±95% {names[1]}" in table:
        lines.append(
            "(paired over the same seeds; 95% half-widths of the differences are in the "
            "JSON output and compare.csv)"
        )
    return "\n".join(lines)


def _number(value: float) -> str:
    if _missing(value):
        return "–"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4g}"
