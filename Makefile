# The two README commands. Each works on a fresh machine as the only command:
# create .venv if missing, install (quick when already installed), then run.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
# DI2IN's parameters in benchmarks/real.toml, for `make generalisation`
DI2IN_REAL := --set balance='"dataset"' --set iterations=600
# Reports and case ids are UTF-8 whatever the locale CI runs under.
export PYTHONUTF8 := 1

.PHONY: demo test setup real generalisation clean-venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/liverbench run benchmarks/demo.toml --report reports/demo

real: setup
	$(BIN)/liverbench run benchmarks/real.toml --report reports/real

# Issue 29's development protocol: the intensity baseline and DI2IN (as benchmarks/real.toml
# configures it) on every real case (leave-one-out) and the phantom suite; about an hour on one
# core. Judge a change with `benchmarks/generalisation.py compare REF.json CAND.json`.
GEN_OUT := runs/generalisation
generalisation: setup
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/generalisation.py run intensity --json $(GEN_OUT)/intensity.json
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/generalisation.py run di2in $(DI2IN_REAL) --models $(GEN_OUT)/models --json $(GEN_OUT)/di2in.json

test: setup
	bash .ci/install-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
