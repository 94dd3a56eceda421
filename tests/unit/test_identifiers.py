"""One check per identifier, shared by the Params' patterns and the core."""

from __future__ import annotations

import re

import pytest

from theia_sf.detection import DetectionConfig
from theia_sf.errors import ConfigurationError
from theia_sf.identifiers import CLUSTER_UUID_PATTERN, parse_cluster_uuid
from theia_sf.recommendation.parameters import RecommendationRequest
from theia_sf.tad.model import TadConfig

UPPER = "8F4C0C8E-2B1E-4A4F-9A57-6F2A7A4B9D10"


def test_a_cluster_uuid_is_kept_in_the_flow_aggregators_lower_case():
    assert parse_cluster_uuid(UPPER) == UPPER.lower()
    assert parse_cluster_uuid(None) is None and parse_cluster_uuid("") is None


@pytest.mark.parametrize(
    "bad", ["nope", UPPER.replace("-", ""), "{" + UPPER + "}", UPPER + "\n", 42, ["x"]]
)
def test_what_the_param_pattern_refuses_the_core_refuses(bad):
    if isinstance(bad, str):
        assert not re.fullmatch(CLUSTER_UUID_PATTERN.strip("^$"), bad)
    with pytest.raises(ConfigurationError, match="cluster_uuid"):
        parse_cluster_uuid(bad)


def test_every_analysis_reads_the_cluster_uuid_the_same_way():
    import datetime as dt

    from theia_sf.timewindow import Window

    window = Window(dt.datetime(2024, 5, 1, tzinfo=dt.UTC), dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
    assert RecommendationRequest(window, cluster_uuid=UPPER).cluster_uuid == UPPER.lower()
    assert DetectionConfig(cluster_uuid=UPPER).cluster_uuid == UPPER.lower()
    assert TadConfig(cluster_uuid=UPPER).cluster_uuid == UPPER.lower()
