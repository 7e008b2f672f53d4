"""Lay out the website's generated sources before Sphinx reads them.

`conf.py` calls `prepare()` on every build. It copies `docs/*.md` (and their images) into
`site/docs/`, the course notebooks into `site/notebooks/` with the site's run sizes injected
below each notebook's `parameters` cell (the pages the notebooks' test executes), and draws the
gallery of every shipped scenario's charts into `site/gallery/`, and the presenters' page's
charts into `site/gallery/presenters/` (by running the commands the page shows). A file is
rewritten only
when its content changes, so Sphinx re-reads only what changed; the notebooks' execution is
cached by MyST-NB (keyed on their code, so a prose edit re-executes nothing; the notebooks'
test puts its runs of these same pages there, `keep_executed`, so that `make test` executes
the course once) and the gallery by a digest of the package's code and the scenarios, so a
rebuild after a prose edit takes seconds. The gallery draws PNGs only (the page shows
them; its commands write SVGs too). The generated folders are listed in `.gitignore`.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent

SITE_SIZES: dict[str, object] = {
    "horizon": "2000s",
    "warmup": "200s",
    "replications": 2,
    "sweep_points": 3,
    "weeks": 3,
    "growth_weeks": 2,
    "most_services": 100,
}
"""The notebooks' sizes on the site: the tests' small sizes (tests/interface/test_notebooks.py),
so that the whole course executes in a few minutes on two cores. A notebook's page says so in
the injected cell; a student who runs it in JupyterLab gets the full size."""

GALLERY_HORIZON: dict[str, str] = {
    # Shortened like the golden results (tests/golden/cases.py): enough for every chart to
    # have something to show, at a fraction of a full run.
    "delivery/": "4w",
    "eras/": "3w",
    "omega/": "3h",
    "scale/": "1d",
    "validation/mmc.yaml": "20000s",
    "secrets/leak-organisation.yaml": "4h",
    "what-if/discovery-delivery.yaml": "6h",
    "what-if/hacker-news-spike.yaml": "3h",
    "what-if/honeymoon-": "1h",
    "presets/lb-cluster.yaml": "30min",
    "examples/load-balancers/": "30min",
}
"""The gallery's horizon per shipped scenario (by path prefix); others run at their own."""

GALLERY_SEED = 1

LINK = re.compile(r"\[([^\]]*)\]\((\.\./[^)#\s]+)(#[^)\s]*)?\)")


def _write(path: Path, text: str) -> None:
    """Write only when the content differs: an unchanged file keeps its time for Sphinx."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _copy(source: Path, target: Path) -> None:
    if target.exists() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _outside_links(text: str, inside: tuple[str, ...]) -> str:
    """A link that leaves docs/ and notebooks/ (to a scenario file, the benchmarks) has no
    page on the site: keep its text and show the path as code instead of a broken link."""

    def replace(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if target.startswith(inside):
            return match.group(0)
        return f"{label} (`{target.removeprefix('../')}`)"

    return LINK.sub(replace, text)


def prepare_docs() -> None:
    for source in sorted((ROOT / "docs").glob("*.md")):
        text = _outside_links(source.read_text(encoding="utf-8"), ("../notebooks/",))
        _write(SITE / "docs" / source.name, text)
    for image in sorted((ROOT / "docs" / "images").glob("*")):
        _copy(image, SITE / "docs" / "images" / image.name)
    _write(SITE / "docs" / "index.md", DOCS_INDEX)


DOCS_INDEX = """# Documentation

How to run a scenario, what each subsystem models and what it leaves out, where the defaults
come from, how the simulator is checked against theory, and every key of the scenario format.

```{toctree}
:maxdepth: 1
:glob:

quickstart
*
```
"""

COURSE_TOC = """

