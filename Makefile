# One task runner for contributors, CI and the README. Every target sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-fast test-slow bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Running needs the server extra only; the tests add the dev tools and the real client libraries.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,clients]'
	scripts/ensure-chromium.sh
	touch $@ $(RUN_STAMP)

## run: the server on the embedded store, with demo traffic to look at (http://127.0.0.1:4318)
run: $(RUN_STAMP)
	$(BIN)/threadline serve --demo

## test: lint, then the whole suite (the default pass, then the slow suites: real client libraries)
test: lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest -m slow

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest

test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -m slow

## bench: every benchmark in benchmarks/ (each prints ratios against a baseline measured in the same run)
bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/sdk_overhead.py
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/analytics.py

## lint: ruff (lint + format check) and mypy --strict on the package
lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks examples scripts
	$(BIN)/ruff format --check src tests benchmarks examples scripts
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff format src tests benchmarks examples scripts
	$(BIN)/ruff check --fix src tests benchmarks examples scripts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
