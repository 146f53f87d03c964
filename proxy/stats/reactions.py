"""Reaction-time figures: one aggregate query over reaction samples, grouped as the caller asks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.stats.period import Period
from proxy.stats.sql import SqlQuery, percentile


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


async def reaction_figures(
    period: Period,
    *,
    group_by: list[str] | None = None,
    community_id: int | None = None,
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
    keys = ", ".join(f"{expr} AS g{i}" for i, expr in enumerate(groups))
    partition = ", ".join(f"g{i}" for i in range(len(groups)))
    where = ["s.ended_by = 'reply'", f"s.ended_at >= {q.p(period.start)}", f"s.ended_at < {q.p(period.end)}"]
    if community_id is not None:
        where.append(f"s.community_id = {q.p(community_id)}")
    if operator_id is not None:
        where.append(f"s.operator_id = {q.p(operator_id)}")
    sql = f"""
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
    result = []
    for row in await q.rows(sql):
        key = tuple(row[f"g{i}"] for i in range(len(groups)))
        result.append((key, figures_from_row(row)))
    return result
