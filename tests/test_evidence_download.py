"""Managers download an incident's evidence package from the pages; operators may not; it is journaled."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from proxy.audit import evidence, journal
from proxy.models import Author, JournalEntry, Operator
from proxy.settings import Settings
from tests.audit_fixtures import AUTHOR_VK_ID
from tests.browser_fixtures import log_in
from tests.test_journal_checkpoints import KEY
from tests.test_journal_evidence import _incident


@pytest.fixture
def keyed() -> object:
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The journal key and the checkpoint directory configured; a test may leave one out (indirect param)."""
    configured = {"journal_key": KEY, "journal_checkpoint_dir": str(tmp_path / "cps")}
    configured[getattr(request, "param", "")] = None
    configured.pop("", None)
    return replace(settings, **configured)


async def test_a_manager_downloads_what_the_command_writes(client, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    manager = await Operator.get(login="max")
    await log_in(client, manager)
    page = await (await client.get(f"/conversations/{conversation_id}")).text()
    assert f'href="/evidence?conversation={conversation_id}"' in page and "Доказательства: этот разговор" in page
    author = await Author.get(vk_id=AUTHOR_VK_ID)
    assert f'href="/evidence?author={author.id}"' in page
    timeline = await (await client.get(f"/timeline?operator={manager.id}")).text()
    assert f'href="/evidence?operator={manager.id}"' in timeline
    journal_page = await (await client.get(f"/journal?operator={manager.id}")).text()
    assert f'href="/evidence?operator={manager.id}"' in journal_page

    response = await client.get(f"/evidence?conversation={conversation_id}")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="evidence-conversation-{conversation_id}-12.json"'
    )
    data = await response.read()
    package = await evidence.build_package(tmp_path / "cps", KEY.verifier, scope={"conversation_id": conversation_id})
    assert data == evidence.serialize(evidence.sign_package(package, KEY))  # what `proxy journal evidence` writes
    proven = evidence.verify_package(data, KEY.verifier)
    assert proven.whole_file_signed and len(proven.entries) == 3
    entry = await JournalEntry.filter(action="evidence.download").get()
    assert (entry.operator_id, entry.conversation_id) == (manager.id, conversation_id)
    assert entry.params == {"scope": {"conversation_id": conversation_id}, "checkpoint_size": 12, "entries": 3}

    for query in (f"author={author.id}", f"operator={manager.id}"):
        response = await client.get(f"/evidence?{query}")
        assert response.status == 200, await response.text()
        evidence.verify_package(await response.read(), KEY.verifier)
    assert await JournalEntry.filter(action="evidence.download").count() == 3


async def test_operators_are_refused_and_missing_ids_are_not_found(client, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    await log_in(client, await Operator.get(login="olga"))
    page = await (await client.get(f"/conversations/{conversation_id}")).text()
    assert "/evidence?" not in page
    response = await client.get(f"/evidence?conversation={conversation_id}")
    assert response.status == 403
    assert await JournalEntry.filter(action="evidence.download").count() == 0
    await log_in(client, await Operator.get(login="max"))
    for query in ("conversation=999", "author=999", "operator=999"):
        assert (await client.get(f"/evidence?{query}")).status == 404, query
    assert (await client.get("/evidence")).status == 400
    assert (await client.get(f"/evidence?conversation={conversation_id}&operator=1")).status == 400


@pytest.mark.parametrize("settings", ["journal_key", "journal_checkpoint_dir"], indirect=True)
async def test_without_a_key_or_checkpoints_it_says_why(client, settings: Settings, keyed: object, tmp_path: Path) -> None:
    conversation_id = await _incident(tmp_path)
    missing = "key" if settings.journal_key is None else "directory"
    await log_in(client, await Operator.get(login="max"))
    response = await client.get(f"/evidence?conversation={conversation_id}")
    assert response.status == 409
    text = await response.text()
    assert ("Ключ журнала не настроен" if missing == "key" else "Каталог контрольных точек не настроен") in text
    assert await JournalEntry.filter(action="evidence.download").count() == 0
