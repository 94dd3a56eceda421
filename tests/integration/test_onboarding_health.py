"""Ingestion health: Snowpipe errors through SNS -> SQS (moto server), pipe status and copy
history from the recorded Snowflake double, alerts through sinks."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import ClassVar

import pytest

import onboarding_doubles as doubles
from theia_sf.adapters.aws import BotoAws, S3StateStore
from theia_sf.alerts.model import AlertDeliveryError
from theia_sf.errors import ConfigurationError
from theia_sf.onboarding.cloud import CloudRequest
from theia_sf.onboarding.names import StackNames
from theia_sf.services.onboarding import check_ingestion_health, onboard_cloud_stack

pytestmark = pytest.mark.integration

moto_endpoint = doubles.moto_endpoint  # fixtures
recorded_snowflake = doubles.recorded_snowflake
REGION = "us-west-2"
NOW = dt.datetime(2026, 1, 2, 12, 0, tzinfo=dt.UTC)


class RecordingSink:
    def __init__(self, sink_id="theia_alerts", fail=False):
        self.sink_id = sink_id
        self.fail = fail
        self.messages = []

    def send(self, message):
        if self.fail:
            raise AlertDeliveryError("webhook answered 503")
        self.messages.append(message)


@pytest.fixture
def stack(moto_endpoint, recorded_snowflake, sql):
    doubles.reset_moto(moto_endpoint)
    factory = doubles.client_factory(moto_endpoint)
    s3 = factory("s3", REGION)
    s3.create_bucket(Bucket="theia-state", CreateBucketConfiguration={"LocationConstraint": REGION})
    sqs = factory("sqs", REGION)
    url = sqs.create_queue(QueueName="sf-channel")["QueueUrl"]
    recorded_snowflake.notification_channel = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    store = S3StateStore(s3, "theia-state", "infra", None)
    aws = BotoAws(factory, REGION)

    snowflake = recorded_snowflake.warehouse

    onboard_cloud_stack(
        CloudRequest(stack_name="prod", region=REGION, state_bucket="theia-state"),
        aws=aws,
        snowflake=snowflake,
        sql=sql,
        state_store=store,
    )
    state = store.load("prod")
    names = StackNames("prod", state.suffix)

    def check(sinks, **kw):
        return check_ingestion_health(
            "prod",
            state_store=store,
            aws=aws,
            warehouse=snowflake(names.database, None),
            sql=sql,
            sinks=sinks,
            now=NOW,
            **kw,
        )

    def publish_error(file_name):
        body = dict(
            json.loads(
                json.dumps(
                    {
                        "version": "1.0",
                        "messageType": "INGEST_FAILED_FILE",
                        "timestamp": "2026-01-02 11:50:29.471",
                        "pipeName": names.pipe,
                        "tableName": names.flows_table,
                        "messages": [
                            {
                                "fileName": file_name,
                                "firstError": "Number of columns in file (54)"
                                " does not match that of the corresponding table (55)",
                            }
                        ],
                    }
                )
            )
        )
        factory("sns", REGION).publish(
            TopicArn=state.output("create_error_topic", "topic_arn"), Message=json.dumps(body)
        )

    def queue_depth():
        attrs = sqs.get_queue_attributes(
            QueueUrl=state.output("create_error_queue", "queue_url"),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    return type(
        "Stack",
        (),
        {
            "check": staticmethod(check),
            "publish": staticmethod(publish_error),
            "depth": staticmethod(queue_depth),
            "sf": recorded_snowflake,
            "names": names,
            "store": store,
            "aws": aws,
        },
    )


def test_healthy_pipe_sends_nothing(stack):
    stack.sf.pipe_status = {"executionState": "RUNNING", "pendingFileCount": 0}
    sink = RecordingSink()
    result = stack.check([sink])
    assert result["problems"] == [] and sink.messages == []
    assert stack.sf.executed(r"SYSTEM\$PIPE_STATUS\('" + stack.names.pipe)


def test_load_errors_from_the_queue_are_decoded_alerted_and_acknowledged(stack):
    stack.publish("/records-aaa.csv.gz")
    stack.publish("/records-bbb.csv.gz")
    assert stack.depth() == 2
    sink = RecordingSink()
    result = stack.check([sink])
    assert result["error_notifications"] == 2 and result["alerted"] == ["theia_alerts"]
    [message] = sink.messages
    assert "records-aaa.csv.gz" in message.text and "records-bbb.csv.gz" in message.text
    assert "Number of columns in file (54)" in message.text
    assert {a["file"] for a in message.anomalies} == {"/records-aaa.csv.gz", "/records-bbb.csv.gz"}
    assert stack.depth() == 0  # acknowledged after delivery
    assert stack.check([sink])["problems"] == []  # nothing twice


def test_failed_delivery_keeps_the_messages(stack):
    stack.publish("/records-ccc.csv.gz")
    with pytest.raises(AlertDeliveryError):
        stack.check([RecordingSink(fail=True)])
    assert stack.depth() == 1


def test_lagging_pipe_and_failed_files_from_copy_history(stack):
    stack.sf.pipe_status = {
        "executionState": "RUNNING",
        "pendingFileCount": 40,
        "lastIngestedTimestamp": "2026-01-02T08:00:00Z",
        "lastReceivedMessageTimestamp": "2026-01-02T11:58:00Z",
    }
    stack.sf.copy_history = [
        {
            "file_name": "flows/records-zzz.csv.gz",
            "last_load_time": "2026-01-02 11:00:00",
            "status": "Load failed",
            "row_count": 0,
            "row_parsed": 10,
            "error_count": 10,
            "first_error_message": "Timestamp '' is not recognized",
        }
    ]
    sink = RecordingSink()
    result = stack.check([sink], max_lag=dt.timedelta(minutes=30))
    kinds = sorted(p["kind"] for p in result["problems"])
    assert kinds == ["failed_file", "pipe"]
    assert "40 files pending" in sink.messages[0].text
    assert "records-zzz.csv.gz" in sink.messages[0].text
    [history] = stack.sf.executed(r"COPY_HISTORY")
    assert stack.names.flows_table in history
    assert "datetime(2026, 1, 1, 12, 0" in history  # start = now - 24 h, bound


def test_unknown_stack_is_a_configuration_error(stack, sql):
    with pytest.raises(ConfigurationError, match="no onboarded Snowflake stack 'other'"):
        check_ingestion_health(
            "other",
            state_store=stack.store,
            aws=stack.aws,
            warehouse=None,
            sql=sql,
            sinks=[],
        )


def test_the_dag_watches_the_stack_its_deployment_setting_names(
    stack, moto_endpoint, webhook_server, monkeypatch
):
    """The DAG's task, in a run without conf (as scheduled), takes the stack, the state bucket
    and the alert connection from the Variable theia_ingestion_health and alerts once."""
    pytest.importorskip("airflow")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    monkeypatch.setenv("AIRFLOW_CONN_THEIA_WAREHOUSE", json.dumps({"conn_type": "snowflake"}))
    monkeypatch.setenv("AIRFLOW_CONN_THEIA_AWS", json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": moto_endpoint, "region_name": REGION},
    }))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_OPS_ALERTS",
                       json.dumps({"conn_type": "http", "host": webhook_server.url}))  # fmt: skip
    monkeypatch.setenv("AIRFLOW_VAR_THEIA_INGESTION_HEALTH", json.dumps({
        "stack_name": "prod", "region": REGION, "state_bucket": "theia-state",
        "state_prefix": "infra", "alert_connections": ["ops_alerts"],
    }))  # fmt: skip
    monkeypatch.setattr(SnowflakeHook, "get_conn", lambda self: stack.sf.connect())
    stack.publish("/records-ddd.csv.gz")

    dag_file = Path(__file__).resolve().parents[2] / "dags" / "theia_ingestion_health.py"
    dag = DagBag(dag_folder=str(dag_file)).dags["theia_ingestion_health"]
    task = dag.get_task("check_ingestion")

    class ScheduledRun:
        run_type = "scheduled"
        conf: ClassVar[dict] = {}

    def run():
        params = copy.deepcopy(dag.params).validate()
        return task.python_callable(params=params, dag=dag, dag_run=ScheduledRun())

    result = run()
    assert result["effective"]["sources"]["state_bucket"] == "setting"
    assert result["alerted"] == ["ops_alerts"]
    [body] = webhook_server.delivered
    assert "records-ddd.csv.gz" in body["text"]
    assert stack.depth() == 0
    assert run()["problems"] == [] and len(webhook_server.delivered) == 1  # once
