"""The run's request: made once from the DAG's Params, valid once made, and passed between
tasks as a record that reads back to an equal request."""

from __future__ import annotations

import datetime as dt

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.recommendation.model import Options, PolicyType
from theia_sf.recommendation.parameters import OPTION_PARAMS, RecommendationRequest
from theia_sf.timewindow import TimeSpecError, Window

END = dt.datetime(2024, 5, 8, tzinfo=dt.UTC)
PARAMS = {
    "policy_type": "k8s-np",
    "ns_allow_list": ["kube-system"],
    "label_ignore_list": ["pod-template-hash"],
    "to_services": False,
    "antrea_api_version": "v1beta1",
    "external_ipv4_prefix": 24,
    "external_ipv6_prefix": 128,
    "start": None,
    "end": None,
    "lookback": 3,
    "cluster_uuid": "8F4C0C8E-2B1E-4A4F-9A57-6F2A7A4B9D10",
    "limit": 500,
    "shards": 2,
    "preview_days": 30,
    "warehouse_name": "",
    "require_approval": True,
    "approval_hours": 12,
}


def test_params_make_the_request_and_its_record_reads_back_equal():
    request = RecommendationRequest.from_params(PARAMS, END)
    assert request.window == Window(END - dt.timedelta(days=3), END)
    assert request.options.policy_type is PolicyType.K8S_NP
    assert request.options.external_ipv4_prefix == 24
    assert request.options.to_services is False
    assert request.cluster_uuid == "8f4c0c8e-2b1e-4a4f-9a57-6f2a7a4b9d10"  # one spelling
    assert (request.limit, request.shards, request.preview_days) == (500, 2, 30)
    assert request.warehouse_name is None  # empty: the connection's (or a temporary one)
    assert request.approval_hours == 12
    assert RecommendationRequest.from_record(request.to_record()) == request


def test_approval_hours_count_only_when_approval_is_required():
    request = RecommendationRequest.from_params({**PARAMS, "require_approval": False}, END)
    assert request.approval_hours is None
    assert RecommendationRequest.from_record(request.to_record()).approval_hours is None


def test_every_option_is_a_param():
    assert set(OPTION_PARAMS) == set(Options.create().to_record()) | {
        "external_ipv4_prefix",
        "external_ipv6_prefix",
    }


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"cluster_uuid": "nope"}, ConfigurationError, "cluster_uuid"),
        ({"limit": -1}, ConfigurationError, "limit"),
        ({"shards": 65}, ConfigurationError, "shards"),
        ({"preview_days": 91}, ConfigurationError, "preview_days"),
        ({"approval_hours": 0}, ConfigurationError, "approval_hours"),
        ({"policy_type": "anp"}, ConfigurationError, "policy_type"),
        ({"external_ipv4_prefix": 4}, ConfigurationError, "external_ipv4_prefix"),
        ({"start": "2024-05-09T00:00:00Z"}, TimeSpecError, "not after its start"),
        ({"lookback": 0}, TimeSpecError, "lookback"),
    ],
)
def test_a_bad_param_fails_the_request_naming_it(change, error, message):
    with pytest.raises(error, match=message):
        RecommendationRequest.from_params({**PARAMS, **change}, END)
