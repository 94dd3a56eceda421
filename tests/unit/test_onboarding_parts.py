"""State record, outputs, ingestion-health decoding and the DDL literal validators."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from theia_sf.onboarding.health import decode_notification, judge_pipe
from theia_sf.onboarding.outputs import Outputs, flow_aggregator_values
from theia_sf.onboarding.state import FileStateStore, StackState
from theia_sf.sql import arn_literal, comment_literal, s3_url_literal

NOW = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.UTC)


def test_state_round_trips_and_file_store_replaces_atomically(tmp_path):
    store = FileStateStore(tmp_path / "state")
    assert store.load("prod") is None
    state = StackState(stack="prod", engine="snowflake", suffix="a" * 16)
    state.record("create_flows_bucket", {"bucket": "antrea-flows-" + "a" * 16})
    store.save(state)
    loaded = store.load("prod")
    assert loaded == state
    assert loaded.output("create_flows_bucket", "bucket").endswith("a" * 16)
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["prod.json"]
    store.delete("prod")
    store.delete("prod")  # already gone is fine
    assert store.load("prod") is None
    assert not (tmp_path / "state").exists()


def test_state_rejects_unknown_versions():
    raw = json.loads(StackState(stack="x", engine="duckdb").to_json())
    raw["version"] = 99
    with pytest.raises(ValueError, match="version"):
        StackState.from_json(json.dumps(raw))


def test_outputs_table_and_helm_values():
    out = Outputs(
        (("Region", "us-west-2"), ("Bucket Name", "antrea-flows-x")),
        flow_aggregator_values("antrea-flows-x", "flows", "us-west-2"),
    )
    lines = out.table().splitlines()
    assert lines[0] == lines[-1] == "+-------------+----------------+"
    assert lines[1] == "| Region      | us-west-2      |"
    assert "--set recordContents.podLabels=true" in out.helm_set_flags()
    assert "--set s3Uploader.enable=true" in out.helm_set_flags()
    assert "bucketName: antrea-flows-x" in out.helm_yaml()
    assert out.to_record()["table"] == {"Region": "us-west-2", "Bucket Name": "antrea-flows-x"}


SNOWPIPE_ERROR = {
    "version": "1.0",
    "messageId": "a62e34bc-6141-4e95-92d8-f04fe43b43f5",
    "messageType": "INGEST_FAILED_FILE",
    "timestamp": "2026-01-02 11:50:29.471",
    "accountName": "MYACCOUNT",
    "pipeName": "ANTREA_X.THEIA.FLOWPIPE",
    "tableName": "ANTREA_X.THEIA.FLOWS",
    "stageLocation": "s3://antrea-flows-x/flows/",
    "messages": [
        {
            "fileName": "/records-abc.csv.gz",
            "firstError": "Number of columns in file (54) does not match",
        }
    ],
}


def test_decode_sns_envelope():
    body = json.dumps(
        {
            "Type": "Notification",
            "Message": json.dumps(SNOWPIPE_ERROR),
            "Timestamp": "2026-01-02T11:50:30Z",
        }
    )
    error = decode_notification(body)
    assert error.pipe == "ANTREA_X.THEIA.FLOWPIPE"
    assert error.file == "/records-abc.csv.gz"
    assert error.message.startswith("Number of columns")


def test_decode_raw_and_garbage_messages():
    assert decode_notification(json.dumps(SNOWPIPE_ERROR)).file == "/records-abc.csv.gz"
    assert decode_notification("not json").message.startswith("undecodable")
    plain = decode_notification(json.dumps({"Message": "plain text"}))
    assert plain.message == "plain text"


def test_pipe_health_running_and_current_is_fine():
    status = {
        "executionState": "RUNNING",
        "pendingFileCount": 0,
        "lastIngestedTimestamp": "2026-01-02T11:55:00Z",
        "lastReceivedMessageTimestamp": "2026-01-02T11:55:00Z",
    }
    assert judge_pipe(json.dumps(status), now=NOW, max_lag=dt.timedelta(minutes=30)).problems == ()


def test_pipe_health_flags_stopped_and_lagging_pipes():
    stopped = judge_pipe(
        json.dumps({"executionState": "STOPPED_STAGE_DROPPED"}),
        now=NOW,
        max_lag=dt.timedelta(minutes=30),
    )
    assert stopped.problems == ("pipe execution state is STOPPED_STAGE_DROPPED",)
    lagging = judge_pipe(
        json.dumps(
            {
                "executionState": "RUNNING",
                "pendingFileCount": 12,
                "lastIngestedTimestamp": "2026-01-02T10:00:00Z",
                "lastReceivedMessageTimestamp": "2026-01-02T11:59:00Z",
            }
        ),
        now=NOW,
        max_lag=dt.timedelta(minutes=30),
    )
    assert len(lagging.problems) == 1 and "12 files pending" in lagging.problems[0]
    within = judge_pipe(
        json.dumps(
            {
                "executionState": "RUNNING",
                "pendingFileCount": 2,
                "lastIngestedTimestamp": "2026-01-02T11:50:00Z",
                "lastReceivedMessageTimestamp": "2026-01-02T11:59:00Z",
            }
        ),
        now=NOW,
        max_lag=dt.timedelta(minutes=30),
    )
    assert within.problems == ()


@pytest.mark.parametrize(
    ("literal", "good", "bad"),
    [
        (
            arn_literal,
            "arn:aws:iam::123456789012:role/theia/r-1",
            "arn:aws:iam::1:role/x' OR '1'='1",
        ),
        (s3_url_literal, "s3://antrea-flows-abc/flows/", "s3://b/flows/'; DROP"),
        (comment_literal, "theia-sf-airflow stack prod", "it's"),
    ],
)
def test_ddl_literals_are_validated(literal, good, bad):
    assert literal(good) == f"'{good}'"
    with pytest.raises(ValueError, match="unsafe"):
        literal(bad)
    with pytest.raises(ValueError, match="unsafe"):
        literal(None)


def test_library_refuses_unsafe_values_in_ddl(sql):
    with pytest.raises(ValueError, match="unsafe ARN"):
        sql.render(
            "onboarding/create_storage_integration.sql",
            name="ANTREA_FLOWS_STORAGE_INTEGRATION_X",
            role_arn="arn:aws:iam::1:role/x') DROP DATABASE y --",
            location="s3://antrea-flows-x/flows/",
            comment="ok",
        )
    with pytest.raises(ValueError, match="unsafe SQL identifier"):
        sql.render("onboarding/drop_integration.sql", name="X; DROP DATABASE Y")
