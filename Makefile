# ShieldX: `make run` serves a demo, `make test` runs the whole suite. See README.md.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint services venv migrate demo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --no-input

demo: migrate
	@$(PY) manage.py demo_setup

run: demo
	@scripts/serve.sh

services:
	@scripts/services.sh

# The credits contract tests run a second time on SQLite, the embedded default's database,
# so the portable twin of the hot path's PostgreSQL SQL is held to the same contract.
CREDITS_CONTRACT_TESTS := credits/tests/test_api.py credits/tests/test_idempotency.py credits/tests/test_bad_input.py credits/tests/test_model.py credits/tests/test_grants.py credits/tests/test_grants_model.py credits/tests/test_batch.py

test: venv services
	$(PY) -m pytest
	DATABASE_URL=sqlite:///var/test-twin.sqlite3 $(PY) -m pytest -q -m "not postgresql" $(CREDITS_CONTRACT_TESTS)

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
