"""Statistics: the page and its partials (HTML) and the CSV exports, both rendering proxy/stats/scoped.py.

HTML:

- GET /stats: the report for a period (`from`, `to`, `community`, `network` (vk or telegram; absent: both),
  `bucket` for the chart, `sort` for the
  operators table: a column of operators.csv, `-column` for descending). The page, or for htmx the
  `#report` partial (`#operators` when that is the target: sorting swaps only the table).
- GET /stats/series.json: the chart's data (proxy.stats.time_series) as columns.
- GET /stats/drill?metric=...&operator=ID|outside: the conversations behind one figure
  (proxy.stats.drill), each linking to its conversation.

CSV: /stats/{operators,rankings,communities,timeseries,hourly,conversations}.csv?from=YYYY-MM-DD&to=YYYY-MM-DD
[&community=ID][&network=vk|telegram][&dialect=excel]. A personal API token (`Authorization: Bearer ...`) works there too
(web/auth.py); each export is journaled ("export.csv").

Every figure comes from one data function per area in proxy/stats/scoped.py, which both renderers call,
so the page and operators.csv cannot disagree. Who sees what is the request's Scope (proxy/access.py),
applied there: managers and admins see everyone; an operator sees only their own row, their own series
and their own drill-downs (asking for anyone else's is refused and journaled), within their own
communities (asking for another community is refused the same way).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from proxy.access import AccessDenied, Scope, require_community
from proxy.appkeys import SETTINGS
from proxy.clock import utcnow
from proxy.models import Community, Network, Operator
from proxy.stats import ReactionFigures, StatsParamError, scoped
from proxy.stats.communities import COMMUNITIES_CSV_HEADER, community_csv_row
from proxy.stats.conversations import CONVERSATIONS_CSV_HEADER
from proxy.stats.operators import OPERATORS_CSV_HEADER, OperatorKpi, operator_csv_row
from proxy.stats.period import Period, period_of
from proxy.stats.rankings import RANKINGS_CSV_HEADER
from proxy.stats.timeseries import BUCKETS, HOURLY_CSV_HEADER, TIMESERIES_CSV_HEADER, default_bucket
from proxy.stats.where import CommunityFilter
from web import params
from web.auth import OPERATOR, SCOPE
from web.csv_stream import format_cell, record_export, stream_csv
from web.i18n import gettext as _
from web.partials import render, wants_partial
from web.refusal import refused

# The drill-down behind each column of operators.csv (None: the column is a name).
OPERATOR_DRILL = {
    "operator": None,
    "replies": "replies",
    "replies_outside_proxy": "replies_outside_proxy",
    "handled": "handled",
    "reaction_count": "reactions",
    "reaction_avg_s": "reactions",
    "reaction_median_s": "reactions",
    "reaction_p90_s": "reactions",
    "reaction_min_s": "reactions",
    "reaction_max_s": "slowest",
    "first_reaction_avg_s": "first_reactions",
    "closed_with_reply": "closed_with_reply",
    "closed_without_reply": "closed_without_reply",
    "deleted": "deleted",
    "restored": "restored",
    "bans": "bans",
    "sla_met_pct": "sla_missed",
    "dialog_avg_s": "closings",
}
assert list(OPERATOR_DRILL) == OPERATORS_CSV_HEADER

# Columns whose rows add up to the team's figure (each event is credited to exactly one row). "handled"
# is left out: a conversation two operators worked on is handled by both.
SUMMED = (
    "replies",
    "replies_outside_proxy",
    "reaction_count",
    "closed_with_reply",
    "closed_without_reply",
    "deleted",
    "restored",
    "bans",
)

# The per-community columns shown, and the drill-down behind each.
COMMUNITY_DRILL = {
    "incoming": "incoming",
    "replies": "outgoing",
    "handled": "handled",
    "touches_per_conversation": None,
    "reaction_count": "reactions",
    "reaction_median_s": "reactions",
    "reaction_p90_s": "reactions",
    "business_reaction_median_s": "reactions",
    "sla_met_pct": "sla_missed",
    "closed_with_reply": "closed_with_reply",
    "closed_without_reply": "closed_without_reply",
    "dialog_avg_s": "closings",
    "repeat_contact_pct": None,
    "unanswered_now": "unanswered_now",
    "oldest_waiting_s": "unanswered_now",
}

# A leap year of hours (8,784 points) draws in a few tens of milliseconds; ten years of them would make
# the browser fetch and draw 88,000 points for a chart nobody can read (timeseries.csv still has them).
HOURLY_AT_MOST_DAYS = 366
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Params:
    """The report's parameters, checked."""

    period: Period
    community: Community | None
    network: Network | None
    bucket: str
    sort: str | None

    @property
    def community_id(self) -> int | None:
        return self.community.id if self.community is not None else None

    @property
    def within(self) -> CommunityFilter:
        return CommunityFilter(self.community_id, self.network)

    def query(self, **changes: Any) -> dict[str, str]:
        """The query string of this report with `changes` (None drops a parameter)."""
        values: dict[str, Any] = {
            "from": self.period.first_day.isoformat(),
            "to": self.period.last_day.isoformat(),
            "community": self.community_id,
            "network": self.network.value if self.network is not None else None,
            "bucket": self.bucket,
            "sort": self.sort,
        }
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v is not None and v != ""}

    def url(self, path: str, **changes: Any) -> str:
        return f"{path}?{urlencode(self.query(**changes))}"


