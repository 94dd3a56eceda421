"""Detection methods over reduced daily counts (never over raw flows).

``theia`` reproduces theia-sf: per (endpoint, direction), the mean and the *sample* standard
deviation over every day of the series including the tested day, at least 3 days, and a day
is anomalous when it lies strictly more than 3 standard deviations above or below the mean.
Its statistics are also computed in SQL (``select_drop_counts.sql`` with ``theia_stats``);
:func:`detect_theia` is the same rule in Python.

``baseline`` compares each day with the days *before* it in the window:

* history = the preceding days of the series (zero-filled), minus the days already found
  anomalous (and short dips far below it), so an old spike neither inflates the spread nor
  hides a new one;
* a day is tested once the history has ``min_history_days`` days;
* spread = max(sample standard deviation of the history, sqrt(mean), 1): a flat history
  has no spread, and a count is at least as noisy as a Poisson count of the same mean;
* anomalous when ``drops - mean > sigma * spread`` and ``drops - mean >= min_drops``: only
  increases are reported, and a quiet endpoint with a handful of extra drops is not;
* level shifts: consecutive anomalous days at a similar level (within ``sigma`` spreads of
  their mean, or ``min_drops``) are one episode, reported on its first day only. After
  ``shift_days`` such days the new level *is* the baseline (the history restarts from those
  days), so a permanent step is reported once and the endpoint is quiet until it moves again;
  a day above the episode's level starts a new episode and is reported. An episode that ends
  before ``shift_days`` (the level comes back) leaves the old baseline in place. A lasting
  decrease (``shift_days`` days as far below the baseline) is never reported but becomes the
  baseline the same way, so a later return to the old level is reported.

Each series starts on the first day its endpoint was seen in any flow of the window (the SQL
zero-fills from there), so a pod created mid-window is not compared with days before it
existed.
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


class _Moments:
    """Count, sum and sum of squares of a baseline: mean and spread in constant time."""

    __slots__ = ("n", "total", "total_sq")

    def __init__(self, values: Sequence[int] = ()) -> None:
        self.n = len(values)
        self.total = float(math.fsum(values))
        self.total_sq = float(math.fsum(v * v for v in values))

    def add(self, x: int) -> None:
        self.n += 1
        self.total += x
        self.total_sq += x * x

    def mean_spread(self) -> tuple[float, float]:
        """The mean and the spread: sample standard deviation, never below the floor."""
        n = self.n
        mean = self.total / n
        var = (self.total_sq - self.total * self.total / n) / (n - 1) if n > 1 else 0.0
        return mean, max(math.sqrt(var) if var > 0 else 0.0, spread_floor(mean))


def _same_level(episode: Sequence[int], x: int, sigma: float, min_drops: int) -> bool:
    """Whether ``x`` continues an episode of anomalous days (is at its level)."""
    level, spread = _Moments(episode).mean_spread()
    return abs(x - level) <= max(sigma * spread, min_drops)


def detect_baseline(series: Iterable[Series], config: DetectionConfig) -> list[Anomaly]:
    """Each day against the non-anomalous days before it (see the module docstring)."""
    sigma = float(config.sigma)
    min_history = config.min_history_days
    min_drops = config.min_drops
    shift_days = config.shift_days
    found = []
    for s in series:
        base = _Moments()
        episode: list[int] = []  # drops of the current run of anomalous days at one level
        low: list[int] = []  # the current run of days as far below the baseline
        for d in s.days:
            x = d.drops
            if base.n >= min_history:
                mean, spread = base.mean_spread()
                excess = x - mean
                if -excess > sigma * spread and -excess >= min_drops:
                    # Decreases are never reported, but a lasting one is a new level too: a
                    # later return to the old level is then a change again.
                    episode = []
                    low = [*low, x] if low and _same_level(low, x, sigma, min_drops) else [x]
                    if len(low) >= shift_days:
                        base, low = _Moments(low), []
                    continue  # like a spike, a dip that does not last never joins it
                low = []
                if excess > sigma * spread and excess >= min_drops:
                    if episode and _same_level(episode, x, sigma, min_drops):
                        episode.append(x)  # the episode goes on: reported on its first day
                    else:
                        found.append(
                            Anomaly(
                                endpoint=s.endpoint,
                                direction=s.direction,
                                day=d.day,
                                drops=x,
                                mean=mean,
                                stdev=spread,
                                score=excess / spread,
                                history_days=base.n,
                            )
                        )
                        episode = [x]
                    if len(episode) >= shift_days:
                        base = _Moments(episode)  # the level persisted: it is the baseline now
                        episode = []
                    continue  # an anomalous day never joins the old baseline
            episode = []
            low = []
            base.add(x)
    return found


def detect(series: Iterable[Series], config: DetectionConfig) -> list[Anomaly]:
    """Run the configured method over series of daily counts."""
    if config.method is Method.THEIA:
        return detect_theia(series)
    return detect_baseline(series, config)
