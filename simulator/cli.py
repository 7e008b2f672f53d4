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
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .errors import ScenarioError, printable
from .metrics import KPI_DESCRIPTIONS
from .results import (
    Comparison,
    Replications,
    Result,
    json_ready,
    reserved_output,
    write_atomically,
    write_tables,
)
from .scenario.explain import explain_yaml
from .scenario.limits import Limits
from .scenario.loader import load_scenario
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
    run.add_argument("scenario", help="scenario YAML file")
    _scenario_options(run)
    _safety_options(run)
    run.add_argument(
        "--replications",
        type=_positive_int,
        default=1,
        metavar="N",
        help="independent runs with seeds seed..seed+N-1 (default 1)",
    )
    _output_options(run)
    run.add_argument(
        "--all",
        action="store_true",
        help="print every KPI, also those without a value in this run (not modelled or not "
        "applicable, such as cost without priced nodes)",
    )
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a scenario without running it")
    validate.add_argument("scenario", help="scenario YAML file")
    validate.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    _safety_options(validate)
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser(
        "explain", help="print the fully resolved scenario with every default"
    )
    explain.add_argument("scenario", help="scenario YAML file")
    explain.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    explain.add_argument("--bare", action="store_true", help="without the comments")
    _safety_options(explain)
    explain.set_defaults(handler=_explain)

    compare = commands.add_parser("compare", help="run scenarios on the same seeds, side by side")
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    _scenario_options(compare)
    _safety_options(compare)
    compare.add_argument("--replications", type=_positive_int, default=1, metavar="N")
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
    with _output(args):
        return _run_and_print(args)


def _output(args: argparse.Namespace) -> Any:
    """With --out, the folder checked and locked for the whole command (refused before
    anything runs if it cannot be used); without, nothing."""
    return reserved_output(args.out) if args.out else contextlib.nullcontext()


def _run_and_print(args: argparse.Namespace) -> int:
    from .budget import check_budget
    from .runner import run, run_replications

    scenario = _load(args, args.scenario)
    limits = _limits(args)
    check_budget(scenario, limits, args.replications)
    if args.replications == 1:
        result = run(scenario, args.seed, progress=True, limits=limits)
        if args.out:
            _save_run(result, Path(args.out), args.tables, charts=not args.no_charts)
        if args.format == "json":
            print(json.dumps(json_ready(result.summary)))
        else:
            kpis = {k: (v, math.nan) for k, v in result.summary.items()}
            print(_summary_table(scenario, kpis, show_all=args.all))
        return 0
    reps = run_replications(scenario, args.replications, args.seed, progress=True, limits=limits)
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

    def write(folder: Path) -> None:
        result.write(folder, table_format)
        if charts:
            from .plots import save_run_charts

            save_run_charts(result, folder)

    return write_atomically(directory, write)


def _save_replications(reps: Replications, directory: Path, table_format: str) -> None:
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
    scenario = _load(args, args.scenario)
    print(explain_yaml(scenario, comments=not args.bare), end="")
    return 0


def _compare(args: argparse.Namespace) -> int:
    with _output(args):
        return _compare_and_print(args)


def _compare_and_print(args: argparse.Namespace) -> int:
    from .budget import check_budget
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
    )
    if args.out:
        write_atomically(args.out, lambda folder: comparison.table.to_csv(folder / "compare.csv"))
    if args.format == "json":
        print(comparison.table.to_json(orient="index"))
    else:
        print(_comparison_text(comparison))
    return 0


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
    """The scenarios folder of this checkout (next to the package), or of the current folder."""
    beside_package = Path(__file__).resolve().parent.parent / "scenarios"
    return beside_package if beside_package.is_dir() else Path("scenarios")


# ---------------------------------------------------------------------------- formatting


def _summary_table(
    scenario: Scenario,
    kpis: dict[str, tuple[float, float]],
    replications: int = 1,
    show_all: bool = False,
) -> str:
    """One line per KPI. Without `show_all`, KPIs with no value (NaN: not modelled here, or
    not applicable, as cost without priced nodes) are only named at the end."""
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
