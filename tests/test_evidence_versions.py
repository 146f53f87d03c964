"""An evidence package carries every version of the items concerned, proven against the journal's digest."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from proxy.audit import checkpoints, evidence, history, journal
from proxy.models import ItemVersion, JournalEntry
from tests.audit_fixtures import at, make_base, make_deleted_comment_story
from tests.test_journal_checkpoints import KEY, _run_cli
from tests.test_journal_history import _behind_the_triggers


@pytest.fixture
def keyed() -> object:
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


async def _incident(tmp_path: Path) -> tuple[int, int]:
    """A deleted comment of three versions, digested and checkpointed; then a fourth version, not yet."""
    base = await make_base()
    item = await make_deleted_comment_story(base)
    await checkpoints.issue(KEY, directory=tmp_path / "cps", webhook=None, settle_seconds=0)
    await ItemVersion.create(item=item, number=4, text="Позднее", valid_from=at(3, 12))
    return base.conversation.id, item.id


async def test_versions_are_proven_against_the_digest(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id, item_id = await _incident(tmp_path)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    digest = await JournalEntry.get(action=history.DIGEST_ACTION)
    assert package["item_versions"]["digest_entry"] == digest.id
    assert digest.id in [e["id"] for e in package["entries"]]  # the digest itself is proven by the checkpoint
    versions = package["item_versions"]["versions"]
    assert [(v["row"]["item_id"], v["row"]["number"], v["index"] is not None) for v in versions] == [
        (item_id, 1, True), (item_id, 2, True), (item_id, 3, True), (item_id, 4, False),
    ]  # fmt: skip
    out = tmp_path / "incident.json"
    out.write_bytes(evidence.serialize(package))
    code, stdout, err = await _run_cli("sqlite:///nonexistent/none.sqlite3", "evidence", "verify", str(out))
    assert (code, err) == (0, "")
    assert (
        f"These 3 item versions are, byte for byte, rows of the item versions digested in entry"
        f" #{digest.id} (id {digest.id}) above" in stdout
    )
    assert f"  item {item_id} version 2 (2025-03-02T09:10:00.000000+00:00): 'Хлеб черствый, верните деньги'" in stdout
    assert "These 1 item versions were recorded after the last digest the checkpoint holds" in stdout
    assert f"  item {item_id} version 4 (2025-03-03T12:00:00.000000+00:00): 'Позднее'" in stdout


async def test_a_changed_version_in_the_file_is_found(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id, _ = await _incident(tmp_path)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    evidence.verify_package(evidence.serialize(package))
    version = package["item_versions"]["versions"][1]
    version["row"]["text"] = "Хлеб отличный"
    with pytest.raises(evidence.EvidenceError, match="its row does not match its digest"):
        evidence.verify_package(evidence.serialize(package))
    version["digest"] = hashlib.sha256(history.leaf_bytes(version["row"])).hexdigest()  # made to match
    with pytest.raises(evidence.EvidenceError, match="its proof does not lead to the root digested in journal entry"):
        evidence.verify_package(evidence.serialize(package))
    # Nor can a version be proven against a root the package does not hold in a proven entry.
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    digest_entry = next(e for e in package["entries"] if e["content"]["action"] == history.DIGEST_ACTION)
    digest_entry["content"]["params"]["item_version"]["root"] = base64.b64encode(b"\0" * 32).decode()
    with pytest.raises(evidence.EvidenceError, match="its content does not match its hash"):
        evidence.verify_package(evidence.serialize(package))


async def test_a_version_rewritten_in_the_database_gives_no_package(db: str, keyed: object, tmp_path: Path) -> None:
    conversation_id, item_id = await _incident(tmp_path)
    await _behind_the_triggers(
        db, "item_version", f"UPDATE item_version SET text = 'Хлеб отличный' WHERE item_id = {item_id} AND number = 2"
    )
    with pytest.raises(evidence.EvidenceError, match="the item versions no longer match their digest in journal entry"):
        await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})


async def test_an_operator_s_package_holds_the_items_its_entries_name(db: str, keyed: object, tmp_path: Path) -> None:
    base = await make_base()
    item = await make_deleted_comment_story(base)
    await journal.record(
        "comment.delete", actor_kind=journal.ActorKind.OPERATOR, operator_id=base.operator.id,
        community_id=base.community.id, conversation_id=base.conversation.id, item_id=item.id,
    )  # fmt: skip
    await checkpoints.issue(KEY, directory=tmp_path / "cps", webhook=None, settle_seconds=0)
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"operator_id": base.operator.id})
    assert [v["row"]["number"] for v in package["item_versions"]["versions"]] == [1, 2, 3]
    assert len(evidence.verify_package(evidence.serialize(package)).versions.proven) == 3
