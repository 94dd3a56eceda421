"""A real Airflow of its own (started as ``make run`` does, without demo data): strict conf
over REST, the DuckDB provider's connection type, and a ``theia_warehouse`` connection made
through the REST API used by a run.
"""

from __future__ import annotations

import json
import os

import pytest
from browser import free_port

from theia_sf.quickstart import ApiError, LocalAirflow

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Every DAG with Params, and a conf key misspelt from one of its Params.
MISSPELT = {
    "theia_policy_recommendation": ("polcy_type", "policy_type"),
    "theia_drop_detection": ("alert_conections", "alert_connections"),
    "theia_ingest_flows": ("layuot", "layout"),
    "theia_flow_retention": ("retention_day", "retention_days"),
    "theia_ingestion_health": ("state_buckt", "state_bucket"),
    "theia_onboard": ("stack_nam", "stack_name"),
    "theia_offboard": ("confrm", "confirm"),
    "theia_create_bucket": ("prefx", "prefix"),
    "theia_delete_bucket": ("forse", "force"),
    "theia_create_kms_key": ("alais", "alias"),
    "theia_delete_kms_key": ("key_idd", "key_id"),
}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    base = tmp_path_factory.mktemp("strict")
    af = LocalAirflow(base / "airflow", base / "theia", port=free_port(), users={"admin": ""})
    af.init()
    af.start()
    try:
        af.wait_for_dags(sorted(MISSPELT))
        yield af
    finally:
        af.stop()


def trigger(af, dag_id, conf):
    """POST a run (the DAG stays paused, so an accepted run only queues)."""
    return af.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})


@pytest.mark.parametrize("dag_id", sorted(MISSPELT))
def test_an_unknown_conf_key_is_a_400_naming_it_and_the_closest_param(airflow, dag_id):
    key, meant = MISSPELT[dag_id]
    with pytest.raises(ApiError) as info:
        trigger(airflow, dag_id, {key: "x"})
    assert info.value.status == 400
    detail = json.loads(info.value.body)["detail"]
    assert f"{key!r} (did you mean {meant!r}?)" in detail, detail
    runs = airflow.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")
    assert runs["total_entries"] == 0  # refused before a run existed


@pytest.mark.parametrize(
    ("dag_id", "name", "good", "bad"),
    [
        ("theia_drop_detection", "alert_connections", ["ops_webhook"], ["ops webhook!"]),
        ("theia_ingestion_health", "alert_connections", ["ops_sns"], ["a;b"]),
        ("theia_policy_recommendation", "ns_allow_list", ["kube-system", "shop"], ["Shop_NS"]),
        ("theia_policy_recommendation", "label_ignore_list", ["pod-template-hash"], ["bad key"]),
    ],
)
def test_array_params_take_json_lists_and_refuse_a_bad_item(airflow, dag_id, name, good, bad):
    run = trigger(airflow, dag_id, {name: good})
    assert run["conf"] == {name: good}
    for value in (bad, ",".join(good)):  # a bad item; a comma-separated string
        with pytest.raises(ApiError) as info:
            trigger(airflow, dag_id, {name: value})
        assert info.value.status == 400 and f"param {name}" in info.value.body


def test_the_embedded_engine_connection_type_is_registered(airflow):
    out = airflow.airflow("providers", "hooks", "--output", "json")
    # Start-up messages may come first on stdout; the JSON list is what follows them.
    hooks, _ = json.JSONDecoder().raw_decode(out.stdout[out.stdout.index('[{"'):])
    by_type = {h["connection_type"]: h for h in hooks}
    assert by_type["duckdb"]["class"] == "airflow.providers.duckdb.hooks.duckdb.DuckDBHook"
    assert by_type["duckdb"]["package_name"] == "apache-airflow-providers-duckdb"
    assert "snowflake" in by_type


def test_a_warehouse_connection_made_over_rest_is_used_by_a_run(airflow, tmp_path):
    # make run's own connection is in the metadata database, where the UI lists and edits it.
    made = airflow.request("GET", "/api/v2/connections/theia_warehouse")
    assert made["conn_type"] == "duckdb"
    assert made["host"] == str(airflow.data_dir / "theia.duckdb")
    airflow.request("DELETE", "/api/v2/connections/theia_warehouse")

    path = tmp_path / "made-over-rest.duckdb"
    airflow.request("POST", "/api/v2/connections", {
        "connection_id": "theia_warehouse", "conn_type": "duckdb", "host": str(path),
        "extra": json.dumps({"memory_limit": "512MB"}),
    })  # fmt: skip
    shown = airflow.request("GET", "/api/v2/connections/theia_warehouse")
    assert shown["conn_type"] == "duckdb" and shown["host"] == str(path)

    run_id = airflow.trigger("theia_onboard", {"engine": "auto", "stack_name": "rest"})
    run = airflow.wait_run("theia_onboard", run_id, timeout=600)
    assert run["state"] == "success", airflow.task_states("theia_onboard", run_id)
    assert path.exists()  # the run created the database where the connection says
    assert not (airflow.data_dir / "theia.duckdb").exists()
    summary = airflow.xcom("theia_onboard", run_id, "report_outputs")
    assert summary["engine"] == "duckdb" and str(path) in json.dumps(summary)


def test_a_webhook_secret_in_the_password_is_masked_by_the_rest_api(airflow):
    secret = "/services/T000/B000/" + os.urandom(8).hex()
    airflow.request("POST", "/api/v2/connections", {
        "connection_id": "ops_webhook", "conn_type": "http",
        "host": "https://hooks.example.com", "password": secret,
    })  # fmt: skip
    shown = airflow.request("GET", "/api/v2/connections/ops_webhook")
    assert shown["host"] == "https://hooks.example.com"
    assert secret not in json.dumps(shown)
