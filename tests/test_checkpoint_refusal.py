"""When the background task cannot make a checkpoint, someone hears of it: journaled once per reason,
posted to the webhook, shown on the managers' page until a checkpoint is made again; and the running
app does run the task."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from proxy.accounts import hash_password
from proxy.appkeys import BACKGROUND
from proxy.audit import checkpoint_task, journal
from proxy.models import JournalEntry, Operator, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import PASSWORD, log_in
from tests.test_journal_checkpoints import KEY, _entries, _forged


@pytest.fixture
def keyed() -> object:
    journal.use_key(KEY)
    yield KEY
    journal.use_key(None)


def _task_settings(directory: Path | None, webhook: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        journal_key=KEY, journal_checkpoint_dir=str(directory) if directory else None,
        journal_checkpoint_webhook=webhook, journal_checkpoint_interval=0.01,
    )  # fmt: skip


async def _refusals() -> list[JournalEntry]:
    return await JournalEntry.filter(action=checkpoint_task.REFUSED).order_by("id")


async def test_a_forged_entry_is_journaled_once_and_posted(
    db: str, keyed: object, tmp_path: Path, aiohttp_server
) -> None:
    received: list[tuple[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.text()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    settings = _task_settings(tmp_path / "cps", str(server.make_url("/hook")))
    await _entries(2)
    async with aiohttp.ClientSession() as http:
        assert await checkpoint_task.issue_once(settings, http) is not None
        assert await checkpoint_task.current_refusal() is None
        head = await JournalEntry.all().order_by("-id").first()
        forged = _forged(head.hash)
        await forged.save()
        for _ in range(3):  # three intervals, one reason: one entry, one post
            assert await checkpoint_task.issue_once(settings, http) is None
    [refused] = await _refusals()
    assert refused.text.startswith(f"checkpoint refused: journal entry {forged.id}: ")
    assert refused.mac is not None  # written with the key, like every entry of the running service
    assert [kind for kind, _ in received] == ["text/plain", "application/json"]
    alert = json.loads(received[1][1])
    assert alert == {
        "type": "journal.checkpoint_refused",
        "origin": KEY.name,
        "reason": refused.text,
        "at": refused.created_at.isoformat(),
        "journal_entry": refused.id,
    }
    current = await checkpoint_task.current_refusal()
    assert current is not None and (current.reason, current.entry_id) == (refused.text, refused.id)
    assert [p.name for p in (tmp_path / "cps").iterdir()] == ["checkpoint-000000000002.txt"]  # none since


async def test_the_alarm_holds_until_a_checkpoint_is_made(db: str, keyed: object, tmp_path: Path) -> None:
    await _entries(2)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    for _ in range(2):
        assert await checkpoint_task.issue_once(_task_settings(blocked), None) is None
    # Another reason is journaled too, once.
    webhook = _task_settings(tmp_path / "cps", "http://127.0.0.1:9/hook")
    for _ in range(2):
        assert await checkpoint_task.issue_once(webhook, None) is None
    first, second = await _refusals()
    assert first.text.startswith("the checkpoint file: ") and str(blocked) in first.text
    assert second.text.startswith("the checkpoint webhook failed: ")
    assert (await checkpoint_task.current_refusal()).entry_id == second.id
    # A checkpoint made again ends it, journaled once.
    for _ in range(2):
        assert await checkpoint_task.issue_once(_task_settings(tmp_path / "cps"), None) is not None
    assert await checkpoint_task.current_refusal() is None
    [resumed] = await JournalEntry.filter(action=checkpoint_task.RESUMED)
    assert resumed.id > second.id and resumed.params["size"] > 0
    # The same reason as before the resumption is a new failure, journaled again.
    assert await checkpoint_task.issue_once(_task_settings(blocked), None) is None
    assert len(await _refusals()) == 3


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, journal_key=KEY, journal_checkpoint_dir=str(tmp_path / "cps"))


async def _manager(locale: str = "") -> Operator:
    return await Operator.create(
        login=f"manager-{locale or 'browser'}",
        password_hash=hash_password(PASSWORD),
        role=Role.MANAGER,
        locale=locale,
    )


async def test_the_page_shows_the_alarm_until_a_checkpoint_is_made(client, tmp_path: Path) -> None:
    await log_in(client, await _manager())
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    await checkpoint_task.issue_once(_task_settings(blocked), None)
    body = await (await client.get("/journal/checkpoints")).text()
    assert 'class="checkpoint-refused" role="alert"' in body
    assert "Контрольные точки остановлены: последнюю не удалось создать" in body
    assert "the checkpoint file: " in body
    # The journal tells it in words too.
    journal_page = await (await client.get("/journal")).text()
    assert "Прокси не смог создать контрольную точку журнала: the checkpoint file: " in journal_page
    await checkpoint_task.issue_once(_task_settings(tmp_path / "cps"), None)
    body = await (await client.get("/journal/checkpoints")).text()
    assert "checkpoint-refused" not in body and "checkpoint-000000000002.txt" in body


async def test_the_page_shows_the_alarm_in_english(client, tmp_path: Path) -> None:
    await log_in(client, await _manager("en"))
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    await checkpoint_task.issue_once(_task_settings(blocked), None)
    body = await (await client.get("/journal/checkpoints")).text()
    assert "Checkpoints have stopped: the last one could not be made" in body


@pytest.fixture
def running_settings(settings: Settings) -> Settings:
    return replace(settings, workers=True, journal_checkpoint_interval=0.05)


async def test_the_running_app_issues_checkpoints(
    aiohttp_client, running_settings: Settings, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(running_settings))
    try:
        task = client.app[BACKGROUND]["journal_checkpoints"]
        assert not task.done()
        directory = tmp_path / "cps"
        for _ in range(400):  # the task's only sign is the file it writes
            if directory.is_dir() and list(directory.iterdir()):
                break
            await asyncio.sleep(0.05)
        names = [p.name for p in directory.iterdir()]
        assert len(names) == 1 and names[0].startswith("checkpoint-")
    finally:
        await client.close()
    assert task.done()  # stopped with the app
