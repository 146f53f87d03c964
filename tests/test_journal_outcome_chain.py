"""Outcomes in the chain: an outcome changed, emptied or filled behind the triggers is found by
`proxy journal verify --checkpoints` with the public key alone, and an evidence package proves outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
from tortoise import connections

from proxy import actions, outbox
from proxy.audit import checkpoints, evidence, journal
from proxy.audit.journal import OUTCOME_ACTION
from proxy.audit.reading import JournalFilter, journal_page
from proxy.audit.verify import verify_chain
from proxy.clock import utcnow
from proxy.models import ActorKind, JournalEntry, Operator, OutboxRow, Outcome
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import Mirror
from tests.audit_fixtures import at, make_base
from tests.test_audit_verify import _behind_the_triggers
from tests.test_journal_checkpoints import KEY, _entries, _run_cli
from vk_emulator import World


@pytest.fixture(autouse=True)
def keyed() -> Iterator[None]:
    """Entries carry KEY's MACs, as where checkpoints are made; verify is run without the key."""
    journal.use_key(KEY)
    yield
    journal.use_key(None)


async def _behind_restored_triggers(db: str, statement: str) -> None:
    """The statement run behind the triggers, which are then put back as they were (on SQLite, dropped and
    recreated): verify finds no guard missing, only what the statement did."""
    if db.startswith("postgres"):
        await _behind_the_triggers(db, statement)
        return
    conn = connections.get("default")
    _, rows = await conn.execute_query(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN"
        " ('journal_entry_outcome_once', 'journal_entry_no_delete')"
    )
    await _behind_the_triggers(db, statement)
    await conn.execute_script(";\n".join(row[0] for row in rows))


async def _verify_with_public_key(db: str, directory: Path) -> tuple[int, str, str]:
    """What a person holding only the checkpoints and the public key runs."""
    return await _run_cli(
        db,
        "journal",
        "verify",
        "--checkpoints",
        str(directory),
        "--public-key",
        KEY.verifier.text(),
        key=None,
    )


async def _filled_and_checkpointed(directory: Path) -> tuple[list[JournalEntry], JournalEntry]:
    """Four pending entries, the third done (its chained record returned), a checkpoint of all of it."""
    entries = await _entries(4)
    filled = await journal.set_outcome(entries[2].id, Outcome.DONE, "VK accepted it")
    await checkpoints.issue(KEY, directory=directory, webhook=None)
    return entries, filled


async def test_outcome_is_chained_in_the_same_transaction(db: str) -> None:
    entries = await _entries(2)
    await journal.set_outcome(entries[0].id, Outcome.FAILED, "VK refused: error 15")
    record = await JournalEntry.filter(action=OUTCOME_ACTION).get()
    entry = await JournalEntry.get(id=entries[0].id)
    assert record.id == entries[-1].id + 1 and record.prev_hash == entries[-1].hash
    assert record.params == {"entry": entries[0].id, "outcome": "failed", "detail": "VK refused: error 15"}
    assert record.created_at == entry.outcome_at and record.outcome is None
    assert record.actor_kind == ActorKind.SYSTEM
    assert (await verify_chain()).ok


async def test_normal_run_verifies_with_the_public_key(db: str, tmp_path: Path) -> None:
    entries, _ = await _filled_and_checkpointed(tmp_path)
    await journal.set_outcome(entries[0].id, Outcome.FAILED, "VK refused: error 15")  # after the checkpoint
    code, out, err = await _verify_with_public_key(db, tmp_path)
    assert (code, err) == (0, "")
    assert out.startswith("journal verified: 6 entries, head ")


async def test_outcome_changed_behind_the_triggers_is_caught_with_the_public_key(
    db: str, tmp_path: Path
) -> None:
    """The issue's attack: entry 3's outcome made "failed" with a forged detail, triggers disabled."""
    entries, _ = await _filled_and_checkpointed(tmp_path)
    target = entries[2]
    await _behind_restored_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'failed', outcome_detail = 'VK refused: error 901 (forged)'"
        f" WHERE id = {target.id}",
    )
    code, out, err = await _verify_with_public_key(db, tmp_path)
    assert (code, out) == (1, "")
    record = await JournalEntry.filter(action=OUTCOME_ACTION).get()
    assert err.splitlines()[0] == (
        f"journal entry {target.id}: its outcome reads failed (VK refused: error 901 (forged)) but the chained"
        f" outcome record (entry {record.id}) says done (VK accepted it): the outcome was changed behind the triggers"
    )


async def test_outcome_time_changed_is_caught(db: str, tmp_path: Path) -> None:
    entries, _ = await _filled_and_checkpointed(tmp_path)
    await _behind_restored_triggers(
        db, f"UPDATE journal_entry SET outcome_at = created_at WHERE id = {entries[2].id}"
    )  # fmt: skip
    code, _, err = await _verify_with_public_key(db, tmp_path)
    assert code == 1
    assert err.splitlines()[0].startswith(f"journal entry {entries[2].id}: its outcome time ")


