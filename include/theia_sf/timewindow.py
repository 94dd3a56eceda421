"""Time windows for analyses: ``now``, ``now-<n>{s,m,h,d}`` or RFC 3339, half-open [start, end).

theia-sf accepted any single token as "now" and had no day unit; here anything else is an
error that names the offending value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# At most seven digits: the largest offset (9999999 days) still resolves to a datetime, so
# parse_time's own bound check can answer; longer numbers are refused by the pattern.
RELATIVE_PATTERN = r"now(-[0-9]{1,7}[smhd])?"
# RFC 3339 date-time with a mandatory offset (Z or +hh:mm); fractional seconds allowed. The
# pattern already refuses impossible fields (month 13, day 31 in a 30-day month, hour 24,
# year 0001), so the trigger form refuses most typos; February 29 of a common year is left
# to parse_time.
_YEAR = r"(19[7-9][0-9]|2[0-9]{3})"
_MONTH_DAY = (
    r"((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])"
    r"|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-9]))"
)
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
_OFFSET = r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
RFC3339_PATTERN = rf"{_YEAR}-{_MONTH_DAY}[Tt ]{_CLOCK}{_OFFSET}"
# ``$(?!\n)``: jsonschema checks a Param's pattern with Python's re.search, where ``$`` also
# matches before a final newline; the look-ahead refuses it (and means nothing in ECMA regex).
TIME_PATTERN = rf"^({RELATIVE_PATTERN}|{RFC3339_PATTERN})$(?!\n)"
TIME_FORMAT_HELP = (
    "now, now-<n> with unit s, m, h or d (e.g. now-7d), or RFC 3339 (e.g. 2024-05-01T00:00:00Z)"
)
_TIME = re.compile(TIME_PATTERN)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# The longest analysis window (a year and a month: year-over-year comparisons fit). Bounds the
# work a run does (drop detection fills every day of its window).
MAX_WINDOW_DAYS = 400
# Times before this are refused: no flow record is older than the Unix epoch.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class TimeSpecError(ValueError):
    pass


def parse_time(spec: str, *, now: dt.datetime, name: str = "time") -> dt.datetime:
    """Resolve a time spec against ``now`` (aware) to an aware UTC datetime."""
    if not isinstance(spec, str) or not _TIME.fullmatch(spec):
        raise TimeSpecError(f"{name}={spec!r} is not a time: use {TIME_FORMAT_HELP}")
    try:
        if spec.startswith("now"):
            if spec == "now":
                return now.astimezone(dt.UTC)
            amount, unit = int(spec[4:-1]), spec[-1]
            resolved = (now - dt.timedelta(**{_UNITS[unit]: amount})).astimezone(dt.UTC)
        else:
            text = spec.replace("z", "Z").replace("Z", "+00:00").replace("t", "T")
            resolved = dt.datetime.fromisoformat(text.replace(" ", "T")).astimezone(dt.UTC)
    except (ValueError, OverflowError) as error:
        # An impossible date (2024-02-29 is fine, 2023-02-29 is not) or one out of range.
        raise TimeSpecError(f"{name}={spec!r} is not a valid time ({error})") from None
    if resolved < EARLIEST:
        raise TimeSpecError(f"{name}={spec!r} is before 1970-01-01T00:00:00Z")
    return resolved


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise TimeSpecError(
                f"The window ends at {_readable(self.end)}, which is not after its start "
                f"{_readable(self.start)}: choose an end after the start."
            )

    @classmethod
    def ending_at(cls, end: dt.datetime, *, days: float) -> Window:
        end = end.astimezone(dt.UTC)
        return cls(end - dt.timedelta(days=days), end)

    @classmethod
    def resolve(
        cls,
        *,
        start: str | None,
        end: str | None,
        lookback_days: float,
        interval_end: dt.datetime | None,
        now: dt.datetime | None = None,
        max_days: int = MAX_WINDOW_DAYS,
    ) -> Window:
        """Explicit ``start``/``end`` win; otherwise ``interval_end`` minus the lookback.

        ``interval_end`` is the run's data interval end; runs triggered without a logical
        date have none, and their window ends now. A window longer than ``max_days`` is
        refused. Any aware datetime works (pendulum's
        included: it is normalised to a plain UTC datetime, since pendulum arithmetic
        drops ``datetime.UTC``).
        """
        now = now or dt.datetime.now(dt.UTC)
        if interval_end is None:
            interval_end = now
        if interval_end.tzinfo is None:
            raise ValueError("interval_end must be timezone-aware")
        interval_end = dt.datetime.fromtimestamp(interval_end.timestamp(), dt.UTC)
        end_at = parse_time(end, now=now, name="end") if end else interval_end
        if start:
            start_at = parse_time(start, now=now, name="start")
        else:
            if not 0 < lookback_days <= max_days:
                raise TimeSpecError(
                    f"lookback={lookback_days!r} days is out of range: use 1 to {max_days} days."
                )
            start_at = end_at - dt.timedelta(days=lookback_days)
        window = cls(start_at, end_at)
        if window.end - window.start > dt.timedelta(days=max_days):
            raise TimeSpecError(
                f"The window from {_readable(window.start)} to {_readable(window.end)} spans "
                f"{(window.end - window.start).days} days; the longest window is {max_days} days."
            )
        return window

    def to_record(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _readable(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
