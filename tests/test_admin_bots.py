"""The admin pages of Telegram bots: adding one (a bad form first), editing it, "Connect" and "Test the
connection" against the Telegram emulator, and an operator's linked Telegram account.

Refusals answer 422 with the reason on the form and write nothing; the token never appears in a page or in
the journal.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy.crypto import decrypt_token
from proxy.models import Community, CommunityMode, JournalEntry, Network, Operator, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token, log_in
from tg_emulator import TgState, start_tg_emulator

SECRET = "Webhook_Secret-42"


@dataclasses.dataclass
class Bots:
    client: TestClient
    settings: Settings
    state: TgState
    token: str
    bot_id: int
    admin: Operator


@pytest.fixture
async def bots(aiohttp_client: Any, vk_settings: Settings, community: Community) -> AsyncIterator[Bots]:
    """An admin's client of the app, with Telegram's calls going to the emulator (one bot in it)."""
    state = TgState()
    bot = state.add_bot("shop_help_bot", "Shop help")
    emulator = await start_tg_emulator(state, retry_schedule=(0.05,))
    settings = dataclasses.replace(vk_settings, telegram_api_base=emulator.base_url)
    client = await aiohttp_client(create_app(settings))
    admin = await Operator.create(login="ada", display_name="Ada", password_hash="x", role=Role.ADMIN)
    await log_in(client, admin)
    yield Bots(client, settings, state, bot.token, bot.id, admin)
    await emulator.close()


async def post(
    client: TestClient, url: str, fields: dict[str, str], *, htmx: bool = False
) -> tuple[int, str]:
    token = await csrf_token(client)
    data = list(fields.items())
    headers = {"HX-Request": "true", "X-CSRF-Token": token} if htmx else {}
    if not htmx:
        data.append(("csrf_token", token))
    response = await client.post(url, data=data, headers=headers, allow_redirects=False)
    return response.status, await response.text()


def bot_form(token: str, **overrides: str) -> dict[str, str]:
    return {"name": "Поддержка магазина", "bot_token": token, "secret": SECRET, "mode": "callback",
            "sla_minutes": "20", **overrides}  # fmt: skip


async def whole_journal() -> str:
    rows = await JournalEntry.all().values("text", "params", "outcome_detail")
    return json.dumps(rows, ensure_ascii=False, default=str)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"bot_token": "not a token"}, "bot_token", "не похоже на токен бота"),
        ({"secret": "has spaces in it"}, "secret", "секрет"),
        ({"name": ""}, "name", "нужно название"),
        ({"mode": "carrier-pigeon"}, "mode", "вебхук"),
    ],
)
async def test_a_bad_bot_form_is_refused_with_the_field_s_reason_and_writes_nothing(
    bots: Bots, overrides: dict[str, str], field: str, message: str
) -> None:
    status, body = await post(bots.client, "/admin/bots", bot_form(bots.token, **overrides), htmx=True)
    assert status == 422 and body.lstrip().startswith('<section id="bot"')
    assert message in body.lower(), body
    # The first field marked invalid is the one the reason is about.
    assert f'name="{field}"' in body.split('aria-invalid="true"')[0].rsplit("<", 1)[-1]
    assert bots.token not in body
    assert await Community.filter(network=Network.TELEGRAM).count() == 0
    assert not await JournalEntry.filter(action="community.add", operator_id=bots.admin.id).exists()


async def test_a_bot_is_added_connected_and_tested_and_its_token_never_shown(bots: Bots) -> None:
    page = await (await bots.client.get("/admin/bots/new")).text()
    assert 'name="bot_token" type="password"' in page
    proposed = page.split('name="secret" value="', 1)[1].split('"', 1)[0]
    assert len(proposed) == 32

    status, _ = await post(bots.client, "/admin/bots", bot_form(bots.token))
    assert status == 303
    bot = await Community.get(network=Network.TELEGRAM, vk_group_id=bots.bot_id)
    assert decrypt_token(bots.settings.secret_key, bot.community_token_enc or "") == bots.token
    assert (bot.name, bot.callback_secret, bot.sla_seconds) == ("Поддержка магазина", SECRET, 1200)

    status, body = await post(bots.client, "/admin/bots", bot_form(bots.token, name="Again"), htmx=True)
    assert status == 422 and "уже" in body
    assert await Community.filter(network=Network.TELEGRAM).count() == 1

    listing = await (await bots.client.get("/admin/communities")).text()
    assert "network-telegram" in listing and "network-vk" in listing
    assert f'href="/admin/bots/{bot.id}"' in listing
    redirected = await bots.client.get(f"/admin/communities/{bot.id}", allow_redirects=False)
    assert redirected.headers["Location"] == f"/admin/bots/{bot.id}"

    status, answer = await post(bots.client, f"/admin/bots/{bot.id}/connect", {}, htmx=True)
    assert status == 200 and answer.lstrip().startswith('<div id="bot-connect"')
    assert "check-ok" in answer and "check-failed" not in answer
    hook = bots.state.bots[bots.bot_id].webhook
    assert hook is not None
    assert hook.url == f"{bots.settings.public_url}/callback/telegram/{bots.bot_id}"
    assert hook.secret_token == SECRET

    status, answer = await post(bots.client, f"/admin/bots/{bot.id}/test", {}, htmx=True)
    assert status == 200 and answer.lstrip().startswith('<div id="bot-test"')
    assert "@shop_help_bot" in answer and "check-failed" not in answer

    whole = await (await bots.client.get(f"/admin/bots/{bot.id}")).text()
    assert f'hx-post="/admin/communities/{bot.id}/active"' in whole and 'hx-target="#bot"' in whole
    assert "Перестать обслуживать этого бота?" in whole
    assert bots.token not in whole and bots.token not in await whole_journal()
    [connected] = await JournalEntry.filter(action="community.connect")
    [tested] = await JournalEntry.filter(action="community.test")
    assert (connected.operator_id, connected.outcome, tested.outcome) == (bots.admin.id, "done", "done")
    journal_page = await (await bots.client.get("/journal", headers={"HX-Request": "true"})).text()
    assert (
        "к прокси: всё в порядке" in journal_page and ": <code>community.connect</code>" not in journal_page
    )


async def test_editing_a_bot_says_to_reconnect_after_a_new_secret_and_refuses_another_bot_s_token(
    bots: Bots,
) -> None:
    await post(bots.client, "/admin/bots", bot_form(bots.token))
    bot = await Community.get(network=Network.TELEGRAM)
    url = f"/admin/bots/{bot.id}"

    status, _ = await post(bots.client, url, bot_form("", sla_minutes="30"))
    assert status == 303
    assert "Сохранено." in await (await bots.client.get(url)).text()
    assert (await Community.get(id=bot.id)).sla_seconds == 1800

    status, _ = await post(bots.client, url, bot_form("", secret="Another_secret", mode="longpoll"))
    assert status == 303
    page = await (await bots.client.get(url)).text()
    assert "Подключить" in page and "нажмите «Подключить»" in page
    fresh = await Community.get(id=bot.id)
    assert (fresh.callback_secret, fresh.mode) == ("Another_secret", CommunityMode.LONGPOLL)
    [entry] = await JournalEntry.filter(action="community.update").order_by("-id").limit(1)
    assert entry.params["changes"]["callback_secret"] == "changed"
    assert "Another_secret" not in await whole_journal()

    other = bots.state.add_bot("other_bot", "Other")
    status, body = await post(bots.client, url, bot_form(other.token), htmx=True)
    assert status == 422 and str(other.id) in body and other.token not in body
    fresh = await Community.get(id=bot.id)
    assert decrypt_token(bots.settings.secret_key, fresh.community_token_enc or "") == bots.token


async def test_an_operator_s_telegram_account_is_linked_once_and_must_be_a_positive_number(
    bots: Bots, operator: Operator, manager: Operator
) -> None:
    url = f"/admin/operators/{operator.id}"
    fields = {"display_name": "Ольга", "role": "operator", "vk_user_id": "", "telegram_user_id": "5550001"}
    status, _ = await post(bots.client, url, fields)
    assert status == 303
    assert (await Operator.get(id=operator.id)).telegram_user_id == 5550001
    assert 'value="5550001"' in await (await bots.client.get(url)).text()

    taken = {**fields, "display_name": "M", "role": "manager"}
    status, body = await post(bots.client, f"/admin/operators/{manager.id}", taken, htmx=True)
    assert status == 422 and "уже привязан" in body
    for bad in ("-5", "abc", "0"):
        status, body = await post(bots.client, url, {**fields, "telegram_user_id": bad}, htmx=True)
        assert status == 422 and "telegram" in body.lower(), bad
    assert (await Operator.get(id=operator.id)).telegram_user_id == 5550001
    assert (await Operator.get(id=manager.id)).telegram_user_id is None
