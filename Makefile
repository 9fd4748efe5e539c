# Signet — `make help` lists the targets.
VENV   ?= .venv
PYTHON ?= python3.11
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The suite mostly waits (brokers, timers, browsers), so it runs modules on more workers
# than there are cores; each worker has its own broker.
TEST_WORKERS ?= 4

.DEFAULT_GOAL := help
.PHONY: help install run demo bench test lint typecheck fmt topics docs clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml sdk/python/pyproject.toml sdk/typescript/package-lock.json \
          tests/services/portal/embed/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e './sdk/python[kafka]' -e '.[dev]'
	npm ci --prefix sdk/typescript --no-audit --no-fund
	npm ci --prefix tests/services/portal/embed --no-audit --no-fund  # axe-core: the embed's accessibility audit
	touch $@

install: $(STAMP) ## create .venv and install Signet with the dev tools

run: $(STAMP) ## start the whole stack on the embedded defaults (Ctrl-C stops it)
	$(VENV)/bin/signet up

demo: $(STAMP) ## play the seed scenario on a throw-away local stack, narrated (under half a minute)
	$(VENV)/bin/signet demo

bench: $(STAMP) ## run the benchmarks (docs/benchmarks.md); results in bench/results/
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m bench.e2e
	$(PY) -m bench.fairness

test: $(STAMP) lint typecheck ## lint, type-check and run every test against a real broker
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy --strict (the SDK's sources also for its oldest Python, 3.10)
	$(VENV)/bin/mypy
	cd sdk/python && ../../$(VENV)/bin/mypy

docs: $(STAMP) ## write the docs made from the code (docs/openapi/*.json, the field reference)
	$(PY) -m services.docs
	npm run --prefix sdk/typescript generate

fmt: $(STAMP) ## format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean: ## remove the venv and local state
	rm -rf $(VENV) .signet .mypy_cache .ruff_cache .pytest_cache
