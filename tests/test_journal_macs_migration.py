"""Migration 0011 on a journal written before it: the old entries verify as before, have no MAC, and the
outcome guard still refuses everything but filling an outcome once (with its MAC now)."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.exceptions import BaseORMException

from proxy import db as proxy_db
from proxy.audit import journal
from proxy.audit.immutability import missing_guards
from proxy.audit.verify import verify_chain
from proxy.models import ActorKind, JournalEntry, Outcome
from tests.audit_fixtures import at
from tests.test_ban_migration import _migrate, empty_url  # noqa: F401 (the fixture)
from tests.test_journal_checkpoints import KEY

BEFORE = "models.0010_login_throttle"


async def test_entries_written_before_verify_and_take_outcomes(empty_url: str) -> None:  # noqa: F811
    await _migrate(empty_url, BEFORE)
    old = JournalEntry(
        created_at=at(4, 10), actor_kind=ActorKind.OPERATOR, action="reply.send", text="до", params={},
        prev_hash=journal.GENESIS_HASH,
    )  # fmt: skip
    old.hash = journal.entry_hash(old)  # no MAC: hashed exactly as before the migration
    await proxy_db.open_database(empty_url)
    try:
        conn = connections.get("default")
        await conn.execute_query(
            "INSERT INTO journal_entry (created_at, actor_kind, action, text, params, outcome, prev_hash, hash)"
            f" VALUES ('2025-03-04 10:00:00+00:00', 'operator', 'reply.send', 'до', '{{}}', 'pending',"
            f" '{journal.GENESIS_HASH}', '{old.hash}')"
        )
    finally:
        await proxy_db.close_database()

    await _migrate(empty_url)

    await proxy_db.open_database(empty_url)
    journal.use_key(KEY)
    try:
        conn = connections.get("default")
        assert await missing_guards(conn) == []
        entry = await JournalEntry.get(hash=old.hash)
        assert entry.mac is None
        # The guard lets the outcome's MAC in; its chained record is the first entry with a MAC.
        record = await journal.set_outcome(entry.id, Outcome.DONE, "ok")
        new = await journal.record("note.add", actor_kind=ActorKind.SYSTEM, text="после")
        report = await verify_chain(key=KEY)
        assert report.ok and report.count == 3 and report.keyed_from == record.id
        for statement in (
            f"UPDATE journal_entry SET mac = 'x' WHERE id = {new.id}",
            f"UPDATE journal_entry SET outcome_mac = 'x' WHERE id = {entry.id}",
        ):
            with pytest.raises(BaseORMException, match="refused"):
                await conn.execute_query(statement)
    finally:
        journal.use_key(None)
        await proxy_db.close_database()
