# The whole platform without Docker: `make dev` runs it, `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := libs/contracts libs/servicekit deploy/local \
	services/gateway services/auth services/storage services/aligner services/janitor services/notifier \
	clients/python
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := services/aligner/bench libs/contracts/src libs/servicekit/src deploy/local/src $(wildcard services/*/src) \
	clients/python/src
TESTS := libs/contracts/tests libs/servicekit/tests deploy/local/tests $(wildcard services/*/tests) \
	clients/python/tests tests

.PHONY: help backup restore migrate smoke fmt fuzz bench bench-load bench-accuracy bench-confidence bench-adaptation bench-offsets bench-speed bench-long system-deps dev test test-unit test-integration test-e2e lint format contracts venv clean-dev

help:
	@echo "make dev        run all six services, an S3 server and the setup, in the foreground"
	@echo "make test       run every test (unit, integration, end-to-end) on real services"
	@echo "make lint       ruff and mypy"
	@echo "make bench      accuracy (bench-accuracy), throughput (bench-speed), an hour-long file (bench-long)"
	@echo "make bench-confidence  how well word confidence finds wrong transcript words (ROC AUC)"
	@echo "make bench-adaptation  what speaker adaptation (MLLR) gains on TIMIT, per recording and per speaker"
	@echo "make bench-offsets     per-class boundary corrections, cross-validated by speaker"
	@echo "make bench-load the whole platform under load (submit latency, replicas, memory, streams)"
	@echo "make contracts  regenerate the AsyncAPI document and JSON Schemas"
	@echo "make migrate    create the schemas and users, upgrade each to its Alembic head"
	@echo "make smoke URL=http://127.0.0.1:8000  health, sign-up, one job, download (< 1 min)"
	@echo "make backup DEST=DIR   the schemas and the bucket, while the system runs"
	@echo "make restore SRC=DIR   put a backup back, with the system stopped"
	@echo "make fmt        ruff format and ruff check --fix (alias of make format)"
	@echo "runbook: docs/operations.md"

# ffmpeg decodes uploads (storage); espeak-ng pronounces words outside the dictionary
# (aligner); mariadb-client's mysqldump and mysql back up and restore the schemas;
# prometheus gives promtool (the alert rules' tests) and the local Prometheus of
# DEVSTACK_PROMETHEUS=1. Installed from Debian's packages where missing; the packaged
# Prometheus service (on 9090, where systemd runs) is stopped and disabled: devstack runs
# its own.
system-deps:
	@command -v ffmpeg >/dev/null && command -v espeak-ng >/dev/null && \
	  command -v mysqldump >/dev/null && command -v mysql >/dev/null || { \
	  echo "installing ffmpeg, espeak-ng and mariadb-client"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends ffmpeg espeak-ng mariadb-client; }
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
	  echo "installing prometheus (promtool)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends prometheus && \
	  { ! command -v systemctl >/dev/null || [ ! -d /run/systemd/system ] || \
	    $(SUDO) systemctl disable --now prometheus >/dev/null 2>&1 || true; }; }

venv: $(STAMP)

$(STAMP): $(PYPROJECTS) constraints.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

dev: system-deps venv
	$(BIN)/python -m devstack run

test: system-deps venv
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest libs/contracts libs/servicekit/tests/unit deploy/local/tests services clients/python/tests

test-integration: venv
	$(BIN)/pytest -m integration

test-e2e: venv
	$(BIN)/pytest tests/e2e

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(SOURCES)
	$(BIN)/mypy $(TESTS)

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

fmt: format

# Operations (docs/operations.md), on make dev's configuration (DEVSTACK_* settings, .dev/).
migrate: venv
	$(BIN)/python -m devstack migrate

smoke: system-deps venv
	@test -n "$(URL)" || { echo "usage: make smoke URL=http://127.0.0.1:8000 [SMOKE_ARGS=...]" >&2; exit 2; }
	$(BIN)/python -m devstack smoke "$(URL)" $(SMOKE_ARGS)

backup: system-deps venv
	@test -n "$(DEST)" || { echo "usage: make backup DEST=DIR (a new or empty folder)" >&2; exit 2; }
	$(BIN)/python -m devstack backup "$(DEST)"

restore: system-deps venv
	@test -n "$(SRC)" || { echo "usage: make restore SRC=DIR (a folder made by make backup)" >&2; exit 2; }
	$(BIN)/python -m devstack restore "$(SRC)"

bench: bench-accuracy bench-confidence bench-speed bench-long

bench-accuracy: venv
	$(BIN)/python services/aligner/bench/accuracy.py

bench-confidence: venv
	$(BIN)/python services/aligner/bench/confidence.py

bench-adaptation: venv
	$(BIN)/python services/aligner/bench/adaptation.py

bench-offsets: venv
	$(BIN)/python services/aligner/bench/offsets.py

bench-speed: venv
	$(BIN)/python services/aligner/bench/speed.py

contracts: venv
	$(BIN)/python -m contracts.export

clean-dev:
	rm -rf .dev

# A stack of its own (1, 2 and 4 aligner replicas in turn) on this machine's MariaDB and
# RabbitMQ; about ten minutes. BENCH_ARGS="--skip a,c --replicas 1,2" for less.
bench-load: system-deps venv
	mkdir -p .dev && $(BIN)/python -m tests.load.bench_load --out .dev/bench-load.md $(BENCH_ARGS)

bench-long: venv
	$(BIN)/python services/aligner/bench/long_audio.py

fuzz: venv
	RUN_FUZZ=1 $(BIN)/pytest tests/fuzz -s -p no:cacheprovider
