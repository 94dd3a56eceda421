"""Alert delivery against a real local HTTP server and SNS on moto: once per anomaly, and a
failed delivery fails loudly and leaves the anomalies un-alerted for the next attempt."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from flowrows import flow_insert
from theia_sf.alerts.dedup import pending_anomalies
from theia_sf.alerts.model import AlertDeliveryError
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


def test_webhook_gets_one_message_per_run_and_each_anomaly_once(
    warehouse, sql, webhook_server, webhook
):
    run = detect(warehouse, sql)
    sink = webhook("ops_webhook", webhook_server.url, **{"X-Token": "t0k"})
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
    warehouse, sql, webhook_server, mode, error, webhook
):
    run = detect(warehouse, sql)
    sink = webhook("ops_webhook", webhook_server.url, timeout=0.5)
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


def test_unreachable_webhook_fails_clearly(warehouse, sql, unused_port, webhook):
    run = detect(warehouse, sql)
    sink = webhook("ops_webhook", f"http://127.0.0.1:{unused_port}/x", timeout=2)
    with pytest.raises(AlertDeliveryError, match="unreachable"):
        send_alerts(warehouse, sql, run.run_id, [sink])
    assert deliveries(warehouse) == []


def test_one_failing_sink_does_not_block_or_repeat_the_others(
    warehouse, sql, webhook_server, unused_port, webhook
):
    run = detect(warehouse, sql)
    good = webhook("ops_webhook", webhook_server.url)
    bad = webhook("broken_webhook", f"http://127.0.0.1:{unused_port}/x", timeout=2)
    with pytest.raises(AlertDeliveryError, match="broken_webhook"):
        send_alerts(warehouse, sql, run.run_id, [bad, good])
    assert {r["sinkid"] for r in deliveries(warehouse)} == {"ops_webhook"}
    # The retry (broken sink fixed) sends to it only; the good sink is not told twice.
    fixed = webhook("broken_webhook", webhook_server.url)
    outcomes = send_alerts(warehouse, sql, run.run_id, [fixed, good])
    assert [(o.sink_id, o.delivered) for o in outcomes] == [
        ("broken_webhook", 2),
        ("ops_webhook", 0),
    ]
    assert len(webhook_server.delivered) == 2


class HostileServer:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply(socket)``."""

    def __init__(self, reply):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.closed = threading.Event()

        def serve():
            while not self.closed.is_set():
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    return
                threading.Thread(target=self._talk, args=(conn, reply), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()

    def _talk(self, conn, reply):
        try:
            conn.recv(65536)
            reply(conn, self.closed)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.closed.set()
        self.sock.close()


def trickle_headers(conn, closed):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for i in range(1000):  # a header every 0.3 s: each read is quick, the answer never ends
        if closed.wait(0.3):
            return
        conn.sendall(b"X-Slow-%d: 1\r\n" % i)


def trickle_body(conn, closed):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        if closed.wait(0.3):
            return
        conn.sendall(b".")


def not_http(conn, closed):
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


@pytest.mark.parametrize("reply", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_a_trickling_webhook_ends_at_the_delivery_deadline(warehouse, sql, webhook, reply):
    """Socket timeouts bound each read; the deadline bounds the whole delivery."""
    import time

    server = HostileServer(reply)
    try:
        run = detect(warehouse, sql)
        sink = webhook("ops_webhook", server.url, timeout=2)
        sink.deadline = 1.5  # 30 s in service; shorter here so the test is quick
        started = time.monotonic()
        with pytest.raises(AlertDeliveryError, match=r"within the 1\.5 s deadline"):
            send_alerts(warehouse, sql, run.run_id, [sink])
        assert time.monotonic() - started < 5
        assert deliveries(warehouse) == []
    finally:
        server.close()


def test_any_failure_of_one_sink_leaves_the_others_delivered(
    warehouse, sql, webhook_server, webhook
):
    """A non-HTTP reply, or a sink raising something other than AlertDeliveryError."""
    import http.client

    class Raising:
        sink_id = "odd_sink"

        def send(self, message):
            raise http.client.BadStatusLine("SSH-2.0-OpenSSH_9.6")

    server = HostileServer(not_http)
    try:
        run = detect(warehouse, sql)
        garbled = webhook("broken_webhook", server.url)
        good = webhook("ops_webhook", webhook_server.url)
        with pytest.raises(AlertDeliveryError) as info:
            send_alerts(warehouse, sql, run.run_id, [Raising(), garbled, good])
    finally:
        server.close()
    assert "odd_sink" in str(info.value) and "BadStatusLine" in str(info.value)
    assert "broken_webhook" in str(info.value)
    assert {r["sinkid"] for r in deliveries(warehouse)} == {"ops_webhook"}
    assert len(webhook_server.delivered) == 1


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
