"""A real Airflow (API server, scheduler, DAG processor) on loopback, with the demo data.

Started once per test session by the same code as ``make run`` (``theia_sf.quickstart``):
onboarding of the embedded engine, demo flows, ingestion, recommendation and detection, all
triggered through the REST API v2 and authenticated with the simple auth manager.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser import CHROMIUM, Chromium, free_port

pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    path = Path(os.environ.get("THEIA_TEST_ARTIFACTS") or tmp_path_factory.mktemp("artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def airflow_demo(tmp_path_factory, artifacts_dir):
    from theia_sf.quickstart import LocalAirflow, run_demo_pipelines

    base = tmp_path_factory.mktemp("e2e")
    af = LocalAirflow(base / "airflow", base / "theia", port=free_port(),
                      users={"admin": "", "viewer": ""})
    af.init()
    af.start()
    try:
        runs = run_demo_pipelines(af, records=60_000, days=14)
        yield af, runs
    finally:
        af.stop()
        logs = af.home / "logs"
        if logs.exists():
            shutil.copytree(logs, artifacts_dir / "airflow-logs", dirs_exist_ok=True)


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian's chromium is not installed (/usr/bin/chromium); apt-get install chromium"
        )
    if shutil.which("true") is None:  # pragma: no cover - sanity
        pytest.skip("no POSIX tools")
    chromium = Chromium(tmp_path / "profile")
    try:
        yield chromium
    finally:
        chromium.close()
