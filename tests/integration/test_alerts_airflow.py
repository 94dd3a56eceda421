"""Airflow glue: connection ids -> alert sinks (http webhook, SNS via aws, Slack provider)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("airflow")

from theia_sf.airflow.alerting import build_sinks, check_alert_connections
from theia_sf.alerts.message import build_message
from theia_sf.alerts.model import AlertDeliveryError
from theia_sf.errors import ConfigurationError

ANOMALY = {
    "anomaly_key": "k0", "endpoint": "shop/ledger", "direction": "ingress", "day": "2024-05-30",
    "drops": 240, "baseline_mean": 6.0, "baseline_stdev": 2.4,
    "top_policy": "shop/reject-ledger", "top_rule": "ingress-rule-0",
}  # fmt: skip
MESSAGE = build_message([ANOMALY], {"run_id": "dd-1", "method": "baseline"})


def connection(monkeypatch, conn_id, **fields):
    monkeypatch.setenv("AIRFLOW_CONN_" + conn_id.upper(), json.dumps(fields))


def test_unknown_connection_is_refused_naming_param_and_id(monkeypatch):
    connection(monkeypatch, "ops_webhook", conn_type="http", host="127.0.0.1")
    with pytest.raises(ConfigurationError) as info:
        check_alert_connections(["ops_webhook", "no_such_hook"])
    text = str(info.value)
    assert "alert_connections" in text and "'no_such_hook'" in text
    assert "ops_webhook'" not in text  # only the bad one is named
    assert check_alert_connections([]) == [] and check_alert_connections(None) == []


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"conn_type": "postgres", "host": "db"}, "has type 'postgres'"),
        ({"conn_type": "http"}, "no host"),
        ({"conn_type": "aws", "extra": {"region_name": "us-east-1"}}, "topic_arn"),
        ({"conn_type": "generic", "extra": {"topic_arn": "my-topic"}}, "not an SNS topic ARN"),
        ({"conn_type": "slackwebhook"}, "password"),
        ({"conn_type": "slack", "password": "xoxb-1"}, "channel"),
        ({"conn_type": "slack", "extra": {"channel": "#ops"}}, "token"),
    ],
)
def test_unusable_connections_are_refused(monkeypatch, fields, problem):
    connection(monkeypatch, "bad_sink", **fields)
    with pytest.raises(ConfigurationError, match="alert_connections") as info:
        check_alert_connections(["bad_sink"])
    assert problem in str(info.value) and "bad_sink" in str(info.value)


def test_http_connection_means_what_the_http_provider_means(monkeypatch, webhook_server):
    """HttpHook's reading: extra keys are headers (but its options), login/password basic auth."""
    connection(
        monkeypatch, "ops_webhook", conn_type="http", host=webhook_server.url,
        login="theia", password="s3cret", extra={"X-Env": "test", "timeout": 3},
    )  # fmt: skip
    (sink,) = build_sinks(["ops_webhook"])
    assert type(sink.post.hook).__name__ == "HttpHook"
    sink.send(MESSAGE)
    (request,) = webhook_server.requests
    assert request["path"] == "/hooks/theia"
    assert request["headers"]["X-Env"] == "test"
    assert "timeout" not in {k.lower() for k in request["headers"]}
    assert request["headers"]["Authorization"].startswith("Basic ")
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body"]["anomalies"][0]["endpoint"] == "shop/ledger"


def test_http_connection_with_host_schema_and_port(monkeypatch, webhook_server):
    connection(
        monkeypatch, "slack_incoming", conn_type="http", host="127.0.0.1",
        schema="http", port=webhook_server.port,
    )  # fmt: skip
    (sink,) = build_sinks(["slack_incoming"])
    sink.send(MESSAGE)
    assert webhook_server.delivered[0]["text"] == MESSAGE.text
    assert webhook_server.requests[0]["path"] == "/"


