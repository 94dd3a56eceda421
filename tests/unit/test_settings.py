"""Operator settings read from the environment."""

from __future__ import annotations

import pytest

from theia_sf.errors import ConfigurationError


def test_schedule_settings():
    from theia_sf.settings import ScheduleSettings

    default = ScheduleSettings.from_env({})
    assert default.analysis_schedule == "cron" and default.timeout_minutes("x", 7) == 7
    chosen = ScheduleSettings.from_env({
        "THEIA_ANALYSIS_SCHEDULE": "flows-or-cron",
        "THEIA_TIMEOUTS": '{"theia_drop_detection": 60, "theia_drop_detection.detect_drops": 45}',
    })  # fmt: skip
    assert chosen.analysis_schedule == "flows-or-cron"
    assert chosen.timeout_minutes("theia_drop_detection.detect_drops", 90) == 45
    for env, message in (
        ({"THEIA_ANALYSIS_SCHEDULE": "hourly"}, "THEIA_ANALYSIS_SCHEDULE='hourly'"),
        ({"THEIA_TIMEOUTS": "{60}"}, "THEIA_TIMEOUTS is not JSON"),
        ({"THEIA_TIMEOUTS": "[60]"}, "THEIA_TIMEOUTS must be a JSON object"),
        ({"THEIA_TIMEOUTS": '{"theia_x": 0}'}, "'theia_x' must be a whole number of minutes"),
        ({"THEIA_TIMEOUTS": '{"theia_x": "1h"}'}, "'theia_x' must be a whole number of minutes"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            ScheduleSettings.from_env(env)
