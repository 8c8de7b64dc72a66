# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# dbt reads the warehouse path from the environment; parsing needs no real file.
PARSE_ENV := MAILROOM_WAREHOUSE=:memory:
# The setup parse names the default warehouse file (it is not opened): DuckDB calls a
# database after its file, and the semantic manifest that `mf` reads keeps that name.
SETUP_PARSE_ENV := MAILROOM_WAREHOUSE=$(CURDIR)/.mailroom/warehouse.duckdb

.PHONY: setup demo test lint ui clean

setup: $(VENV)/.installed target/manifest.json

# setup.py compiles the renderer's per-recipient modules (mypyc): a changed
# renderer source is compiled again.
$(VENV)/.installed: pyproject.toml setup.py $(wildcard renderer/*.py)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The manifest Dagster loads the dbt assets from.
target/manifest.json: $(VENV)/.installed dbt_project.yml $(shell find dbt_project -type f)
	$(SETUP_PARSE_ENV) $(BIN)/dbt parse --profiles-dir . --quiet
	touch $@

demo: setup
	$(BIN)/mailroom demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PARSE_ENV) $(BIN)/sqlfluff lint dbt_project/models --disable-progress-bar

test: lint
	$(BIN)/pytest

ui: setup
	$(BIN)/mailroom ui

# also mypyc's build: C sources, the compiled modules and their record (setup.py)
clean:
	rm -rf $(VENV) target logs .mailroom build renderer/*.so renderer__mypyc.*.so renderer/_compiled.json
