"""Sphinx configuration of the sre-sandbox website (`make site`).

Sources: this folder's pages (index, api, presenters' gallery) and the sources `prepare.py`
lays out on every build: docs/ (a copy of the repository's docs), notebooks/ (the course, at
the site's sizes) and gallery/ (every shipped scenario's charts). MyST-NB executes the
notebooks, caching each by its code in `_build/.jupyter_cache` (where the notebooks' test,
tests/interface/test_notebooks.py, also puts its runs of the same pages).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent
sys.path[:0] = [str(SITE.parent), str(SITE)]
os.environ.setdefault("MPLBACKEND", "Agg")  # the notebooks' kernels inherit it

import prepare  # noqa: E402

prepare.prepare(gallery=os.environ.get("SITE_GALLERY", "1") != "0")

project = "sre-sandbox"
author = "the sre-sandbox authors"
copyright = "the sre-sandbox authors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "scenarios", "README.md", "**/.ipynb_checkpoints", "prepare.py"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

# The course: executed at the site's sizes, cached by each notebook's code so that a prose
# edit re-executes nothing; a failing cell fails the build.
nb_execution_mode = os.environ.get("SITE_EXECUTE", "cache")
nb_execution_cache_path = str(prepare.JUPYTER_CACHE)
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_excludepatterns: list[str] = []
nb_merge_streams = True
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # widgets fall back to text: no CDN scripts

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_use_ivar = True  # NamedTuple fields once, not as attributes twice

html_theme = "pydata_sphinx_theme"
html_title = "sre-sandbox"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_static_path: list[str] = []
# Without a default, a first visit (nothing in localStorage) logs "invalid theme mode".
html_context = {"default_mode": "auto"}
html_show_sourcelink = False