async def test_emptied_outcome_is_caught(db: str, tmp_path: Path) -> None:
    entries, _ = await _filled_and_checkpointed(tmp_path)
    target = entries[2]
    await _behind_restored_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'pending', outcome_detail = NULL, outcome_at = NULL, outcome_mac = NULL"
        f" WHERE id = {target.id}",
    )
    code, _, err = await _verify_with_public_key(db, tmp_path)
    record = await JournalEntry.filter(action=OUTCOME_ACTION).get()
    assert code == 1
    assert err.splitlines()[0] == (
        f"journal entry {target.id}: its outcome is empty (pending) but the chained outcome record (entry"
        f" {record.id}) says done (VK accepted it): the outcome was emptied behind the triggers"
    )


async def test_outcome_filled_behind_the_triggers_is_caught(db: str, tmp_path: Path) -> None:
    entries, _ = await _filled_and_checkpointed(tmp_path)
    more = await _entries(2, start=10)
    await _behind_restored_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'done', outcome_detail = 'VK accepted it (forged)',"
        f" outcome_at = '2025-04-10 12:00:00+00:00' WHERE id = {more[1].id}",
    )
    report = await verify_chain()
    assert report.broken is not None and report.broken.outcome and report.broken.entry_id == more[1].id
    assert report.broken.reason == (
        "its outcome reads done (VK accepted it (forged)), filled after it was written, but no chained outcome"
        " record says so: the outcome was filled behind the triggers"
    )
    code, _, err = await _verify_with_public_key(db, tmp_path)
    assert code == 1 and err.splitlines()[0].startswith(f"journal entry {more[1].id}: its outcome reads done")


async def test_legacy_outcomes_still_verify(db: str, tmp_path: Path) -> None:
    """Outcomes filled before outcomes were chained (by hand here) have no record: accepted as before."""
    entries = await _entries(3)
    await _behind_the_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'done', outcome_detail = 'VK accepted it',"
        f" outcome_at = '2025-04-10 12:00:00+00:00' WHERE id = {entries[0].id}",
    )
    await journal.record("canned.save", actor_kind=ActorKind.OPERATOR, outcome=Outcome.DONE, at=at(4, 11))
    await journal.set_outcome(entries[1].id, Outcome.DONE, "VK accepted it")
    report = await verify_chain()
    assert report.broken is None
    assert await JournalEntry.filter(action=OUTCOME_ACTION).count() == 1


async def test_outcome_records_stay_out_of_the_journal_pages(db: str) -> None:
    from web.i18n import rendering_in
    from web.journal_sentences import Names, sentence

    entries = await _entries(2)
    record = await journal.set_outcome(entries[0].id, Outcome.DONE, "VK accepted it")
    shown = [e.id for e in await journal_page(JournalFilter())]
    assert shown == [entries[1].id, entries[0].id]
    asked = await journal_page(JournalFilter(action=OUTCOME_ACTION))
    assert [e.id for e in asked] == [record.id]
    with rendering_in("en", UTC):
        said = str(sentence(asked[0], Names({}, {}, {}, {}, {}, {})))  # read by name
    assert said == f"The proxy added the outcome of entry #{entries[0].id} to the chain: Done"


async def test_evidence_package_proves_the_outcome(db: str, tmp_path: Path) -> None:
    base = await make_base()
    action = await journal.record(
        "comment.delete", actor_kind=ActorKind.OPERATOR, operator_id=base.operator.id,
        community_id=base.community.id, conversation_id=base.conversation.id,
        outcome=Outcome.PENDING, at=at(3, 9),
    )  # fmt: skip
    await _entries(2)
    record = await journal.set_outcome(action.id, Outcome.DONE, "VK accepted it")
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    package = await evidence.build_package(
        tmp_path, KEY.verifier, scope={"conversation_id": base.conversation.id}
    )  # fmt: skip
    assert [e["id"] for e in package["entries"]] == [action.id, record.id]
    proven = evidence.verify_package(evidence.serialize(package))
    assert proven.outcomes == {action.id: record.id}
    lines = evidence.describe(proven)
    said = next(line for line in lines if f"(id {action.id})" in line)
    assert said.endswith(
        f"; outcome done (VK accepted it) at {record.created_at.isoformat(timespec='microseconds')}, proven by its"
        f" chained outcome record #{record.id} (id {record.id})"
    )
    # The outcome listed in the file changed: the record proves otherwise.
    package["entries"][0]["outcome"]["outcome"] = "failed"
    try:
        evidence.verify_package(evidence.serialize(package))
    except evidence.EvidenceError as exc:
        assert str(exc).startswith(
            f"entry {action.id}: its outcome (failed: VK accepted it) is not what its chained"
        )
    else:
        raise AssertionError("a changed outcome was accepted")