async def _params(request: web.Request, action: str) -> Params:
    """Parse from/to/community/network/bucket/sort; ParamError (a one-line reason) when one is unusable,
    AccessDenied (journaled as `action`) for a community outside the scope."""
    query = params.query_of(request)
    period = params.period(query, request.app[SETTINGS].tz)
    community = None
    community_id = query(params.COMMUNITY)
    network = query(params.NETWORK)
    await require_community(request[SCOPE], request[OPERATOR], community_id, action=action)
    if community_id is not None:
        # require_community refused one that does not exist, like one outside the scope.
        community = await Community.get(id=community_id)
    bucket = query.get(params.BUCKET, default_bucket(period))
    if bucket == "hour" and period.days > HOURLY_AT_MOST_DAYS:
        raise params.ParamError(
            f"an hourly chart covers at most {HOURLY_AT_MOST_DAYS} days (this period has {period.days}): choose bucket=day"
        )
    return Params(period=period, community=community, network=network, bucket=bucket, sort=query(params.SORT))


# --- the report -----------------------------------------------------------------------------------


def _over_sla(reaction: ReactionFigures, target: int | None) -> set[str]:
    """The reaction columns to highlight: median and p90 over the SLA target.

    As for "SLA met %", samples measured in business hours are judged on their business seconds: the
    median is the business median when every sample has business seconds. Only the median exists in
    business hours, so p90 is judged only when no sample has them.
    """
    over: set[str] = set()
    if target is None or not reaction.count:
        return over
    median = reaction.business_median if reaction.business_count == reaction.count else reaction.median
    if median is not None and median > target:
        over.add("reaction_median_s")
        over.add("business_reaction_median_s")
    if reaction.business_count == 0 and reaction.p90 is not None and reaction.p90 > target:
        over.add("reaction_p90_s")
    return over


def _sort_key(column: str, kpi: OperatorKpi, cells: dict[str, Any]) -> tuple[Any, ...]:
    value = kpi.login if column == "operator" else cells[column]
    return (value is None, value)


