"""Alert messages: one per run, Slack-compatible text plus structured anomalies."""

from __future__ import annotations

import json

import pytest

from theia_sf.alerts.message import MAX_TEXT_LINES, anomaly_line, build_message
from theia_sf.alerts.model import AlertDeliveryError
from theia_sf.alerts.slack import SlackSink
from theia_sf.alerts.webhook import WebhookSink

RUN = {
    "run_id": "dd-123",
    "method": "baseline",
    "cluster_uuid": None,
    "window_start": "2024-05-01T00:00:00+00:00",
    "window_end": "2024-05-31T00:00:00+00:00",
}


def anomaly(i=0, **over):
    a = {
        "anomaly_key": f"k{i}",
        "endpoint": f"shop/web{i}",
        "direction": "ingress",
        "day": "2024-05-30",
        "drops": 240,
        "baseline_mean": 6.25,
        "baseline_stdev": 2.5,
        "top_policy": "shop/deny-ledger",
        "top_rule": "ingress-rule-0",
    }
    a.update(over)
    return a


def test_line_names_endpoint_direction_day_drops_baseline_and_top_rule():
    line = anomaly_line(anomaly())
    assert line == (
        "• shop/web0 ingress 2024-05-30: 240 drops vs baseline 6.2 ± 2.5 "
        "(top rule: shop/deny-ledger ingress-rule-0)"
    )
    assert "top rule" not in anomaly_line(anomaly(top_policy=None, top_rule=None))


def test_message_summarises_the_run_once():
    msg = build_message([anomaly(0), anomaly(1, direction="egress")], RUN)
    assert msg.subject == "Theia: 2 abnormal traffic drops"
    lines = msg.text.splitlines()
    assert "baseline" in lines[0] and "dd-123" in lines[0]
    assert lines[1].startswith("• shop/web0 ingress") and lines[2].startswith("• shop/web1 egress")
    body = msg.to_json()
    assert json.loads(json.dumps(body))["text"] == msg.text  # JSON-able, Slack's `text` field
    assert [a["endpoint"] for a in body["anomalies"]] == ["shop/web0", "shop/web1"]
    assert body["run"]["run_id"] == "dd-123"


def test_long_lists_are_cut_in_text_but_not_in_data():
    many = [anomaly(i) for i in range(MAX_TEXT_LINES + 5)]
    msg = build_message(many, {**RUN, "cluster_uuid": "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10" * 3})
    assert len(msg.text.splitlines()) == 1 + MAX_TEXT_LINES + 1
    assert "and 5 more" in msg.text
    assert len(msg.anomalies) == MAX_TEXT_LINES + 5
    assert len(msg.subject) <= 100  # SNS limit


class FakeSlack:
    def __init__(self, error=None, status=200):
        self.calls, self.error, self.status = [], error, status

    def send(self, **kwargs):
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return type("Resp", (), {"status_code": self.status})()


def test_slack_sink_sends_text_and_blocks():
    client = FakeSlack()
    SlackSink("slack_ops", client).send(build_message([anomaly()], RUN))
    (call,) = client.calls
    assert call["text"].startswith("*Theia: 1 abnormal traffic drop*")
    assert call["blocks"][0]["text"]["text"] == call["text"]


@pytest.mark.parametrize(
    "client", [FakeSlack(error=RuntimeError("invalid_token")), FakeSlack(status=500)]
)
def test_slack_sink_failures_are_delivery_errors(client):
    with pytest.raises(AlertDeliveryError, match="slack_ops"):
        SlackSink("slack_ops", client).send(build_message([anomaly()], RUN))


def test_webhook_errors_never_show_the_secret_part_of_the_url():
    def post(body, headers):
        raise OSError("cannot reach https://hooks.example.org/services/T000/B000/SECRET")

    sink = WebhookSink("ops_webhook", post, target="hooks.example.org",
                       secrets=("/services/T000/B000/SECRET", "services/T000/B000/SECRET"))
    with pytest.raises(AlertDeliveryError, match="ops_webhook") as info:
        sink.send(build_message([anomaly()], RUN))
    assert "SECRET" not in str(info.value) and "***" in str(info.value)
    assert "SECRET" not in repr(sink)


@pytest.mark.parametrize("status", [301, 404, 500])
def test_webhook_answers_other_than_2xx_are_delivery_errors(status):
    sink = WebhookSink("ops_webhook", lambda body, headers: (status, "Nope"), target="h")
    with pytest.raises(AlertDeliveryError, match=f"HTTP {status} Nope"):
        sink.send(build_message([anomaly()], RUN))


class FakeSns:
    def __init__(self):
        self.calls = []

    def publish(self, **kwargs):
        self.calls.append(kwargs)
        return {"MessageId": "1"}


def test_sns_message_stays_under_the_size_limit_and_says_it_was_cut():
    from theia_sf.alerts.sns import MAX_MESSAGE_BYTES, SnsSink

    many = [anomaly(i, attribution={"peers": [{"peer": "x" * 200, "drops": 1}] * 5})
            for i in range(2000)]  # fmt: skip
    client = FakeSns()
    SnsSink("theia_sns", client, "arn:aws:sns:us-east-1:123456789012:t").send(
        build_message(many, RUN)
    )
    (call,) = client.calls
    assert call["MessageStructure"] == "json"
    assert len(call["Message"].encode()) < MAX_MESSAGE_BYTES
    variants = json.loads(call["Message"])
    assert variants["default"].startswith("*Theia: 2000 abnormal traffic drops*")
    document = json.loads(variants["sqs"])
    assert 0 < len(document["anomalies"]) < 2000
    assert document["truncated"] == {
        "anomalies_sent": len(document["anomalies"]),
        "anomalies_total": 2000,
    }


def test_small_sns_messages_are_not_cut():
    from theia_sf.alerts.sns import SnsSink

    client = FakeSns()
    SnsSink("theia_sns", client, "arn:aws:sns:us-east-1:123456789012:t").send(
        build_message([anomaly()], RUN)
    )
    document = json.loads(json.loads(client.calls[0]["Message"])["sqs"])
    assert "truncated" not in document and len(document["anomalies"]) == 1
