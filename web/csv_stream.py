"""Streaming CSV responses for every export (stats, audit): constant memory whatever the size.

Usage from a view::

    query = params.query_of(request)            # web/params.py: every parameter is read through it
    dialect = query.get(params.DIALECT, "csv")  # "csv", or "excel" for ?dialect=excel (400 otherwise)
    rows = keyset_rows(JournalEntry.filter(...), to_row)   # or any async iterator of sequences
    await record_export(request, query)         # journals "export.csv" (session or API token)
    return await stream_csv(request, "journal.csv", ["when", "who", ...], rows, dialect=dialect)

The format itself (dialects, line ends, cell formatting, formula neutralising) is defined once in
proxy/csv_format.py, which journal.csv's COPY path follows too. What this module adds
(docs/conventions.md, "CSV streams"):

- ``Content-Disposition: attachment; filename=...``;
- rows come from an async iterator that fetches them in pages, and are written in batches, so the
  memory used does not grow with the row count; a source that can write its CSV lines itself
  (`WritesCsv`: journal.csv on PostgreSQL, written by COPY) has them passed on as they come.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import tzinfo
from typing import Any, Protocol
from urllib.parse import quote

from aiohttp import web

from proxy.audit import journal
from proxy.csv_format import (
    ENCODING,
    UTF8_BOM,
    CsvDialect,
    csv_writer,
    dialect_named,
    format_cell,
    neutralise_text,
)
from proxy.models import ActorKind, Community
from web import params
from web.auth import OPERATOR, VIA_API_TOKEN
from web.refusal import not_found

log = logging.getLogger(__name__)

# Rows per network write: large enough to keep syscalls few, small enough to keep memory flat.
WRITE_BATCH_ROWS = 500
DEFAULT_PAGE_SIZE = 1000


def csv_dialect(request: web.Request) -> str:
    """The `dialect` query parameter ("csv" when absent); 400 with a one-line reason when unknown."""
    try:
        return params.query_of(request).get(params.DIALECT, "csv")
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


def content_disposition(filename: str) -> str:
    """`attachment` with a plain ASCII filename and, for other names, the RFC 6266 filename* form."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename)}"
    return header


async def stream_csv(
    request: web.Request,
    filename: str,
    header: Sequence[str],
    rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]],
    *,
    dialect: str = "csv",
    tz: tzinfo | None = None,
) -> web.StreamResponse:
    """Send `header` and `rows` as a CSV attachment, writing as the rows arrive.

    Validate parameters before calling: once the first bytes are sent the status is 200, and a
    failure in the row iterator can only cut the file short (it is logged and re-raised).
    """
    chosen = dialect_named(dialect)
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": content_disposition(filename),
            "Cache-Control": "no-store",
        },
    )
    buffer = io.StringIO()
    writer = csv_writer(buffer, chosen)
    if chosen.bom:
        buffer.write(UTF8_BOM)
    writer.writerow([neutralise_text(name) for name in header])
    write_csv = getattr(rows, "write_csv", None)
    if write_csv is not None and await _stream_written(
        request, response, buffer, write_csv, chosen, filename
    ):
        return response
    await response.prepare(request)
    pending = 1
    try:
        async for row in _aiter(rows):
            writer.writerow([format_cell(value, decimal_comma=chosen.decimal_comma, tz=tz) for value in row])
            pending += 1
            if pending >= WRITE_BATCH_ROWS:
                await response.write(buffer.getvalue().encode(ENCODING))
                buffer.seek(0)
                buffer.truncate()
                pending = 0
    except Exception:
        log.exception("CSV export %s stopped part way", filename)
        raise
    await response.write(buffer.getvalue().encode(ENCODING))
    await response.write_eof()
    return response


class WritesCsv(Protocol):
    """Rows whose source can also write their CSV lines itself (journal.csv on PostgreSQL, where the
    database formats them): the same bytes the rules above give, without the header."""

    async def write_csv(self, write: Callable[[bytes], Awaitable[None]], *, dialect: CsvDialect) -> bool:
        """Pass the lines to `write` in chunks; False, before writing anything, when it cannot."""


async def _stream_written(
    request: web.Request,
    response: web.StreamResponse,
    head: io.StringIO,
    write_csv: Callable[..., Awaitable[bool]],
    dialect: CsvDialect,
    filename: str,
) -> bool:
    """Stream the lines a `WritesCsv` source writes; False if it cannot (the caller formats the rows).

    The response starts with the first chunk, so a source that fails before it gives an error status
    rather than a file cut short.
    """
    started = False

    async def write(chunk: bytes) -> None:
        nonlocal started
        if not started:
            await response.prepare(request)
            await response.write(head.getvalue().encode(ENCODING))
            started = True
        await response.write(chunk)

    try:
        if not await write_csv(write, dialect=dialect):
            return False
    except Exception:
        if started:
            log.exception("CSV export %s stopped part way", filename)
        raise
    if not started:
        await write(b"")
    await response.write_eof()
    return True


async def _aiter(
    rows: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]],
) -> AsyncIterator[Sequence[Any]]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


async def keyset_rows(
    queryset: Any,
    to_row: Callable[[Any], Sequence[Any]],
    *,
    key: str = "id",
    descending: bool = False,
    values: Sequence[str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> AsyncIterator[Sequence[Any]]:
    """Rows of a tortoise queryset fetched `page_size` at a time by keyset pagination on `key`.

    `key` must be unique (the primary key is); pages continue after the last key seen, so each page
    costs an index range scan whatever its depth (OFFSET would rescan everything before it).
    `to_row` receives model instances, or dicts when `values` names the fields to fetch (as
    `queryset.values(*values)`, plus `key`).
    """
    last: Any = None
    order = f"-{key}" if descending else key
    while True:
        page_query = queryset
        if last is not None:
            page_query = page_query.filter(**{f"{key}__{'lt' if descending else 'gt'}": last})
        page_query = page_query.order_by(order).limit(page_size)
        page = await (page_query.values(*{*values, key}) if values is not None else page_query)
        for obj in page:
            yield to_row(obj)
        if len(page) < page_size:
            return
        tail = page[-1]
        last = tail[key] if isinstance(tail, dict) else getattr(tail, key)


async def offset_pages(
    fetch_page: Callable[[int, int], Any], *, page_size: int = DEFAULT_PAGE_SIZE
) -> AsyncIterator[Sequence[Any]]:
    """Rows from `await fetch_page(offset, limit)` until a short page: for SQL with no unique key order."""
    offset = 0
    while True:
        page = await fetch_page(offset, page_size)
        for row in page:
            yield row
        if len(page) < page_size:
            return
        offset += page_size


async def record_export(
    request: web.Request, query: params.Source | None = None, *, community_id: int | None = None
) -> None:
    """Journal an export ("export.csv") under whoever asked: a session, or a personal API token.

    The entry keeps the parameters the export read (`query`), as they were accepted. A community that does
    not exist is refused (400) here, before anything is written: the entry would name it.
    """
    if community_id is not None and not await Community.exists(id=community_id):
        raise not_found()
    operator = request[OPERATOR]
    await journal.record(
        "export.csv",
        actor_kind=ActorKind.API if request.get(VIA_API_TOKEN) else ActorKind.OPERATOR,
        operator_id=operator.id,
        community_id=community_id,
        params={"path": request.path, "query": query.read if query is not None else {}},
    )
