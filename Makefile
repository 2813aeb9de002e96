# defi-risk-oracle: two commands for a newcomer.
#   make demo   set everything up, run one cycle on a local anvil chain, write a report
#   make test   set everything up, run every test (forge + pytest)
# Setup steps leave stamp files in .stamps/ so that a second run reinstalls nothing up to date.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
NODE_BIN := node_modules/.bin
FORGE := $(NODE_BIN)/forge

.PHONY: setup demo test test-forge test-python abi clean help

help:
	@echo "make demo   - set up and run one keeper cycle on a local anvil chain"
	@echo "make test   - set up and run all tests (forge + pytest)"
	@echo "make abi    - re-export abi/ from the contracts"

$(STAMPS):
	@mkdir -p $(STAMPS)

$(STAMPS)/venv: pyproject.toml constraints.txt | $(STAMPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

$(STAMPS)/node: package.json package-lock.json | $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian's Chromium, for the test that opens a report's HTML headless (playwright drives the system browser;
# `playwright install` cannot download browsers here). Needs root, as on every machine and in CI.
$(STAMPS)/chromium: | $(STAMPS)
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v chromium >/dev/null || { echo "chromium is missing and could not be installed"; exit 1; }
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/node

# ABI + bytecode of every deployable contract, committed as package data; tests/test_tooling.py fails when stale.
abi: $(STAMPS)/node $(STAMPS)/venv
	$(FORGE) build --skip test
	$(PY) tools/export_abi.py out oracle/chain/abi

demo: setup
	$(VENV)/bin/risk-oracle demo

test: setup $(STAMPS)/chromium
	@tools/run_tests.sh

test-forge: $(STAMPS)/node
	$(FORGE) test

test-python: setup
	$(PY) -m pytest

clean:
	rm -rf out cache $(STAMPS) .pytest_cache reports .demo
