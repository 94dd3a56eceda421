"""Operator settings read from the environment."""

from __future__ import annotations

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.settings import Settings


def test_recommendation_shards_setting():
    assert Settings.from_env({}).recommendation_shards == 0
    assert Settings.from_env({"THEIA_RECOMMENDATION_SHARDS": "3"}).recommendation_shards == 3
    for bad in ("-1", "two"):
        with pytest.raises(ConfigurationError, match="THEIA_RECOMMENDATION_SHARDS"):
            Settings.from_env({"THEIA_RECOMMENDATION_SHARDS": bad})
