"""An evidence package verifies offline, says what it proves, and fails when any byte of it is changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise import connections

from proxy.audit import checkpoints, evidence, journal
from proxy.models import ActorKind, Author, Outcome
from tests.audit_fixtures import AUTHOR_VK_ID, at, make_base, make_deleted_comment_story
from tests.test_audit_verify import _behind_the_triggers
from tests.test_journal_checkpoints import KEY, OTHER_KEY, _entries, _run_cli


@pytest.fixture
def keyed() -> object:
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


async def _incident(tmp_path: Path) -> int:
    await _entries(5)
    base = await make_base()
    item = await make_deleted_comment_story(base)
    await _entries(4, start=5)
    await journal.record(
        "comment.delete", actor_kind=ActorKind.OPERATOR, operator_id=base.operator.id,
        community_id=base.community.id, conversation_id=base.conversation.id, item_id=item.id,
        outcome=Outcome.DONE, at=at(3, 9),
    )  # fmt: skip
    await checkpoints.issue(KEY, directory=tmp_path / "cps", webhook=None)
    return base.conversation.id


async def test_package_verifies_offline_and_says_what_it_proves(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    out = tmp_path / "incident.json"
    code, stdout, err = await _run_cli(
        db, "journal", "evidence", str(out), "--checkpoints", str(tmp_path / "cps"), "--conversation", str(conversation_id)
    )
    assert (code, err) == (0, "")
    assert stdout == f"3 entries proven against the checkpoint of 12 entries, written to {out}\n"
    # Offline: no database at all.
    code, stdout, err = await _run_cli("sqlite:///nonexistent/none.sqlite3", "evidence", "verify", str(out))
    assert (code, err) == (0, "")
    lines = stdout.splitlines()
    assert lines[0] == (
        f"The checkpoint is validly signed by test.example/journal (key id {KEY.verifier.key_id.hex()}): a journal"
        " of 12 entries."
    )
    assert lines[1] == "Each of these 3 entries is, byte for byte, the entry at its position in that journal:"
    assert lines[2].startswith("  #6 (id 6) 2025-03-02T10:00:00.000000+00:00 operator 1 vk.delete on community 1,")
    assert lines[4].endswith(
        "comment.delete on community 1, conversation 1, item 1; outcome done (no detail), written with it and"
        " proven by its own hash"
    )
    # Its versions were recorded after the last digest (none yet: rows settle for 5 minutes): listed, unproven.
    assert lines[5].startswith("These 3 item versions were recorded after the last digest the checkpoint holds")
    assert lines[9].startswith("The whole file (entry ids, outcomes, the scope) is signed by the same key")
    assert lines[10].startswith(f"Check that test.example/journal's key id {KEY.verifier.key_id.hex()} is the")
    code, stdout, _ = await _run_cli(db, "evidence", "verify", str(out), "--public-key", KEY.verifier.text())
    assert code == 0 and "Check that" not in stdout
    code, _, err = await _run_cli(db, "evidence", "verify", str(out), "--public-key", OTHER_KEY.verifier.text())
    assert code == 1 and err.startswith(f"NOT PROVEN: it is signed by {KEY.verifier.text()}, not by the key you trust")


async def test_every_changed_byte_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    data = evidence.serialize(evidence.sign_package(package, KEY))
    assert evidence.verify_package(data).whole_file_signed
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x01
        try:
            evidence.verify_package(bytes(changed))
        except evidence.EvidenceError:
            continue
        pytest.fail(f"byte {position} changed unnoticed: {data[position - 30 : position + 30]!r}")


async def test_unsigned_package_proves_entries_only(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    proven = evidence.verify_package(evidence.serialize(package))
    assert not proven.whole_file_signed and len(proven.entries) == 3
    # A content change, even re-serialized canonically, breaks the entry's hash.
    package["entries"][0]["content"]["text"] = "другой текст"
    with pytest.raises(evidence.EvidenceError, match="its content does not match its hash"):
        evidence.verify_package(evidence.serialize(package))
    # A valid entry moved to another position does not fit the proof.
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    package["entries"][0]["index"] += 1
    with pytest.raises(evidence.EvidenceError, match="inclusion proof does not lead to the checkpoint's root"):
        evidence.verify_package(evidence.serialize(package))


async def test_an_author_s_package(db: str, keyed: object, tmp_path: Path) -> None:
    await _incident(tmp_path)
    author = await Author.get(vk_id=AUTHOR_VK_ID)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"author_id": author.id})
    assert [e["content"]["action"] for e in package["entries"]] == ["vk.delete", "comment.restore", "comment.delete"]
    assert evidence.verify_package(evidence.serialize(package)).entries == package["entries"]
    with pytest.raises(evidence.EvidenceError, match="one conversation, operator or author"):
        await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"item_id": 1})


async def test_a_journal_that_no_longer_matches_gives_no_package(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    await _entries(1, start=20)  # after the checkpoint: left out, not a problem
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    assert len(package["entries"]) == 3
    with pytest.raises(evidence.EvidenceError, match="no checkpoint of a non-empty journal"):
        await evidence.build_package(tmp_path, KEY.verifier, scope={"operator_id": 1})
    first = package["entries"][0]["id"]
    await _behind_the_triggers(db, f"UPDATE journal_entry SET text = 'иначе' WHERE id = {first}")
    with pytest.raises(evidence.EvidenceError, match=f"^journal entry {first} does not match its hash"):
        await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    if db.startswith("postgres"):
        await _behind_the_triggers(db, "DELETE FROM journal_entry WHERE id = 12")
    else:  # its triggers are dropped already
        await connections.get("default").execute_query("DELETE FROM journal_entry WHERE id = 12")
    with pytest.raises(evidence.EvidenceError, match="^the journal does not match checkpoint-000000000012.txt"):
        await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
