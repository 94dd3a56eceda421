"""Every DAG file loads, follows the conventions, and stays cheap to parse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("airflow")

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
HEAVY = ["duckdb", "sqlglot", "boto3", "botocore", "snowflake.connector", "pandas", "pyarrow",
         "theia_sf.adapters", "theia_sf.airflow.runtime", "fakesnow", "moto", "scipy",
         "statsmodels"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(DAG_FILES)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_conventions(dagbag, path):
    dag = dagbag.dags[path.stem]  # dag_id == file stem
    assert dag.dag_id.startswith("theia_")
    assert "theia" in dag.tags
    assert dag.doc_md and dag.doc_md.strip()
    assert dag.catchup is False
    assert dag.start_date is not None
    # Recurring DAGs retry by default (a task may opt out, e.g. pure validation).
    if dag.schedule is not None:
        assert dag.default_args.get("retries", 0) >= 1


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_parse_does_not_import_heavy_modules(path):
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(path)!r})\n"
        f"heavy = {HEAVY!r}\n"
        "bad = sorted(m for m in sys.modules for h in heavy if m == h or m.startswith(h + '.'))\n"
        "assert not bad, bad\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
