"""Load against speed over time: incoming items, replies and median reaction per local hour, day, week
or month.

The default bucket follows the period (`default_bucket`): a week of hours is 168 bars of which a
handful are not empty, a strip with one spike; a week of days reads at a glance.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from proxy.db.sql import DAY, HOUR, SqlQuery, bucket_start
from proxy.models import Operator
from proxy.stats.credit import REPLY
from proxy.stats.operators import seconds_cell
from proxy.stats.period import Period, StatsParamError
from proxy.stats.reactions import in_communities, reaction_figures
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter

BUCKETS = ("hour", "day", "week", "month")
# The longest period charted by default by the hour, by the day and by the week (days); longer: by month.
DEFAULT_BUCKETS = ((2, "hour"), (62, "day"), (366, "week"))
# Day 0 (1970-01-01) was a Thursday: day n is in week (n + 3) // 7, which starts on a Monday.
_WEEK_SHIFT = 3

TIMESERIES_CSV_HEADER = ["bucket_start", "incoming", "replies", "reaction_count", "reaction_median_s"]
HOURLY_CSV_HEADER = ["community", "hour_start", "incoming", "replies", "reaction_count", "reaction_median_s"]


@dataclass(frozen=True)
class Point:
    """One bucket: local start time (naive, in the team's zone), volumes, and the median reaction."""

    start: datetime
    community_id: int | None
    incoming: int
    replies: int
    reaction_count: int
    reaction_median: float | None

    def csv_cells(self) -> list[Any]:
        return [
            self.start.strftime("%Y-%m-%d %H:%M"),
            self.incoming,
            self.replies,
            self.reaction_count,
            seconds_cell(self.reaction_median),
        ]


def check_bucket(name: str) -> str:
    """`name` if it is a bucket (hour, day, week, month); StatsParamError otherwise."""
    if name not in BUCKETS:
        raise StatsParamError(f"bucket must be one of: {', '.join(BUCKETS)}, got {name!r}")
    return name


def default_bucket(period: Period) -> str:
    """The bucket a period is charted by unless asked otherwise: a few dozen to a few hundred points."""
    for days, bucket in DEFAULT_BUCKETS:
        if period.days <= days:
            return bucket
    return "month"


def bucket_sql(q: SqlQuery, column: str, period: Period, bucket: str) -> str:
    """SQL: the number of the local bucket `column` falls in (see `start_of`), the same on both databases."""
    if bucket == "hour":
        return q.local_bucket(column, period.tz, period.start, period.end, HOUR)
    day = q.local_bucket(column, period.tz, period.start, period.end, DAY)
    if bucket == "day":
        return day
    if bucket == "week":
        return f"(({day} + {_WEEK_SHIFT}) / 7)"
    # Months: year * 12 + month - 1 of the local wall-clock time.
    local = q.local_bucket(column, period.tz, period.start, period.end, 1)
    if q.postgres:
        at = f"(to_timestamp({local}) AT TIME ZONE 'UTC')"
        return f"CAST(EXTRACT(YEAR FROM {at}) * 12 + EXTRACT(MONTH FROM {at}) - 1 AS INTEGER)"
    return (
        f"(CAST(strftime('%Y', {local}, 'unixepoch') AS INTEGER) * 12"
        f" + CAST(strftime('%m', {local}, 'unixepoch') AS INTEGER) - 1)"
    )


def start_of(number: int, bucket: str) -> datetime:
    """The local wall time (naive) at which bucket `number` of `bucket_sql` starts."""
    number = int(number)
    if bucket == "hour":
        return bucket_start(number, HOUR)
    if bucket == "day":
        return bucket_start(number, DAY)
    if bucket == "week":
        return bucket_start(number * 7 - _WEEK_SHIFT, DAY)
    return datetime(number // 12, number % 12 + 1, 1)


def _local_buckets(period: Period, bucket: str) -> Iterator[datetime]:
    """Every local wall-clock bucket start of the period, in order: the first bucket holds its first day."""
    at = datetime.combine(period.first_day, time(0))
    if bucket == "week":
        at -= timedelta(days=at.weekday())
    elif bucket == "month":
        at = at.replace(day=1)
    stop = datetime.combine(period.last_day + timedelta(days=1), time(0))
    while at < stop:
        yield at
        if bucket == "month":
            at = at.replace(year=at.year + at.month // 12, month=at.month % 12 + 1)
        else:
            at += timedelta(seconds={"hour": HOUR, "day": DAY, "week": 7 * DAY}[bucket])


async def _volumes(
    period: Period,
    bucket_name: str,
    community_ids: Collection[int] | None,
    within: CommunityFilter,
    operator: Operator | None,
    by_community: bool,
) -> dict[tuple[Any, datetime], tuple[int, int]]:
    q = SqlQuery()
    bucket = bucket_sql(q, "i.created_at", period, bucket_name)
    group = "i.community_id" if by_community else "0"
    where = f"i.created_at >= {q.p(period.start)} AND i.created_at < {q.p(period.end)}"
    if community_ids is not None:
        where += f" AND {in_communities(q, 'i.community_id', community_ids)}"
    where += within.and_condition(q, "i.community_id")
    replies = "i.direction = 'out'"
    if operator is not None:
        # An operator's own series: incoming load stays the community's, replies are theirs only.
        replies += f" AND {REPLY.credited_to(q, operator)}"
    sql = f"""
        SELECT {group} AS g, {bucket} AS bucket,
               SUM(CASE WHEN i.direction = 'in' THEN 1 ELSE 0 END) AS incoming,
               SUM(CASE WHEN {replies} THEN 1 ELSE 0 END) AS replies
        FROM item i WHERE {where}
        GROUP BY g, bucket
    """
    return {
        (row["g"], start_of(row["bucket"], bucket_name)): (int(row["incoming"]), int(row["replies"]))
        for row in await q.rows(sql)
    }


def _single(community_ids: Collection[int] | None) -> int | None:
    """The community a series is of, when it is of one."""
    return next(iter(community_ids)) if community_ids is not None and len(community_ids) == 1 else None


async def time_series(
    period: Period,
    bucket: str,
    *,
    community_ids: Collection[int] | None = None,
    within: CommunityFilter = EVERY_COMMUNITY,
    operator: Operator | None = None,
    by_community: bool = False,
) -> list[Point]:
    """One point per local hour, day, week or month of the period (empty buckets included, as zeros);
    a week or month the period starts or ends in counts only the period's days.

    `community_ids` limits it to those communities (a scope's, proxy/access.py; None: all), and `within`
    to the community or network asked for. With
    `by_community`, one point per community per bucket (communities in name order). With `operator`, replies and reaction times are that operator's own.
    Around a DST change the repeated local hour holds both real hours, and the skipped one stays empty.
    """
    check_bucket(bucket)
    volumes = await _volumes(period, bucket, community_ids, within, operator, by_community)
    q = SqlQuery()
    group = [
        "s.community_id" if by_community else "0",
        bucket_sql(q, "s.ended_at", period, bucket),
    ]
    reactions = {
        (key[0], start_of(key[1], bucket)): figures
        for key, figures in await reaction_figures(
            period,
            group_by=group,
            community_ids=community_ids,
            within=within,
            operator_id=operator.id if operator is not None else None,
            query=q,
        )
    }
    if by_community:
        communities = within.communities()
        if community_ids is not None:
            communities = communities.filter(id__in=community_ids)
        groups: list[Any] = [c.id for c in sorted(await communities, key=lambda c: (c.name, c.id))]
    else:
        groups = [0]
    points = []
    for group_key in groups:
        for start in _local_buckets(period, bucket):
            incoming, replies = volumes.get((group_key, start), (0, 0))
            reaction = reactions.get((group_key, start))
            points.append(
                Point(
                    start=start,
                    community_id=group_key if by_community else _single(community_ids),
                    incoming=incoming,
                    replies=replies,
                    reaction_count=reaction.count if reaction else 0,
                    reaction_median=reaction.median if reaction else None,
                )
            )
    return points