def test_webhook_secret_in_the_password_is_the_url_path_and_never_quoted(
    monkeypatch, webhook_server, unused_port
):
    """Airflow masks a connection's password, not its host: the secret part lives there."""
    secret = "/hooks/theia/T000/B000/s3cr3tt0k3n"
    base = f"http://127.0.0.1:{webhook_server.port}"
    connection(monkeypatch, "ops_webhook", conn_type="http", host=base, password=secret)
    (sink,) = build_sinks(["ops_webhook"])
    sink.send(MESSAGE)
    (request,) = webhook_server.requests
    assert request["path"] == secret
    assert "Authorization" not in request["headers"]  # no login: not basic auth
    assert "s3cr3t" not in repr(sink) + sink.target

    connection(
        monkeypatch, "ops_webhook", conn_type="http", host=f"http://127.0.0.1:{unused_port}",
        password=secret,
    )  # fmt: skip
    (dead,) = build_sinks(["ops_webhook"])
    with pytest.raises(AlertDeliveryError, match="unreachable") as info:
        dead.send(MESSAGE)
    assert "s3cr3tt0k3n" not in str(info.value)


def test_old_webhook_extras_are_refused_with_the_new_form(monkeypatch):
    connection(
        monkeypatch, "ops_webhook", conn_type="http", host="127.0.0.1",
        extra={"endpoint": "hooks/theia", "headers": {"X-Env": "test"}},
    )  # fmt: skip
    with pytest.raises(ConfigurationError, match="password") as info:
        check_alert_connections(["ops_webhook"])
    assert "headers, endpoint" in str(info.value)


def test_slack_webhook_connection_goes_through_the_provider(monkeypatch, webhook_server):
    connection(monkeypatch, "slack_alerts", conn_type="slackwebhook", password=webhook_server.url)
    (sink,) = build_sinks(["slack_alerts"])
    assert type(sink.client).__name__ == "SlackWebhookHook"
    sink.send(MESSAGE)
    (body,) = webhook_server.delivered
    assert body["text"] == MESSAGE.text
    assert body["blocks"][0]["text"]["text"] == MESSAGE.text
    webhook_server.mode = "fail"
    with pytest.raises(AlertDeliveryError, match="slack_alerts"):
        sink.send(MESSAGE)


def test_slack_api_connection_posts_to_the_channel(monkeypatch, webhook_server):
    base = f"http://127.0.0.1:{webhook_server.port}/api/"
    connection(
        monkeypatch, "slack_api", conn_type="slack", password="xoxb-test-token",
        extra={"channel": "#theia-alerts", "base_url": base},
    )  # fmt: skip
    (sink,) = build_sinks(["slack_api"])
    sink.send(MESSAGE)
    (request,) = webhook_server.requests
    assert request["path"] == "/api/chat.postMessage"
    assert request["headers"]["Authorization"] == "Bearer xoxb-test-token"
    assert request["body"]["channel"] == "#theia-alerts"
    assert request["body"]["text"] == MESSAGE.text
    webhook_server.mode = "fail"
    with pytest.raises(AlertDeliveryError, match="slack_api"):
        sink.send(MESSAGE)


def test_aws_connection_with_topic_publishes_to_sns(monkeypatch):
    import boto3
    from moto import mock_aws

    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="theia-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        connection(
            monkeypatch, "theia_aws", conn_type="aws",
            extra={"region_name": "us-east-1", "topic_arn": topic},
        )  # fmt: skip
        (sink,) = build_sinks(["theia_aws"])
        sink.send(MESSAGE)
        (msg,) = sqs.receive_message(QueueUrl=queue)["Messages"]
        envelope = json.loads(msg["Body"])
        assert envelope["TopicArn"] == topic
        assert json.loads(envelope["Message"])["anomalies"][0]["drops"] == 240


def test_generic_connection_with_topic_uses_theia_aws_credentials(monkeypatch):
    import boto3
    from moto import mock_aws

    with mock_aws():
        sns = boto3.client("sns", region_name="eu-west-1")
        sqs = boto3.client("sqs", region_name="eu-west-1")
        topic = sns.create_topic(Name="theia-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
        connection(monkeypatch, "theia_aws", conn_type="aws", extra={"region_name": "us-east-1"})
        connection(monkeypatch, "ops_sns", conn_type="generic", extra={"topic_arn": topic})
        (sink,) = build_sinks(["ops_sns"])
        assert sink.client.meta.region_name == "eu-west-1"  # the topic's region
        sink.send(MESSAGE)
        (msg,) = sqs.receive_message(QueueUrl=queue)["Messages"]
        assert json.loads(json.loads(msg["Body"])["Message"])["anomalies"][0]["drops"] == 240
