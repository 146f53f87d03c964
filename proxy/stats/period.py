"""Report periods: whole days in the team's time zone, turned into a half-open UTC interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Ten years: long enough for any report, short enough that an hourly series stays a sane size.
MAX_PERIOD_DAYS = 3660
DEFAULT_PERIOD_DAYS = 7


class StatsParamError(ValueError):
    """A report parameter that cannot be used; the message is one line meant for the user."""


@dataclass(frozen=True)
class Period:
    """Days `first_day`..`last_day` inclusive in `tz`: instants in [start, end) UTC."""

    first_day: date
    last_day: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def _day(value: str, name: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise StatsParamError(f"{name} must be a date like 2024-03-01, got {value!r}") from None


def parse_period(first: str | None, last: str | None, tz: ZoneInfo, *, today: date | None = None) -> Period:
    """The period from `from`/`to` strings (YYYY-MM-DD, inclusive, in `tz`); see `period_of`.

    The web reads its parameters with web/params.py, which also keeps days within a sane range; this is
    for code that has the strings at hand (tests, scripts).
    """
    return period_of(_day(first, "from") if first else None, _day(last, "to") if last else None, tz, today=today)


def period_of(first_day: date | None, last_day: date | None, tz: ZoneInfo, *, today: date | None = None) -> Period:
    """Days `first_day`..`last_day` in `tz`, checked: from <= to, at most MAX_PERIOD_DAYS.

    A missing last day is today; a missing first day is `DEFAULT_PERIOD_DAYS` days ending on the last.
    """
    last_day = last_day or today or datetime.now(tz).date()
    first_day = first_day or last_day - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first_day > last_day:
        raise StatsParamError(f"from ({first_day}) must not be after to ({last_day})")
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise StatsParamError(f"a period may span at most {MAX_PERIOD_DAYS} days")
    return Period(first_day=first_day, last_day=last_day, tz=tz)
