# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kodeord demo

test: lint
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check core plugins tests bench examples
	$(BIN)/ruff format --check core plugins tests bench examples
	$(BIN)/mypy core plugins

bench: $(STAMP)
	$(BIN)/python bench/rules_load.py
	$(BIN)/python bench/inbound.py

clean:
	rm -rf $(VENV) var build *.egg-info
