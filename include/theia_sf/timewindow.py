"""Time windows for analyses: ``now``, ``now-<n>{s,m,h,d}`` or RFC 3339, half-open [start, end).

theia-sf accepted any single token as "now" and had no day unit; here anything else is an
error that names the offending value.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

RELATIVE_PATTERN = r"now(-[0-9]+[smhd])?"
# RFC 3339 date-time with a mandatory offset (Z or +hh:mm); fractional seconds allowed.
RFC3339_PATTERN = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
TIME_PATTERN = rf"^({RELATIVE_PATTERN}|{RFC3339_PATTERN})$"
_TIME = re.compile(TIME_PATTERN)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class TimeSpecError(ValueError):
    pass


def parse_time(spec: str, *, now: dt.datetime, name: str = "time") -> dt.datetime:
    """Resolve a time spec against ``now`` (aware) to an aware UTC datetime."""
    if not isinstance(spec, str) or not _TIME.fullmatch(spec.strip()):
        raise TimeSpecError(
            f"{name}={spec!r} is not 'now', 'now-<n>{{s,m,h,d}}' or an RFC 3339 time "
            "such as 2024-05-01T00:00:00Z"
        )
    spec = spec.strip()
    try:
        if spec.startswith("now"):
            if spec == "now":
                return now.astimezone(dt.UTC)
            amount, unit = int(spec[4:-1]), spec[-1]
            return (now - dt.timedelta(**{_UNITS[unit]: amount})).astimezone(dt.UTC)
        text = spec.replace("z", "Z").replace("Z", "+00:00").replace("t", "T").replace(" ", "T")
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except (ValueError, OverflowError) as error:  # 2024-02-30, now-99999999999d, year 0
        raise TimeSpecError(f"{name}={spec!r} is not a valid time: {error}") from None


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
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})"
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
    ) -> Window:
        """Explicit ``start``/``end`` win; otherwise ``interval_end`` minus the lookback.

        ``interval_end`` is the run's data interval end; runs triggered without a logical
        date have none, and their window ends now. Any aware datetime works (pendulum's
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
            start_at = end_at - dt.timedelta(days=lookback_days)
        return cls(start_at, end_at)

    def to_record(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}
