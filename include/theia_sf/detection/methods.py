"""Detection methods over reduced daily counts (never over raw flows).

``theia`` reproduces theia-sf: per (endpoint, direction), the mean and the *sample* standard
deviation over every day of the series including the tested day, at least 3 days, and a day
is anomalous when it lies strictly more than 3 standard deviations above or below the mean.
Its statistics are also computed in SQL (``select_drop_counts.sql`` with ``theia_stats``);
:func:`detect_theia` is the same rule in Python.

``baseline`` compares each day with the days *before* it in the window:

* history = the preceding days of the series (zero-filled), minus the days already found
  anomalous, so an old spike neither inflates the spread nor hides a new one;
* a day is tested once the history has ``min_history_days`` days;
* spread = max(sample standard deviation of the history, sqrt(mean), 1): a flat history
  has no spread, and a count is at least as noisy as a Poisson count of the same mean;
* anomalous when ``drops - mean > sigma * spread`` and ``drops - mean >= min_drops``: only
  increases are reported, and a quiet endpoint with a handful of extra drops is not.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from theia_sf.detection.model import (
    Anomaly,
    DailyCount,
    DetectionConfig,
    Direction,
    Method,
    Series,
)

THEIA_SIGMA = 3.0
THEIA_MIN_DAYS = 3


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def group_series(rows: Iterable[Sequence[Any]]) -> list[Series]:
    """``(endpoint, direction, day, drops, ...)`` rows to series, each in day order."""
    grouped: dict[tuple[str, str], list[DailyCount]] = {}
    for row in rows:
        endpoint, direction, day, drops = row[0], row[1], row[2], row[3]
        grouped.setdefault((endpoint, direction), []).append(DailyCount(_as_date(day), int(drops)))
    return [
        Series(endpoint, Direction(direction), tuple(sorted(days, key=lambda d: d.day)))
        for (endpoint, direction), days in sorted(grouped.items())
    ]


def _mean_stdev(values: Sequence[int]) -> tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def detect_theia(series: Iterable[Series]) -> list[Anomaly]:
    """theia-sf's rule: |drops - mean| > 3 sample standard deviations, n >= 3."""
    found = []
    for s in series:
        if len(s.days) < THEIA_MIN_DAYS:
            continue  # as theia-sf's UDTF: fewer than 3 days emit nothing
        mean, std = _mean_stdev([d.drops for d in s.days])
        found.extend(_theia_flags(s.endpoint, s.direction, s.days, len(s.days), mean, std))
    return found


def _theia_flags(
    endpoint: str,
    direction: Direction,
    days: Sequence[DailyCount],
    n: int,
    mean: float,
    std: float,
) -> list[Anomaly]:
    out = []
    for d in days:
        if d.drops > mean + THEIA_SIGMA * std or d.drops < mean - THEIA_SIGMA * std:
            out.append(
                Anomaly(
                    endpoint=endpoint,
                    direction=direction,
                    day=d.day,
                    drops=d.drops,
                    mean=mean,
                    stdev=std,
                    score=(d.drops - mean) / std if std else 0.0,
                    history_days=n,
                )
            )
    return out


def theia_from_sql_rows(rows: Iterable[Sequence[Any]]) -> list[Anomaly]:
    """Apply theia-sf's rule to rows that carry the SQL statistics.

    Rows are ``(endpoint, direction, day, drops, n_days, mean_drops, stdev_drops)``.
    """
    found = []
    for endpoint, direction, day, drops, n, mean, std in rows:
        if n < THEIA_MIN_DAYS or std is None:
            continue
        found.extend(
            _theia_flags(
                endpoint,
                Direction(direction),
                [DailyCount(_as_date(day), int(drops))],
                int(n),
                float(mean),
                float(std),
            )
        )
    return sorted(found, key=lambda a: (a.endpoint, a.direction, a.day))


def spread_floor(mean: float) -> float:
    """The least spread a baseline may have: Poisson noise of the mean, and at least 1."""
    return max(1.0, math.sqrt(max(mean, 0.0)))


def detect_baseline(series: Iterable[Series], config: DetectionConfig) -> list[Anomaly]:
    """Each day against the non-anomalous days before it (see the module docstring)."""
    sigma = float(config.sigma)
    min_history = config.min_history_days
    min_drops = config.min_drops
    found = []
    for s in series:
        # Running sums keep this linear in the number of days.
        n = 0
        total = 0.0
        total_sq = 0.0
        for d in s.days:
            x = d.drops
            if n >= min_history:
                mean = total / n
                var = (total_sq - total * total / n) / (n - 1) if n > 1 else 0.0
                std = math.sqrt(var) if var > 0 else 0.0
                spread = max(std, spread_floor(mean))
                excess = x - mean
                if excess > sigma * spread and excess >= min_drops:
                    found.append(
                        Anomaly(
                            endpoint=s.endpoint,
                            direction=s.direction,
                            day=d.day,
                            drops=x,
                            mean=mean,
                            stdev=spread,
                            score=excess / spread,
                            history_days=n,
                        )
                    )
                    continue  # an anomalous day never becomes part of the baseline
            n += 1
            total += x
            total_sq += x * x
    return found


def detect(series: Iterable[Series], config: DetectionConfig) -> list[Anomaly]:
    """Run the configured method over series of daily counts."""
    if config.method is Method.THEIA:
        return detect_theia(series)
    return detect_baseline(series, config)
