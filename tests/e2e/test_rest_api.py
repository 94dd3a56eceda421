"""The REST API path users script against: trigger with conf, poll, fetch results."""

from __future__ import annotations

import json

import pytest

from theia_sf.quickstart import ApiError

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_make_run_pipelines_succeeded(airflow_demo):
    _, runs = airflow_demo
    for dag_id in ("theia_onboard", "theia_ingest_flows", "theia_policy_recommendation",
                   "theia_drop_detection"):
        assert dag_id in runs, f"{dag_id} did not run"
        assert "failed" not in runs[dag_id]["states"].values(), runs[dag_id]


def test_recommendation_triggered_with_conf(airflow_demo):
    af, _ = airflow_demo
    conf = {"policy_type": "k8s-np", "start": "now-30d", "end": "now"}
    run_id = af.trigger("theia_policy_recommendation", conf)
    run = af.wait_run("theia_policy_recommendation", run_id)
    assert run["state"] == "success"
    assert run["conf"] == conf
    published = af.xcom("theia_policy_recommendation", run_id, "publish_policies")
    assert published["run_id"]
    latest = af.data_dir / "results" / "recommendation" / "latest" / "policies.yaml"
    text = latest.read_text()
    assert "kind: NetworkPolicy" in text and "apiVersion: networking.k8s.io/v1" in text
    assert "crd.antrea.io" not in text  # k8s-np mode emits no Antrea object


def test_drop_detection_triggered_with_conf_finds_the_spike(airflow_demo):
    af, runs = airflow_demo
    spike = runs["demo"]["spike"]
    conf = {"method": "baseline", "start": "now-20d", "end": "now", "granularity": "workload"}
    run_id = af.trigger("theia_drop_detection", conf)
    run = af.wait_run("theia_drop_detection", run_id)
    assert run["state"] == "success"
    latest = af.data_dir / "results" / "detection" / "latest"
    documents = [json.loads(p.read_text()) for p in latest.glob("*.json")]
    text = json.dumps(documents)
    assert spike["workload"] in text, text[:2000]
    assert spike["day"] in text


@pytest.mark.parametrize(("dag_id", "conf", "param"), [
    ("theia_policy_recommendation", {"policy_type": "allow-everything"}, "policy_type"),
    ("theia_policy_recommendation", {"start": "yesterday"}, "start"),
    ("theia_policy_recommendation", {"limit": -1}, "limit"),
    ("theia_drop_detection", {"sigma": 0}, "sigma"),
    ("theia_drop_detection", {"method": "magic"}, "method"),
])
def test_invalid_conf_is_refused_with_the_param_named(airflow_demo, dag_id, conf, param):
    af, _ = airflow_demo
    token = af.token()
    before = af.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000", token=token)
    with pytest.raises(ApiError) as error:
        af.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                   {"logical_date": None, "conf": conf}, token=token)
    assert error.value.status == 400
    assert param in error.value.body
    after = af.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000", token=token)
    assert after["total_entries"] == before["total_entries"]  # no run was created


def test_viewer_cannot_trigger(airflow_demo):
    af, _ = airflow_demo
    token = af.token("viewer")
    dags = af.request("GET", "/api/v2/dags?limit=100", token=token)  # a viewer may read
    assert any(d["dag_id"] == "theia_policy_recommendation" for d in dags["dags"])
    with pytest.raises(ApiError) as error:
        af.request("POST", "/api/v2/dags/theia_policy_recommendation/dagRuns",
                   {"logical_date": None, "conf": {}}, token=token)
    assert error.value.status == 403


def test_anonymous_requests_are_refused(airflow_demo):
    af, _ = airflow_demo
    with pytest.raises(ApiError) as error:
        af.request("GET", "/api/v2/dags", token=None)
    assert error.value.status == 401
