# AlphaLoop: `make run` runs the main job on embedded defaults; `make test` runs every test.
# Both create or refresh the virtual environment first; nothing else is needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

##@ Main

run: $(STAMP) ## Run the main job on embedded defaults (bundled real data, no servers, no keys)
	$(VENV)/bin/alphaloop run

test: $(STAMP) ## Run every test (starts Redis/PostgreSQL if stopped; Kafka broker via fixture)
	bash scripts/services.sh ensure
	$(PY) -m pytest -q

##@ Development

venv: $(STAMP) ## Create or refresh the virtual environment (runs when pyproject.toml changes)

$(STAMP): pyproject.toml setup.py
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

protos: $(STAMP) ## Regenerate Python + .pyi stubs from proto/ into libs/common/alphaloop/v1
	$(PY) scripts/gen_protos.py

lint: $(STAMP) ## Lint with ruff
	$(VENV)/bin/ruff check libs services tests bench scripts

bench: $(STAMP) ## Run every benchmark in bench/ and write JSON to bench/results/
	$(PY) bench/run_all.py

services: ## Start PostgreSQL and Redis if they are not running
	bash scripts/services.sh ensure

clean: ## Remove the virtual environment, embedded state and run reports
	rm -rf $(VENV) .alphaloop runs .pytest_cache

##@ Help

help: ## List every target with one line each
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-zA-Z_-]+:.*##/ {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run test venv protos lint bench services clean help
