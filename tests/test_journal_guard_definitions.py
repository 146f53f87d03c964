"""`verify` checks each history guard by what it does (table, event, body), not by its name."""

from __future__ import annotations

from pathlib import Path

from tortoise import connections

from proxy.audit import checkpoints
from proxy.audit.immutability import missing_guards
from tests.test_journal_checkpoints import KEY, _entries, _run_cli


async def _script(db: str, postgres: str, sqlite: str) -> None:
    await connections.get("default").execute_script(postgres if db.startswith("postgres") else sqlite)


async def test_a_decoy_of_the_same_name_is_no_guard(db: str, tmp_path: Path) -> None:
    # The attack: drop the journal's DELETE guard, create a trigger of its name on a decoy table, delete
    # the last entry. Both the guard and the deletion are named.
    entries = await _entries(3)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    await _script(
        db,
        "DROP TRIGGER journal_entry_no_delete ON journal_entry; CREATE TABLE decoy (x int);"
        " CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON decoy FOR EACH ROW"
        " EXECUTE FUNCTION proxy_keep_for_good();",
        "DROP TRIGGER journal_entry_no_delete; CREATE TABLE decoy (x int);"
        " CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON decoy"
        " BEGIN SELECT RAISE(ABORT, 'DELETE on journal_entry refused: its rows are kept for good'); END;",
    )
    assert await missing_guards(connections.get("default")) == ["journal_entry_no_delete"]
    await connections.get("default").execute_query(f"DELETE FROM journal_entry WHERE id = {entries[-1].id}")
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    assert err.splitlines() == [
        "checkpoint checkpoint-000000000003.txt: it signs 3 entries but the journal has 2: entries after entry"
        f" {entries[1].id} were removed",
        "database guards missing or disabled: journal_entry_no_delete (history can be rewritten; run"
        " `proxy migrate` or restore them)",
    ]


async def test_a_guard_that_no_longer_refuses_is_no_guard(db: str) -> None:
    await _script(
        db,
        "CREATE OR REPLACE FUNCTION proxy_keep_for_good() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RETURN OLD; END $$;",
        "DROP TRIGGER item_no_delete; CREATE TRIGGER item_no_delete BEFORE DELETE ON item WHEN 0"
        " BEGIN SELECT RAISE(ABORT, 'DELETE on item refused: its rows are kept for good'); END;",
    )
    missing = await missing_guards(connections.get("default"))
    if db.startswith("postgres"):  # every guard calling the function
        assert "item_no_delete" in missing and "raw_event_no_truncate" in missing
        assert "journal_entry_outcome_once" not in missing
    else:
        assert missing == ["item_no_delete"]


async def test_an_outcome_guard_that_lets_more_through_is_no_guard(db: str) -> None:
    await _script(
        db,
        "CREATE OR REPLACE FUNCTION proxy_journal_outcome_once() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RETURN NEW; END $$;",
        "DROP TRIGGER journal_entry_outcome_once; CREATE TRIGGER journal_entry_outcome_once BEFORE UPDATE"
        " ON journal_entry WHEN NOT (OLD.outcome_at IS NULL) BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    assert await missing_guards(connections.get("default")) == ["journal_entry_outcome_once"]
