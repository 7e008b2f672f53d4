"""The website, built as `make site` builds it and read in a real browser.

The build runs Sphinx on `site/` (the notebooks execute at the site's small sizes, reusing
MyST-NB's cache in site/_build/.jupyter_cache, so a second run re-executes nothing; in a
whole run the notebooks' test, tests/interface/test_notebooks.py, has just executed every
page but the first into that cache, in this xdist group, so the course runs once); a local
http.server serves the result; headless Chromium (Debian's `chromium`, driven by Playwright)
loads every page and checks that it renders, that every image loads, that every link inside
the site leads to a page and anchor that exist, that no page loads anything from outside the
site, and that the browser's console shows no error.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse, urlsplit

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.xdist_group("site")  # one build, on one worker

SITE = ROOT / "site"
HTML = SITE / "_build" / "html"
BUILD_TIMEOUT_S = 1500
"""The first build executes the whole course at small sizes and draws the gallery (a few
minutes here); a cached rebuild takes seconds."""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def site() -> Path:
    """The website, built by the command `make site` runs (once a session: a module fixture
    would build again whenever xdist interleaves another module's tests), under a lock, so
    that two builds never write the same folders at once."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(SITE), str(HTML)]
    HTML.parent.mkdir(parents=True, exist_ok=True)
    with open(HTML.parent / ".build-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
    assert done.returncode == 0, (
        f"the site's build failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )
    assert (HTML / "index.html").is_file()
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """The built site on a local port, as a visitor's browser would get it."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def pages(site: Path) -> list[str]:
    """Every page of the site (the theme's template fragments under _static/ are none)."""
    found = (path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    return sorted(name for name in found if not name.startswith("_static/"))


SEARCH = "search.html"
SEARCH_WORD = "Erlang"
"""The search page shows nothing until asked: it is loaded with a query and must find pages."""


_PAGE_FACTS = """() => ({
  title: document.title,
  text: (document.querySelector('main') || document.body).innerText.trim().length,
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
        .concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.name)),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  images: Array.from(document.images).map(i => ({
    src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0, lazy: i.loading === 'lazy'
  })),
})"""


@pytest.fixture(scope="session")
def visited(server: str, site: Path) -> dict[str, dict]:
    """Every page loaded once in headless Chromium: what it showed and what went wrong."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (`make chromium` installs it as root)")
    from playwright.sync_api import sync_playwright

    facts: dict[str, dict] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            problems: list[str] = []

            def route(request_route) -> None:
                url = request_route.request.url
                if urlparse(url).hostname in {"127.0.0.1", "localhost"} or url.startswith(
                    ("data:", "blob:", "about:")
                ):
                    request_route.continue_()
                else:
                    problems.append(f"loads {url} from outside the site")
                    request_route.abort()

            page.route("**/*", route)
            page.on(
                "console",
                lambda message: (
                    message.type == "error" and problems.append(f"console error: {message.text}")
                ),
            )
            page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
            page.on(
                "response",
                lambda response: (
                    response.status >= 400
                    and problems.append(f"HTTP {response.status} for {response.url}")
                ),
            )
            for name in pages(site):
                problems.clear()
                query = f"?q={SEARCH_WORD}" if name == SEARCH else ""
                response = page.goto(server + name + query, wait_until="load")
                status = response.status if response else 0
                if name == SEARCH:
                    page.wait_for_selector("#search-results li", timeout=20_000)
                info = page.evaluate(_PAGE_FACTS)
                for image in info["images"]:
                    if not image["ok"] and image["lazy"]:  # not scrolled to: fetch it instead
                        fetched = page.request.get(image["src"])
                        image["ok"] = fetched.ok and fetched.headers.get(
                            "content-type", ""
                        ).startswith("image/")
                info.update(status=status, problems=list(problems))
                info["html"] = page.content()
                facts[name] = info
        finally:
            browser.close()
    return facts


def test_there_are_the_expected_pages(site: Path):
    names = set(pages(site))
    expected = {"index.html", "api.html", "gallery/index.html", "notebooks/README.html"}
    expected.add("docs/index.html")
    expected |= {f"docs/{path.stem}.html" for path in (ROOT / "docs").glob("*.md")}
    expected |= {f"notebooks/{path.stem}.html" for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert expected <= names, f"missing pages: {sorted(expected - names)}"


def test_every_page_renders_without_errors(visited: dict[str, dict]):
    failures = []
    for name, info in visited.items():
        if info["status"] != 200:
            failures.append(f"{name}: HTTP {info['status']}")
        if not info["title"] or info["text"] < 20:
            failures.append(f"{name}: renders no content (title {info['title']!r})")
        failures += [f"{name}: {problem}" for problem in info["problems"]]
    assert not failures, "\n".join(failures[:40])


def test_every_image_loads(visited: dict[str, dict]):
    broken = [
        f"{name}: {image['src']}"
        for name, info in visited.items()
        for image in info["images"]
        if not image["ok"]
    ]
    assert not broken, "images that do not load:\n" + "\n".join(broken[:40])
    gallery = visited["gallery/index.html"]["images"]
    assert len(gallery) >= 40, f"the gallery shows only {len(gallery)} charts"


def test_no_internal_link_is_broken(visited: dict[str, dict], server: str, site: Path):
    broken = []
    for name, info in visited.items():
        for link in info["links"]:
            if not link.startswith(server):
                continue
            parts = urlsplit(link)
            fragment = unquote(parts.fragment)
            path = unquote(parts.path).lstrip("/") or "index.html"
            if path.endswith("/"):
                path += "index.html"
            if not (site / path).is_file():
                broken.append(f"{name} → {link}: no such file")
            elif fragment and path in visited and fragment not in visited[path]["ids"]:
                broken.append(f"{name} → {link}: no anchor #{fragment}")
    assert not broken, "broken links:\n" + "\n".join(sorted(set(broken))[:40])
    assert urljoin(server, "index.html")  # the links above were resolved against the server


def test_course_pages_show_results_and_questions_not_answers(visited: dict[str, dict]):
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = visited[f"notebooks/{path.stem}.html"]["html"]
        assert "cell_output" in html, f"{path.stem}: the page shows no executed output"
        assert "✔ Right." not in html, f"{path.stem}: the page shows a solved exercise"
        if "course.answer(" in path.read_text(encoding="utf-8"):
            assert "No answer yet" in html, f"{path.stem}: its exercises show no question"


def test_gallery_commands_name_real_charts_and_draw_them(site: Path, tmp_path: Path):
    """Every command under a gallery chart names a chart `sresim chart` knows, and the one
    for the M/M/4 queue draws its file."""
    from simulator.cli import main

    page = (SITE / "gallery" / "index.md").read_text(encoding="utf-8")
    commands = [c for c in re.findall(r"`(sresim chart [^`]+)`", page) if " -o " in c]
    assert len(commands) >= 40, f"the gallery shows {len(commands)} chart commands"
    listed = subprocess.run(
        [sys.executable, "-m", "simulator", "chart", "--list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    known = {line.split()[0] for line in listed.splitlines() if line.strip()}
    unknown = {command.split()[3] for command in commands} - known
    assert not unknown, f"the gallery names charts `sresim chart --list` does not: {unknown}"
    mmc = next(command for command in commands if " validation/mmc latency-cdf " in command)
    arguments = mmc.split()[1:]
    arguments[-1] = str(tmp_path / arguments[-1])
    assert main(arguments) == 0
    assert (tmp_path / "latency-cdf.svg").stat().st_size > 10_000
