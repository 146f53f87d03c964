"""The journal filter means the same on both databases, for the page and for the export walk.

proxy/audit/reading.py writes it once, as SQL (`journal_where_sql`). An action family is a prefix compared
as it is written: SQLite's LIKE ignored the case of ASCII letters, so "REPLY." used to find "reply.send"
on SQLite and nothing on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from proxy.audit import journal
from proxy.audit.reading import JournalFilter, iter_journal_values, journal_page
from proxy.models import ActorKind

ACTIONS = ["reply.send", "reply.sendx", "replyXsend", "comment.delete", "a_b.c", "axb.c", "a%b.c"]


async def _ids(filters: JournalFilter) -> tuple[list[int], list[int]]:
    page = [entry.id for entry in await journal_page(filters, limit=100)]
    walked = [row[0] async for row in iter_journal_values(filters, ("id",), page_size=2)]
    return page, walked


async def test_the_page_and_the_walk_read_the_same_entries(db: str) -> None:
    start = datetime(2025, 3, 1, 12, tzinfo=UTC)
    ids = {}
    for n, action in enumerate(ACTIONS):
        entry = await journal.record(action, actor_kind=ActorKind.SYSTEM, at=start + timedelta(minutes=n))
        ids[action] = entry.id

    async def found(**fields: object) -> set[str]:
        page, walked = await _ids(JournalFilter(**fields))  # type: ignore[arg-type]
        assert page == walked == sorted(page, reverse=True)
        return {action for action, entry_id in ids.items() if entry_id in page}

    assert await found(action="reply.") == {"reply.send", "reply.sendx"}
    assert await found(action="REPLY.") == set()
    assert await found(action="a_b.") == {"a_b.c"}
    assert await found(action="a%b.") == {"a%b.c"}
    assert await found(action="reply.send") == {"reply.send"}
    assert await found(since=start + timedelta(minutes=1), until=start + timedelta(minutes=3)) == {
        "reply.sendx",
        "replyXsend",
    }
    assert await found(community_ids=()) == set()
    assert await found() == set(ACTIONS)
