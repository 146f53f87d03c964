"""Audit CSV exports: /audit/journal.csv and /audit/deleted.csv (parameters read by web/params.py).

Managers and admins export everything. An operator exports only their own journal entries: asking
for another operator's is refused (403, journaled as "access.denied"), and the deleted-content archive
is for managers and admins. A personal API token (`Authorization: Bearer ...`) works here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from proxy.access import AccessDenied, require_supervisor
from proxy.appkeys import SETTINGS
from proxy.audit.exports import DELETED_CSV_HEADER, JOURNAL_CSV_HEADER, deleted_csv_rows, journal_csv_rows
from proxy.audit.reading import readable_journal
from web import params
from web.auth import OPERATOR, SCOPE
from web.csv_stream import record_export, stream_csv

T = TypeVar("T")


def _parsed(
    request: web.Request, read: Callable[[params.Source, ZoneInfo], T]
) -> tuple[params.Source, str, T]:
    """The query, its dialect and its filters; 400 with the reason for a parameter that cannot be used."""
    query = params.query_of(request)
    try:
        return query, query.get(params.DIALECT, "csv"), read(query, request.app[SETTINGS].tz)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def journal_csv(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    query, dialect, filters = _parsed(request, params.journal_filter)
    try:
        filters = await readable_journal(
            request[SCOPE],
            operator,
            filters,
            action="export.csv",
            reason="operators may export only their own journal",
        )
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=exc.message) from None
    community_id = filters.community_ids[0] if filters.community_ids else None
    await record_export(request, query, community_id=community_id)
    tz = request.app[SETTINGS].tz
    return await stream_csv(
        request, "journal.csv", JOURNAL_CSV_HEADER, journal_csv_rows(filters, tz), dialect=dialect
    )


async def deleted_csv(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    query, dialect, filters = _parsed(request, params.archive_filter)
    try:
        await require_supervisor(operator, action="export.csv", target="deleted")
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=exc.message) from None
    community_id = filters.community_ids[0] if filters.community_ids else None
    await record_export(request, query, community_id=community_id)
    tz = request.app[SETTINGS].tz
    return await stream_csv(
        request, "deleted.csv", DELETED_CSV_HEADER, deleted_csv_rows(filters, tz), dialect=dialect
    )
