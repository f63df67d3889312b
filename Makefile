# Two entry points for a fresh machine (see README):
#   make demo   installs everything into .venv and runs one pipeline iteration (embedded default)
#   make test   installs everything into .venv and runs the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install demo iterate test bench

$(BIN)/rift: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/rift

install: $(BIN)/rift

demo: install
	$(BIN)/rift iterate --board hex8 --players 2 --profile tiny

selfplay: install
	$(BIN)/rift selfplay --board square8 --players 2 --games 20 --engine random --seed 1 --out runs/demo

iterate: install
	$(BIN)/rift iterate --board hex8 --players 2 --profile tiny

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/engine.py
