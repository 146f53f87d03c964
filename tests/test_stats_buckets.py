"""The chart's bucket follows the period (a week by the day, not 168 mostly empty hours), weeks and months
are buckets too, the CSV under the chart has the chart's rows, and the chart follows the viewer's scope.

Before: the default week was charted by the hour (an empty strip with one spike), and timeseries.csv
without a bucket was hourly whatever the chart showed.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from proxy.models import Role
from proxy.stats import parse_period, time_series
from proxy.stats.timeseries import default_bucket, start_of
from tests.stats_fixtures import MSK, build_worked_example, make_operator
from tests.test_stats_pages import _get, _log_in

# The worked example's items are on 2024-03-04 (6 incoming) and 2024-03-06 (1 incoming), Monday and Wednesday.
MARCH = "from=2024-03-01&to=2024-03-31"


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (1, "hour"),
        (2, "hour"),
        (3, "day"),
        (7, "day"),
        (62, "day"),
        (63, "week"),
        (366, "week"),
        (367, "month"),
    ],
)
def test_the_default_bucket_follows_the_period(days: int, bucket: str) -> None:
    last = date(2024, 12, 31)
    period = parse_period(date.fromordinal(last.toordinal() - days + 1).isoformat(), last.isoformat(), MSK)
    assert period.days == days and default_bucket(period) == bucket


def test_bucket_numbers_start_on_mondays_and_first_days() -> None:
    assert start_of(2_850, "week") == datetime(2024, 8, 12)  # a Monday
    assert start_of(2024 * 12 + 2, "month") == datetime(2024, 3, 1)
    assert start_of(2024 * 12 + 11, "month") == datetime(2024, 12, 1)


async def test_weeks_and_months_add_up_the_days(db: str) -> None:
    await build_worked_example()
    march = parse_period("2024-03-01", "2024-03-31", MSK)
    days = await time_series(march, "day")
    weeks = await time_series(march, "week")
    # The week the period starts in begins before it (Monday 26 February) and counts only its days.
    assert [p.start.date() for p in weeks] == [
        date(2024, 2, 26),
        *(date(2024, 3, d) for d in (4, 11, 18, 25)),
    ]
    assert [p.incoming for p in weeks] == [0, 7, 0, 0, 0]
    assert sum(p.replies for p in weeks) == sum(p.replies for p in days) == 4
    assert [p.reaction_count for p in weeks][1] == sum(p.reaction_count for p in days)
    year = await time_series(parse_period("2024-01-01", "2024-12-31", MSK), "month")
    assert [p.start for p in year] == [datetime(2024, m, 1) for m in range(1, 13)]
    assert [p.incoming for p in year] == [0, 0, 7, *[0] * 9]
    assert year[2].reaction_median == weeks[1].reaction_median  # one median of the same samples


async def test_the_default_week_is_charted_by_day_and_its_csv_matches(client) -> None:
    await build_worked_example()
    await _log_in(client, "maria")
    status, html = await _get(client, "/stats?from=2024-03-01&to=2024-03-07")
    assert status == 200
    assert '<option value="day" selected>' in html
    assert "timeseries.csv?from=2024-03-01&amp;to=2024-03-07&amp;bucket=day" in html
    series = await (await client.get("/stats/series.json?from=2024-03-01&to=2024-03-07")).json()
    assert series["bucket"] == "day" and series["incoming"] == [0, 0, 0, 6, 0, 1, 0]
    # The export without a bucket gives the chart's rows too.
    status, body = await _get(client, "/stats/timeseries.csv?from=2024-03-01&to=2024-03-07")
    assert status == 200 and body.splitlines()[4] == "2024-03-04 00:00,6,4,4,450"
    status, body = await _get(client, f"/stats/timeseries.csv?{MARCH}&bucket=week")
    assert body.splitlines()[1:3] == ["2024-02-26 00:00,0,0,0,", "2024-03-04 00:00,7,4,4,450"]


async def test_an_operator_without_communities_sees_no_incoming_volume(client) -> None:
    await build_worked_example()
    await make_operator("vera", Role.OPERATOR)  # assigned to no community
    await _log_in(client, "vera")
    series = await (await client.get(f"/stats/series.json?{MARCH}&bucket=week")).json()
    assert series["incoming"] == [0] * 5 and series["replies"] == [0] * 5
    status, body = await _get(client, f"/stats/timeseries.csv?{MARCH}&bucket=week")
    assert status == 200 and [line.split(",")[1] for line in body.splitlines()[1:]] == ["0"] * 5
    status, body = await _get(client, f"/stats/hourly.csv?{MARCH}")
    assert status == 200 and len(body.splitlines()) == 1  # the header: no community of theirs
    status, html = await _get(client, f"/stats?{MARCH}")
    assert status == 200 and 'id="communities-table"' not in html
    assert 'class="no-communities"' in html and "У вас пока нет сообществ" in html  # says why it is empty
