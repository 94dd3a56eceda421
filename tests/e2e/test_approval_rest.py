"""Approval before ``latest`` on the real Airflow of ``make run``, answered over the REST API.

The DAG waits in ``approve`` (state ``awaiting_input``); the approver reads the request and
answers with ``PATCH .../taskInstances/approve/-1/hitlDetails``. ``latest`` moves only on
Approve; a rejected run is recorded as such and leaves ``latest`` as it was.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest

from theia_sf.quickstart import ApiError

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAG = "theia_policy_recommendation"
CONF = {"require_approval": True, "approval_hours": 2}


def _run_path(run_id: str) -> str:
    return f"/api/v2/dags/{DAG}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def _awaiting(af, run_id: str, timeout: float = 240) -> dict:
    """The approval request once the run waits for an answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        af.check_processes()
        if af.task_states(DAG, run_id).get("approve") == "awaiting_input":
            return af.request("GET", _run_path(run_id) + "/taskInstances/approve/-1/hitlDetails")
        run = af.request("GET", _run_path(run_id))
        assert run["state"] not in ("success", "failed"), af.task_states(DAG, run_id)
        time.sleep(1)
    raise TimeoutError(f"{run_id}: approve not awaiting input after {timeout} s")


def _answer(af, run_id: str, option: str) -> dict:
    return af.request("PATCH", _run_path(run_id) + "/taskInstances/approve/-1/hitlDetails",
                      {"chosen_options": [option]})  # fmt: skip


def _record(af, run_id: str) -> dict:
    """The run as the Theia page's API shows it."""
    return af.request("GET", f"/theia/api/recommendations/{urllib.parse.quote(run_id)}")


def test_reject_and_approve_over_rest(airflow_demo):
    af, _ = airflow_demo
    latest = af.data_dir / "results" / "recommendation" / "latest" / "policies.yaml"
    before = latest.read_bytes()

    # Reject: the run is recorded as rejected by the user, latest stays.
    rejected = af.trigger(DAG, CONF)
    request = _awaiting(af, rejected)
    assert request["subject"].startswith("Publish policy recommendation ")
    assert request["options"] == ["Approve", "Reject"] and request["defaults"] == ["Reject"]
    body = request["body"]
    # The policy diff (against the demo's run, same parameters) and the impact preview.
    assert "### Changes" in body and "Against run `" in body
    assert "### Impact preview" in body and "flow tuples of the last 30 days" in body
    published = af.xcom(DAG, rejected, "publish_policies")
    assert published["yaml"] in body
    assert _record(af, published["run_id"])["approval"] == "pending"
    # Only the offered options are accepted.
    with pytest.raises(ApiError) as error:
        _answer(af, rejected, "Maybe")
    assert error.value.status == 400
    answer = _answer(af, rejected, "Reject")
    assert answer["chosen_options"] == ["Reject"] and answer["responded_by"]["name"] == "admin"
    run = af.wait_run(DAG, rejected, timeout=300)
    states = af.task_states(DAG, rejected)
    assert run["state"] == "success", states
    assert (states["publish_latest"], states["record_rejected"]) == ("skipped", "success")
    record = _record(af, published["run_id"])
    assert (record["status"], record["approval"], record["reviewer"]) == (
        "rejected", "rejected", "admin"
    )  # fmt: skip
    assert latest.read_bytes() == before
    with pytest.raises(ApiError) as error:  # the first answer stays
        _answer(af, rejected, "Approve")
    assert error.value.status == 409

    # Approve: latest becomes this run's policies, recorded with the reviewer.
    approved = af.trigger(DAG, CONF)
    _awaiting(af, approved)
    _answer(af, approved, "Approve")
    run = af.wait_run(DAG, approved, timeout=300)
    states = af.task_states(DAG, approved)
    assert run["state"] == "success", states
    assert (states["publish_latest"], states["record_rejected"]) == ("success", "skipped")
    published = af.xcom(DAG, approved, "publish_policies")
    record = _record(af, published["run_id"])
    assert (record["status"], record["approval"], record["reviewer"]) == (
        "succeeded", "approved", "admin"
    )  # fmt: skip
    assert latest.read_bytes() != before
    runs_dir = af.data_dir / "results" / "recommendation" / "runs"
    assert latest.read_bytes() == (runs_dir / published["run_id"] / "policies.yaml").read_bytes()
