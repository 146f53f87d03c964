"""Load against speed over time: incoming items, replies and median reaction per local hour or day."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from proxy.db.sql import DAY, HOUR, SqlQuery, bucket_start
from proxy.models import Community, Operator
from proxy.stats.credit import REPLY
from proxy.stats.operators import seconds_cell
from proxy.stats.period import Period, StatsParamError
from proxy.stats.reactions import in_communities, reaction_figures

BUCKETS = {"hour": HOUR, "day": DAY}

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


def bucket_size(name: str) -> int:
    """Seconds in a bucket called "hour" or "day"; StatsParamError otherwise."""
    if name not in BUCKETS:
        raise StatsParamError(f"bucket must be hour or day, got {name!r}")
    return BUCKETS[name]


def _local_buckets(period: Period, size: int) -> Iterator[datetime]:
    """Every local wall-clock bucket start of the period, in order."""
    at = datetime.combine(period.first_day, time(0))
    stop = datetime.combine(period.last_day + timedelta(days=1), time(0))
    while at < stop:
        yield at
        at += timedelta(seconds=size)


async def _volumes(
    period: Period,
    size: int,
    community_ids: Collection[int] | None,
    operator: Operator | None,
    by_community: bool,
) -> dict[tuple[Any, datetime], tuple[int, int]]:
    q = SqlQuery()
    bucket = q.local_bucket("i.created_at", period.tz, period.start, period.end, size)
    group = "i.community_id" if by_community else "0"
    where = f"i.created_at >= {q.p(period.start)} AND i.created_at < {q.p(period.end)}"
    if community_ids is not None:
        where += f" AND {in_communities(q, 'i.community_id', community_ids)}"
    replies = "i.direction = 'out'"
    if operator is not None:
        # An operator's own series: incoming load stays the community's, replies are theirs only.
        replies += f" AND {REPLY.credited_to(q, operator.id, operator.vk_user_id)}"
    sql = f"""
        SELECT {group} AS g, {bucket} AS bucket,
               SUM(CASE WHEN i.direction = 'in' THEN 1 ELSE 0 END) AS incoming,
               SUM(CASE WHEN {replies} THEN 1 ELSE 0 END) AS replies
        FROM item i WHERE {where}
        GROUP BY g, bucket
    """
    return {
        (row["g"], bucket_start(row["bucket"], size)): (int(row["incoming"]), int(row["replies"]))
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
    operator: Operator | None = None,
    by_community: bool = False,
) -> list[Point]:
    """One point per local hour or day of the period (empty buckets included, as zeros).

    `community_ids` limits it to those communities (a scope's, proxy/access.py; None: all). With
    `by_community`, one point per community per bucket (communities in name order). With `operator`, replies and reaction times are that operator's own.
    Around a DST change the repeated local hour holds both real hours, and the skipped one stays empty.
    """
    size = bucket_size(bucket)
    volumes = await _volumes(period, size, community_ids, operator, by_community)
    q = SqlQuery()
    group = [
        "s.community_id" if by_community else "0",
        q.local_bucket("s.ended_at", period.tz, period.start, period.end, size),
    ]
    reactions = {
        (key[0], bucket_start(key[1], size)): figures
        for key, figures in await reaction_figures(
            period,
            group_by=group,
            community_ids=community_ids,
            operator_id=operator.id if operator is not None else None,
            query=q,
        )
    }
    if by_community:
        communities = Community.all() if community_ids is None else Community.filter(id__in=community_ids)
        groups: list[Any] = [c.id for c in sorted(await communities, key=lambda c: (c.name, c.id))]
    else:
        groups = [0]
    points = []
    for group_key in groups:
        for start in _local_buckets(period, size):
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
