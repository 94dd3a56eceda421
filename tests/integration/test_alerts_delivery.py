"""Alert delivery against a real local HTTP server and SNS on moto: once per anomaly, and a
failed delivery fails loudly and leaves the anomalies un-alerted for the next attempt."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import flow_insert
from theia_sf.alerts.dedup import pending_anomalies
from theia_sf.alerts.model import AlertDeliveryError
from theia_sf.alerts.webhook import WebhookSink
from theia_sf.detection import DetectionConfig
from theia_sf.services.detection import run_drop_detection, send_alerts
from theia_sf.sql import Query
from theia_sf.timewindow import Window

D1 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
SERIES = {"web-7c9f8b6d5-b8c9d": [5, 6, 5, 4, 60], "api-6d4b75cb6d-x2x7k": [0, 1, 0, 0, 40]}
CONFIG = DetectionConfig(granularity="workload")


def window(days_after=0):
    """Five days ending after the spike; later windows still contain the spike day."""
    return Window(D1 + dt.timedelta(days=days_after), D1 + dt.timedelta(days=5 + days_after))


@pytest.fixture
def warehouse(duckdb_warehouse):
    rows = []
    for pod, counts in SERIES.items():
        for day, n in enumerate(counts):
            for i in range(n):
                start = D1 + dt.timedelta(days=day, minutes=5 * i)
                rows.append({
                    "flowStartSeconds": start, "flowEndSeconds": start + dt.timedelta(seconds=9),
                    "sourceIP": "10.0.0.7", "sourcePodName": "scanner", "sourcePodNamespace": "tools",
                    "destinationIP": "10.0.0.8", "destinationPodName": pod,
                    "destinationPodNamespace": "shop", "ingressNetworkPolicyRuleAction": 2,
                    "ingressNetworkPolicyName": "deny-scanner", "ingressNetworkPolicyNamespace": "shop",
                    "ingressNetworkPolicyRuleName": "ingress-rule-0", "ingressNetworkPolicyType": 2,
                })  # fmt: skip
    with duckdb_warehouse.session() as session, session.transaction():
        for row in rows:
            session.execute(flow_insert(row))
    return duckdb_warehouse


def detect(warehouse, sql, days_after=0):
    result = run_drop_detection(warehouse, sql, CONFIG, window(days_after))
    assert sorted(a.endpoint for a in result.anomalies) == ["shop/api", "shop/web"]
    return result


def deliveries(warehouse):
    with warehouse.session(read_only=True) as s:
        return s.fetch(
            Query("t", "SELECT sinkId, endpoint FROM DROP_ALERT_DELIVERIES ORDER BY 1, 2")
        )


def test_webhook_gets_one_message_per_run_and_each_anomaly_once(warehouse, sql, webhook_server):
    run = detect(warehouse, sql)
    sink = WebhookSink("ops_webhook", webhook_server.url, headers={"X-Token": "t0k"})
    outcomes = send_alerts(warehouse, sql, run.run_id, [sink])
    assert [o.to_record() for o in outcomes] == [
        {"sink_id": "ops_webhook", "delivered": 2, "error": None}
    ]
    (body,) = webhook_server.delivered
    assert webhook_server.requests[0]["path"] == "/hooks/theia"
    assert webhook_server.requests[0]["headers"]["X-Token"] == "t0k"
    assert body["text"].startswith("*Theia: 2 abnormal traffic drops*")
    assert "• shop/web ingress 2024-05-05: 60 drops vs baseline 5 ± 2.2" in body["text"]
    assert "top rule: shop/deny-scanner ingress-rule-0" in body["text"]
    web = next(a for a in body["anomalies"] if a["endpoint"] == "shop/web")
    assert web["drops"] == 60 and web["day"] == "2024-05-05"
    assert web["attribution"]["peers"] == [{"peer": "tools/scanner", "drops": 60}]
    assert body["run"]["run_id"] == run.run_id

    # Same run again, a re-run of the window, and the next night's run: nothing new to say.
    assert send_alerts(warehouse, sql, run.run_id, [sink])[0].delivered == 0
    rerun = detect(warehouse, sql)
    assert send_alerts(warehouse, sql, rerun.run_id, [sink])[0].delivered == 0
    nightly = detect(warehouse, sql, days_after=1)
    assert nightly.run_id != run.run_id
    assert send_alerts(warehouse, sql, nightly.run_id, [sink])[0].delivered == 0
    assert len(webhook_server.requests) == 1
    assert len(deliveries(warehouse)) == 2


@pytest.mark.parametrize(
    ("mode", "error"),
    [("fail", "answered HTTP 500"), ("hang", "did not answer within 0.5 s")],
)
def test_failed_webhook_fails_and_next_run_delivers_once(
    warehouse, sql, webhook_server, mode, error
):
    run = detect(warehouse, sql)
    sink = WebhookSink("ops_webhook", webhook_server.url, timeout=0.5)
    webhook_server.mode = mode
    with pytest.raises(AlertDeliveryError, match=error) as info:
        send_alerts(warehouse, sql, run.run_id, [sink])
    assert "ops_webhook" in str(info.value) and "un-alerted" in str(info.value)
    assert deliveries(warehouse) == []
    assert len(pending_anomalies(warehouse, sql, run.run_id, "ops_webhook")) == 2
    # The retry fails the same way while the endpoint is down.
    with pytest.raises(AlertDeliveryError):
        send_alerts(warehouse, sql, run.run_id, [sink])
    assert webhook_server.delivered == []

    webhook_server.mode = "ok"  # the endpoint recovers; the next night's run finds the same days
    nightly = detect(warehouse, sql, days_after=1)
    assert send_alerts(warehouse, sql, nightly.run_id, [sink])[0].delivered == 2
    assert send_alerts(warehouse, sql, nightly.run_id, [sink])[0].delivered == 0
    (body,) = webhook_server.delivered
    assert sorted(a["endpoint"] for a in body["anomalies"]) == ["shop/api", "shop/web"]


def test_unreachable_webhook_fails_clearly(warehouse, sql, unused_port):
    run = detect(warehouse, sql)
    sink = WebhookSink("ops_webhook", f"http://127.0.0.1:{unused_port}/x", timeout=2)
    with pytest.raises(AlertDeliveryError, match="unreachable"):
        send_alerts(warehouse, sql, run.run_id, [sink])
    assert deliveries(warehouse) == []


def test_one_failing_sink_does_not_block_or_repeat_the_others(
    warehouse, sql, webhook_server, unused_port
):
    run = detect(warehouse, sql)
    good = WebhookSink("ops_webhook", webhook_server.url)
    bad = WebhookSink("broken_webhook", f"http://127.0.0.1:{unused_port}/x", timeout=2)
    with pytest.raises(AlertDeliveryError, match="broken_webhook"):
        send_alerts(warehouse, sql, run.run_id, [bad, good])
    assert {r["sinkid"] for r in deliveries(warehouse)} == {"ops_webhook"}
    # The retry (broken sink fixed) sends to it only; the good sink is not told twice.
    fixed = WebhookSink("broken_webhook", webhook_server.url)
    outcomes = send_alerts(warehouse, sql, run.run_id, [fixed, good])
    assert [(o.sink_id, o.delivered) for o in outcomes] == [
        ("broken_webhook", 2),
        ("ops_webhook", 0),
    ]
    assert len(webhook_server.delivered) == 2


@pytest.fixture
def sns_topic():
    import boto3
    from moto import mock_aws

    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="theia-drop-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="theia-alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        def received():
            out = []
            while True:
                msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not msgs:
                    return out
                for m in msgs:
                    out.append(json.loads(m["Body"]))
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

        yield sns, topic, received


def test_sns_message_reaches_a_subscribed_queue_once(warehouse, sql, sns_topic):
    from theia_sf.alerts.sns import SnsSink

    client, topic, received = sns_topic
    run = detect(warehouse, sql)
    sink = SnsSink("theia_sns", client, topic)
    assert send_alerts(warehouse, sql, run.run_id, [sink])[0].delivered == 2
    (envelope,) = received()
    assert envelope["Subject"] == "Theia: 2 abnormal traffic drops"
    document = json.loads(envelope["Message"])  # SQS subscribers get the JSON document
    assert sorted(a["endpoint"] for a in document["anomalies"]) == ["shop/api", "shop/web"]
    assert document["text"].startswith("*Theia: 2 abnormal traffic drops*")
    assert send_alerts(warehouse, sql, run.run_id, [sink])[0].delivered == 0
    assert received() == []


def test_sns_failure_leaves_anomalies_unalerted(warehouse, sql, sns_topic):
    from theia_sf.alerts.sns import SnsSink

    client, topic, received = sns_topic
    run = detect(warehouse, sql)
    missing = SnsSink("theia_sns", client, topic + "-gone")
    with pytest.raises(AlertDeliveryError, match=r"theia_sns.*-gone"):
        send_alerts(warehouse, sql, run.run_id, [missing])
    assert deliveries(warehouse) == []
    assert (
        send_alerts(warehouse, sql, run.run_id, [SnsSink("theia_sns", client, topic)])[0].delivered
        == 2
    )
    assert len(received()) == 1
