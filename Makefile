# Two entry points for a fresh machine (see README):
#   make demo   installs everything into .venv and runs one pipeline iteration (embedded default)
#   make test   installs everything into .venv and runs the test suite
# The install is locked: requirements.lock pins every package (torch 2.13.0 CPU, prefect, fastapi...);
# `make lock` refreshes it from pyproject.toml's ranges (README, "Locked install").
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK_VENV := .lock-venv
# Where pip finds torch's CPU build when no local wheel is in its find-links: PyTorch's CPU index
# (make install TORCH_INDEX=https://download.pytorch.org/whl/cpu). Empty: the configured indexes only.
TORCH_INDEX ?=
PIP_TORCH := $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: install demo selfplay iterate test bench lock check-lock

# The locked packages first, then the project itself without resolving anything (--no-deps, and no
# build isolation: setuptools comes from the lock too), then a check that the versions are the lock's.
$(BIN)/rift: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock $(PIP_TORCH)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m cli.lock check
	touch $(BIN)/rift

install: $(BIN)/rift

check-lock: install
	$(BIN)/python -m cli.lock check

# Resolve pyproject.toml's ranges afresh in a scratch venv (torch pinned to 2.13.0, the CPU build)
# and write what got installed to requirements.lock. Review the diff, run `make test`, commit both.
lock:
	rm -rf $(LOCK_VENV)
	$(PY) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q torch==2.13.0 $(PIP_TORCH)
	$(LOCK_VENV)/bin/pip install -q -e '.[test]'
	$(LOCK_VENV)/bin/python -m cli.lock write
	rm -rf $(LOCK_VENV)

demo: install
	$(BIN)/rift iterate --board hex8 --players 2 --profile tiny

selfplay: install
	$(BIN)/rift selfplay --board square8 --players 2 --games 20 --engine random --seed 1 --out runs/demo

iterate: install
	$(BIN)/rift iterate --board hex8 --players 2 --profile tiny

# The fleet tests need OpenSSH's server (/usr/sbin/sshd); .ci/run installs it, `make test` never does
# (without it those tests are skipped, saying so). pytest prints the 15 slowest tests (pyproject.toml).
test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/engine.py