```{toctree}
:hidden:
:glob:

[0-9]*
```
"""


def declared_parameters(source: str) -> set[str]:
    """The names a parameters cell assigns (what papermill would inject)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def site_notebook(notebook: dict) -> dict:
    """The notebook with the site's sizes in a cell below its parameters cell."""
    cells = notebook["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code" and "parameters" in cell["metadata"].get("tags", []):
            declared = declared_parameters("".join(cell["source"]))
            sizes = {name: value for name, value in SITE_SIZES.items() if name in declared}
            if sizes:
                lines = ["# The website runs this notebook small, to build in minutes; the\n"]
                lines.append("# results are noisier than at the full sizes above.\n")
                lines += [f"{name} = {value!r}\n" for name, value in sizes.items()]
                lines[-1] = lines[-1].rstrip("\n")
                injected = {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": "site-sizes",
                    "metadata": {"tags": ["injected-parameters"]},
                    "outputs": [],
                    "source": lines,
                }
                cells.insert(index + 1, injected)
            break
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = _outside_links("".join(cell["source"]), ("../docs/", "../notebooks/"))
            cell["source"] = text
    return notebook


def site_notebook_text(source: Path) -> str:
    """The site's page of a course notebook (`site_notebook`), as `prepare` writes it."""
    notebook = site_notebook(json.loads(source.read_text(encoding="utf-8")))
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def prepare_notebooks() -> None:
    target = SITE / "notebooks"
    sources = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for source in sources:
        _write(target / source.name, site_notebook_text(source))
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    _write(target / "README.md", _outside_links(readme, ("../docs/",)) + COURSE_TOC)
    for stale in target.glob("*.ipynb"):
        if not (ROOT / "notebooks" / stale.name).exists():
            stale.unlink()
    # The notebooks find their scenarios one folder up from where they run.
    link = SITE / "scenarios"
    if not link.exists():
        link.symlink_to(Path("..") / "scenarios", target_is_directory=True)


JUPYTER_CACHE = SITE / "_build" / ".jupyter_cache"
"""MyST-NB's execution cache (`nb_execution_cache_path` in conf.py)."""

BUILD_LOCK = SITE / "_build" / ".build-lock"
"""Held while the site builds (`make site`, the site's test), so two never write at once."""


def keep_executed(source: Path, executed: Any, seconds: float | None = None) -> bool:
    """Put a course notebook executed elsewhere at the site's sizes into MyST-NB's cache, as
    MyST-NB keeps a notebook it executed itself: the site's page of `source`
    (`site_notebook_text`) with the outputs of `executed` (an nbformat notebook, run from the
    same page's code), so that the next build shows them instead of executing the notebook
    again. The notebooks' test (tests/interface/test_notebooks.py) executes each page this
    way before the site's test builds. False, keeping nothing, while a build holds the lock
    (it executes what it needs itself)."""
    import fcntl

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    page = nbformat.reads(site_notebook_text(source), as_version=4)
    code = [cell for cell in page.cells if cell.cell_type == "code"]
    ran = [cell for cell in executed.cells if cell.cell_type == "code"]
    if [cell.source for cell in code] != [cell.source for cell in ran]:
        raise ValueError(f"{source.name}: the executed notebook is not the site's page")
    for cell, done in zip(code, ran, strict=True):
        cell.outputs = done.outputs
        cell.execution_count = done.execution_count
    for key in ("kernelspec", "language_info"):
        if key in executed.metadata:
            page.metadata[key] = executed.metadata[key]
    BUILD_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(BUILD_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        get_cache(str(JUPYTER_CACHE)).cache_notebook_bundle(
            CacheBundleIn(
                page,
                str(SITE / "notebooks" / source.name),
                data={"execution_seconds": seconds},
            ),
            check_validity=False,
            overwrite=True,
        )
    return True


def gallery_horizon(name: str) -> str | None:
    for prefix, horizon in GALLERY_HORIZON.items():
        if name.startswith(prefix):
            return horizon
    return None


def _digest() -> str:
    """Changes when the package's code, a scenario or the gallery's sizes change."""
    digest = hashlib.sha256(json.dumps([GALLERY_HORIZON, GALLERY_SEED]).encode())
    for folder in (ROOT / "simulator", ROOT / "scenarios"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".yaml", ".csv", ".json"}:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def shipped_name(name: str) -> str:
    """A shipped scenario as the command line takes it by name (`eras/sre`)."""
    return name.removesuffix(".yaml")


def _options(horizon: str | None) -> str:
    return (f" --set horizon={horizon}" if horizon else "") + f" --seed {GALLERY_SEED}"


def run_command(name: str, horizon: str | None) -> str:
    """The command that writes all of a scenario's charts (PNG and SVG) and its tables."""
    return f"sresim run {shipped_name(name)}{_options(horizon)} --out out/{slug(name)}"


def chart_command(name: str, chart: str, horizon: str | None) -> str:
    """The command that draws one chart of the gallery, as shown."""
    return f"sresim chart {shipped_name(name)} {chart}{_options(horizon)} -o {chart}.svg"


def slug(name: str) -> str:
    return name.removesuffix(".yaml").replace("/", "--")


def prepare_gallery(log: bool = True) -> None:
    """Run every shipped scenario once (shortened where long) and keep its charts."""
    from simulator import ScenarioError, load_scenario, run
    from simulator.plots.charts import save_run_charts

    folder = SITE / "gallery"
    stamp = folder / ".digest"
    kept = folder / "entries.json"
    digest = _digest()
    if stamp.exists() and stamp.read_text() == digest and kept.exists():
        entries = [tuple(entry) for entry in json.loads(kept.read_text())]
        _write(folder / "index.md", gallery_page(entries))  # the page's words may have changed
        return
    os.environ.setdefault("MPLBACKEND", "Agg")
    scenarios = ROOT / "scenarios"
    entries: list[tuple[str, str, str | None, list[str], str]] = []
    started = time.perf_counter()
    for path in sorted(scenarios.rglob("*.yaml")):
        name = path.relative_to(scenarios).as_posix()
        horizon = gallery_horizon(name)
        overrides = {"horizon": horizon} if horizon else {}
        charts_dir = folder / slug(name)
        shutil.rmtree(charts_dir, ignore_errors=True)
        try:
            scenario = load_scenario(path, overrides=overrides)
            result = run(scenario, seed=GALLERY_SEED)
            written = save_run_charts(result, charts_dir, svg=False)  # the page shows PNGs
        except ScenarioError as error:
            # A preset meant to be extended, not run: listed, with why it has no charts.
            entries.append((name, scenario_description(path), horizon, [], str(error)))
            continue
        pngs = sorted(p.name for p in written if p.suffix == ".png")
        entries.append((name, scenario.description, horizon, pngs, ""))
        if log:
            print(f"gallery: {name} ({time.perf_counter() - started:.0f} s)", flush=True)
    _write(folder / "index.md", gallery_page(entries))
    kept.write_text(json.dumps(entries, indent=1))
    stamp.write_text(digest)


def scenario_description(path: Path) -> str:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def gallery_page(entries: list) -> str:
    """The gallery's page: per scenario, its description, commands and charts."""
    lines = [
        "# Gallery: every shipped scenario's charts",
        "",
        "Each shipped scenario, run once and drawn with the charts that `--out` writes. The",
        "command under each title writes all of them (PNG and SVG, with the run's tables); the",
        "one under each chart draws that chart alone (`sresim chart --list` names them all, and",
        "`--size`, `--dpi` and `--theme` change how it looks). Long scenarios are drawn here",
        "from a shortened run (`--set horizon=...`), so that the website builds in minutes:",
        "leave that option out for the full run.",
        "",
    ]
    for name, description, horizon, pngs, error in entries:
        lines += [f"## {shipped_name(name)}", "", description, ""]
        if error:
            lines += [f"No charts: it does not run on its own ({error}).", ""]
            continue
        lines += ["```console", run_command(name, horizon), "```", ""]
        for png in pngs:
            chart = png.removesuffix(".png")
            lines += [
                f"```{{figure}} {slug(name)}/{png}",
                f":alt: {shipped_name(name)}: {chart.replace('-', ' ')}",
                "",
                f"`{chart_command(name, chart, horizon)}`",
                "```",
                "",
            ]
    return "\n".join(lines)


PRESENTERS = SITE / "presenters.md"
"""The presenters' page (written by hand): the talk as ten charts, each a figure whose
caption is the command that draws it."""

FIGURE = re.compile(r"```\{figure\} (gallery/presenters/[\w-]+\.png)\n[^`]*`(sresim chart [^`]+)`")


def presenter_charts(page: str) -> list[tuple[str, str]]:
    """(image path, command) of each figure of the presenters' page, in order."""
    return FIGURE.findall(page)


def presenter_arguments(command: str, image: Path) -> list[str]:
    """The command's arguments for `simulator.cli.main`, writing `image` instead of its -o."""
    arguments = shlex.split(command)[1:]
    at = arguments.index("-o")
    arguments[at + 1] = str(image)
    return arguments


def prepare_presenters(log: bool = True) -> None:
    """Draw each chart of the presenters' page by running the command its caption shows (the
    file it writes replaced by the page's image): what the page shows is what the command
    makes. The commands run in one `eras.shared_runs` block, so two era charts of the same
    runs (the comparison and the lead times, both three weeks) share one set of them, with
    the same images as when each command runs alone. Cached like the gallery, by the code,
    the scenarios and the commands."""
    from simulator.cli import main
    from simulator.experiments.eras import shared_runs

    charts = presenter_charts(PRESENTERS.read_text(encoding="utf-8"))
    folder = SITE / "gallery" / "presenters"
    stamp = folder / ".digest"
    digest = hashlib.sha256((_digest() + json.dumps(charts)).encode()).hexdigest()
    images = [SITE / image for image, _ in charts]
    if stamp.exists() and stamp.read_text() == digest and all(p.exists() for p in images):
        return
    os.environ.setdefault("MPLBACKEND", "Agg")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    with shared_runs():  # the era charts that need the same runs share one set of them
        for image, command in zip(images, (command for _, command in charts), strict=True):
            status = main(presenter_arguments(command, image))
            if status != 0:
                raise RuntimeError(f"the presenters' page shows a command that fails: {command}")
            if log:
                seconds = time.perf_counter() - started
                print(f"presenters: {image.name} ({seconds:.0f} s)", flush=True)
    stamp.write_text(digest)


def prepare(gallery: bool = True) -> None:
    prepare_docs()
    prepare_notebooks()
    if gallery:
        prepare_gallery()
        prepare_presenters()
