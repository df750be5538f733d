# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
DEMO_DIR ?= ./omnix-data

.PHONY: demo test install install-dev lint typecheck unit integration e2e bench bench-api bench-web openapi clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

## demo: install, generate a demo dataset, ingest and analyse it, then serve the API on it
## (prints the docs URL and a demo API key; Ctrl-C stops). `omnix demo --no-serve` only prints.
demo: $(STAMP)
	$(BIN)/omnix demo --data-dir $(DEMO_DIR)

NODE_STAMP := node_modules/.installed

# axe-core (the browser tests inject it) and htmx (vendored under src/.../web/static/vendor),
# exactly as package-lock.json pins them
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

## test: install dev tools, then lint, type-check, check layering and run every test
## (the dashboard's browser tests need Debian's chromium: scripts/ensure-chromium.sh)
test: $(DEV_STAMP) $(NODE_STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-redis.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q tests

unit: $(DEV_STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/ingest.py

## bench-api: wrk against `omnix serve` on loopback (installs Debian's wrk when missing)
bench-api: $(DEV_STAMP)
	$(BIN)/python benchmarks/api_load.py

## openapi: regenerate the committed OpenAPI document from the app (a test fails when stale)
openapi: $(STAMP)
	$(BIN)/omnix openapi --out openapi/omnix.yaml

## bench-web: server render time of every dashboard page on the demo data (2,000 customers)
bench-web: $(DEV_STAMP)
	$(BIN)/python benchmarks/web.py

clean:
	rm -rf $(VENV) omnix-data .pytest_cache .mypy_cache .ruff_cache node_modules test-artifacts
