# Two commands on a fresh machine with python3 (3.11+) and make:
#   make demo   # set up .venv, run the default scenarios, write tables and charts under out/
#   make test   # set up .venv with the dev extra, lint, and run every test and notebook

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_OUT := out

.PHONY: demo test lint format docs bench validation-figures clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sre-sandbox needs Python 3.11 or newer, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps re-install only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

# The dask extra too, so that the Dask backend's tests run (they are skipped without it).
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,dask]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	MPLBACKEND=Agg $(BIN)/python -m simulator.experiments.eras --out $(DEMO_OUT)/eras
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

test: lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -n 2 --dist loadgroup

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(VENV)/.installed-dev
	$(BIN)/python -m simulator.scenario.reference > docs/scenario-reference.md

validation-figures: $(VENV)/.installed
	MPLBACKEND=Agg $(BIN)/python docs/validation_figures.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_mmc.py
	$(BIN)/python benchmarks/bench_chain.py
	$(BIN)/python benchmarks/bench_omega.py
	$(BIN)/python benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
