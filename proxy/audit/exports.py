"""The audit CSV exports: their columns and rows (the web layer reads the parameters and streams them).

The parameters (web/params.py: `journal_filter`, `archive_filter`), all optional: `from`, `to`
(YYYY-MM-DD, inclusive, in the team's time zone), `community` (id), `network` (vk, telegram); journal.csv: `operator` (id),
`action` (a name, or a family like "comment."), `outside` (1: only actions taken in VK, bypassing the
proxy), `actor` (operator, outside, system, api: who acted); deleted.csv: `channel`, `author` (Author
id), `via` (author, vk_admin, proxy, unknown), `q` (text), `state` (ever, deleted, restored).
Times are written in the team's time zone as ISO 8601 with their offset.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from proxy.audit.archive import ArchiveFilter, item_histories, iter_deleted_items
from proxy.audit.reading import JournalFilter, iter_journal_values, journal_where_sql
from proxy.csv_format import ENCODING, LINE_END, CsvDialect, copy_options, sql_text_cell
from proxy.db.sql import SqlQuery
from proxy.models import Community, Operator

JOURNAL_CSV_HEADER = (
    "id", "time", "actor", "operator", "vk_user_id", "action", "community", "conversation_id", "item_id",
    "text", "params", "outcome", "outcome_detail", "outcome_time", "hash", "network",
)  # fmt: skip
DELETED_CSV_HEADER = (
    "item_id", "community", "channel", "conversation_id", "item_key", "author_vk_id", "author", "state",
    "time", "version", "via", "vk_user_id", "operator", "text", "network",
)  # fmt: skip
# `network` (vk, telegram: the community's) came last, so the columns before it keep their places.
# Items whose histories are read together: a handful of queries per batch, memory bounded by it.
HISTORY_BATCH = 200


def local_iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    """A moment in the team's time zone, as ISO 8601 with its offset, to the second."""
    return value.astimezone(tz).isoformat(timespec="seconds") if value is not None else None


async def _names() -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    # Operators and communities number in the tens: one read each instead of a join per row.
    logins = dict(await Operator.all().values_list("id", "login"))
    rows = await Community.all().values_list("id", "name", "network")
    communities = {cid: name for cid, name, _network in rows}
    networks = {cid: str(network) for cid, _name, network in rows}
    return logins, communities, networks


_JOURNAL_COLUMNS = (
    "id", "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "outcome", "outcome_detail", "outcome_at", "hash",
)  # fmt: skip


def journal_csv_rows(filters: JournalFilter, tz: ZoneInfo) -> JournalCsvRows:
    """The rows of journal.csv, newest entry first (the order of the journal pages)."""
    return JournalCsvRows(filters, tz)


class JournalCsvRows:
    """journal.csv's rows: an async iterator of cells on any database (web/csv_stream.py formats them),
    and on PostgreSQL the CSV text itself, written by the database (`write_csv`).

    Both give the same bytes: the cell rules of proxy/csv_format.py (an empty cell for NULL and for '',
    a formula neutralised by a leading quote), times in the team's zone as ISO 8601 with the offset,
    params as canonical JSON (`canonical_json`), lines ending in CRLF. tests/test_audit_csv_copy.py
    compares the two.
    """

    def __init__(self, filters: JournalFilter, tz: ZoneInfo) -> None:
        self.filters = filters
        self.tz = tz

    def __aiter__(self) -> AsyncIterator[Sequence[Any]]:
        return self._rows()

    async def _rows(self) -> AsyncIterator[Sequence[Any]]:
        logins, communities, networks = await _names()
        # Tuples, not model instances: an export reads every row once, and building instances was a
        # quarter of its time (docs/benchmarks.md).
        async for row in iter_journal_values(self.filters, _JOURNAL_COLUMNS):
            (id_, created_at, actor_kind, operator_id, vk_user_id, action, community_id, conversation_id,
             item_id, text, params, outcome, outcome_detail, outcome_at, hash_) = row  # fmt: skip
            yield (
                id_,
                local_iso(created_at, self.tz),
                _plain(actor_kind),
                logins.get(operator_id) if operator_id else None,
                vk_user_id,
                action,
                communities.get(community_id) if community_id else None,
                conversation_id,
                item_id,
                text,
                canonical_json(params) if params else None,
                _plain(outcome) if outcome else None,
                outcome_detail,
                local_iso(outcome_at, self.tz),
                hash_,
                networks.get(community_id) if community_id else None,
            )

    async def write_csv(self, write: Callable[[bytes], Awaitable[None]], *, dialect: CsvDialect) -> bool:
        """Pass the CSV lines (no header) to `write` as PostgreSQL writes them; False on SQLite,
        where the caller formats the rows itself.

        One COPY (query) TO STDOUT in a read-only transaction: the database does the per-row work,
        and the chunks go on as they arrive (asyncpg stops reading while `write` waits), so memory
        does not grow with the number of rows.
        """
        client = connections.get("default")
        if client.capabilities.dialect != "postgres":
            return False
        q = SqlQuery(client)
        sql = _journal_copy_sql(journal_where_sql(self.filters, q))
        lines = _CopyLines(write)
        async with client.acquire_connection() as connection:
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                # to_char writes times in the session's zone; set for this transaction only.
                await connection.execute("SELECT set_config('TimeZone', $1, true)", str(self.tz))
                await connection.copy_from_query(sql, *q.params, output=lines.feed, **copy_options(dialect))
        lines.finish()
        return True


