# govkit — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test bench docs lint clean venv venv-dev system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install $(PIP_FLAGS) -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install $(PIP_FLAGS) -e '.[dev]'
	@touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

## The main job end to end on the bundled UCI Adult example.
demo: venv
	$(BIN)/python examples/credit/demo.py --workdir build/demo

## System packages the tests need (PDF rasteriser, font subsetting); PostgreSQL is started by the tests.
system-deps:
	bash tests/setup_system.sh

## The whole suite: unit, CLI, store on SQLite and PostgreSQL, PDF rendering.
test: venv-dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Speed targets of the issues, each printing its ratio against the baseline measured in the same run.
bench: venv-dev
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

## The documentation site (docs/, reference pages generated from the code), warnings as errors.
docs: venv-dev
	$(BIN)/python -m mkdocs build --strict --config-file mkdocs.yml --site-dir build/site

## ruff, and mypy --strict on the package (configured in pyproject.toml's [tool.mypy]).
lint: venv-dev
	$(BIN)/ruff check govkit tests examples benchmarks
	$(BIN)/python -m mypy

clean:
	rm -rf build dist .pytest_cache govkit.db
