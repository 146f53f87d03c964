"""Migration 0013 on a database that already holds a closing: it keeps it, without a reason, and a
closing written afterwards keeps the reason the operator gave."""

from __future__ import annotations

from tortoise import connections

from proxy import db as proxy_db
from proxy.models import ConversationClose
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)

BEFORE = "models.0011_journal_macs"
ROWS = [
    "INSERT INTO community (id, vk_group_id, name, mode, callback_secret, confirmation_code, sla_seconds, "
    "is_active, created_at, network) VALUES (1, 1, 'c', 'callback', '', '', 900, TRUE, CURRENT_TIMESTAMP, 'vk')",
    "INSERT INTO conversation (id, community_id, channel, key, status, opened_at, created_at, "
    "awaiting_first_reaction, preview) "
    "VALUES (1, 1, 'message', 'message:1', 'closed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, FALSE, '')",
    "INSERT INTO conversation_close (community_id, conversation_id, kind, opened_at, closed_at, "
    "duration_seconds) VALUES (1, 1, 'without_reply', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)",
]


async def test_closings_before_have_no_reason_and_new_ones_keep_theirs(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, BEFORE)
    await proxy_db.open_database(empty_url)
    try:
        for statement in ROWS:
            await connections.get("default").execute_query(statement)
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    try:
        old = await ConversationClose.get()
        assert old.reason is None and old.kind == "without_reply"
        new = await ConversationClose.create(
            community_id=1, conversation_id=1, kind="without_reply", opened_at=old.opened_at,
            closed_at=old.closed_at, duration_seconds=0, reason="no_answer_needed",
        )  # fmt: skip
        assert (await ConversationClose.get(id=new.id)).reason == "no_answer_needed"
    finally:
        await proxy_db.close_database()
