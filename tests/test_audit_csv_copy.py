"""journal.csv written by PostgreSQL (COPY) is byte for byte what the row-by-row path writes.

On PostgreSQL the export's rows can write themselves (proxy/audit/exports.py: JournalCsvRows.write_csv);
here the same entries go out both ways, through web/csv_stream.py, in both dialects, with every filter,
in zones east and west of UTC (one with a half-hour offset), for texts a spreadsheet would run, quotes,
separators, line breaks, the marker byte the COPY path uses, and params whose keys sort differently
by length than by letter. On SQLite both ways are the row-by-row path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from proxy.audit import journal
from proxy.audit.exports import JOURNAL_CSV_HEADER, canonical_json, journal_csv_rows
from proxy.audit.reading import JournalFilter
from proxy.models import ActorKind, Community, Operator, Outcome
from tests.audit_fixtures import make_base, make_deleted_comment_story
from web.csv_stream import stream_csv

TEXTS = [
    "",
    "plain",
    "=HYPERLINK(\"http://evil\")",
    "+79990000000",
    "-1",
    "@me",
    "\tTAB",
    "\rCR",
    "a,b",
    "a;b",
    'say "hi"',
    "multi\nline",
    "multi\r\nline",
    "ends with newline\n",
    "\x01",
    "\x01\n",
    "x\x01\x02y",
    "end\x01",
    "Хлеб черствый, верните деньги!!!",
    "emoji 🙂 and zero-width\u200bspace",
    "'quoted already",
    " leading space",
]
PARAMS: list[Any] = [
    None,
    {},
    [],
    {"b": 2, "a": "один"},
    {"user_id": 7, "until": None, "reason": 0},
    {"query": {"to": "2025-03-04", "from": "2025-03-01"}, "path": "/audit/journal.csv"},
    {"я": 1, "ab": 2, "z": [1, 2.5, 1e-07, 1e22, -0.0, True, None]},
    {"text": "=cmd|' /C calc'!A0", "ctl": "\x01\x1f\n\"\\"},
    [{"b": 1, "aa": 2}],
]


def _at(n: int) -> datetime:
    # Every 7 minutes from 22:00:30.999999 UTC on 29 March 2025, across the night DST starts in Europe.
    return datetime(2025, 3, 29, 22, 0, 30, 999_999, tzinfo=UTC) + timedelta(minutes=7 * n)


async def _journal() -> dict[str, int]:
    community = await Community.create(
        vk_group_id=1, name="-Пекарня, \"главная\"", callback_secret="s", confirmation_code="c"
    )
    other = await Community.create(vk_group_id=2, name="", callback_secret="s", confirmation_code="c")
    operator = await Operator.create(login="=olga", password_hash="x")
    base = await make_base()
    plain = base.manager
    item = await make_deleted_comment_story(base)
    minute = 0
    for i, text in enumerate(TEXTS):
        for j, params in enumerate(PARAMS if i < 3 else PARAMS[:2]):
            minute += 1
            entry = await journal.record(
                "comment.delete" if (i + j) % 2 else "reply.send",
                actor_kind=ActorKind.OPERATOR if j % 3 else ActorKind.OUTSIDE,
                operator_id=(operator.id, plain.id, None)[j % 3],
                vk_user_id=501 if j % 2 else None,
                community_id=(community.id, other.id, None)[(i + j) % 3],
                conversation_id=base.conversation.id if j % 2 else None,
                item_id=item.id if i % 2 else None,
                text=text,
                params=params,
                outcome=Outcome.PENDING if (i + j) % 4 == 0 else None,
                at=_at(minute),
            )
            if (i + j) % 8 == 0:
                await journal.set_outcome(entry.id, Outcome.FAILED, detail=TEXTS[(i + 3) % len(TEXTS)] or None)
            elif (i + j) % 8 == 4:
                await journal.set_outcome(entry.id, Outcome.DONE)
    return {"community": community.id, "operator": operator.id}


class _RowsOnly:
    """The same rows without `write_csv`: the row-by-row path."""

    def __init__(self, rows: Any) -> None:
        self.rows = rows

    async def __aiter__(self) -> AsyncIterator[Sequence[Any]]:
        async for row in self.rows:
            yield row


def _app(filters: JournalFilter, tz: ZoneInfo, *, copy: bool) -> web.Application:
    async def export(request: web.Request) -> web.StreamResponse:
        rows = journal_csv_rows(filters, tz)
        dialect = request.query.get("dialect", "csv")
        return await stream_csv(
            request, "journal.csv", JOURNAL_CSV_HEADER, rows if copy else _RowsOnly(rows), dialect=dialect
        )

    app = web.Application()
    app.router.add_get("/journal.csv", export)
    return app


async def _body(aiohttp_client: Any, filters: JournalFilter, tz: ZoneInfo, dialect: str, copy: bool) -> bytes:
    client = await aiohttp_client(_app(filters, tz, copy=copy))
    response = await client.get(f"/journal.csv?dialect={dialect}")
    assert response.status == 200
    body = await response.read()
    await client.close()
    return body


@pytest.mark.parametrize("zone", ["Europe/Moscow", "America/St_Johns", "UTC", "Europe/Berlin"])
async def test_copy_and_rows_write_the_same_bytes(db: str, aiohttp_client: Any, zone: str) -> None:
    ids = await _journal()
    tz = ZoneInfo(zone)
    filters = [
        JournalFilter(),
        JournalFilter(operator_id=ids["operator"]),
        JournalFilter(action="comment."),
        JournalFilter(action="reply.send", community_ids=(ids["community"],)),
        JournalFilter(community_ids=()),
        JournalFilter(since=_at(5), until=_at(20)),
        JournalFilter(outside_only=True),
        JournalFilter(actor_kind=ActorKind.OPERATOR),
    ]
    for journal_filter in filters:
        for dialect in ("csv", "excel"):
            rows = await _body(aiohttp_client, journal_filter, tz, dialect, copy=False)
            written = await _body(aiohttp_client, journal_filter, tz, dialect, copy=True)
            assert written == rows, (journal_filter, dialect)
    # The comparison saw every kind of cell.
    everything = await _body(aiohttp_client, JournalFilter(), tz, "csv", copy=True)
    assert everything.count(b"\r\n") > len(TEXTS) + len(PARAMS)
    assert b"'=HYPERLINK" in everything and b"'=olga" in everything and b"'-\xd0\x9f" in everything
    assert b'"multi\nline"' in everything and b"\x01" in everything


async def test_an_empty_export_is_the_header_alone(db: str, aiohttp_client: Any) -> None:
    body = await _body(aiohttp_client, JournalFilter(action="nothing"), ZoneInfo("UTC"), "excel", copy=True)
    assert body == "\ufeff".encode() + ";".join(JOURNAL_CSV_HEADER).encode() + b"\r\n"


def test_canonical_json_is_postgres_jsonb_text() -> None:
    # Keys shorter first, then by code point; numbers in fixed notation; ", " and ": " between items.
    assert canonical_json({"user_id": 1, "until": None, "reason": 0}) == (
        '{"until": null, "reason": 0, "user_id": 1}'
    )
    assert canonical_json({"я": 1, "ab": [1e22, 1e-07, -0.0, 2.5]}) == (
        '{"ab": [10000000000000000000000, 0.0000001, 0.0, 2.5], "я": 1}'
    )
    assert canonical_json({"q": "a\"\n\x01é"}) == '{"q": "a\\"\\n\\u0001é"}'
