"""Reaction-time figures: one aggregate query over reaction samples, grouped as the caller asks."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from proxy.db.sql import SqlQuery, percentile
from proxy.models import Community, Operator
from proxy.stats.period import Period
from proxy.stats.where import EVERY_COMMUNITY, CommunityFilter


@dataclass(frozen=True)
class ReactionFigures:
    """Reaction times (seconds) of waiting periods ended by a reply, for one group of samples."""

    count: int = 0
    avg: float | None = None
    median: float | None = None
    p90: float | None = None
    min: float | None = None
    max: float | None = None
    first_count: int = 0
    first_avg: float | None = None
    sla_met: int = 0
    business_count: int = 0
    business_avg: float | None = None
    business_median: float | None = None

    @property
    def sla_met_pct(self) -> float | None:
        """Share of reaction times within the community's SLA, in percent; None without samples."""
        return 100.0 * self.sla_met / self.count if self.count else None


EMPTY = ReactionFigures()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def figures_from_row(row: dict[str, Any]) -> ReactionFigures:
    return ReactionFigures(
        count=int(row["n_all"]),
        avg=_float(row["avg_v"]),
        median=_float(row["median_v"]),
        p90=_float(row["p90_v"]),
        min=_float(row["min_v"]),
        max=_float(row["max_v"]),
        first_count=int(row["first_n"] or 0),
        first_avg=_float(row["first_avg"]),
        sla_met=int(row["met"] or 0),
        business_count=int(row["business_n"] or 0),
        business_avg=_float(row["business_avg"]),
        business_median=_float(row["business_median"]),
    )


def in_communities(q: SqlQuery, column: str, community_ids: Collection[int]) -> str:
    """SQL: `column` is one of the ids (a scope's communities, proxy/access.py); false for none."""
    return q.one_of(column, sorted(community_ids))


async def reaction_figures(
    period: Period,
    *,
    group_by: list[str] | None = None,
    within: CommunityFilter = EVERY_COMMUNITY,
    community_ids: Collection[int] | None = None,
    operator_id: int | None = None,
    query: SqlQuery | None = None,
) -> list[tuple[tuple[Any, ...], ReactionFigures]]:
    """Figures per group: `group_by` are SQL expressions over `s` (reaction_sample) and `c` (community),
    e.g. ``["s.operator_id"]``; no groups gives one total row (when there are samples).

    Samples count when they ended by a reply within the period (by `ended_at`). SLA: a sample meets it
    when its business-hours seconds (or wall-clock seconds when it has none) are <= the community's
    `sla_seconds`.
    """
    q = query or SqlQuery()
    groups = group_by or ["0"]
    where = [
        "s.ended_by = 'reply'",
        f"s.ended_at >= {period_bound(q, period.start)}",
        f"s.ended_at < {period_bound(q, period.end)}",
    ]
    if within:
        where.append(within.condition(q, "s.community_id"))
    if community_ids is not None:
        where.append(in_communities(q, "s.community_id", community_ids))
    if operator_id is not None:
        where.append(f"s.operator_id = {q.p(operator_id)}")
    if q.postgres:
        slices = await _operator_slices() if groups[0] == "s.operator_id" and operator_id is None else [""]
        sql = await _postgres_sql(q, groups, where, slices)
    else:
        sql = _window_sql(groups, where)
    result = []
    for row in await q.rows(sql):
        key = tuple(row[f"g{i}"] for i in range(len(groups)))
        result.append((key, figures_from_row(row)))
    return result


def _window_sql(groups: list[str], where: list[str]) -> str:
    """SQLite: the quantiles from ROW_NUMBER windows (it has no ordered aggregates)."""
    keys = ", ".join(f"{expr} AS g{i}" for i, expr in enumerate(groups))
    partition = ", ".join(f"g{i}" for i in range(len(groups)))
    return f"""
        WITH picked AS (
            SELECT {keys}, s.seconds AS v, s.business_seconds AS b, s.is_first AS is_first,
                   CASE WHEN COALESCE(s.business_seconds, s.seconds) <= c.sla_seconds THEN 1 ELSE 0 END AS met
            FROM reaction_sample s JOIN community c ON c.id = s.community_id
            WHERE {" AND ".join(where)}
        ), ranked AS (
            SELECT picked.*,
                   ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY v) - 1 AS r,
                   COUNT(*) OVER (PARTITION BY {partition}) AS n,
                   ROW_NUMBER() OVER (
                       PARTITION BY {partition}, CASE WHEN b IS NULL THEN 1 ELSE 0 END ORDER BY b
                   ) - 1 AS rb,
                   COUNT(b) OVER (PARTITION BY {partition}) AS nb
            FROM picked
        )
        SELECT {partition}, COUNT(*) AS n_all, AVG(v) AS avg_v, MIN(v) AS min_v, MAX(v) AS max_v,
               {percentile("v", "r", "n", 1, 2)} AS median_v,
               {percentile("v", "r", "n", 9, 10)} AS p90_v,
               SUM(CASE WHEN is_first THEN 1 ELSE 0 END) AS first_n,
               AVG(CASE WHEN is_first THEN v END) AS first_avg,
               SUM(met) AS met,
               COUNT(b) AS business_n, AVG(b) AS business_avg,
               {percentile("CASE WHEN b IS NOT NULL THEN b END", "rb", "nb", 1, 2)} AS business_median
        FROM ranked
        GROUP BY {partition}
    """


# Community ids up to this are looked up in an array of SLA thresholds; beyond it, by a join.
_SLA_ARRAY_MAX_ID = 100_000

# Ranges of operator ids a report grouped by operator is cut into, so that PostgreSQL's parallel
# workers can aggregate them at the same time (see `_operator_slices`).
_OPERATOR_SLICES = 4


