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

# serve.sh binds the port first and only then rotates the demo key (demo_setup).
run: migrate
	@HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

services:
	@scripts/services.sh

test: venv services
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
