"""The statistics as one person may see them: one data function per area, for the page and the export.

Each function takes the viewer's `Scope` (proxy/access.py) and parameters already parsed (the community
and network asked for as one `CommunityFilter`), and returns the
rows both renderers show: the stats page and its partials (web/views/stats.py) and the CSV exports
(web/views/stats.py). Managers and admins see everyone; an operator sees their own row, their own series
and their own drill-downs, within their own communities; asking for anyone else's is refused
(`AccessDenied`, journaled through proxy/access.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from proxy.access import AccessDenied, Scope, deny
from proxy.models import Operator
from proxy.stats.communities import CommunityFigures, community_figures
from proxy.stats.conversations import ConversationRow, conversation_rows
from proxy.stats.drill import EVERYONE, METRICS, OUTSIDE, Drill, Who, drill
from proxy.stats.operators import OperatorKpi, operator_kpis
from proxy.stats.period import Period, StatsParamError
from proxy.stats.rankings import Ranking, rank_operators
from proxy.stats.timeseries import Point, time_series
from proxy.stats.where import CommunityFilter


@dataclass(frozen=True)
class PlacedRanking:
    ranking: Ranking
    place: int | None  # among every operator, not only those shown; None: not in the contest


@dataclass(frozen=True)
class OperatorReport:
    """The operators' rows the viewer may see, and their rankings (placed among everyone)."""

    kpis: list[OperatorKpi]
    rankings: list[PlacedRanking]


async def operator_report(scope: Scope, period: Period, within: CommunityFilter) -> OperatorReport:
    """operators.csv, rankings.csv and the page's operators and rankings tables."""
    kpis = await operator_kpis(period, within=within)
    # Places among everyone, before an operator's list is cut down to their own row.
    rankings = [
        PlacedRanking(r, place if r.eligible else None)
        for place, r in enumerate(rank_operators(kpis), start=1)
    ]
    return OperatorReport(
        kpis=[k for k in kpis if scope.sees_rows_of(k.operator_id)],
        rankings=[r for r in rankings if scope.sees_rows_of(r.ranking.kpi.operator_id)],
    )


async def community_report(scope: Scope, period: Period, within: CommunityFilter) -> list[CommunityFigures]:
    """communities.csv and the page's communities table: for managers and admins only."""
    if not scope.supervisor:
        raise AccessDenied("community figures are for managers and admins")
    return await community_figures(period, within=within)


async def series(
    scope: Scope,
    viewer: Operator,
    period: Period,
    bucket: str,
    within: CommunityFilter,
    *,
    by_community: bool = False,
) -> list[Point]:
    """timeseries.csv, hourly.csv (`by_community`) and the page's chart: an operator gets their own
    replies and reaction times against their communities' incoming volume."""
    return await time_series(
        period,
        bucket,
        community_ids=scope.communities(within.community_id),
        within=within,
        operator=None if scope.supervisor else viewer,
        by_community=by_community,
    )


def conversations(scope: Scope, period: Period, within: CommunityFilter) -> AsyncIterator[ConversationRow]:
    """conversations.csv: an operator gets the conversations they worked on."""
    return conversation_rows(
        period,
        within=within,
        operator_id=None if scope.supervisor else scope.operator_id,
    )


@dataclass(frozen=True)
class DrillResult:
    drill: Drill
    who: Who
    subject: Operator | None  # the operator whose figure it is, when it is one operator's


async def drill_down(
    scope: Scope,
    viewer: Operator,
    period: Period,
    metric_name: str,
    asked: int | str | None,
    within: CommunityFilter,
) -> DrillResult:
    """The rows behind one figure of `asked` (an operator id, "outside", or None: everyone).

    AccessDenied (journaled) when an operator asks for anyone but themselves or for a community figure;
    StatsParamError for an unknown metric or operator.
    """
    who, subject = await _whose(scope, viewer, metric_name, asked, within.community_id)
    result = await drill(period, metric_name, who, within=within)
    return DrillResult(result, who, subject)


async def _whose(
    scope: Scope, viewer: Operator, metric_name: str, asked: int | str | None, community_id: int | None
) -> tuple[Who, Operator | None]:
    if not scope.supervisor:
        metric = METRICS.get(metric_name)
        if asked not in (None, viewer.id) or (metric is not None and not metric.attributed):
            await deny(
                viewer,
                action="stats.drill",
                target=f"operator:{asked or 'everyone'}",
                community_id=community_id,
                reason="operators see only their own figures",
            )
        return Who(operator_id=viewer.id), viewer
    if asked is None:
        return EVERYONE, None
    if asked == "outside":
        return OUTSIDE, None
    subject = await Operator.get_or_none(id=asked)
    if subject is None:
        raise StatsParamError(f"no operator with id {asked}")
    return Who(operator_id=subject.id), subject
