from __future__ import annotations

import datetime as dt
import re

import pytest

from theia_sf.timewindow import TIME_PATTERN, TimeSpecError, Window, parse_time

NOW = dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("spec", "expected"), [
    ("now", NOW),
    ("now-90m", NOW - dt.timedelta(minutes=90)),
    ("now-7d", NOW - dt.timedelta(days=7)),
    ("now-30s", NOW - dt.timedelta(seconds=30)),
    ("2024-05-01T00:00:00Z", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
    ("2024-05-01T02:00:00+02:00", dt.datetime(2024, 5, 1, tzinfo=dt.UTC)),
])
def test_parse_time(spec, expected):
    assert parse_time(spec, now=NOW) == expected
    assert re.fullmatch(TIME_PATTERN, spec)


@pytest.mark.parametrize("spec", ["yesterday", "now-", "now-7", "now-1w", "2024-05-01", "now+1d",
                                  "2024-05-01T00:00:00", "'; DROP TABLE FLOWS; --"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(TimeSpecError, match="start"):
        parse_time(spec, now=NOW, name="start")
    assert not re.fullmatch(TIME_PATTERN, spec)


def test_window_defaults_to_interval_end_minus_lookback():
    w = Window.resolve(start=None, end=None, lookback_days=7, interval_end=NOW, now=NOW)
    assert (w.start, w.end) == (NOW - dt.timedelta(days=7), NOW)


def test_end_before_start_is_refused():
    with pytest.raises(TimeSpecError, match="not after its start"):
        Window.resolve(start="now-1d", end="now-2d", lookback_days=7, interval_end=NOW, now=NOW)


def test_no_interval_end_means_now():
    w = Window.resolve(start=None, end=None, lookback_days=1, interval_end=None, now=NOW)
    assert w.end == NOW and w.start == NOW - dt.timedelta(days=1)


def test_pendulum_interval_end_keeps_utc():
    pendulum = pytest.importorskip("pendulum")

    end = pendulum.datetime(2024, 5, 10, 12, tz="Europe/Paris")
    w = Window.resolve(start=None, end=None, lookback_days=7, interval_end=end, now=NOW)
    assert w.end == dt.datetime(2024, 5, 10, 10, tzinfo=dt.UTC)
    assert w.end.tzinfo is dt.UTC and w.start.tzinfo is dt.UTC
