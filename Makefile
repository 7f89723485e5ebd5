# flowsite: the commands you need. `make demo` to see it run, `make test` before you push.
#
# The virtualenv lives in .venv. A stamp file per requirements file records what was
# installed, so pip runs again only when the requirements change.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.DEFAULT_GOAL := help
.PHONY: help demo test chaos services lint bench clean distclean

help:
	@echo "make demo    run feed, worker, listener and web locally (SQLite + filesystem broker, no servers)"
	@echo "make test    make lint, then the tests against PostgreSQL and Redis on 127.0.0.1 (started if need be)"
	@echo "make chaos   the fault-injection suite: every fault scenario and a 100,000-frame fuzz run, with figures"
	@echo "make lint    ruff check, ruff format --check, mypy"
	@echo "make bench   the benchmarks on PostgreSQL and Redis (started if need be): throughput, latency, soak"
	@echo "make clean   remove ./var (demo database and broker) and caches; distclean also removes .venv"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "flowsite needs Python 3.11 or newer: put python3.11 on PATH or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.base.stamp: requirements/base.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/base.txt
	touch $@

# dev.txt includes base.txt, so installing it also satisfies the base stamp.
$(VENV)/.dev.stamp: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $(VENV)/.base.stamp $@

# The demo always runs on the embedded default, whatever the shell exports (a checkout's
# settings are the development ones: DEBUG on, no secret key needed).
demo: $(VENV)/.base.stamp
	env -u DATABASE_URL -u CELERY_BROKER_URL $(BIN)/python manage.py demo $(ARGS)

# Lint first (seconds): CI runs `make test`, so style and types are checked on every change.
# Two test processes (pytest-xdist), one a core: each has its own database and Redis key prefix
# (tests/bootstrap.py). ARGS="-n 0" runs them in one.
test: $(VENV)/.dev.stamp lint services
	bash scripts/ensure-chromium
	$(BIN)/python -m pytest -n 2 $(ARGS)

# Every chaos scenario (make test runs a subset) and the full fuzz run; the figures print at the end.
chaos: $(VENV)/.dev.stamp services
	mkdir -p var && rm -f var/chaos-report.txt
	FLOWSITE_CHAOS=full FLOWSITE_CHAOS_REPORT=$(CURDIR)/var/chaos-report.txt $(BIN)/python -m pytest tests/chaos -q $(ARGS); \
		status=$$?; echo; cat var/chaos-report.txt 2>/dev/null; exit $$status

services: $(VENV)/.base.stamp
	PYTHON=$(BIN)/python bash scripts/ensure-services

lint: $(VENV)/.dev.stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# On PostgreSQL and Redis: the local ones the tests use unless DATABASE_URL and
# CELERY_BROKER_URL say otherwise (the bench creates and drops its own database).
# DEBUG is off (it records every query).
bench: ARGS ?= --all
bench: $(VENV)/.base.stamp services
	DEBUG=0 \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} \
	CELERY_KEY_PREFIX=$${CELERY_KEY_PREFIX:-flowsite-bench:} \
	$(BIN)/python manage.py bench $(ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
