"""Operator settings read from the environment."""

from __future__ import annotations

import pytest

from theia_sf.errors import ConfigurationError
from theia_sf.settings import Settings


def test_recommendation_workers_setting():
    assert Settings.from_env({}).recommendation_workers is None
    assert Settings.from_env({"THEIA_RECOMMENDATION_WORKERS": "1"}).recommendation_workers == 1
    assert Settings.from_env({"THEIA_RECOMMENDATION_WORKERS": "3"}).recommendation_workers == 3
    for bad in ("0", "two"):
        with pytest.raises(ConfigurationError, match="THEIA_RECOMMENDATION_WORKERS"):
            Settings.from_env({"THEIA_RECOMMENDATION_WORKERS": bad})
