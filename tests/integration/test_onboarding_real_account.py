"""The onboarding DAGs against a real AWS account and a real Snowflake account.

Skipped unless ``THEIA_REAL_ACCOUNT_TEST=1`` and the connections are in the environment:

* ``AIRFLOW_CONN_THEIA_WAREHOUSE``: a Snowflake connection (JSON form), whose role may create
  databases, integrations, warehouses, pipes and serverless tasks (ACCOUNTADMIN or equivalent);
* ``AIRFLOW_CONN_THEIA_AWS``: an AWS connection (or the standard ``AWS_*`` variables), allowed
  to manage S3, SNS, SQS, IAM and read KMS/STS;
* ``THEIA_REAL_STATE_BUCKET``: an existing state bucket; optional ``THEIA_REAL_REGION``
  (default us-west-2) and ``THEIA_REAL_KMS_KEY_ID``.

It onboards a fresh stack with ``theia_onboard`` under ``dag.test()``, checks the result
table, onboards again (convergence), then removes everything with ``theia_offboard``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("AIRFLOW_CONN_THEIA_WAREHOUSE", "THEIA_REAL_STATE_BUCKET")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("THEIA_REAL_ACCOUNT_TEST") != "1"
        or any(not os.environ.get(v) for v in REQUIRED),
        reason="real-account test: set THEIA_REAL_ACCOUNT_TEST=1, " + ", ".join(REQUIRED),
    ),
]

RUN = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    runs = json.loads(sys.argv[2])
    failed = False
    for dag_id, conf in runs:
        if failed and dag_id != "theia_offboard":
            continue  # after a failure, still clean up the account
        bag = DagBag(dag_folder=sys.argv[1] + "/" + dag_id + ".py")
        run = bag.dags[dag_id].test(run_conf=conf)
        print("RUN_STATE " + dag_id + " " + str(run.state), flush=True)
        failed = failed or str(run.state) != "success"
    sys.exit(1 if failed else 0)
    """
)


def test_onboard_and_offboard_a_real_stack(tmp_path):
    pytest.importorskip("airflow")
    stack = "it-" + secrets.token_hex(4)
    common = {
        "engine": "snowflake",
        "stack_name": stack,
        "region": os.environ.get("THEIA_REAL_REGION", "us-west-2"),
        "state_bucket": os.environ["THEIA_REAL_STATE_BUCKET"],
        "kms_key_id": os.environ.get("THEIA_REAL_KMS_KEY_ID") or None,
    }
    home = tmp_path / "airflow"
    home.mkdir()
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        THEIA_DATA_DIR=str(tmp_path / "data"),
        THEIA_SQL_DIR=str(ROOT / "sql"),
        PYTHONPATH=str(ROOT / "include"),
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], check=True, env=env, capture_output=True, timeout=600
    )
    runs = [
        ("theia_onboard", {**common, "flow_layout": "v2.7"}),
        ("theia_onboard", {**common, "flow_layout": "v2.7"}),
        ("theia_offboard", {**common, "confirm": stack, "remove_orphans": True}),
    ]
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(ROOT / "dags"), json.dumps(runs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-8000:]
    assert log.count("RUN_STATE") == 3
    assert "Snowflake Database Name" in log and "SQS Queue ARN" in log
