# The two commands a newcomer needs: `make book` and `make test`. Everything else is optional.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/lock.txt
STAMP := $(VENV)/.installed-$(shell cat $(LOCK) pyproject.toml | sha1sum | cut -c1-12)
# Sphinx warnings are errors; --keep-going reports all of them before failing.
JB_FLAGS ?= -W --keep-going

.PHONY: help setup book test test-fast test-deps validate lint lint-imports clean lock

help:
	@echo "make book       set up .venv (first run), execute the chapters, build the site into _build/html"
	@echo "make test       set up .venv (first run) and run the whole test suite, on every core"
	@echo "make test-fast  the quick tests: no book builds, no browser, nothing marked slow"
	@echo "make test-deps  optional: install R/metafor and Chromium with apt for the reference and browser tests"
	@echo "make validate   check data/ and references.bib"
	@echo "make lint       ruff, and lint-imports: the rooms of analysis/ and the direction of their imports"
	@echo "make site       the versioned website (every release tag and dev) into _build/site"
	@echo "make release VERSION=YY.MINOR.PATCH TRIGGER='why'   cut a release (see RELEASING.md)"
	@echo "make bench      build and engine benchmarks;  make simulate   re-run the simulation study"
	@echo "make bench-lighthouse   Lighthouse scores of the home, results and studies pages (served compressed, 5 runs)"

setup: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@echo "==> [1/2] creating $(VENV) with $$($(PYTHON) --version)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/2] installing the pinned dependencies from $(LOCK) and the analysis package"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -r $(LOCK)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@rm -f $(VENV)/.installed-*
	@touch $@

# Three stages, each skipped when the files it reads and writes are those of its last run (tools/build.py):
# validate data/ and references.bib; execute the chapters whose inputs changed and write the site;
# write the results snapshot _build/results/dev.json. Ends with the time budget of each stage.
book: setup
	$(BIN)/python -m tools.build --jb-flags "$(JB_FLAGS)"
	@echo ""
	@echo "Website built in _build/html"
	@echo "Open it with:  $(BIN)/python -m http.server -b 127.0.0.1 -d _build/html  then visit http://127.0.0.1:8000"

# The rooms of the package and the direction of their imports (contracts in pyproject.toml).
lint-imports: setup
	$(BIN)/lint-imports --no-cache

# Tests run in parallel on every core (pytest-xdist); PYTEST_WORKERS=0 runs them in one process.
# --dist loadscope keeps the tests of a module on one worker, so a build that a module's tests share (a
# module-scoped fixture) is made once (tests/conftest.py says why not loadgroup).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadscope

test: setup lint-imports
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

validate: setup
	$(BIN)/python -m analysis validate

# Optional system tools for the reference and browser tests (Debian/Ubuntu, needs root or sudo):
# R with metafor regenerates the reference values; Chromium runs the browser test. Without them
# those tests skip with a message; the comparison with the committed metafor values always runs.
TEST_DEPS := r-cran-metafor r-cran-metadat r-cran-lme4 r-cran-survival chromium
test-deps:
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TEST_DEPS)

test-fast: setup lint-imports
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not build and not browser and not slow"

lint: setup lint-imports
	$(BIN)/ruff check analysis tests tools benchmarks

clean:
	rm -rf _build

# Regenerate the lock after changing dependencies in pyproject.toml (needs network).
lock:
	rm -rf /tmp/lock-venv && $(PYTHON) -m venv /tmp/lock-venv
	/tmp/lock-venv/bin/pip install -e ".[book,test]" jupytext ruff
	/tmp/lock-venv/bin/pip check
	( echo "# Pinned, pip-check-clean set for reproducible builds (Python 3.11). Regenerate: make lock"; \
	  /tmp/lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e'; echo "setuptools==65.5.0" ) > $(LOCK)

# ---- versions (issue 6): see RELEASING.md -------------------------------------------------------
# Sub-path the site is served under: "/" at the root of a host, "/<repository>/" for a GitHub
# Pages project site.
SITE_BASEURL ?= /

.PHONY: site release

site: setup
	@echo "==> building every release tag and the working tree (dev) into _build/site"
	$(BIN)/python -m tools.site --out _build/site --baseurl "$(SITE_BASEURL)" --jb-flags "$(JB_FLAGS)"

release: setup
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=YY.MINOR.PATCH TRIGGER=\"why\"" >&2; exit 2; }
	$(BIN)/python -m tools.release release "$(VERSION)" --trigger "$(TRIGGER)"

# ---- performance (issue 8): see benchmarks/README.md ---------------------------------------------
.PHONY: bench bench-lighthouse simulate simulate-confirmation

# Build and engine benchmarks (not part of the test suite); needs R with metafor for the engine part.
bench: setup
	$(BIN)/python benchmarks/bench_build.py
	$(BIN)/python benchmarks/bench_engine.py

# Lighthouse 12 (from the npm registry, through npx; needs Node.js, npm and Chromium) on the home, results and
# studies pages of the built site, served with gzip on 127.0.0.1 (benchmarks/serve_compressed.py).
bench-lighthouse: book
	$(BIN)/python benchmarks/bench_lighthouse.py --site _build/html --runs 5

# Re-run the simulation study (grid, seed and replicates from data/simulation_plan.yaml) and store its results in
# results/simulation/ (about 11 minutes with 2 worker processes on a shared 2-core machine, 14 CPU-minutes), with
# the figures the book shows of them (results/simulation/figures/; `python -m tools.simulate --figures-only`
# draws again only those whose inputs changed, in seconds).
simulate: setup
	$(BIN)/python -m tools.simulate --out results/simulation --workers 2

# The confirmation run of the plan's rule (data/simulation_plan.yaml, section confirmation) into
# results/simulation/confirmation (about 10 minutes with 2 worker processes).
simulate-confirmation: setup
	$(BIN)/python -m tools.simulate --out results/simulation --workers 2 --confirmation
