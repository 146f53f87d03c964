"""business_seconds: working time between two instants, exact, across weekends, overnight shifts and DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from proxy.business_hours import BusinessHoursError, business_seconds, parse_business_hours

MSK = ZoneInfo("Europe/Moscow")  # UTC+3 all year
OFFICE = {"tz": "Europe/Moscow", "days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}
NIGHT_SHIFT = {"tz": "Europe/Moscow", "days": [4], "start": "22:00", "end": "06:00"}  # Fri 22:00 - Sat 06:00


def msk(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, micro, tzinfo=MSK)


@pytest.mark.parametrize(
    ("start", "end", "hours", "expected"),
    [
        # The worked example of docs/metrics.md: Friday 17:55 -> Monday 09:05 is 5 + 5 working minutes.
        (msk(1, 17, 55), msk(4, 9, 5), OFFICE, 600.0),
        (msk(1, 17, 30), msk(4, 9, 15), OFFICE, 2700.0),
        (msk(4, 10), msk(4, 10, 5), OFFICE, 300.0),  # inside one window
        (msk(4, 7), msk(4, 8), OFFICE, 0.0),  # before opening
        (msk(4, 18), msk(5, 9), OFFICE, 0.0),  # closed overnight
        (msk(2, 10), msk(3, 23), OFFICE, 0.0),  # a whole weekend
        (msk(4, 8), msk(11, 8), OFFICE, 5 * 9 * 3600.0),  # a full week
        (msk(4, 17, 59, 59, 500_000), msk(4, 18, 0, 0, 1), OFFICE, 0.5),  # microseconds are kept
        (msk(4, 12), msk(4, 11), OFFICE, 0.0),  # end before start
        # Overnight: Friday's shift runs into Saturday; Saturday's own window does not exist.
        (msk(1, 21), msk(2, 7), NIGHT_SHIFT, 8 * 3600.0),
        (msk(2, 5), msk(2, 23), NIGHT_SHIFT, 3600.0),
        (msk(1, 23, 30), msk(1, 23, 45), NIGHT_SHIFT, 900.0),
        (msk(7, 21), msk(8, 23), NIGHT_SHIFT, 1 * 3600.0),  # Thursday 21:00 -> Friday 23:00
        # Whole days with "24:00".
        (
            msk(2, 12),
            msk(3, 12),
            {"tz": "Europe/Moscow", "days": [5], "start": "00:00", "end": "24:00"},
            43200.0,
        ),
    ],
)
def test_business_seconds(start: datetime, end: datetime, hours: dict, expected: float) -> None:
    assert business_seconds(start.astimezone(UTC), end.astimezone(UTC), hours) == expected


def test_dst_day_counts_real_elapsed_time() -> None:
    """Berlin springs forward on 2024-03-31 at 02:00: that day's 00:00-24:00 window is 23 hours long."""
    berlin = ZoneInfo("Europe/Berlin")
    hours = {"tz": "Europe/Berlin", "days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}
    start = datetime(2024, 3, 31, 0, 0, tzinfo=berlin)
    end = datetime(2024, 4, 1, 0, 0, tzinfo=berlin)
    assert business_seconds(start, end, hours) == 23 * 3600.0


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"tz": "Mars/Base", "days": [0], "start": "09:00", "end": "18:00"}, "not a known time zone"),
        ({"tz": "UTC", "days": [], "start": "09:00", "end": "18:00"}, "days must be a non-empty list"),
        ({"tz": "UTC", "days": [7], "start": "09:00", "end": "18:00"}, "days must be a non-empty list"),
        ({"tz": "UTC", "days": [0], "start": "9:00", "end": "18:00"}, "start must look like 09:00"),
        ({"tz": "UTC", "days": [0], "start": "09:00", "end": "25:00"}, "end must look like 09:00"),
        ({"tz": "UTC", "days": [0], "start": "09:00", "end": "09:00"}, "start and end must differ"),
    ],
)
def test_bad_business_hours_are_refused(hours: dict, message: str) -> None:
    with pytest.raises(BusinessHoursError, match=message):
        parse_business_hours(hours)