async def _operator_slices() -> list[str]:
    """Conditions that cut samples into disjoint slices of whole operators: `_OPERATOR_SLICES` ranges
    of operator ids with about as many operators each, and the samples no operator is credited with.

    Each slice is a query of its own in a UNION ALL, which PostgreSQL runs as a Parallel Append: the
    slices are aggregated by its workers at the same time, where the one query was a single process
    (sorted arrays have no partial aggregation to parallelise). Grouped by operator first, no group
    spans two slices, so the figures are those of the one query. Whether workers are worth it stays
    the planner's decision (for a short period it may run the slices one after the other).
    """
    ids = await Operator.all().order_by("id").values_list("id", flat=True)
    if len(ids) < _OPERATOR_SLICES:
        return [""]
    bounds = [ids[len(ids) * k // _OPERATOR_SLICES] for k in range(1, _OPERATOR_SLICES)]
    ranges = [f"s.operator_id < {bounds[0]}"]
    ranges += [f"s.operator_id >= {low} AND s.operator_id < {high}" for low, high in pairwise(bounds)]
    ranges += [f"s.operator_id >= {bounds[-1]}", "s.operator_id IS NULL"]
    return [f" AND {condition}" for condition in ranges]


async def _postgres_sql(q: SqlQuery, groups: list[str], where: list[str], slices: list[str]) -> str:
    """PostgreSQL: one aggregate pass, no window. Grouped by operator, the rows come presorted from the
    index of migration 0005 (operator_id, seconds), so the sorted arrays cost little; the quantiles
    are read from them with the arithmetic of `percentile` (percentile_cont's own floating-point
    steps differ in the last bit). Means are sums over counts (AVG of a float keeps a sum of squares
    too, a third of the time) and the extremes are the sorted array's ends; SLA thresholds come as
    an array indexed by community id rather than a join per sample. Each of `slices` (extra
    conditions, "" for all samples) is aggregated by a query of its own, joined by UNION ALL."""
    keys = ", ".join(f"{expr} AS g{i}" for i, expr in enumerate(groups))
    names = ", ".join(f"g{i}" for i in range(len(groups)))
    join = ""
    slas = dict(await Community.all().values_list("id", "sla_seconds"))
    uses_community = any(re.search(r"\bc\.", expr) for expr in groups)
    if uses_community or (slas and max(slas) > _SLA_ARRAY_MAX_ID):
        join = "JOIN community c ON c.id = s.community_id"
        sla = "c.sla_seconds"
    elif len(set(slas.values())) == 1 and None not in slas.values():
        # One threshold for every community (or one community): a constant, which saves the lookup per
        # sample (about 8% of the query's time over 900,000 samples).
        sla = repr(float(next(iter(slas.values()))))
    else:
        thresholds = [
            float(slas[i]) if slas.get(i) is not None else None for i in range(1, max(slas, default=0) + 1)
        ]
        sla = f"({q.p(thresholds)}::double precision[])[s.community_id]"
    aggregate = f"""
        SELECT {names}, n_all, sum_v / n_all AS avg_v, vs[1] AS min_v, vs[n_all] AS max_v,
               {sorted_percentile("vs", "n_all", 1, 2)} AS median_v,
               {sorted_percentile("vs", "n_all", 9, 10)} AS p90_v,
               first_n, first_sum / NULLIF(first_n, 0) AS first_avg, met,
               business_n, business_sum / NULLIF(business_n, 0) AS business_avg,
               {sorted_percentile("bs", "business_n", 1, 2)} AS business_median
        FROM (
            SELECT {keys}, COUNT(*) AS n_all, SUM(s.seconds) AS sum_v,
                   array_agg(s.seconds ORDER BY s.seconds) AS vs,
                   COUNT(*) FILTER (WHERE s.is_first) AS first_n,
                   SUM(s.seconds) FILTER (WHERE s.is_first) AS first_sum,
                   COUNT(*) FILTER (WHERE COALESCE(s.business_seconds, s.seconds) <= {sla}) AS met,
                   COUNT(s.business_seconds) AS business_n, SUM(s.business_seconds) AS business_sum,
                   array_agg(s.business_seconds ORDER BY s.business_seconds)
                       FILTER (WHERE s.business_seconds IS NOT NULL) AS bs
            FROM reaction_sample s {join}
            WHERE {" AND ".join(where)}{{slice}}
            GROUP BY {names}
        ) g
    """
    return "UNION ALL".join(aggregate.replace("{slice}", condition) for condition in slices)


def period_bound(q: SqlQuery, value: datetime) -> str:
    """A period's bound in a statistics query. On PostgreSQL it is written into the statement rather
    than passed as a parameter: asyncpg prepares statements, and from the sixth run PostgreSQL may use
    a generic plan, which assumes a range holds 0.5% of the rows and sorts instead of reading the
    index in order (a month of samples then took five times as long)."""
    if q.postgres:
        return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat()}'"
    return q.p(value)


def sorted_percentile(values: str, count: str, numerator: int, denominator: int) -> str:
    """`percentile` over a sorted PostgreSQL array `values` of `count` elements: the same definition and
    the same arithmetic, so both databases give the same figures to the last bit."""
    scaled = f"(({count}) - 1) * {int(numerator)}"
    low = f"{values}[({scaled}) / {int(denominator)} + 1]"
    high = f"COALESCE({values}[({scaled}) / {int(denominator)} + 2], {low})"
    fraction = f"(CAST(({scaled}) % {int(denominator)} AS DOUBLE PRECISION) / {int(denominator)})"
    return f"({low} + {fraction} * ({high} - {low}))"
