"""Statistics CSV exports: /stats/*.csv?from=YYYY-MM-DD&to=YYYY-MM-DD[&community=ID][&dialect=excel].

The rows come from proxy/stats/scoped.py, the data functions the stats page (web/views/stats_pages.py)
renders too: managers and admins get every operator's figures; an operator gets only their own, of their
own communities (the request's Scope, proxy/access.py): asking for another community is refused (403). A personal API token
(`Authorization: Bearer ...`) works here too (web/auth.py). Each export is journaled ("export.csv").
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from proxy.access import AccessDenied, Scope, require_community
from proxy.appkeys import SETTINGS
from proxy.models import Community, Operator
from proxy.stats import scoped
from proxy.stats.communities import COMMUNITIES_CSV_HEADER, community_csv_row
from proxy.stats.conversations import CONVERSATIONS_CSV_HEADER
from proxy.stats.operators import OPERATORS_CSV_HEADER, operator_csv_row
from proxy.stats.period import Period
from proxy.stats.rankings import RANKINGS_CSV_HEADER
from proxy.stats.timeseries import HOURLY_CSV_HEADER, TIMESERIES_CSV_HEADER
from web import params
from web.auth import OPERATOR, SCOPE
from web.csv_stream import record_export, stream_csv


@dataclass(frozen=True)
class Export:
    """What every stats export is asked for."""

    period: Period
    community_id: int | None
    dialect: str
    operator: Operator
    scope: Scope
    bucket: str
    query: params.Source

    def filename(self, name: str) -> str:
        return f"{name}_{self.period.first_day}_{self.period.last_day}.csv"


async def _export(request: web.Request) -> Export:
    """Parse and check the common parameters (400 with a one-line reason), before anything is written."""
    query = params.query_of(request)
    try:
        export = Export(
            period=params.period(query, request.app[SETTINGS].tz),
            community_id=query(params.COMMUNITY),
            dialect=query.get(params.DIALECT, "csv"),
            operator=request[OPERATOR],
            scope=request[SCOPE],
            bucket=query.get(params.BUCKET, "hour"),
            query=query,
        )
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    try:
        await require_community(export.scope, export.operator, export.community_id, action="export.csv")
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=exc.message) from None
    return export


async def _send(request: web.Request, export: Export, name: str, header, rows) -> web.StreamResponse:
    await record_export(request, export.query, community_id=export.community_id)
    return await stream_csv(
        request, export.filename(name), header, rows, dialect=export.dialect, tz=export.period.tz
    )


async def operators_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    report = await scoped.operator_report(export.scope, export.period, export.community_id)
    rows = (operator_csv_row(k) for k in report.kpis)
    return await _send(request, export, "operators", OPERATORS_CSV_HEADER, rows)


async def rankings_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    report = await scoped.operator_report(export.scope, export.period, export.community_id)
    rows = (r.ranking.csv_cells() for r in report.rankings)
    return await _send(request, export, "rankings", RANKINGS_CSV_HEADER, rows)


async def communities_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    try:
        figures = await scoped.community_report(export.scope, export.period, export.community_id)
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=exc.message) from None
    return await _send(
        request, export, "communities", COMMUNITIES_CSV_HEADER, (community_csv_row(f) for f in figures)
    )


async def timeseries_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    points = await scoped.series(
        export.scope, export.operator, export.period, export.bucket, export.community_id
    )
    return await _send(
        request, export, f"timeseries_{export.bucket}", TIMESERIES_CSV_HEADER, (p.csv_cells() for p in points)
    )


async def hourly_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    points = await scoped.series(
        export.scope, export.operator, export.period, "hour", export.community_id, by_community=True
    )
    names = {c.id: c.name for c in await Community.all().only("id", "name")}
    rows = ([names[p.community_id], *p.csv_cells()] for p in points)
    return await _send(request, export, "hourly", HOURLY_CSV_HEADER, rows)


async def conversations_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    rows = scoped.conversations(export.scope, export.period, export.community_id)

    async def cells():
        async for row in rows:
            yield row.csv_cells()

    return await _send(request, export, "conversations", CONVERSATIONS_CSV_HEADER, cells())
