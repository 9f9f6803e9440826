# Two commands a new user needs: `make demo` and `make test`. Both install what they need into
# .venv (torch pinned to the CPU wheel, see docs/decisions) and are fast when nothing changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0

.PHONY: install test lint typecheck pytest test-slow demo clean web-install web-test

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e '.[train,dev]' $(TORCH_PIN)
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest

# Slow checks on the full ../shared/data (not part of `make test`).
test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow

demo: $(STAMP)
	$(VENV)/bin/tinycats generate --breed Siamese -n 16 --seed 7 -o demo-siamese.png

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
