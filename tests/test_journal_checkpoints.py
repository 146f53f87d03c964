"""Signed checkpoints and keyed MACs: what someone with write access to the database can no longer hide.

Each attack is run the way an administrator would (statements the triggers refuse, run behind them),
and `proxy journal verify --checkpoints DIR` (or the keyed chain) must name it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web

from proxy.audit import checkpoint_task, checkpoints, journal, signing
from proxy.audit.verify import verify_chain
from proxy.models import ActorKind, JournalEntry, Outcome
from proxy.settings import Settings, SettingsError
from tests.audit_fixtures import at
from tests.test_audit_verify import _behind_the_triggers

KEY = signing.JournalKey.generate("test.example/journal")
OTHER_KEY = signing.JournalKey.generate("test.example/journal")


@pytest.fixture
def keyed() -> object:
    """New entries carry KEY's MACs for the test's length."""
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


async def _run_cli(db_url: str, *args: str, key: signing.JournalKey | None = KEY) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("PROXY_JOURNAL_KEY_FILE", None)
    env["PROXY_JOURNAL_KEY"] = key.text() if key is not None else ""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def _entries(count: int, start: int = 0) -> list[JournalEntry]:
    entries = []
    for n in range(start, start + count):
        entries.append(
            await journal.record(
                "reply.send" if n % 2 else "comment.delete",
                actor_kind=ActorKind.OPERATOR,
                text=f"ответ {n}",
                params={"n": n},
                outcome=Outcome.PENDING,
                at=at(4, 10, n % 60, 0, 1000 * n),
            )
        )
    return entries


def _forged(prev_hash: str, text: str = "удалено оператором", mac: str | None = None) -> JournalEntry:
    """An entry built by hand: the current head as prev_hash and a correct SHA-256, but no journal key."""
    entry = JournalEntry(
        created_at=at(5, 9),
        actor_kind=ActorKind.OPERATOR,
        action="comment.delete",
        text=text,
        params={"item": 4},
        outcome=Outcome.DONE,
        outcome_at=at(5, 9),
        prev_hash=prev_hash,
        mac=mac,
    )
    entry.hash = journal.entry_hash(entry)
    return entry


async def _rewrite_from(db: str, entries: list[JournalEntry], index: int) -> None:
    """Insert a forged entry before entries[index] and re-chain everything after it with fresh hashes."""
    await _behind_the_triggers(db, f"DELETE FROM journal_entry WHERE id >= {entries[index].id}")
    prev = entries[index - 1].hash
    forged = _forged(prev)
    await forged.save()
    prev = forged.hash
    for old in entries[index:]:
        copy = JournalEntry(
            created_at=old.created_at, actor_kind=old.actor_kind, action=old.action, text=old.text,
            params=old.params, outcome=old.outcome, prev_hash=prev,
        )  # fmt: skip
        copy.hash = journal.entry_hash(copy)
        await copy.save()
        prev = copy.hash


# The key and the note format.


def test_signed_note_matches_the_reference_vector() -> None:
    # The signed-note ecosystem's reference key and note (Go's sumdb/note tests): the same bytes here.
    key = signing.parse_private("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
    assert key.verifier.text() == "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    note = signing.sign_note(text, key)
    assert note == (
        text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    assert signing.open_note(note, signing.parse_verifier(key.verifier.text())) == text


def test_notes_by_another_key_or_changed_are_refused() -> None:
    note = signing.sign_note(checkpoints.Checkpoint(KEY.name, 3, bytes(32)).text(), KEY)
    with pytest.raises(signing.NoteError, match="no signature by test.example/journal"):
        signing.open_note(note, OTHER_KEY.verifier)
    with pytest.raises(signing.NoteError, match="is not valid"):
        signing.open_note(note.replace("\n3\n", "\n4\n"), KEY.verifier)
    with pytest.raises(signing.KeyFormatError, match="that is the private key"):
        signing.parse_verifier(KEY.text())
    with pytest.raises(signing.KeyFormatError, match="key id does not match"):
        signing.parse_private(KEY.text().replace(f"+{KEY.verifier.key_id.hex()}+", "+00000000+"))
    assert repr(KEY).startswith("JournalKey('test.example/journal', key id ")  # never the seed


def test_checkpoint_text_round_trips() -> None:
    cp = checkpoints.Checkpoint("test.example/journal", 12, bytes(range(32)))
    assert cp.text() == f"test.example/journal\n12\n{base64.b64encode(bytes(range(32))).decode()}\n"
    assert checkpoints.Checkpoint.parse(cp.text()) == cp
    for bad in ("o\n012\nAAAA\n", "o\n1\nAAAA\n", "o\nx\n" + cp.text().split("\n")[2] + "\n", "o\n1\n"):
        with pytest.raises(checkpoints.CheckpointError):
            checkpoints.Checkpoint.parse(bad)


def test_settings_read_the_journal_key(tmp_path: Path) -> None:
    path = tmp_path / "journal.key"
    path.write_text(KEY.text() + "\n")
    assert Settings.from_env({"PROXY_JOURNAL_KEY_FILE": str(path)}).journal_key == KEY
    assert Settings.from_env({"PROXY_JOURNAL_KEY": KEY.text()}).journal_key == KEY
    assert Settings.from_env({}).journal_key is None
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env({"PROXY_JOURNAL_KEY_FILE": str(path), "PROXY_JOURNAL_KEY": KEY.text()})
    with pytest.raises(SettingsError, match="^PROXY_JOURNAL_KEY: not a journal signing key"):
        Settings.from_env({"PROXY_JOURNAL_KEY": "secret"})
    with pytest.raises(SettingsError, match="needs a journal key"):
        Settings.from_env({"PROXY_JOURNAL_CHECKPOINT_INTERVAL": "60", "PROXY_JOURNAL_CHECKPOINT_DIR": "x"})
    with pytest.raises(SettingsError, match="where the checkpoints go"):
        Settings.from_env({"PROXY_JOURNAL_KEY": KEY.text(), "PROXY_JOURNAL_CHECKPOINT_INTERVAL": "60"})


async def test_key_generate_and_public(tmp_path: Path) -> None:
    path = tmp_path / "journal.key"
    db_url = f"sqlite://{tmp_path}/unused.sqlite3"
    code, out, err = await _run_cli(db_url, "journal", "key", "generate", str(path), "--name", "a.example/j")
    assert code == 0 and "set PROXY_JOURNAL_KEY_FILE" in err
    key = signing.parse_private(path.read_text())
    assert out == key.verifier.text() + "\n" and key.name == "a.example/j"
    assert path.stat().st_mode & 0o077 == 0
    code, _, err = await _run_cli(db_url, "journal", "key", "generate", str(path))
    assert (code, err) == (2, f"error: {path} exists already; a journal key is never overwritten\n")
    assert (await _run_cli(db_url, "journal", "key", "public", key=key))[:2] == (0, key.verifier.text() + "\n")
    code, _, err = await _run_cli(db_url, "journal", "checkpoint", str(tmp_path / "cps"), key=None)
    assert code == 2 and err.startswith("error: no journal key configured, so no checkpoint can be signed")


# The keyed chain.


async def test_old_entries_without_macs_still_verify(db: str) -> None:
    old = await _entries(3)
    journal.use_key(KEY)
    try:
        new = await _entries(2, start=3)
        await journal.set_outcome(new[0].id, Outcome.DONE, "ok")
    finally:
        journal.use_key(None)
    assert [e.mac is None for e in old + new] == [True, True, True, False, False]
    report = await verify_chain(key=KEY)
    assert report.ok and report.count == 6 and report.keyed_from == new[0].id  # and the outcome's record
    code, out, _ = await _run_cli(db, "journal", "verify")
    assert code == 0
    assert out.splitlines()[1] == f"entries from {new[0].id} on carry MACs, checked with the journal key"


async def test_forged_entry_with_a_correct_hash_is_caught(db: str, keyed: object) -> None:
    entries = await _entries(3)
    forged = _forged(entries[-1].hash)
    await forged.save()  # INSERT: the triggers allow it, and the plain SHA-256 chain is whole
    code, _, err = await _run_cli(db, "journal", "verify")
    assert code == 1
    assert err.splitlines()[0] == (
        f"journal entry {forged.id}: it has no MAC although the entries before it have one: it was written"
        " without the journal key (inserted by hand?)"
    )


async def test_forged_entry_with_a_made_up_mac_is_caught(db: str, keyed: object) -> None:
    entries = await _entries(3)
    forged = _forged(entries[-1].hash, mac=journal.entry_mac(_forged(entries[-1].hash), b"guessed secret"))
    forged.hash = journal.entry_hash(forged)
    await forged.save()
    assert (await verify_chain()).ok  # without the key only the hash can be checked
    report = await verify_chain(key=KEY)
    assert report.broken is not None and report.broken.entry_id == forged.id
    assert report.broken.reason.startswith("its MAC is not the journal key's")
    with pytest.raises(checkpoints.CheckpointError, match=f"checkpoint refused: journal entry {forged.id}: its MAC"):
        await checkpoints.signed_checkpoint(KEY)  # never signed into history


async def test_changed_outcome_is_caught(db: str, keyed: object, tmp_path: Path) -> None:
    entries = await _entries(4)
    await journal.set_outcome(entries[2].id, Outcome.DONE, "ok")
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    assert (await verify_chain(key=KEY)).ok
    await _behind_the_triggers(
        db,
        "UPDATE journal_entry SET outcome = 'failed', outcome_detail = 'VK refused: error 901 (forged)'"
        f" WHERE id = {entries[2].id}",
    )
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    assert err.splitlines()[0] == (
        f"checkpoint checkpoint-000000000005.txt, journal entry {entries[2].id}: its outcome (failed: VK refused:"
        " error 901 (forged)) does not carry the journal key's MAC: the outcome was changed behind the triggers"
        " (inside a signed checkpoint)"
    )


# Checkpoints.


async def test_all_good_verifies(db: str, keyed: object, tmp_path: Path) -> None:
    await _entries(3)
    code, out, err = await _run_cli(db, "journal", "checkpoint", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == f"checkpoint of 3 entries written to {tmp_path}/checkpoint-000000000003.txt\n"
    entries = await _entries(4, start=3)
    first = await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    again = await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    assert (first.checkpoint.size, first.new_file, again.new_file, again.path) == (7, True, False, first.path)
    note = first.path.read_text()
    assert note.startswith(f"test.example/journal\n7\n{base64.b64encode(first.checkpoint.root).decode()}\n\n\u2014 ")

    code, out, err = await _run_cli(
        db, "journal", "verify", "--checkpoints", str(tmp_path), "--public-key", KEY.verifier.text(), key=None
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"journal verified: 7 entries, head {entries[-1].hash}; 2 signed checkpoints match",
        "entries from 1 on carry MACs, not checked (no journal key configured)",
    ]
    code, out, _ = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 0 and out.endswith("checked with the journal key\n")


async def test_empty_journal_checkpoint(db: str, tmp_path: Path) -> None:
    issued = await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    assert issued.checkpoint.size == 0 and issued.path.name == "checkpoint-000000000000.txt"
    await _entries(2)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    report = await checkpoints.verify_against_checkpoints(tmp_path, KEY.verifier)
    assert report.ok and report.checkpoints == 2


async def test_deleted_tail_is_caught(db: str, keyed: object, tmp_path: Path) -> None:
    entries = await _entries(5)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    await _behind_the_triggers(db, f"DELETE FROM journal_entry WHERE id >= {entries[3].id}")
    assert (await verify_chain(key=KEY)).broken is None  # the chain alone cannot see it
    code, out, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        f"checkpoint checkpoint-000000000005.txt: it signs 5 entries but the journal has 3: entries after entry"
        f" {entries[2].id} were removed"
    )


async def test_entry_inserted_before_a_checkpoint_is_caught(db: str, tmp_path: Path) -> None:
    # No key at all for writing: the forger re-chains everything with fresh SHA-256 hashes.
    entries = await _entries(8)
    (tmp_path / "checkpoint-000000000003.txt").write_text(await _note_of_first(3))
    await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    await _rewrite_from(db, entries, 5)
    assert (await verify_chain()).broken is None  # a whole chain again, to anyone without checkpoints
    eighth = await JournalEntry.all().order_by("id").offset(7).first()
    assert eighth is not None
    report = await checkpoints.verify_against_checkpoints(tmp_path, KEY.verifier)
    assert report.breach is not None
    assert str(report.breach) == (
        "checkpoint checkpoint-000000000008.txt: the journal's first 8 entries do not match it: an entry after"
        f" entry {entries[2].id} (which checkpoint-000000000003.txt covers) up to entry {eighth.id} was"
        " changed, inserted or removed"
    )


async def _note_of_first(size: int) -> str:
    hashes = await JournalEntry.all().order_by("id").limit(size).values_list("hash", flat=True)
    from proxy.audit import merkle

    cp = checkpoints.Checkpoint(KEY.name, size, merkle.root([bytes.fromhex(h) for h in hashes]))
    return signing.sign_note(cp.text(), KEY)


async def test_bad_signatures_are_caught(db: str, tmp_path: Path) -> None:
    await _entries(3)
    issued = await checkpoints.issue(KEY, directory=tmp_path, webhook=None)
    assert (await checkpoints.verify_against_checkpoints(tmp_path, KEY.verifier)).ok
    note = issued.path.read_text()
    # The root hash changed to the one of a forged journal: the signature no longer holds.
    lines = note.split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    issued.path.write_text("\n".join(lines))
    code, _, err = await _run_cli(db, "journal", "verify", "--checkpoints", str(tmp_path))
    assert code == 1
    assert err.splitlines()[0] == (
        "checkpoint checkpoint-000000000003.txt: not a valid signed checkpoint: the signature of"
        f" test.example/journal (key id {KEY.verifier.key_id.hex()}) is not valid"
    )
    # A checkpoint signed with another key of the same name is not ours.
    issued.path.write_text(note)
    other = (await checkpoints.signed_checkpoint(OTHER_KEY))[1]
    (tmp_path / "checkpoint-000000000009.txt").write_text(other)
    report = await checkpoints.verify_against_checkpoints(tmp_path, KEY.verifier)
    assert str(report.breach).startswith("checkpoint checkpoint-000000000009.txt: not a valid signed checkpoint: no")


async def test_webhook_receives_each_new_checkpoint(db: str, tmp_path: Path, aiohttp_server) -> None:
    received: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.text())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    await _entries(2)
    url = str(server.make_url("/hook"))
    issued = await checkpoints.issue(KEY, directory=tmp_path, webhook=url)
    await checkpoints.issue(KEY, directory=tmp_path, webhook=url)  # nothing new: not sent again
    assert received == [issued.path.read_text()]
    with pytest.raises(checkpoints.CheckpointError, match="answered HTTP 404"):
        await checkpoints.issue(KEY, directory=None, webhook=str(server.make_url("/elsewhere")))


async def test_background_task_writes_checkpoints(db: str, tmp_path: Path) -> None:
    await _entries(2)
    settings = SimpleNamespace(
        journal_key=KEY, journal_checkpoint_dir=str(tmp_path), journal_checkpoint_webhook=None,
        journal_checkpoint_interval=0.01,
    )  # fmt: skip
    task = asyncio.create_task(checkpoint_task.issue_every_interval(settings, None))  # type: ignore[arg-type]
    try:
        while not list(tmp_path.iterdir()):  # noqa: ASYNC110 (the task's only sign is the file it writes)
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-000000000002.txt"]
