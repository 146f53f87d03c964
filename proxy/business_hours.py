"""Working time between two instants, for communities that count reaction time in business hours.

A community's `business_hours` is JSON: ``{"tz": "Europe/Moscow", "days": [0, 1, 2, 3, 4],
"start": "09:00", "end": "18:00"}`` (days: Monday=0 ... Sunday=6). Each listed day has one working
window from `start` to `end` local time; when `end` is not after `start` the window runs overnight into
the next day (it belongs to the day it starts on: ``"days": [4], "start": "22:00", "end": "06:00"`` is
Friday 22:00 to Saturday 06:00). ``"end": "24:00"`` means midnight at the end of the day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class BusinessHoursError(ValueError):
    """A business_hours value that cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class BusinessHours:
    """Parsed business hours: a zone, the working weekdays and the daily window."""

    tz: ZoneInfo
    days: frozenset[int]
    start: time
    end: time  # time(0, 0) with end_is_midnight for "24:00"
    end_is_midnight: bool = False

    @property
    def overnight(self) -> bool:
        return not self.end_is_midnight and self.end <= self.start

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The working window that starts on `day`, as UTC instants (real elapsed time across DST)."""
        opens = datetime.combine(day, self.start, tzinfo=self.tz)
        closing_day = day + timedelta(days=1) if self.overnight or self.end_is_midnight else day
        closes = datetime.combine(closing_day, self.end, tzinfo=self.tz)
        return opens.astimezone(UTC), closes.astimezone(UTC)


def _clock(value: Any, name: str) -> tuple[time, bool]:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise BusinessHoursError(f"business hours {name} must look like 09:00, got {value!r}")
    if value == "24:00":
        return time(0, 0), True
    try:
        hours, minutes = int(value[:2]), int(value[3:])
        return time(hours, minutes), False
    except ValueError:
        raise BusinessHoursError(f"business hours {name} must look like 09:00, got {value!r}") from None


def parse_business_hours(hours: Mapping[str, Any]) -> BusinessHours:
    """Check and parse a business_hours JSON value; BusinessHoursError with a one-line reason."""
    if not isinstance(hours, Mapping):
        raise BusinessHoursError("business hours must be an object with tz, days, start and end")
    try:
        tz = ZoneInfo(str(hours.get("tz", "")))
    except (ZoneInfoNotFoundError, ValueError):
        raise BusinessHoursError(f"business hours tz is not a known time zone: {hours.get('tz')!r}") from None
    days = hours.get("days")
    if (
        not isinstance(days, list | tuple)
        or not days
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days)
    ):
        raise BusinessHoursError(
            f"business hours days must be a non-empty list of 0..6 (Monday=0), got {days!r}"
        )
    start, start_midnight = _clock(hours.get("start"), "start")
    end, end_midnight = _clock(hours.get("end"), "end")
    if start_midnight:
        raise BusinessHoursError("business hours start must be before 24:00")
    if start == end and not end_midnight:
        raise BusinessHoursError("business hours start and end must differ (use 00:00-24:00 for all day)")
    return BusinessHours(tz=tz, days=frozenset(days), start=start, end=end, end_is_midnight=end_midnight)


def business_seconds(start: datetime, end: datetime, hours: Mapping[str, Any] | BusinessHours) -> float:
    """Seconds of working time in [start, end): the overlap with every working window, exactly.

    `start` and `end` are aware datetimes; `hours` is a community's business_hours JSON (or its parsed
    form). Returns 0.0 when `end` is not after `start`.
    """
    parsed = hours if isinstance(hours, BusinessHours) else parse_business_hours(hours)
    # In UTC: subtracting two datetimes of one zone gives wall-clock time, wrong across DST.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    # A window that starts the day before `start` (overnight) can still overlap it.
    day = start.astimezone(parsed.tz).date() - timedelta(days=1)
    last_day = end.astimezone(parsed.tz).date()
    total = timedelta(0)
    while day <= last_day:
        if day.weekday() in parsed.days:
            opens, closes = parsed.window(day)
            overlap = min(end, closes) - max(start, opens)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total.total_seconds()
