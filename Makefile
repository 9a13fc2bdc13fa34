# Two commands work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4200
DEMO_REPO ?= .shipyard/demo/sample-platform
DEMO_APPROVE ?= auto
DEMO_PORT_OFFSET ?= 0
PYTEST_ARGS ?=
# The suite runs on this many xdist workers, a test file per worker at a time, longest first
# (tests/support/scheduling.py). Three on two cores: each worker runs its own Prefect and PostgreSQL servers, and
# the slow tests wait on servers, pauses and leases often enough that a third worker fills the cores (measured on
# this machine, warm: 2 workers 17:23 at 1.33 cores busy, 3 workers 14:40 at 1.70).
TEST_WORKERS ?= 3

export PREFECT_SERVER_ANALYTICS_ENABLED = false

.PHONY: install demo test lint unit e2e bench clean base-images system-demo system-test

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

# The Debian packages each command needs, installed with apt when missing (scripts/system-deps.sh says what it does).
system-demo:
	@bash scripts/system-deps.sh demo
system-test:
	@bash scripts/system-deps.sh test

## demo: a local Prefect server (SQLite) if none runs; pr-checks on the sample platform; the five deployments
## registered and a process worker; staging deploy; production deploy suspended for approval (approved by the demo
## unless DEMO_APPROVE=manual), then a second release blue-green with traffic steps; `shipyard status production`.
## The server, colours and routers stay up (listed at the end); `shipyard demo down` stops them.
demo: system-demo install
	@$(BIN)/python -m deployments.demo --port $(PORT) --repo $(DEMO_REPO) --approve $(DEMO_APPROVE) --port-offset $(DEMO_PORT_OFFSET)
	@echo "See the runs in the Prefect UI: http://127.0.0.1:$(PORT)/runs"

## test: lint, type-check and the whole test suite (slow end-to-end tests included) on TEST_WORKERS workers;
## prints the skip count and the 15 slowest tests
test: system-test install lint
	$(BIN)/pytest -ra --durations=15 -n $(TEST_WORKERS) $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -ra -m "not slow" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: system-test install
	$(BIN)/python bench/pr_checks_cache.py
	$(BIN)/python bench/pr_checks_parallel.py
	$(BIN)/python bench/sandbox_overhead.py
	$(BIN)/python bench/cutover.py
	$(BIN)/python bench/rollback.py
	$(BIN)/python bench/image_build_cache.py
	$(BIN)/python bench/webhook_ingest.py

## base-images: local base images from Debian's packages (needs a running Docker engine and debootstrap)
base-images: system-test install
	$(BIN)/shipyard images bootstrap

clean:
	rm -rf $(VENV) .shipyard .mypy_cache .ruff_cache .pytest_cache
