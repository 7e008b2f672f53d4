"""`sresim chart`: one chart of one run, of a sweep or of the eras into one file, at the
size asked, in a theme; every mistake is one line before anything runs."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator import load_scenario, run
from simulator.chart_catalogue import ERA_CHARTS, RUN_CHARTS, SWEEP_CHARTS
from simulator.cli import main
from simulator.plots.registry import (
    CHARTS,
    ChartError,
    EraData,
    draw_chart,
    draw_era_chart,
    save_one,
)
from simulator.plots.sweep import draw_sweep_chart, read_sweep
from simulator.plots.theme import THEMES, chart_theme, close_figure
from tests.helpers import MMC, SCENARIOS

SHORT_MMC = ["--set", "horizon=2000s", "--set", "warmup=100s"]

WHERE: dict[str, dict[str, str]] = {
    "validation/mmc.yaml": {"horizon": "2000s", "warmup": "100s"},
    "secrets/leak.yaml": {},
    "what-if/discovery-compare.yaml": {},
    "omega/failures.yaml": {"horizon": "1h"},
    "delivery/ticket-with-cab.yaml": {"horizon": "2w"},
}
"""Short runs of shipped scenarios that, between them, have every chart."""

SOURCE: dict[str, str] = {
    **dict.fromkeys(
        ["latency-cdf", "latency-over-time", "utilisation", "capacity", "cost"],
        "validation/mmc.yaml",
    ),
    **dict.fromkeys(["call-graph", "blast-radius"], "secrets/leak.yaml"),
    **dict.fromkeys(["discovery-convergence", "stale-errors"], "what-if/discovery-compare.yaml"),
    **dict.fromkeys(["cluster-heatmap", "failure-timeline"], "omega/failures.yaml"),
    **dict.fromkeys(
        ["cumulative-flow", "lead-time", "operator-time", "value-stream", "incident-timeline"],
        "delivery/ticket-with-cab.yaml",
    ),
}

_RESULTS: dict = {}


def _result(name: str):
    if name not in _RESULTS:
        scenario = load_scenario(SCENARIOS / name, overrides=WHERE[name])
        _RESULTS[name] = run(scenario, progress=False)
    return _RESULTS[name]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def svg_size(path: Path) -> tuple[int, int]:
    root = ET.parse(path).getroot()  # parses: well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.get("viewBox", "").split()) == 4
    return int(root.get("width", "0")), int(root.get("height", "0"))


def test_every_chart_has_a_short_scenario_here():
    assert set(SOURCE) == set(CHARTS)


@pytest.mark.parametrize("name", list(CHARTS))
def test_each_chart_is_drawn_into_a_file_of_the_asked_size(name, tmp_path):
    result = _result(SOURCE[name])
    assert CHARTS[name].applies(result)
    kind = "svg" if list(CHARTS).index(name) % 2 == 0 else "png"
    width, height = (800, 450) if kind == "png" else (1280, 720)
    path = tmp_path / f"{name}.{kind}"
    with chart_theme("slide"):
        save_one(draw_chart(name, result), path, width, height, dpi=100)
    size = png_size(path) if kind == "png" else svg_size(path)
    assert size == (width, height)


@pytest.mark.parametrize("theme", list(THEMES))
def test_themes_change_the_look_and_nothing_outside(theme, tmp_path):
    import matplotlib as mpl

    before = dict(mpl.rcParams)
    with chart_theme(theme):
        figure = draw_chart("latency-cdf", _result("validation/mmc.yaml"))
    background = figure.get_facecolor()
    save_one(figure, tmp_path / "cdf.png", 640, 360, 100)
    assert png_size(tmp_path / "cdf.png") == (640, 360)
    dark = sum(background[:3]) < 1.0
    assert dark == (theme == "dark")
    assert dict(mpl.rcParams) == before


def test_a_chart_the_run_cannot_show_is_refused_with_what_it_needs():
    with pytest.raises(ChartError, match="needs a scheduling: section"):
        draw_chart("cluster-heatmap", _result("validation/mmc.yaml"))


def test_the_command_writes_one_svg(capsys, tmp_path):
    out = tmp_path / "cdf.svg"
    args = ["chart", str(MMC), "latency-cdf", "-o", str(out), *SHORT_MMC, "--size", "1000x500"]
    assert main(args) == 0
    assert svg_size(out) == (1000, 500)
    assert list(tmp_path.iterdir()) == [out]
    assert "latency-cdf of mmc" in capsys.readouterr().out


def test_the_command_takes_a_shipped_name_and_a_theme(tmp_path):
    out = tmp_path / "u.png"
    args = ["chart", "validation/mmc", "utilisation", "-o", str(out), "--theme", "paper"]
    assert main([*args, *SHORT_MMC, "--dpi", "200"]) == 0
    assert png_size(out) == (1280, 720)


def test_list_names_every_chart_once_with_what_it_shows(capsys):
    assert main(["chart", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headings = [line for line in lines if not line.startswith("  ")]
    assert [h.split(":")[0] for h in headings] == [
        "Charts of one run",
        "Charts of a sweep",
        "Charts of the eras (Sysadmin, DevOps, SRE)",
    ]
    assert all("sresim chart" in heading for heading in headings)
    names = [line.split()[0] for line in lines if line.startswith("  ")]
    assert names == [*CHARTS, *SWEEP_CHARTS, *ERA_CHARTS]
    assert all(len(line.split()) > 3 for line in lines)


def test_the_catalogue_and_the_registry_name_the_same_charts():
    assert list(CHARTS) == list(RUN_CHARTS)
    assert all(CHARTS[name].shows == RUN_CHARTS[name][0] for name in CHARTS)


# ------------------------------------------------------------------------------- sweeps

RATES = "traffic.api.rate"
REPLICAS = "services.api.replicas"


def _lines(figure) -> dict:
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


def test_a_sweep_chart_of_a_scenario_runs_the_sweep_and_draws_it(capsys, tmp_path):
    out = tmp_path / "hockey.svg"
    args = ["chart", "validation/mmc", f"wait_mean_s:{RATES}", "-o", str(out), *SHORT_MMC]
    assert main([*args, "--axis", f"{RATES}=2/s,3.6/s", "--replications", "2"]) == 0
    assert svg_size(out) == (1280, 720)
    assert list(tmp_path.iterdir()) == [out]  # the runs are not kept
    assert "of mmc, 2 points × 2 replications" in capsys.readouterr().out


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """A 3 × 2 sweep of the M/M/4 queue written by `sresim sweep --out`."""
    folder = tmp_path_factory.mktemp("sweep") / "out"
    args = ["sweep", str(MMC), "--axis", f"{RATES}=2/s,3/s,3.6/s", "--axis", f"{REPLICAS}=4,5"]
    assert main([*args, *SHORT_MMC, "--replications", "2", "--out", str(folder)]) == 0
    return folder


def test_a_sweep_folder_is_drawn_from_its_summary_without_running(swept, tmp_path, capsys):
    summary, axes = read_sweep(swept)
    assert axes == [RATES, REPLICAS]
    figure = draw_sweep_chart(summary, axes, f"wait_mean_s:{RATES}")
    means = summary[(summary["kpi"] == "wait_mean_s") & (summary[REPLICAS] == 4)]["mean"]
    assert list(_lines(figure)["replicas = 4: mean"].get_ydata()) == list(means)
    close_figure(figure)
    out = tmp_path / "heat.png"
    chart = f"latency_p99_s:{RATES}:{REPLICAS}"
    assert main(["chart", str(swept), chart, "-o", str(out), "--theme", "dark"]) == 0
    assert png_size(out) == (1280, 720)
    assert f"{chart} of the sweep in {swept}" in capsys.readouterr().out


def test_an_experiment_file_is_run_as_sresim_sweep_runs_it(swept, tmp_path, capsys, monkeypatch):
    """The file's set, axes and replications, seeds paired as ever: the chart draws the same
    means, bit for bit, as the same sweep written by `sresim sweep`."""
    import simulator.plots.sweep

    drawn = []

    def spy(summary, axes, name):
        drawn.append((summary, axes, name))
        return draw_sweep_chart(summary, axes, name)

    monkeypatch.setattr(simulator.plots.sweep, "draw_sweep_chart", spy)
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(
        f"scenario: {MMC}\nset: {{horizon: 2000s, warmup: 100s}}\n"
        f"axes: {{{RATES}: [2/s, 3/s, 3.6/s], {REPLICAS}: [4, 5]}}\nreplications: 2\n"
    )
    out = tmp_path / "from-file.svg"
    assert main(["chart", str(experiment), f"wait_mean_s:{RATES}", "-o", str(out)]) == 0
    assert "of mmc, 6 points × 2 replications" in capsys.readouterr().out
    assert svg_size(out) == (1280, 720)
    (summary, axes, name), kept = drawn[0], read_sweep(swept)[0]
    assert (axes, name) == ([RATES, REPLICAS], f"wait_mean_s:{RATES}")
    kept = kept[kept["kpi"] == "wait_mean_s"]
    assert list(summary["mean"]) == list(kept["mean"])


def test_an_axis_of_words_keeps_its_order_with_a_dot_and_a_bar_per_value():
    import pandas as pd

    kinds = ["static", "lb-etcd", "consul"]  # not alphabetical: the order swept
    summary = pd.DataFrame(
        {
            "point": [0, 1, 2],
            "discovery.kind": kinds,
            "kpi": "error_rate_stale_endpoint",
            "mean": [0.009, 0.002, 0.0001],
            "ci95_low": [0.008, 0.0, 0.0],
            "ci95_high": [0.01, 0.004, 0.0002],
        }
    )
    figure = draw_sweep_chart(
        summary, ["discovery.kind"], "error_rate_stale_endpoint:discovery.kind"
    )
    ax = figure.axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == kinds
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert list(dots[0].get_xdata()) == [0, 1, 2]
    assert list(dots[0].get_ydata()) == [0.009, 0.002, 0.0001]
    assert all(line.get_linestyle() == "None" for line in dots)  # no line joins the kinds
    assert ax.get_ylabel() == "error_rate_stale_endpoint (share, 0–1)"
    assert ax.get_xlabel() == "discovery.kind"  # words have no SI unit
    close_figure(figure)


@pytest.mark.parametrize(
    "kpi, label",
    [
        ("wait_mean_s", "wait_mean_s (s)"),
        ("wait_mean_s_batch", "wait_mean_s_batch (s)"),
        ("throughput_rps", "throughput_rps (per s)"),
        ("cost_usd", "cost_usd ($)"),
        ("availability", "availability (share, 0–1)"),
        ("nodes_mean", "nodes_mean"),
    ],
)
def test_sweep_charts_name_the_kpis_unit(kpi, label):
    from simulator.plots.sweep import kpi_label

    assert kpi_label(kpi) == label


# ------------------------------------------------------------------------------- the eras


@pytest.fixture(scope="module")
def eras():
    """The three era presets over eight days (one measured day) and a two-point growth
    sweep: seconds, enough to draw every era chart."""
    from simulator.experiments.eras import ERAS, ERAS_DIR, era_table, run_eras
    from simulator.experiments.growth import growth_sweep

    results = run_eras(overrides={"horizon": "8d"})
    growth = growth_sweep([ERAS_DIR / f"{era}.yaml" for era in ERAS], [1, 30], horizon="8d")
    return EraData(results=results, table=era_table(results), growth=growth)


@pytest.mark.parametrize("name", list(ERA_CHARTS))
def test_each_era_chart_is_drawn(name, eras, tmp_path):
    path = tmp_path / f"{name}.png"
    with chart_theme("paper"):
        figure = draw_era_chart(name, eras)
        save_one(figure, path, 1920, 1080, 200)
    assert png_size(path) == (1920, 1080)


def test_an_era_chart_without_its_data_says_what_it_needs():
    with pytest.raises(ChartError, match="needs the growth sweep"):
        draw_era_chart("growth", EraData())
    with pytest.raises(ChartError, match="needs the runs of the three eras"):
        draw_era_chart("lead-time", EraData())


def test_the_eras_command_applies_set_to_every_era(capsys, tmp_path, monkeypatch):
    import simulator.plots.registry

    drawn = []

    def spy(name, data):
        drawn.append(data)
        return draw_era_chart(name, data)

    monkeypatch.setattr(simulator.plots.registry, "draw_era_chart", spy)
    out = tmp_path / "lead.svg"
    args = ["chart", "--eras", "lead-time", "--set", "horizon=8d", "--seed", "2", "-o", str(out)]
    assert main(args) == 0
    assert svg_size(out) == (1280, 720)
    assert "lead-time of the eras, seed 2, horizon 8d" in capsys.readouterr().out
    results = drawn[0].results
    assert list(results) == ["sysadmin", "devops", "sre"]
    assert {r.scenario.horizon for r in results.values()} == {8 * 86400}
    assert {r.seed for r in results.values()} == {2}
    assert {r.scenario.delivery.services for r in results.values()} == {10}  # the common size


@pytest.mark.parametrize("delivery_only", [False, True])
def test_the_growth_chart_grows_the_one_world_unless_delivery_only(
    delivery_only, capsys, tmp_path, monkeypatch
):
    """`sresim chart --eras growth` draws the flagship's growth step: every service serving
    requests (the serving columns measured), or with --delivery-only the delivery model
    alone (none measured). Made small here: 1 and 3 services, 8 days."""
    import simulator.experiments.growth as growth
    from simulator.experiments.eras import printable_growth

    real, swept = growth.flagship_growth, []

    def small(eras, **options):
        sweep = real(eras, points=2, most=3, **options)
        swept.append(sweep)
        return sweep

    monkeypatch.setattr(growth, "flagship_growth", small)
    out = tmp_path / "growth.svg"
    args = ["chart", "--eras", "growth", "--set", "horizon=8d", "-o", str(out)]
    assert main(args + (["--delivery-only"] if delivery_only else [])) == 0
    said = capsys.readouterr().out
    kind = "delivery model alone" if delivery_only else "one world"
    assert f"growth of the eras ({kind}), 1, 3 services, 8d runs, seed 1" in said
    sweep = swept[0]
    assert sorted(sweep["services"].unique()) == [1, 3]
    served = "availability" in sweep and bool(sweep["availability"].notna().all())
    assert served != delivery_only
    assert ("availability" in printable_growth(sweep)) != delivery_only


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["validation/mmc", "latency-cfd", "-o", "x.svg"],
            "no chart 'latency-cfd'; expected one of",
        ),
        (
            ["validation/mmc", "latency-cdf", "-o", "x.pdf"],
            "expected a file ending in .svg or .png",
        ),
        (["validation/mmc", "latency-cdf"], "expected an output file"),
        (["validation/mmc"], "expected SCENARIO CHART"),
        (["validation/mmc", "cluster-heatmap", "-o", "x.svg", *SHORT_MMC], "needs a scheduling"),
        (["validation/mmc", "latency-cdf", "-o", "x.svg", "--size", "big"], "WIDTHxHEIGHT"),
        (["validation/mmc", "wait_mean_s:traffic.api.rate", "-o", "x.svg"], "needs --axis"),
        (
            [
                "validation/mmc",
                "wait_mean_s:traffic.api.rat",
                "-o",
                "x.svg",
                "--axis",
                f"{RATES}=2/s",
            ],
            "'traffic.api.rat' is not an axis of the sweep",
        ),
        (["validation/mmc", "wait_mean_s:", "-o", "x.svg"], "expected a sweep chart KPI:AXIS"),
        (["validation/mmc", "latency-cdf", "-o", "x.svg", "--axis", f"{RATES}=2/s"], "sweep chart"),
        ([".", "wait_mean_s:traffic.api.rate", "-o", "x.svg"], "written by `sresim sweep --out`"),
        (["--eras", "nope", "-o", "x.svg"], "no era chart 'nope'; expected one of: comparison"),
        (["--eras", "validation/mmc", "lead-time", "-o", "x.svg"], "expected --eras CHART"),
        (["--eras", "growth", "-o", "x.svg", "--set", "seed=2"], "takes only --set horizon"),
        (["--eras", "growth", "-o", "x.svg", "--backend", "dask"], "the eras take --jobs N"),
        (["--eras", "lead-time", "-o", "x.svg", "--delivery-only"], "only to --eras growth"),
        (["--eras", "comparison", "-o", "x.svg", "--set", "horizn=3w"], "horizn: no such key"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(["chart", *args])
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_folder_is_drawn_as_it_is(swept, capsys, tmp_path):
    for extra, expected in [
        (["--set", "horizon=1h"], "drawn as it is"),
        (["--seed", "3"], "drawn as it is"),
        ([], "no KPI 'wait_mea' in this sweep; it has"),
    ]:
        chart = "wait_mea:traffic.api.rate" if not extra else f"wait_mean_s:{RATES}"
        out = tmp_path / "x.svg"
        assert main(["chart", str(swept), chart, "-o", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1
        assert not out.exists()
