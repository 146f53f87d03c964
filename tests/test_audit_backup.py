"""Backup export -> import into an empty database -> export again gives the same bytes, across databases."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from tortoise import connections

from proxy import db as proxy_db
from proxy.audit import journal
from proxy.audit.backup import BackupError, export_backup, import_backup
from proxy.audit.immutability import missing_guards
from proxy.audit.verify import verify_chain
from proxy.models import ActorKind, Community, JournalEntry
from tests.audit_fixtures import fill_every_table, make_base

TABLES = {
    "api_token", "author", "ban", "canned_response", "community", "conversation", "conversation_close", "item",
    "item_tombstone", "item_version", "journal_entry", "moderation_rule", "note", "operator", "operator_community",
    "outbox", "raw_event", "reaction_sample", "rule_check", "rule_hit", "team_setting",
}  # fmt: skip


async def _cli(db_url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        *args,
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize(
    ("source", "target"), [("postgres", "postgres"), ("sqlite", "postgres"), ("postgres", "sqlite")]
)
async def test_round_trip_is_byte_identical(request, tmp_path: Path, source: str, target: str) -> None:
    source_factory = request.getfixturevalue(f"{source}_factory")
    target_factory = request.getfixturevalue(f"{target}_factory")
    source_url = await source_factory.new_database()
    target_url = await target_factory.new_database()
    try:
        await proxy_db.open_database(source_url)
        await fill_every_table(await make_base())
        first = await export_backup(tmp_path / "first")
        await proxy_db.close_database()

        code, out, err = await _cli(target_url, "import", "backup", str(tmp_path / "first"))
        assert (code, err) == (0, ""), err
        total = sum(t["rows"] for t in first["tables"].values())
        assert out == f"imported {total} rows into {len(TABLES)} tables from {tmp_path / 'first'}\n"

        code, out, err = await _cli(target_url, "export", "backup", str(tmp_path / "second"))
        assert (code, err) == (0, ""), err
        assert _files(tmp_path / "first") == _files(tmp_path / "second")

        # The imported database is whole: chain intact, guards in place, ids continue after the imported.
        await proxy_db.open_database(target_url)
        report = await verify_chain()
        assert report.ok and report.count == await JournalEntry.all().count() == 4  # one a chained outcome
        assert await missing_guards(connections.get("default")) == []
        entry = await journal.record("auth.login", actor_kind=ActorKind.SYSTEM)
        assert entry.id == 5 and entry.prev_hash == report.head_hash
        assert (await Community.create(vk_group_id=1, name="next")).id == 2
    finally:
        await proxy_db.close_database()
        await source_factory.drop(source_url)
        await target_factory.drop(target_url)


async def test_manifest_and_lines(db: str, tmp_path: Path) -> None:
    base = await make_base()
    await fill_every_table(base)
    manifest = await export_backup(tmp_path / "b")
    assert set(manifest["tables"]) == TABLES and manifest["format"] == 1
    order = manifest["order"]
    # Each table after the ones it references.
    assert (
        order.index("community")
        < order.index("conversation")
        < order.index("item")
        < order.index("item_version")
    )
    assert order.index("journal_entry") < order.index("outbox") and order.index("operator") < order.index(
        "operator_community"
    )
    assert manifest["schema"][0] == "0001_initial"
    assert manifest["tables"]["item_version"]["rows"] == 5
    on_disk = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert on_disk == manifest
    first_version = (tmp_path / "b" / "item_version.jsonl").read_text().splitlines()[0]
    assert json.loads(first_version) == {
        "attachments": [],
        "forwarded": [],
        "forwarded_text": "",
        "id": 1,
        "item_id": 1,
        "number": 1,
        "recorded_at": json.loads(first_version)["recorded_at"],
        "search_terms": "хлеб черств",
        "text": "Хлеб черствый",
        "valid_from": "2025-03-02T09:00:00.000000+00:00",
    }
    assert (tmp_path / "b" / "operator_community.jsonl").read_text() == '{"community_id":1,"operator_id":1}\n'


async def test_import_refuses_damage_and_non_empty_databases(db: str, tmp_path: Path) -> None:
    await fill_every_table(await make_base())
    await export_backup(tmp_path / "b")
    with pytest.raises(BackupError, match="not an empty directory"):
        await export_backup(tmp_path / "b")
    with pytest.raises(BackupError, match=r"the database is not empty \(.* has \d+ rows\)"):
        await import_backup(tmp_path / "b")
    with pytest.raises(BackupError, match="not a backup directory"):
        await import_backup(tmp_path)


async def test_damaged_backup_writes_nothing(request, tmp_path: Path) -> None:
    factory = request.getfixturevalue("sqlite_factory")
    source, target = await factory.new_database(), await factory.new_database()
    try:
        await proxy_db.open_database(source)
        await fill_every_table(await make_base())
        await export_backup(tmp_path / "b")
        await proxy_db.close_database()
        path = tmp_path / "b" / "journal_entry.jsonl"
        path.write_bytes(path.read_bytes().replace("верните".encode(), "оставьте".encode(), 1))
        code, out, err = await _cli(target, "import", "backup", str(tmp_path / "b"))
        assert code == 2 and out == ""
        assert err == f"error: {path} does not match its checksum in the manifest: the backup is damaged\n"
        await proxy_db.open_database(target)
        assert not await Community.exists()  # tables before the damaged one were not written either
    finally:
        await proxy_db.close_database()
        await factory.drop(source)
        await factory.drop(target)
