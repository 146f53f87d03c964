"""The checkpoints page's "Verify now": a manager checks the database against the kept checkpoints in the
background and reads the result in the command's words; nobody else starts one, and one runs at a time."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from proxy import db as proxy_db
from proxy.accounts import hash_password
from proxy.audit import checkpoints
from proxy.models import JournalEntry, Operator, Outcome, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import PASSWORD, log_in
from tests.test_audit_verify import _behind_the_triggers
from tests.test_journal_checkpoints import KEY, _entries
from web.views import checkpoint_verification
from web.views.checkpoint_verification import VERIFICATIONS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, journal_key=KEY, journal_checkpoint_dir=str(tmp_path / "cps"))


async def _account(role: Role) -> Operator:
    return await Operator.create(login=f"{role.value}1", password_hash=hash_password(PASSWORD), role=role)


async def _manager_with_a_checkpoint(client: Any, tmp_path: Path) -> tuple[list[JournalEntry], Any, str]:
    """A manager logged in, five more entries, all signed into a kept checkpoint; the session's CSRF token."""
    await log_in(client, await _account(Role.MANAGER))
    entries = await _entries(5)
    issued = await checkpoints.issue(KEY, directory=tmp_path / "cps", webhook=None)
    page = await (await client.get("/journal/checkpoints")).text()
    match = TOKEN.search(page)
    assert match, "no Verify now form"
    return entries, issued, match.group(1)


async def _verify(client: Any, token: str) -> str:
    response = await client.post("/journal/checkpoints/verify", data={"csrf_token": token})
    assert response.status == 200  # the page again, after the redirect
    await client.app[VERIFICATIONS].finished()
    return await (await client.get("/journal/checkpoints")).text()


async def test_a_manager_verifies_and_reads_ok(client, tmp_path: Path) -> None:
    _, _, token = await _manager_with_a_checkpoint(client, tmp_path)
    page = await _verify(client, token)
    assert "Всё в порядке: база данных совпадает со всеми сохранёнными контрольными точками." in page
    assert "1 signed checkpoint matches" in page  # the command's own words
    checked = await JournalEntry.filter(action="journal.verify").get()
    walked = await JournalEntry.filter(id__lte=checked.id).count()  # up to the request itself
    assert f"Проверено записей: {walked}." in page
    assert "every 3s" not in page  # nothing runs: the page does not poll
    assert (checked.operator_id, checked.outcome) == ((await Operator.get(login="manager1")).id, Outcome.DONE)  # type: ignore[attr-defined]
    assert checked.outcome_detail is not None and checked.outcome_detail.startswith("journal verified: ")


async def test_a_removed_tail_is_shown_as_a_breach_naming_the_checkpoint(client, settings: Settings, tmp_path: Path) -> None:
    entries, issued, token = await _manager_with_a_checkpoint(client, tmp_path)
    await _behind_the_triggers(settings.database_url, f"DELETE FROM journal_entry WHERE id >= {entries[3].id}")
    page = await _verify(client, token)
    checked = await JournalEntry.filter(action="journal.verify").get()
    left = await JournalEntry.filter(id__lte=checked.id).count()  # what was left, and the request
    breach = (
        f"checkpoint {issued.path.name}: it signs {issued.checkpoint.size} entries but the journal has {left}:"
        f" entries after entry {checked.id} were removed"
    )
    assert "Найдено нарушение: база данных не совпадает с тем, что было подписано." in page
    assert breach in page
    assert (checked.outcome, checked.outcome_detail) == (Outcome.FAILED, breach)


async def test_operators_are_refused_and_nothing_starts(client) -> None:
    await log_in(client, await _account(Role.OPERATOR))
    page = await (await client.get("/")).text()
    token = re.search(r'"X-CSRF-Token": ?"([^"]+)"', page)
    assert token
    response = await client.post("/journal/checkpoints/verify", data={"csrf_token": token.group(1)})
    assert response.status == 403
    assert (await client.get("/journal/checkpoints/verification")).status == 403
    assert client.app[VERIFICATIONS].last is None
    assert not await JournalEntry.filter(action="journal.verify").exists()


async def test_a_post_without_the_csrf_token_starts_nothing(client, tmp_path: Path) -> None:
    await _manager_with_a_checkpoint(client, tmp_path)
    response = await client.post("/journal/checkpoints/verify", data={})
    assert response.status == 403
    assert client.app[VERIFICATIONS].last is None
    assert not await JournalEntry.filter(action="journal.verify").exists()


async def test_one_check_at_a_time(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, token = await _manager_with_a_checkpoint(client, tmp_path)
    entered, release = asyncio.Event(), asyncio.Event()
    real = checkpoint_verification._verify_in_own_process

    async def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(checkpoint_verification, "_verify_in_own_process", held)
    headers = {"HX-Request": "true"}
    first = await client.post("/journal/checkpoints/verify", data={"csrf_token": token}, headers=headers)
    assert first.status == 200
    await entered.wait()
    page = await (await client.get("/journal/checkpoints")).text()
    assert "Выполняется с" in page and 'hx-trigger="every 3s"' in page
    assert "Проверить сейчас" not in page  # no button while it runs
    second = await client.post("/journal/checkpoints/verify", data={"csrf_token": token}, headers=headers)
    assert "Проверка уже выполняется; её результат появится здесь." in await second.text()
    release.set()
    await client.app[VERIFICATIONS].finished()
    assert await JournalEntry.filter(action="journal.verify").count() == 1
    fragment = await (await client.get("/journal/checkpoints/verification")).text()
    assert "Всё в порядке" in fragment and "every 3s" not in fragment


async def test_without_a_checkpoint_directory_there_is_no_button(aiohttp_client, settings: Settings) -> None:
    client = await aiohttp_client(create_app(replace(settings, journal_checkpoint_dir=None)))
    await log_in(client, await _account(Role.MANAGER))
    page = await (await client.get("/journal/checkpoints")).text()
    assert "Проверить сейчас" not in page
    assert "Для проверки нужны ключ журнала и каталог контрольных точек" in page
    token = re.search(r'"X-CSRF-Token": ?"([^"]+)"', page)
    assert token
    response = await client.post("/journal/checkpoints/verify", data={"csrf_token": token.group(1)})
    assert response.status == 409
    assert client.app[VERIFICATIONS].last is None
    await client.close()
    await proxy_db.close_database()


async def test_a_check_running_at_shutdown_is_cancelled_and_journaled(
    aiohttp_client, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await aiohttp_client(create_app(settings))
    _, _, token = await _manager_with_a_checkpoint(client, tmp_path)
    entered = asyncio.Event()

    async def never_ends(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(checkpoint_verification, "_verify_in_own_process", never_ends)
    await client.post("/journal/checkpoints/verify", data={"csrf_token": token})
    await entered.wait()
    verifications = client.app[VERIFICATIONS]
    await client.close()  # the server stops
    assert not verifications.running
    assert verifications.last is not None and verifications.last.lines == ("cancelled: the proxy stopped",)
    await proxy_db.open_database(settings.database_url)
    try:
        checked = await JournalEntry.filter(action="journal.verify").get()
        assert (checked.outcome, checked.outcome_detail) == (Outcome.FAILED, "cancelled: the proxy stopped")
    finally:
        await proxy_db.close_database()