# The cells of journal.csv in SQL (PostgreSQL), in JOURNAL_CSV_HEADER order, text cells by the rule of
# proxy/csv_format.py (`sql_text_cell`). The last cell carries a marker, chr(1), that _CopyLines turns
# into the CRLF that ends the line; a chr(1) in a text is doubled as chr(1) chr(2) so no text can fake it.
_LOCAL_ISO = """'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'"""
# Falsy JSON values, exported as an empty cell (as `if params` does).
_EMPTY_JSON = """('{}'::jsonb, '[]'::jsonb, '""'::jsonb, '0'::jsonb, 'false'::jsonb, 'null'::jsonb)"""


def _text_cell(expr: str) -> str:
    return sql_text_cell(expr, f"replace({expr}, chr(1), chr(1) || chr(2))")


def _journal_copy_sql(where: str) -> str:
    params = f"CASE WHEN j.params IS NULL OR j.params IN {_EMPTY_JSON} THEN NULL ELSE j.params::text END"
    cells = [
        "j.id",
        f"to_char(j.created_at, {_LOCAL_ISO})",
        _text_cell("j.actor_kind"),
        _text_cell("o.login"),
        "j.vk_user_id",
        _text_cell("j.action"),
        _text_cell("c.name"),
        "j.conversation_id",
        "j.item_id",
        _text_cell("j.text"),
        _text_cell(params),
        _text_cell("j.outcome"),
        _text_cell("j.outcome_detail"),
        f"to_char(j.outcome_at, {_LOCAL_ISO})",
        _text_cell("j.hash"),
        "coalesce(c.network, '') || chr(1)",
    ]
    return (
        f"SELECT {', '.join(cells)} FROM journal_entry j "
        "LEFT JOIN operator o ON o.id = j.operator_id LEFT JOIN community c ON c.id = j.community_id "
        f"WHERE {where} ORDER BY j.id DESC"
    )


_LINE_END = LINE_END.encode(ENCODING)


class _CopyLines:
    """COPY's CSV as proxy/csv_format.py defines it: lines end in LINE_END (COPY ends them in LF, and
    keeps an LF inside a quoted cell, which must stay as it is); see _journal_copy_sql for the marker."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self.write = write
        self.carry = b""

    async def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk
        # A chunk may end between a marker (or a doubled chr(1)) and the byte after it.
        if data.endswith(b"\x01"):
            data, self.carry = data[:-1], b"\x01"
        else:
            self.carry = b""
        data = data.replace(b"\x01\n", _LINE_END)
        if b"\x01" in data:
            data = data.replace(b"\x01\x02", b"\x01")
        if data:
            await self.write(data)

    def finish(self) -> None:
        if self.carry:
            raise ValueError("COPY output ended inside a marker")


def canonical_json(value: Any) -> str:
    """JSON text as PostgreSQL writes a jsonb value, so journal.csv is the same on both databases:
    ", " and ": " between items, object keys shorter first (in UTF-8 bytes), then in code point order,
    numbers in fixed notation, non-ASCII characters as they are."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(str(k).encode("utf-8", "surrogatepass")), str(k)))
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {canonical_json(value[k])}" for k in keys)
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, float) and math.isfinite(value):
        # PostgreSQL's numeric: no exponent, no negative zero.
        text = format(Decimal(repr(value)), "f")
        return text[1:] if text.startswith("-") and not text.strip("-0.") else text
    return json.dumps(value, ensure_ascii=False)


def _plain(value: Any) -> str:
    return value.value if isinstance(value, Enum) else str(value)


async def deleted_csv_rows(filters: ArchiveFilter, tz: ZoneInfo) -> AsyncIterator[Sequence[Any]]:
    """The rows of deleted.csv: every state of every matching item, items newest deletion first."""
    batch = []
    async for item in iter_deleted_items(filters, page_size=HISTORY_BATCH):
        batch.append(item)
        if len(batch) == HISTORY_BATCH:
            for row in await _history_rows(batch, tz):
                yield row
            batch = []
    for row in await _history_rows(batch, tz):
        yield row


async def _history_rows(items: list[Any], tz: ZoneInfo) -> list[Sequence[Any]]:
    histories = await item_histories(d.item_id for d in items)
    rows: list[Sequence[Any]] = []
    for d in items:
        for s in histories.get(d.item_id, []):
            rows.append(
                (
                    d.item_id,
                    d.community_name,
                    str(d.channel),
                    d.conversation_id,
                    d.item_key,
                    d.author_vk_id,
                    d.author_name or None,
                    str(s.kind),
                    local_iso(s.at, tz),
                    s.version,
                    s.via,
                    s.vk_user_id,
                    s.operator_login,
                    s.text,
                    str(d.network),
                )
            )
    return rows
