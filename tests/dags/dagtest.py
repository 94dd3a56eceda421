"""Run ``dag.test()`` in a fresh interpreter with its own Airflow home and SQLite database."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_dag(dag_id: str):
    """The DAG of ``dags/<dag_id>.py``, parsed alone (get_dag() would query the metadata DB)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def validated_conf(dag, conf):
    """What the trigger form / REST API do with a run's conf: merge into the Params, validate."""
    params = copy.deepcopy(dag.params)
    for key, value in conf.items():
        params[key] = value
    return params.validate()

DRIVER = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
    results = []
    for conf in json.loads(sys.argv[3]):
        run = dag.test(run_conf=conf)
        results.append({ti.task_id: str(ti.state) for ti in run.get_task_instances()})
    print("RESULTS " + json.dumps(results))
    """
)


def run_dag_tests(dag_id, tmp_path, confs, duckdb_path, results, extra_env=None):
    """Run ``dag_id`` once per conf; return (task states per run, the combined output)."""
    home = tmp_path / "airflow"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW_CONN_THEIA_WAREHOUSE": json.dumps(
            {"conn_type": "duckdb", "host": str(duckdb_path)}
        ),
        "THEIA_RESULTS_LOCATION": str(results),
        "THEIA_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), os.environ.get("PYTHONPATH", "")]),
        **(extra_env or {}),
    }
    dag_file = ROOT / "dags" / f"{dag_id}.py"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, str(dag_file), dag_id, json.dumps(confs)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, log[-5000:]
    return json.loads(lines[-1][len("RESULTS ") :]), log