def _sorted(rows: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """Rows ordered by a column (empty cells last either way); the "outside the proxy" row stays last."""
    if not sort:
        return rows
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    people = [r for r in rows if not r["kpi"].is_outside]
    outside = [r for r in rows if r["kpi"].is_outside]
    filled = [r for r in people if _sort_key(column, r["kpi"], r["raw"])[1] is not None]
    empty = [r for r in people if _sort_key(column, r["kpi"], r["raw"])[1] is None]
    filled.sort(key=lambda r: _sort_key(column, r["kpi"], r["raw"]), reverse=descending)
    return filled + empty + outside


def _drill_url(params: Params, metric: str, operator: str | int | None) -> str:
    return params.url("/stats/drill", metric=metric, operator=operator, bucket=None, sort=None)


def _operator_rows(params: Params, kpis: list[OperatorKpi], target: int | None) -> list[dict[str, Any]]:
    rows = []
    for kpi in kpis:
        values = dict(zip(OPERATORS_CSV_HEADER, operator_csv_row(kpi), strict=True))
        who = "outside" if kpi.is_outside else kpi.operator_id
        rows.append(
            {
                "kpi": kpi,
                "raw": values,
                "cells": {name: format_cell(value) for name, value in values.items()},
                "over": _over_sla(kpi.reaction, target),
                "drill": {
                    name: _drill_url(params, metric, who)
                    for name, metric in OPERATOR_DRILL.items()
                    if metric is not None and values[name] not in (None, 0)
                },
            }
        )
    return _sorted(rows, params.sort)


def _totals(params: Params, kpis: list[OperatorKpi]) -> dict[str, dict[str, Any]]:
    """The sum of each summed column, and the team drill-down behind it."""
    totals = {}
    for name in SUMMED:
        index = OPERATORS_CSV_HEADER.index(name)
        value = sum(operator_csv_row(k)[index] for k in kpis)
        metric = OPERATOR_DRILL[name]
        totals[name] = {"value": value, "drill": _drill_url(params, metric, None) if value else None}
    return totals


def _sort_links(params: Params) -> dict[str, dict[str, Any]]:
    """Per column: the URL that sorts by it (ascending first, then descending) and the current direction."""
    links = {}
    for name in OPERATORS_CSV_HEADER:
        current = None
        if params.sort == name:
            current, next_sort = "asc", f"-{name}"
        elif params.sort == f"-{name}":
            current, next_sort = "desc", name
        else:
            next_sort = name
        links[name] = {"url": params.url("/stats", sort=next_sort), "current": current}
    return links


def _presets(params: Params, today: date) -> list[dict[str, Any]]:
    ranges = [
        ("today", _("Today"), today, today),
        ("7d", _("7 days"), today - timedelta(days=6), today),
        ("30d", _("30 days"), today - timedelta(days=29), today),
        ("month", _("This month"), today.replace(day=1), today),
    ]
    return [
        {
            "key": key,
            "label": label,
            "url": params.url("/stats", **{"from": first.isoformat(), "to": last.isoformat()}, bucket=None),
            "active": (params.period.first_day, params.period.last_day) == (first, last),
        }
        for key, label, first, last in ranges
    ]


def _exports(params: Params, supervisor: bool) -> list[dict[str, str]]:
    base = params.query(bucket=None, sort=None)
    names = ["operators", "rankings", *(["communities"] if supervisor else []), "timeseries", "hourly"]
    names.append("conversations")
    exports = []
    for name in names:
        query = dict(base, bucket=params.bucket) if name == "timeseries" else base
        exports.append(
            {
                "name": f"{name}.csv",
                "url": f"/stats/{name}.csv?{urlencode(query)}",
                "excel": f"/stats/{name}.csv?{urlencode(dict(query, dialect='excel'))}",
            }
        )
    return exports


async def _communities_for(scope: Scope, params: Params) -> list[Community]:
    """The communities the reader may see, of the chosen network (and the chosen community, whatever its network)."""
    communities = Community.all().order_by("name", "id")
    visible = scope.communities()
    if visible is not None:
        communities = communities.filter(id__in=visible)
    return [
        c for c in await communities if params.network in (None, c.network) or c.id == params.community_id
    ]


async def _sla_target(params: Params, scope: Scope) -> int | None:
    """The SLA the operators' reactions are held to: the chosen community's; over all communities (an
    operator's own communities, those of the chosen network), the most lenient one, so a highlight means "late in every community"."""
    if params.community is not None:
        return params.community.sla_seconds
    slas = [c.sla_seconds for c in await _communities_for(scope, params)]
    return max(slas) if slas else None


async def _report(request: web.Request, params: Params) -> dict[str, Any]:
    scope = request[SCOPE]
    supervisor = scope.supervisor
    report = await scoped.operator_report(scope, params.period, params.within)
    kpis = report.kpis
    rankings = [
        {
            "ranking": r.ranking,
            "place": r.place,
            "cells": dict(zip(RANKINGS_CSV_HEADER, map(format_cell, r.ranking.csv_cells()), strict=True)),
        }
        for r in report.rankings
    ]
    target = await _sla_target(params, scope)
    communities = []
    if supervisor:
        for figures in await scoped.community_report(scope, params.period, params.within):
            values = dict(zip(COMMUNITIES_CSV_HEADER, community_csv_row(figures), strict=True))
            over = _over_sla(figures.reaction, figures.sla_seconds)
            if (
                figures.oldest_waiting_seconds is not None
                and figures.oldest_waiting_seconds > figures.sla_seconds
            ):
                over.add("oldest_waiting_s")
            all_communities = replace(params, community=None)
            communities.append(
                {
                    "figures": figures,
                    "raw": values,
                    "cells": {name: format_cell(value) for name, value in values.items()},
                    "over": over,
                    "drill": {
                        name: all_communities.url(
                            "/stats/drill",
                            metric=metric,
                            community=figures.community_id,
                            bucket=None,
                            sort=None,
                        )
                        for name, metric in COMMUNITY_DRILL.items()
                        if metric is not None and values[name] not in (None, 0)
                    },
                }
            )
    return {
        "params": params,
        "supervisor": supervisor,
        "rows": _operator_rows(params, kpis, target),
        "totals": _totals(params, kpis) if supervisor and kpis else None,
        "columns": OPERATORS_CSV_HEADER,
        "sort_links": _sort_links(params),
        "sla_target": target,
        "rankings": rankings,
        "communities": communities,
        "community_columns": list(COMMUNITY_DRILL),
        "series_url": params.url("/stats/series.json", sort=None),
        "bucket_links": {b: params.url("/stats", bucket=b) for b in BUCKETS},
        "exports": _exports(params, supervisor),
    }


async def stats_page(request: web.Request) -> web.StreamResponse:
    """GET /stats: the page; for htmx the #report partial, or #operators when sorting the table."""
    scope = request[SCOPE]
    tz = request.app[SETTINGS].tz
    today = datetime.now(tz).date()
    try:
        chosen = await _params(request, "stats.view")
    except AccessDenied as exc:
        raise refused(exc) from None
    except params.ParamError as exc:
        if wants_partial(request):
            raise web.HTTPBadRequest(text=str(exc)) from None
        period = period_of(None, None, tz)
        chosen = Params(period=period, community=None, network=None, bucket=default_bucket(period), sort=None)
        context = {"params": chosen, "error": str(exc)}
        status = 400
    else:
        context = await _report(request, chosen)
        status = 200
    now = utcnow()
    context.update(
        presets=_presets(chosen, today),
        community_choices=await _communities_for(scope, chosen),
        tz_name=request.app[SETTINGS].timezone,
        # A report that ends before now never changes: no live refresh (web/views/manager_live.py).
        live=status == 200 and chosen.period.end > now,
        rendered_at=now,
        # An operator given no community: the page says why every figure is empty (as the inbox does).
        no_communities=scope.communities() is not None and not scope.communities(),
    )
    if wants_partial(request):
        target = request.headers.get("HX-Target")
        template = "stats/_operators.html" if target == "operators" else "stats/_report.html"
        return render(request, template, context, status=status)
    return render(request, "stats/page.html", context, status=status)


# --- the chart's data -----------------------------------------------------------------------------


async def series_json(request: web.Request) -> web.Response:
    """GET /stats/series.json: one column per figure, one entry per hour, day, week or month of the period.

    `t` is the bucket's local wall-clock start (team time zone) written as if it were UTC, in seconds:
    the chart shows it as UTC, so the axis reads local time without the browser knowing the zone.
    An operator gets their own replies and reaction times against the community's incoming volume.
    """
    operator, scope = request[OPERATOR], request[SCOPE]
    try:
        chosen = await _params(request, "stats.view")
    except AccessDenied as exc:
        return web.json_response({"error": exc.message}, status=exc.status)
    except params.ParamError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    points = await scoped.series(scope, operator, chosen.period, chosen.bucket, chosen.within)
    return web.json_response(
        {
            "bucket": chosen.bucket,
            "from": chosen.period.first_day.isoformat(),
            "to": chosen.period.last_day.isoformat(),
            "tz": request.app[SETTINGS].timezone,
            "sla_seconds": await _sla_target(chosen, scope),
            "t": [int((p.start - EPOCH).total_seconds()) for p in points],
            "incoming": [p.incoming for p in points],
            "replies": [p.replies for p in points],
            "reaction_count": [p.reaction_count for p in points],
            "reaction_median_s": [
                None if p.reaction_median is None else round(p.reaction_median, 1) for p in points
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


# --- drill-down -----------------------------------------------------------------------------------


async def drill_page(request: web.Request) -> web.StreamResponse:
    """GET /stats/drill: the conversations behind one figure; the #drill partial for htmx."""
    query = params.query_of(request)
    try:
        metric_name = query.get(params.METRIC, "")
        chosen = await _params(request, "stats.drill")
        found = await scoped.drill_down(
            request[SCOPE],
            request[OPERATOR],
            chosen.period,
            metric_name,
            query(params.DRILL_OPERATOR),
            chosen.within,
        )
    except AccessDenied as exc:
        raise refused(exc) from None
    except (params.ParamError, StatsParamError) as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    # A single figure (the slowest reaction, the late ones) next to the whole list it was taken from.
    related = {"slowest": "reactions", "sla_missed": "reactions", "first_reactions": "reactions"}.get(
        metric_name
    )
    context = {
        "params": chosen,
        "drill": found.drill,
        "related": related,
        "related_url": chosen.url(
            "/stats/drill", metric=related, operator=query.read.get("operator"), bucket=None, sort=None
        )
        if related
        else None,
        "who": found.who,
        "subject": found.subject,
        "back_url": chosen.url("/stats", sort=None),
        "tz_name": request.app[SETTINGS].timezone,
    }
    template = "stats/_drill.html" if wants_partial(request) else "stats/drill.html"
    return render(request, template, context)


# --- CSV exports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """What every stats export is asked for."""

    period: Period
    community_id: int | None
    network: Network | None
    dialect: str
    operator: Operator
    scope: Scope
    bucket: str
    query: params.Source

    @property
    def within(self) -> CommunityFilter:
        return CommunityFilter(self.community_id, self.network)

    def filename(self, name: str) -> str:
        return f"{name}_{self.period.first_day}_{self.period.last_day}.csv"


async def _export(request: web.Request) -> Export:
    """Parse and check the common parameters (400 with a one-line reason), before anything is written."""
    query = params.query_of(request)
    try:
        period = params.period(query, request.app[SETTINGS].tz)
        export = Export(
            period=period,
            community_id=query(params.COMMUNITY),
            network=query(params.NETWORK),
            dialect=query.get(params.DIALECT, "csv"),
            operator=request[OPERATOR],
            scope=request[SCOPE],
            # As the page's chart: the same rows as the chart the link is under.
            bucket=query.get(params.BUCKET, default_bucket(period)),
            query=query,
        )
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    try:
        await require_community(export.scope, export.operator, export.community_id, action="export.csv")
    except AccessDenied as exc:
        raise refused(exc) from None
    return export


async def _send(request: web.Request, export: Export, name: str, header, rows) -> web.StreamResponse:
    await record_export(request, export.query, community_id=export.community_id)
    return await stream_csv(
        request, export.filename(name), header, rows, dialect=export.dialect, tz=export.period.tz
    )


async def operators_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    report = await scoped.operator_report(export.scope, export.period, export.within)
    rows = (operator_csv_row(k) for k in report.kpis)
    return await _send(request, export, "operators", OPERATORS_CSV_HEADER, rows)


async def rankings_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    report = await scoped.operator_report(export.scope, export.period, export.within)
    rows = (r.ranking.csv_cells() for r in report.rankings)
    return await _send(request, export, "rankings", RANKINGS_CSV_HEADER, rows)


async def communities_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    try:
        figures = await scoped.community_report(export.scope, export.period, export.within)
    except AccessDenied as exc:
        raise refused(exc) from None
    return await _send(
        request, export, "communities", COMMUNITIES_CSV_HEADER, (community_csv_row(f) for f in figures)
    )


async def timeseries_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    points = await scoped.series(export.scope, export.operator, export.period, export.bucket, export.within)
    return await _send(
        request, export, f"timeseries_{export.bucket}", TIMESERIES_CSV_HEADER, (p.csv_cells() for p in points)
    )


async def hourly_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    points = await scoped.series(
        export.scope, export.operator, export.period, "hour", export.within, by_community=True
    )
    names = {c.id: c.name for c in await Community.all().only("id", "name")}
    rows = ([names[p.community_id], *p.csv_cells()] for p in points)
    return await _send(request, export, "hourly", HOURLY_CSV_HEADER, rows)


async def conversations_csv(request: web.Request) -> web.StreamResponse:
    export = await _export(request)
    rows = scoped.conversations(export.scope, export.period, export.within)

    async def cells():
        async for row in rows:
            yield row.csv_cells()

    return await _send(request, export, "conversations", CONVERSATIONS_CSV_HEADER, cells())
