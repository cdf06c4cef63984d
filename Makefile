# The two README commands. Each works on a fresh machine as the only command:
# create .venv if missing, install (quick when already installed), then run.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=
# Reports and case ids are UTF-8 whatever the locale CI runs under.
export PYTHONUTF8 := 1

.PHONY: demo test setup real clean-venv

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

test: setup
	bash .ci/install-browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
