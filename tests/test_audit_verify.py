"""`proxy journal verify` finds an altered or removed journal entry, even one changed behind the triggers."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from tortoise import connections

from proxy.audit import journal
from proxy.audit.verify import verify_chain
from proxy.models import ActorKind, JournalEntry, Outcome
from tests.audit_fixtures import at


async def _run_cli(db_url: str, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def _five_entries() -> list[JournalEntry]:
    entries = []
    for n in range(5):
        entry = await journal.record(
            "reply.send" if n % 2 else "note.add",
            actor_kind=ActorKind.OPERATOR,
            text=f"ответ номер {n}",
            params={"n": n, "list": [1, "два"], "nested": {"b": None, "a": 1.25}},
            outcome=Outcome.PENDING,
            at=at(4, 10, n, 0, 1000 * n),
        )
        entries.append(entry)
    await journal.set_outcome(entries[1].id, Outcome.DONE, "ok")
    return entries


async def _behind_the_triggers(db_url: str, statement: str) -> None:
    """Run a statement the triggers would refuse: what someone with the database's keys could do."""
    conn = connections.get("default")
    if db_url.startswith("postgres"):
        await conn.execute_script(
            f"ALTER TABLE journal_entry DISABLE TRIGGER ALL; {statement}; ALTER TABLE journal_entry ENABLE TRIGGER ALL"
        )
    else:
        await conn.execute_script(
            "DROP TRIGGER journal_entry_outcome_once; DROP TRIGGER journal_entry_no_delete; " + statement
        )


async def test_intact_chain_verifies(db: str) -> None:
    entries = await _five_entries()
    code, out, err = await _run_cli(db, "journal", "verify", "--page-size", "2")
    assert (code, err) == (0, "")
    head = await JournalEntry.all().order_by("-id").first()  # the chained outcome of entries[1]
    assert head.action == journal.OUTCOME_ACTION and head.params["entry"] == entries[1].id
    assert out == f"journal verified: 6 entries, head {head.hash}\n"


async def test_altered_entry_named(db: str) -> None:
    entries = await _five_entries()
    target = entries[2]
    await _behind_the_triggers(
        db, f"UPDATE journal_entry SET text = 'ответ исправлен' WHERE id = {target.id}"
    )
    assert (await JournalEntry.get(id=target.id)).text == "ответ исправлен"

    code, out, err = await _run_cli(db, "journal", "verify", "--page-size", "2")
    assert code == 1 and out == ""
    first_line, second_line, *rest = err.splitlines()
    assert first_line.startswith(
        f"journal entry {target.id}: content does not match its hash (stored {target.hash}"
    )
    assert second_line == "2 entries before it match"
    if db.startswith("sqlite"):  # the dropped triggers are reported too
        assert rest == [
            "database guards missing or disabled: journal_entry_outcome_once, journal_entry_no_delete"
            " (history can be rewritten; run `proxy migrate` or restore them)"
        ]
    else:
        assert rest == []


async def test_removed_entry_found(db: str) -> None:
    entries = await _five_entries()
    await _behind_the_triggers(db, f"DELETE FROM journal_entry WHERE id = {entries[1].id}")
    report = await verify_chain(page_size=3)
    assert report.broken is not None
    assert report.broken.entry_id == entries[2].id
    assert report.broken.reason.startswith(
        f"prev_hash {entries[1].hash} does not link to the entry before it"
    )
    assert (report.count, report.head_hash) == (1, entries[0].hash)


async def test_changed_outcome_is_not_a_break(db: str) -> None:
    # The hash covers the content, not the outcome: filling it (the one allowed change) keeps the chain whole,
    # and appends the outcome's own chained record.
    entries = await _five_entries()
    record = await journal.set_outcome(entries[3].id, Outcome.FAILED, "VK error 15: access denied")
    report = await verify_chain(page_size=1)
    assert report.ok and report.count == 7 and report.head_hash == record.hash


async def test_disabled_trigger_reported_on_postgres(db: str) -> None:
    if not db.startswith("postgres"):
        pytest.skip("SQLite cannot disable a trigger, only drop it (covered above)")
    await _five_entries()
    await connections.get("default").execute_script("ALTER TABLE item DISABLE TRIGGER item_no_delete")
    code, out, err = await _run_cli(db, "journal", "verify")
    assert code == 1
    assert "database guards missing or disabled: item_no_delete " in err


async def test_chain_after_archiving_old_entries(db: str) -> None:
    # Old entries moved out deliberately (docs/audit.md): the live chain starts at the last archived hash.
    entries = await _five_entries()
    await _behind_the_triggers(db, f"DELETE FROM journal_entry WHERE id <= {entries[1].id}")
    code, _, err = await _run_cli(db, "journal", "verify")
    assert code == 1
    assert err.startswith(
        f"journal entry {entries[2].id}: the first entry must link to {'0' * 64}, it links to"
    )
    code, out, _ = await _run_cli(db, "journal", "verify", "--start-hash", entries[1].hash)
    head = await JournalEntry.all().order_by("-id").first()  # the chained outcome of entries[1]
    if db.startswith("postgres"):
        assert (code, out) == (0, f"journal verified: 4 entries, head {head.hash}\n")
    else:  # the dropped SQLite triggers are still reported
        assert code == 1
    code, _, err = await _run_cli(db, "journal", "verify", "--start-hash", "abc")
    assert (code, err) == (2, "error: --start-hash must be a SHA-256 hash: 64 hexadecimal digits\n")
