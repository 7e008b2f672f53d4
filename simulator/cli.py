"""`sresim`: run, check, explain and compare scenarios from the command line.

Every command stands on the public Python API, so what the command line shows is what a
notebook gets. Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import ScenarioError
from .metrics import KPI_DESCRIPTIONS
from .results import (
    Comparison,
    Replications,
    Result,
    json_ready,
    write_atomically,
    write_tables,
)
from .scenario.explain import explain_yaml
from .scenario.loader import load_scenario
from .scenario.schema import Scenario

EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as error:
        print(f"sresim: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("sresim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sresim",
        description="Simulate how running software behaves as an organisation grows.",
    )
    parser.add_argument("--version", action="version", version=f"sresim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and print its KPIs")
    run.add_argument("scenario", help="scenario YAML file")
    _scenario_options(run)
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
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser(
        "explain", help="print the fully resolved scenario with every default"
    )
    explain.add_argument("scenario", help="scenario YAML file")
    explain.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    explain.add_argument("--bare", action="store_true", help="without the comments")
    explain.set_defaults(handler=_explain)

    compare = commands.add_parser("compare", help="run scenarios on the same seeds, side by side")
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    _scenario_options(compare)
    compare.add_argument("--replications", type=_positive_int, default=1, metavar="N")
    _output_options(compare)
    compare.set_defaults(handler=_compare)

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
    parser.add_argument("--seed", type=_non_negative_int, help="seed (default: the scenario's)")


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", help="also write summary.json, tables and charts")
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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


# ---------------------------------------------------------------------------- commands


def _run(args: argparse.Namespace) -> int:
    from .runner import run, run_replications

    scenario = load_scenario(args.scenario, args.set)
    if args.replications == 1:
        result = run(scenario, args.seed, progress=True)
        if args.out:
            _save_run(result, Path(args.out), args.tables, charts=not args.no_charts)
        if args.format == "json":
            print(json.dumps(json_ready(result.summary)))
        else:
            kpis = {k: (v, math.nan) for k, v in result.summary.items()}
            print(_summary_table(scenario, kpis, show_all=args.all))
        return 0
    reps = run_replications(scenario, args.replications, args.seed, progress=True)
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
    scenario = load_scenario(args.scenario, args.set)
    services = len(scenario.services)
    print(
        f"{args.scenario}: valid ({scenario.name}: {services} services, "
        f"horizon {scenario.horizon:g}s, warm-up {scenario.warmup:g}s)"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, args.set)
    print(explain_yaml(scenario, comments=not args.bare), end="")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .runner import compare

    scenarios = [load_scenario(path, args.set) for path in args.scenarios]
    comparison = compare(*scenarios, seed=args.seed, replications=args.replications, progress=True)
    if args.out:
        write_atomically(args.out, lambda folder: comparison.table.to_csv(folder / "compare.csv"))
    if args.format == "json":
        print(comparison.table.to_json(orient="index"))
    else:
        print(_comparison_text(comparison))
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
        rows.append((str(path.relative_to(folder.parent)), description))
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
