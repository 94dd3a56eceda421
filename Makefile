# theia-sf for Airflow. `make run` and `make test` set everything up on a machine that has
# only Python 3.11: a bootstrap virtualenv gets uv, uv installs the locked dependencies.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
BOOT := .local/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test install install-test lint bench demo dashboards clean

$(UV):
	@mkdir -p .local
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --frozen --python $(PYTHON) --extra test

install-test: install

## Install, onboard the embedded engine, load demo flows, run the pipelines, serve Airflow.
run: install
	$(PY) -m theia_sf.quickstart

## Install (with test extras), lint, then run the whole test suite.
test: install-test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

## Benchmarks (not part of the tests); see bench/README.md.
bench: install
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_recommendation.py
	$(PY) bench/bench_detection.py

## Regenerate the Grafana dashboards from sql/dashboards/.
dashboards: install
	$(PY) -m theia_sf.dashboards

demo: install
	$(PY) -m theia_sf.demo --out .local/theia/flows

clean:
	rm -rf .local $(VENV)
