# theia-sf for Airflow. `make run` and `make test` set everything up on a machine that has
# only Python 3.11: a bootstrap virtualenv gets uv, uv installs the locked dependencies.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The interpreter itself, not a launcher such as pyenv's shim (a shell script): uv records the
# path it was given, and a different one each time makes it recreate .venv.
PYTHON_EXE := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
PORT ?= 8080
UV_VERSION := 0.13.8
BOOT := .local/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test install install-run install-test lint bench demo dashboards clean

$(UV):
	@mkdir -p .local
	$(PYTHON_EXE) -m venv $(BOOT)
	$(BOOT)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

## The locked dependencies and the test tools (pytest, moto, fakesnow, ruff).
install: $(UV)
	$(UV) sync --frozen --python $(PYTHON_EXE) --extra test

install-test: install

## The locked runtime dependencies only. --inexact keeps test tools a `make test` installed,
## so alternating `make run` and `make test` never uninstalls under a running Airflow.
install-run: $(UV)
	$(UV) sync --frozen --inexact --python $(PYTHON_EXE)

## Install, onboard the embedded engine, load demo flows, run the pipelines, serve Airflow
## on http://127.0.0.1:$(PORT) (`make run PORT=8090` when 8080 is taken).
run: install-run
	$(PY) -m theia_sf.quickstart --port $(PORT)

## Install (with test extras), lint, then run the whole test suite.
test: install-test
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

## Benchmarks (not part of the tests); see bench/README.md.
bench: install-run
	$(PY) bench/bench_ingest.py
	$(PY) bench/bench_recommendation.py
	$(PY) bench/bench_detection.py
	$(PY) bench/bench_tad.py

## Regenerate the Grafana dashboards from sql/dashboards/.
dashboards: install-run
	$(PY) -m theia_sf.dashboards

demo: install-run
	$(PY) -m theia_sf.demo --out .local/theia/flows

clean:
	rm -rf .local $(VENV)
