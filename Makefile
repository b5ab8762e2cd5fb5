# ShieldX: `make run` serves a demo, `make test` runs the whole suite. See README.md.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint licenses lock services venv migrate demo clean chaos

# requirements-dev.txt is the lock file (runtime + test tools, every package pinned and
# hashed, compiled from requirements.in and requirements-dev.in by `make lock`).
$(VENV)/.installed: requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --no-input

demo: migrate
	@$(PY) manage.py demo_setup

# serve.sh binds the port first and only then rotates the demo key (demo_setup).
run: migrate
	@HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

services:
	@scripts/services.sh

# The credits contract tests run a second time on SQLite, the embedded default's database,
# so the portable twin of the hot path's PostgreSQL SQL is held to the same contract.
CREDITS_CONTRACT_TESTS := credits/tests/test_api.py credits/tests/test_idempotency.py credits/tests/test_bad_input.py credits/tests/test_model.py credits/tests/test_grants.py credits/tests/test_grants_model.py credits/tests/test_batch.py credits/tests/test_alerts.py

test: venv services
	$(PY) -m pytest
	DATABASE_URL=sqlite:///var/test-twin.sqlite3 $(PY) -m pytest -q -m "not postgresql" $(CREDITS_CONTRACT_TESTS)

# The Jepsen-style bank test (chaos/bank.py): its own PostgreSQL and Redis on private
# ports, gunicorn, faults; at most 3 minutes; exits non-zero on any violation.
chaos: venv
	$(PY) -m chaos.bank $(CHAOS_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

# Fails on a GPL/AGPL licence among the packages the image ships (scripts/check_licenses.py).
licenses: venv
	$(PY) scripts/check_licenses.py

# Recompile the lock files after editing requirements*.in (needs the package index).
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-header --annotation-style=line
lock:
	@test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet pip-tools==7.6.2)
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) -o requirements.txt requirements.in
	.venv-lock/bin/pip-compile $(LOCK_FLAGS) -o requirements-dev.txt requirements.in requirements-dev.in

clean:
	rm -rf $(VENV) .venv-lock var .pytest_cache .ruff_cache
