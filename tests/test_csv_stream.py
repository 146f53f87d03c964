"""Streaming CSV: literal output, both dialects, formula neutralising, paging, and a bad dialect."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from proxy.models import Community
from web import csv_stream
from web.csv_stream import csv_dialect, format_cell, keyset_rows, stream_csv

ROWS = [
    ["anna", 3, -1.5, None, "=SUM(A1:A2)"],
    ["+79990000000", 0, 2.0, True, "-not a number"],
    ["@me", 10, Decimal("0.25"), False, 'say "hi", twice'],
    ["\ttabbed", -7, 1e20, datetime(2024, 3, 1, 9, 30, tzinfo=UTC), "multi\nline"],
]


async def _rows():
    for row in ROWS:
        yield row


def _app() -> web.Application:
    async def export(request: web.Request) -> web.StreamResponse:
        dialect = csv_dialect(request)
        header = ["who", "count", "value", "flag", "text"]
        return await stream_csv(
            request, "test export.csv", header, _rows(), dialect=dialect, tz=ZoneInfo("Europe/Moscow")
        )

    app = web.Application()
    app.router.add_get("/export.csv", export)
    return app


async def test_plain_csv_is_literal(aiohttp_client) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/export.csv")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="test export.csv"'
    assert await resp.read() == (
        b"who,count,value,flag,text\r\n"
        b"anna,3,-1.5,,'=SUM(A1:A2)\r\n"
        b"'+79990000000,0,2,true,'-not a number\r\n"
        b'\'@me,10,0.25,false,"say ""hi"", twice"\r\n'
        b'\'\ttabbed,-7,1e+20,2024-03-01 12:30:00,"multi\nline"\r\n'
    )


async def test_excel_dialect_semicolons_bom_and_decimal_comma(aiohttp_client) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/export.csv?dialect=excel")
    assert resp.status == 200
    assert await resp.read() == (
        "\ufeffwho;count;value;flag;text\r\n"
        "anna;3;-1,5;;'=SUM(A1:A2)\r\n"
        "'+79990000000;0;2;true;'-not a number\r\n"
        '\'@me;10;0,25;false;"say ""hi"", twice"\r\n'
        '\'\ttabbed;-7;1e+20;2024-03-01 12:30:00;"multi\nline"\r\n'
    ).encode("utf-8")


async def test_unknown_dialect_is_400(aiohttp_client) -> None:
    client = await aiohttp_client(_app())
    resp = await client.get("/export.csv?dialect=libreoffice")
    assert resp.status == 400
    assert await resp.text() == "dialect must be one of: csv, excel, got 'libreoffice'"


def test_cell_formatting_rules() -> None:
    assert format_cell(-3) == "-3"
    assert format_cell("-3") == "'-3"  # text that looks like a number is still text
    assert format_cell(12.0) == "12"
    assert format_cell(0.1 + 0.2) == "0.30000000000000004"
    assert format_cell(float("nan")) == ""
    assert format_cell("\rx") == "'\rx"
    assert format_cell("plain") == "plain"
    assert format_cell(datetime(2024, 3, 1, 9, 30, 5, tzinfo=UTC)) == "2024-03-01 09:30:05+00:00"


def test_non_ascii_filename_uses_rfc6266() -> None:
    assert csv_stream.content_disposition("отчёт.csv") == (
        "attachment; filename=\"_____.csv\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.csv"
    )


async def test_large_export_is_written_in_batches(aiohttp_client, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many rows arrive complete, and the response is written in several chunks, not one."""
    writes: list[int] = []
    real_write = web.StreamResponse.write

    async def counting_write(self, data):
        writes.append(len(data))
        return await real_write(self, data)

    monkeypatch.setattr(web.StreamResponse, "write", counting_write)

    async def many(request: web.Request) -> web.StreamResponse:
        rows = ([i, f"row {i}"] for i in range(2000))
        return await stream_csv(request, "many.csv", ["n", "label"], rows)

    app = web.Application()
    app.router.add_get("/many.csv", many)
    client = await aiohttp_client(app)
    body = await (await client.get("/many.csv")).text()
    lines = body.split("\r\n")
    assert lines[0] == "n,label" and lines[1] == "0,row 0" and lines[2000] == "1999,row 1999"
    assert lines[2001] == "" and len(lines) == 2002
    assert len(writes) == 5  # 2001 lines in batches of 500, then the rest


async def test_keyset_rows_pages_through_a_queryset(db) -> None:
    for n in range(7):
        await Community.create(vk_group_id=100 + n, name=f"c{n}")
    rows = [row async for row in keyset_rows(Community.all(), lambda c: [c.name], page_size=3)]
    assert rows == [[f"c{n}"] for n in range(7)]
    query = Community.filter(vk_group_id__gte=102)
    pages = keyset_rows(
        query, lambda r: [r["vk_group_id"]], values=["vk_group_id"], page_size=2, descending=True
    )
    rows = [row async for row in pages]
    assert rows == [[106], [105], [104], [103], [102]]
