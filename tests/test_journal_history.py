"""Item versions, raw events and items rewritten behind the triggers are found through the journal's digests."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from tortoise import connections

from proxy.audit import checkpoints, history, journal, merkle
from proxy.models import ActorKind, ItemTombstone, JournalEntry, Outcome, RawEvent
from tests.audit_fixtures import GROUP_ID, at, make_base, make_deleted_comment_story
from tests.test_journal_checkpoints import KEY, _run_cli

EMPTY_ROOT = base64.b64encode(merkle.EMPTY_ROOT).decode()


@pytest.fixture
def keyed() -> object:
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


async def _history() -> int:
    base = await make_base()
    item = await make_deleted_comment_story(base)
    for n in range(3):
        await RawEvent.create(
            community=base.community, vk_group_id=GROUP_ID, event_id=f"ev-{n}", type="wall_reply_new",
            payload=f'{{"type":"wall_reply_new","object":{{"text":"Хлеб {n}"}}}}', source="callback",
        )  # fmt: skip
    return item.id


async def _behind_the_triggers(db: str, table: str, statement: str) -> None:
    conn = connections.get("default")
    if db.startswith("postgres"):
        await conn.execute_script(
            f"ALTER TABLE {table} DISABLE TRIGGER ALL; {statement}; ALTER TABLE {table} ENABLE TRIGGER ALL"
        )
    else:
        # SQLite cannot disable a trigger: drop it, then put it back as it was.
        guard = "raw_event_content_fixed" if table == "raw_event" else f"{table}_no_update"
        rows = await conn.execute_query_dict(f"SELECT sql FROM sqlite_master WHERE name = '{guard}'")
        await conn.execute_script(f"DROP TRIGGER IF EXISTS {guard}; {statement}")
        if table == "raw_event":
            await conn.execute_query(rows[0]["sql"])


async def test_digest_then_all_good(db: str, keyed: object, tmp_path: Path) -> None:
    await _history()
    issued = await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    digest = await JournalEntry.get(action=history.DIGEST_ACTION)
    assert digest.params["item_version"]["rows"] == 3 and digest.params["raw_event"]["rows"] == 3
    assert issued.checkpoint.size == await JournalEntry.all().count()  # the digest is in the checkpoint
    # Tombstones have no recording time: the ids the first digest saw are digested by the next one.
    assert digest.params["item_tombstone"] == {"rows": 0, "last_id": 0, "root": EMPTY_ROOT, "seen": 1}
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    assert (await JournalEntry.filter(action=history.DIGEST_ACTION).order_by("-id").first()).params[
        "item_tombstone"
    ]["rows"] == 1
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    assert await JournalEntry.filter(action=history.DIGEST_ACTION).count() == 2  # nothing new: no new digest
    # Processing results are not digested: changing them is no breach.
    await RawEvent.filter(event_id="ev-1").update(status="failed", detail="retried")
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert (code, err) == (0, "")
    assert (
        out.splitlines()[-1] == "item versions, raw events and tombstones match the 2 digests in the journal"
    )
    code, out, _ = await _run_cli(db, "journal", "verify")
    assert code == 0 and out.endswith("match the 2 digests in the journal\n")


async def test_rewritten_item_version_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    await _history()
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    digest = await JournalEntry.get(action=history.DIGEST_ACTION)
    await _behind_the_triggers(
        db, "item_version", "UPDATE item_version SET text = 'Всё отлично' WHERE number = 2"
    )
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    last = digest.params["item_version"]["last_id"]
    assert err.splitlines()[0] == (
        f"item_version (digest in journal entry {digest.id}): its 3 rows up to id {last} do not match the 3"
        f" digested: a row from the first row up to id {last} was changed, inserted or removed"
    )


async def test_rewritten_raw_event_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    await _history()
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    await RawEvent.create(
        vk_group_id=GROUP_ID, event_id="ev-later", type="x", payload="{}", source="callback"
    )
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)  # a second digest
    first, second = await JournalEntry.filter(action=history.DIGEST_ACTION).order_by("id")
    # The trigger refuses it (migration 0017); behind it, the digest still finds it.
    await _behind_the_triggers(
        db, "raw_event", "UPDATE raw_event SET payload = '{}  ' WHERE event_id = 'ev-later'"
    )
    code, _, err = await _run_cli(db, "journal", "verify")
    assert code == 1
    previous, last = first.params["raw_event"]["last_id"], second.params["raw_event"]["last_id"]
    assert err.splitlines()[0] == (
        f"raw_event (digest in journal entry {second.id}): its 4 rows up to id {last} do not match the 4"
        f" digested: a row after id {previous} up to id {last} was changed, inserted or removed"
    )
    await _behind_the_triggers(
        db, "raw_event", "UPDATE raw_event SET payload = '{}' WHERE event_id IN ('ev-later', 'ev-0')"
    )
    code, _, err = await _run_cli(db, "journal", "verify")
    assert code == 1 and err.startswith(f"raw_event (digest in journal entry {first.id}): its 3 rows")


async def test_item_text_rewritten_in_place_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    item_id = await _history()
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    await connections.get("default").execute_query(
        f"UPDATE item SET text = 'Спасибо, всё понравилось' WHERE id = {item_id}"
    )
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    assert (
        err.splitlines()[0] == f"item {item_id}: its text is none of its versions': it was rewritten in place"
    )


async def test_young_rows_wait_for_the_next_digest(db: str, keyed: object, tmp_path: Path) -> None:
    await _history()
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)  # every row is younger than 5 minutes
    assert not await JournalEntry.filter(action=history.DIGEST_ACTION).exists()


async def test_rewritten_tombstone_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    item_id = await _history()
    for _ in range(2):  # the second digest covers the tombstone the first one saw
        await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    # Filled legitimately after a digest (a restoration, an attribution): no breach.
    await ItemTombstone.filter(item_id=item_id).update(
        restored_at=None, restored_by_id=None, deleted_via="proxy"
    )
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert (code, err) == (0, ""), out
    digest = await JournalEntry.filter(action=history.DIGEST_ACTION).order_by("-id").first()
    # Rewriting when or by whom in VK it was deleted is found by the digest.
    await ItemTombstone.filter(item_id=item_id).update(deleted_at=at(1, 1))
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    assert (
        f"item_tombstone (digest in journal entry {digest.id}): its 1 rows up to id 1 do not match the 1"
        in err
    )
    await ItemTombstone.filter(item_id=item_id).update(deleted_at=at(2, 10))
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert (code, err) == (0, "")
    # Its last text, filled later for a placeholder, must be one of the item's versions' texts.
    await ItemTombstone.filter(item_id=item_id).update(last_text="Хлеб отличный")
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert (
        code == 1
        and "item tombstone 1: its last text is none of its item's versions': it was rewritten" in err
    )


async def test_outcome_emptied_back_to_pending_is_found(
    db: str, keyed: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A journal written before outcomes were chained: an outcome written with its entry was not in its hash
    # and had no chained record (today's are both: tests/test_journal_outcome_chain.py, which finds their
    # emptying first); the digests' count finds it.
    monkeypatch.setattr(journal, "written_with_outcome", lambda entry: False)
    await _history()
    done = await journal.record("reply.send", actor_kind=ActorKind.SYSTEM, outcome=Outcome.DONE, outcome_detail="sent")
    waiting = await journal.record("reply.send", actor_kind=ActorKind.SYSTEM, outcome=Outcome.PENDING)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None, settle_seconds=0)
    monkeypatch.undo()
    digest = await JournalEntry.get(action=history.DIGEST_ACTION)
    filled = await JournalEntry.filter(outcome_at__isnull=False).count()  # the story's own, and `done`
    assert digest.params[history.OUTCOMES] == {"filled": filled, "pending": [waiting.id]}
    # Filled after the digest, as outcomes are: no breach.
    await journal.set_outcome(waiting.id, Outcome.FAILED, "VK refused")
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert (code, err) == (0, ""), out
    # Behind the triggers, the done outcome is emptied (MAC too): it looks pending, or as if it never had one.
    for outcome in ("'pending'", "NULL"):
        statement = (
            f"UPDATE journal_entry SET outcome = {outcome}, outcome_detail = NULL, outcome_at = NULL,"
            f" outcome_mac = NULL WHERE id = {done.id}"
        )
        if db.startswith("postgres"):
            await _behind_the_triggers(db, "journal_entry", statement)
        else:
            await connections.get("default").execute_script(
                f"DROP TRIGGER IF EXISTS journal_entry_outcome_once; {statement}"
            )
        for args in (("--checkpoints", str(tmp_path)), ()):
            code, _, err = await _run_cli(db, "journal", "verify", *args)
            assert code == 1
            assert (
                f"journal outcomes (digest in journal entry {digest.id}): {filled} entries before it had a filled"
                f" outcome (done or failed) when it was made and 1 of those pending then have one since, but only"
                f" {filled} have one now: 1 outcome(s) were emptied back to pending behind the triggers"
            ) in err
