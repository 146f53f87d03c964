"""The database itself refuses to rewrite history: journal, versions, items, tombstones, raw events."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.exceptions import BaseORMException

from proxy.audit import journal
from proxy.audit.immutability import EXPECTED_TRIGGERS, missing_guards
from proxy.models import ActorKind, Item, ItemTombstone, ItemVersion, JournalEntry, Outcome, RawEvent
from tests.audit_fixtures import at, fill_every_table, make_base


async def _pending_entry() -> JournalEntry:
    return await journal.record(
        "reply.send", actor_kind=ActorKind.OPERATOR, text="hello", outcome=Outcome.PENDING, at=at(5, 10)
    )


async def test_every_guard_installed(db: str) -> None:
    conn = connections.get("default")
    assert await missing_guards(conn) == []
    assert len(EXPECTED_TRIGGERS[conn.capabilities.dialect]) == (13 if db.startswith("postgres") else 8)


async def test_journal_update_refused(db: str) -> None:
    entry = await _pending_entry()
    with pytest.raises(BaseORMException, match="refused"):
        await JournalEntry.filter(id=entry.id).update(text="rewritten")
    with pytest.raises(BaseORMException, match="refused"):
        await connections.get("default").execute_query(
            "UPDATE journal_entry SET action = 'auth.login' WHERE id = " + str(entry.id)
        )
    # Filling the outcome together with another column is refused as a whole.
    with pytest.raises(BaseORMException, match="refused"):
        await JournalEntry.filter(id=entry.id).update(outcome=Outcome.DONE, outcome_at=at(5, 11), text="x")
    assert (await JournalEntry.get(id=entry.id)).text == "hello"


async def test_outcome_filled_once(db: str) -> None:
    entry = await _pending_entry()
    await journal.set_outcome(entry.id, Outcome.FAILED, "VK error 15")
    stored = await JournalEntry.get(id=entry.id)
    assert (stored.outcome, stored.outcome_detail) == (Outcome.FAILED, "VK error 15")
    with pytest.raises(journal.JournalError):
        await journal.set_outcome(entry.id, Outcome.DONE)
    # Around the code, straight at the table: the trigger refuses a second outcome too.
    with pytest.raises(BaseORMException, match="refused"):
        await JournalEntry.filter(id=entry.id).update(outcome=Outcome.DONE, outcome_at=at(5, 12))
    assert (await JournalEntry.get(id=entry.id)).outcome == Outcome.FAILED


async def test_outcome_must_be_dated(db: str) -> None:
    # An outcome without outcome_at could be overwritten later, so it is refused.
    entry = await _pending_entry()
    with pytest.raises(BaseORMException, match="refused"):
        await JournalEntry.filter(id=entry.id).update(outcome=Outcome.DONE)


async def test_journal_delete_refused(db: str) -> None:
    entry = await _pending_entry()
    with pytest.raises(BaseORMException, match="refused"):
        await JournalEntry.filter(id=entry.id).delete()
    with pytest.raises(BaseORMException, match="refused"):
        await connections.get("default").execute_script("DELETE FROM journal_entry")
    assert await JournalEntry.all().count() == 1


@pytest.mark.postgres_only
async def test_journal_truncate_refused_on_postgres(db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("SQLite has no TRUNCATE")
    await _pending_entry()
    for table in ("journal_entry", "item", "item_version", "item_tombstone", "raw_event"):
        with pytest.raises(BaseORMException, match="TRUNCATE on .* refused"):
            await connections.get("default").execute_script(f"TRUNCATE {table} CASCADE")
    assert await JournalEntry.all().count() == 1


async def test_content_kept_for_good(db: str) -> None:
    base = await make_base()
    await fill_every_table(base)
    version = await ItemVersion.filter(number=2).first()
    assert version is not None
    with pytest.raises(BaseORMException, match="refused"):
        await ItemVersion.filter(id=version.id).update(text="softened")
    for model in (ItemVersion, ItemTombstone, Item, RawEvent):
        with pytest.raises(BaseORMException, match="refused"):
            await model.all().delete()
    assert await ItemVersion.filter(id=version.id, text="Хлеб черствый, верните деньги").exists()
    # The current state of an item and a tombstone's restoration are ordinary updates.
    assert await Item.filter(key__endswith=":102").update(is_deleted=False) == 1
    assert await ItemTombstone.filter(restored_at__isnull=True).update(restored_at=at(4, 9)) == 1
    assert await RawEvent.all().update(detail="reprocessed") == 1
