# Two commands on a fresh machine with python3 (3.11+) and make:
#   make demo   # set up .venv, run the default scenarios, write tables and charts under out/
#   make test   # set up .venv with the dev extra, lint, and run every test and notebook
# and, for the course:
#   make site   # build the website (docs, executed course, gallery, API) into site/_build/html
#   make lab    # install JupyterLab and open the course's notebooks in it

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := out

.PHONY: demo test lint format docs bench validation-figures clean site lab chromium

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sre-sandbox needs Python 3.11 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The dask extra too, so that the Dask backend's tests run (they are skipped without it), and
# the site extra, for the website's browser test (tests/site/).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,dask,site]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-site

demo: $(VENV)/.installed
	MPLBACKEND=Agg $(BIN)/python -m simulator.experiments.eras --jobs 2 --out $(DEMO_OUT)/eras
	MPLBACKEND=Agg $(BIN)/sresim run scenarios/validation/mmc.yaml --out $(DEMO_OUT)/mmc
	MPLBACKEND=Agg $(BIN)/sresim run scenarios/examples/web-shop.yaml --out $(DEMO_OUT)/web-shop
	MPLBACKEND=Agg $(BIN)/sresim compare scenarios/examples/load-balancers/*.yaml --out $(DEMO_OUT)/load-balancers
	MPLBACKEND=Agg $(BIN)/sresim run scenarios/what-if/retry-storm.yaml --out $(DEMO_OUT)/retry-storm
	MPLBACKEND=Agg $(BIN)/sresim run scenarios/omega/example.yaml --out $(DEMO_OUT)/omega-example
	@echo "Tables and charts are in $(DEMO_OUT)/"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint chromium
	MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 --dist loadgroup

# The website: Sphinx + MyST-NB + the PyData theme. Notebooks execute at small sizes, cached by
# their code in site/_build/.jupyter_cache; the gallery is cached by a digest of the code.
$(VENV)/.installed-site: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[site]'
	@touch $@ $(VENV)/.installed

site: $(VENV)/.installed-site
	@mkdir -p site/_build
	MPLBACKEND=Agg flock site/_build/.build-lock $(BIN)/python -m sphinx -b html -q site site/_build/html
	@echo "The website is in site/_build/html/ (open index.html, or: $(BIN)/python -m http.server -d site/_build/html)"

# The course in JupyterLab (LAB_ARGS=--no-browser on a machine without a display).
$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[lab]'
	@touch $@ $(VENV)/.installed

lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

# Headless Chromium for the website's browser test: Debian's package, installed when missing
# (as root, or through sudo); without it the browser test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "chromium is missing and there is no root to install it: the browser test will skip"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.installed-dev
	$(BIN)/python -m simulator.scenario.reference > docs/scenario-reference.md

validation-figures: $(VENV)/.installed
	MPLBACKEND=Agg $(BIN)/python docs/validation_figures.py

# Each benchmark prints its own tables and appends its headline figures to BENCH_RESULTS;
# benchmarks/targets.py prints them last, one row per target. A benchmark that fails leaves
# its rows "not measured" and the others still run; `make bench` then names it and fails.
# The dev and dask extras: the notebooks run under papermill, the sweep on a Dask cluster too.
# sre-1000 is timed with its bytecode compiled, as an installed package's is (--compiled),
# whatever the shell's PYTHONDONTWRITEBYTECODE.
BENCH_FAILED := $(DEMO_OUT)/bench-failed.txt
bench: export BENCH_RESULTS := $(abspath $(DEMO_OUT)/bench-results.jsonl)
bench: $(VENV)/.installed-dev
	@mkdir -p $(DEMO_OUT) && rm -f "$$BENCH_RESULTS" $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_startup.py || echo bench_startup.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_mmc.py || echo bench_mmc.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_chain.py || echo bench_chain.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_omega.py || echo bench_omega.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_sweep.py || echo bench_sweep.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_analytic.py --compiled \
		|| echo bench_analytic.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_analytic.py --compiled --fleet --repeats 1 \
		|| echo "bench_analytic.py --fleet" >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_one_world.py || echo bench_one_world.py >> $(BENCH_FAILED)
	$(BIN)/python benchmarks/bench_notebooks.py || echo bench_notebooks.py >> $(BENCH_FAILED)
	@echo
	@$(BIN)/python benchmarks/targets.py "$$BENCH_RESULTS"
	@if [ -s $(BENCH_FAILED) ]; then \
		echo "make bench: these benchmarks failed: $$(paste -sd, $(BENCH_FAILED))"; exit 1; fi

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache site/_build