async def test_the_outbox_chains_the_outcome_it_fills(
    vk_settings: Settings, operator: Operator, mirror: Mirror, world: World
) -> None:
    conversation, _, _ = await mirror.message(world.members[0], "Вопрос")
    row = await actions.reply(vk_settings, operator, conversation.id, "Ответ")
    assert await outbox.deliver_due(vk_settings, now=utcnow()) == 1
    entry = await JournalEntry.get(id=(await OutboxRow.get(id=row.id)).journal_entry_id)
    record = await JournalEntry.get(action=OUTCOME_ACTION)
    assert entry.outcome == Outcome.DONE and record.created_at == entry.outcome_at and record.id > entry.id
    assert record.params == {"entry": entry.id, "outcome": "done", "detail": entry.outcome_detail}
    report = await verify_chain(key=KEY)
    assert report.broken is None and report.macs_checked


async def _written_with_outcome_and_checkpointed(directory: Path) -> list[JournalEntry]:
    """Two entries written with their outcome (a saved canned response, say), a checkpoint of both."""
    written = [
        await journal.record(
            "canned.save", actor_kind=ActorKind.OPERATOR, outcome=Outcome.DONE, outcome_detail=f"saved {n}", at=at(4, 12, n)
        )
        for n in range(2)
    ]  # fmt: skip
    await checkpoints.issue(KEY, directory=directory, webhook=None)
    return written


async def test_an_outcome_written_with_its_entry_is_in_its_hash(db: str) -> None:
    entry = await journal.record(
        "canned.save", actor_kind=ActorKind.OPERATOR, outcome=Outcome.DONE, at=at(4, 12)
    )
    stored = await JournalEntry.get(id=entry.id)
    assert stored.hash == journal.entry_hash(stored, with_outcome=True) != journal.entry_hash(stored)
    assert journal.outcome_in_hash(stored)
    pending = await _entries(1, start=20)
    assert not journal.outcome_in_hash(await JournalEntry.get(id=pending[0].id))
    assert (await verify_chain()).ok


async def test_an_outcome_written_with_its_entry_changed_is_caught_with_the_public_key(
    db: str, tmp_path: Path
) -> None:
    written = await _written_with_outcome_and_checkpointed(tmp_path)
    await _behind_restored_triggers(
        db,
        f"UPDATE journal_entry SET outcome = 'failed', outcome_detail = 'forged' WHERE id = {written[0].id}",
    )
    code, out, err = await _verify_with_public_key(db, tmp_path)
    assert (code, out) == (1, "")
    assert f"journal entry {written[0].id}: content does not match its hash" in err.splitlines()[0]
    assert err.splitlines()[0].endswith("(inside a signed checkpoint)")


async def test_an_outcome_written_with_its_entry_emptied_is_caught_with_the_public_key(
    db: str, tmp_path: Path
) -> None:
    written = await _written_with_outcome_and_checkpointed(tmp_path)
    await _behind_restored_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'pending', outcome_detail = NULL, outcome_at = NULL, outcome_mac = NULL"
        f" WHERE id = {written[1].id}",
    )
    code, _, err = await _verify_with_public_key(db, tmp_path)
    assert code == 1
    assert f"journal entry {written[1].id}: content does not match its hash" in err.splitlines()[0]
    assert err.splitlines()[0].endswith("(inside a signed checkpoint)")


async def test_a_pending_outcome_filled_by_hand_with_its_entrys_own_time_is_caught(
    db: str, tmp_path: Path
) -> None:
    """It reads as written with its entry, but the entry's hash does not cover it and no record says so."""
    await _written_with_outcome_and_checkpointed(tmp_path)
    pending = await _entries(2, start=30)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    await _behind_restored_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'done', outcome_detail = 'VK accepted it (forged)', outcome_at = created_at"
        f" WHERE id = {pending[1].id}",
    )
    code, _, err = await _verify_with_public_key(db, tmp_path)
    assert code == 1
    assert err.splitlines()[0].startswith(
        f"journal entry {pending[1].id}: its outcome reads done (VK accepted it"
    )
    assert "no chained outcome record says so" in err.splitlines()[0]


async def test_evidence_proves_an_outcome_written_with_its_entry(db: str, tmp_path: Path) -> None:
    base = await make_base()
    written = await journal.record(
        "conversation.close", actor_kind=ActorKind.OPERATOR, operator_id=base.operator.id,
        community_id=base.community.id, conversation_id=base.conversation.id,
        outcome=Outcome.DONE, outcome_detail="closed", at=at(3, 9),
    )  # fmt: skip
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    package = await evidence.build_package(
        tmp_path, KEY.verifier, scope={"conversation_id": base.conversation.id}
    )  # fmt: skip
    assert [e["id"] for e in package["entries"]] == [written.id]
    assert package["entries"][0]["content"]["outcome"] == "done"
    lines = evidence.describe(evidence.verify_package(evidence.serialize(package)))
    said = next(line for line in lines if f"(id {written.id})" in line)
    assert said.endswith("; outcome done (closed), written with it and proven by its own hash")
    # The outcome listed in the file changed: the entry's own hashed content proves otherwise.
    package["entries"][0]["outcome"]["outcome"] = "failed"
    with pytest.raises(evidence.EvidenceError, match="is not the one its own content says"):
        evidence.verify_package(evidence.serialize(package))
