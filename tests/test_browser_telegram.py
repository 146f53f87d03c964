"""A Telegram bot in a real browser, beside a VK community: an admin adds the bot through the form (a bad
token first), presses "Connect" and "Test the connection", and Telegram (the emulator, on a real port) then
delivers to this proxy's webhook with the secret; an operator answers a group message and a business chat
and deletes a spam message in the group, and the emulator shows the replies (the business one on its
business connection) and the spam gone. Pictures for docs/guide.md, "Connecting a Telegram bot".

Runs on SQLite only (a browser run costs seconds; the flow itself runs on both databases in
tests/test_telegram_flow.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy.models import Channel, Community, CommunityMode, Conversation, Item, Network, Operator, Role
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page
from tests.guide_shots import opening, shoot_guide
from tg_emulator import Bot, Chat, People, TgState, TgUser, start_tg_emulator
from tg_emulator.runner import RunningTgEmulator

pytestmark = pytest.mark.browser
# Generous: the webhook delivery, the outbox worker and the page each take their turn; none is timed here.
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only: a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


@dataclasses.dataclass
class Telegram:
    state: TgState
    people: People
    bot: Bot
    owner: TgUser
    member: TgUser
    spammer: TgUser
    group: Chat
    emulator: RunningTgEmulator

    async def delivered(self) -> None:
        """Wait until every update of the bot has been delivered to the proxy's webhook."""
        async with asyncio.timeout(WAIT_MS / 1000):
            await self.emulator.delivery.wait_idle(self.bot.id)


@dataclasses.dataclass
class Service:
    server: Any
    settings: Settings
    telegram: Telegram

    @property
    def base(self) -> str:
        return str(self.server.make_url("/"))


def _free_port() -> int:
    # The webhook's address is in the settings before the server listens, so its port is chosen first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def service(aiohttp_server: Any, vk_settings: Settings, community: Community) -> AsyncIterator[Service]:
    """The whole service on a real port (workers on), VK and Telegram emulated; the bot is not added yet."""
    state = TgState()
    people = People(state)
    bot = state.add_bot("romashka_help_bot", "Помощник «Ромашки»")
    owner = state.add_user("Ольга", "Смирнова")
    member = state.add_user("Иван", "Петров", username="ivan_p")
    spammer = state.add_user("Лёгкие", "Деньги")
    group = state.add_chat("supergroup", "Чат магазина «Ромашка»", creator=owner)
    people.adds_bot(group, bot, admin=True, by=owner)
    for user in (member, spammer):
        people.joins(user, group)
    bot.pending.clear()
    emulator = await start_tg_emulator(state, retry_schedule=(0.05,))
    port = _free_port()
    settings = dataclasses.replace(
        vk_settings, workers=True, telegram_api_base=emulator.base_url, public_url=f"http://127.0.0.1:{port}"
    )
    # VK's events reach the proxy by its long poll, as in tests/browser_fixtures.py `live_server`.
    community.mode = CommunityMode.LONGPOLL
    await community.save(update_fields=["mode"])
    server = await aiohttp_server(create_app(settings), port=port)
    telegram = Telegram(state, people, bot, owner, member, spammer, group, emulator)
    yield Service(server, settings, telegram)
    await emulator.close()


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def _add_and_connect_the_bot(browser: Any, service: Service, admin: Operator) -> Community:
    telegram = service.telegram
    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    errors = _watch(page)
    await log_in_page(page, service.base, admin)
    await page.goto(service.base + "admin/communities")
    await page.click("#add-bot")
    form = page.locator("#bot-form")
    await form.locator("input[name=name]").fill("Поддержка «Ромашки»")
    await form.locator("input[name=bot_token]").fill("12345")  # not a bot's token
    await form.locator("button[type=submit]").click()
    alert = page.locator("#bot-form [role=alert]")
    await alert.wait_for(timeout=WAIT_MS)
    assert "не похоже на токен бота" in await alert.inner_text()
    assert await page.locator("#bot-form input[name=bot_token]").get_attribute("aria-invalid") == "true"
    assert await page.locator("#bot-form input[name=bot_token]").input_value() == ""
    assert await Community.filter(network=Network.TELEGRAM).count() == 0

    form = page.locator("#bot-form")
    secret = await form.locator("input[name=secret]").input_value()
    assert len(secret) == 32  # a random secret is proposed, and kept
    await form.locator("input[name=bot_token]").fill(telegram.bot.token)
    await form.locator("input[name=sla_minutes]").fill("10")
    assert await form.locator("input[name=mode][value=callback]").is_checked()  # webhook by default

    async def filled(shot: Any) -> None:
        await shot.goto(service.base + "admin/bots/new")
        again = shot.locator("#bot-form")
        await again.locator("input[name=name]").fill("Поддержка «Ромашки»")
        await again.locator("input[name=bot_token]").fill(telegram.bot.token)
        await again.locator("input[name=sla_minutes]").fill("10")

    await shoot_guide(page, admin, "admin-bot-new", filled)
    await form.locator("button[type=submit]").click()
    await page.locator("#bot-connection").wait_for(timeout=WAIT_MS)
    bot = await Community.get(network=Network.TELEGRAM, vk_group_id=telegram.bot.id)
    assert page.url.endswith(f"/admin/bots/{bot.id}")
    assert telegram.bot.webhook is None  # adding calls nothing in Telegram

    await page.click("#connect-bot")
    await page.locator("#bot-connect li.check-ok").wait_for(timeout=WAIT_MS)
    hook = telegram.bot.webhook
    assert hook is not None
    assert (hook.url, hook.secret_token) == (
        f"{service.settings.public_url}/callback/telegram/{telegram.bot.id}",
        secret,
    )
    await page.click("#test-bot")
    await page.locator("#bot-test li.check-ok").nth(1).wait_for(timeout=WAIT_MS)
    assert "@romashka_help_bot" in await page.locator("#bot-test").inner_text()
    assert await page.locator("#bot-connection li.check-failed").count() == 0
    assert telegram.bot.token not in await page.content()
    bot_url = page.url

    async def connected(shot: Any) -> None:
        await shot.goto(bot_url)
        await shot.click("#connect-bot")
        await shot.locator("#bot-connect li.check-ok").wait_for(timeout=WAIT_MS)
        await shot.click("#test-bot")
        await shot.locator("#bot-test li.check-ok").nth(1).wait_for(timeout=WAIT_MS)

    await shoot_guide(page, admin, "admin-bot", connected)
    await page.goto(service.base + "admin/communities")
    await page.locator("#communities .network-telegram").wait_for(timeout=WAIT_MS)
    await page.close()
    # Chromium logs every 4xx answer; the one refused form (422) is expected, anything else is not.
    assert [e for e in errors if "status of 422" not in e] == []
    return bot


async def _conversation_of(text: str) -> Conversation:
    item = await Item.get(text=text)
    return await Conversation.get(id=item.conversation_id)  # type: ignore[attr-defined]


async def _reply(page: Any, text: str) -> None:
    await page.keyboard.press("r")
    await page.keyboard.type(text)
    await page.click("#reply button[type=submit]")
    await page.locator("#timeline .outbox-state.sent").wait_for(timeout=WAIT_MS)


async def test_an_admin_connects_a_bot_and_an_operator_answers_and_moderates_in_telegram(
    browser, service, operator, world, community
) -> None:
    telegram = service.telegram
    admin = await Operator.create(
        login="ada", display_name="Ада Админова", password_hash="x", role=Role.ADMIN
    )
    bot = await _add_and_connect_the_bot(browser, service, admin)
    await operator.communities.add(bot)

    # What people do: a question in the group, a customer in the business account, spam; and VK beside it.
    question = telegram.people.writes_in_group(telegram.member, telegram.group, "Вы работаете в воскресенье?")
    connection = telegram.people.connects_business(telegram.owner, telegram.bot)
    telegram.people.business_message(connection, telegram.member, "Доставите заказ в Казань?")
    spam = telegram.people.writes_in_group(
        telegram.spammer, telegram.group, "Заработок без вложений: spam.example"
    )
    member = world.members[0]
    world.scenario.member_comments(world.group, member, world.post, "Когда будет новая коллекция?")
    world.scenario.member_writes_message(world.group, world.members[1], "Здравствуйте, где мой заказ?")
    await telegram.delivered()

    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    errors = _watch(page)
    await log_in_page(page, service.base, operator)
    rows = page.locator("#conversation-list")
    for text in ("Вы работаете в воскресенье?", "Когда будет новая коллекция?", "где мой заказ?"):
        await rows.locator("tr[data-row]", has_text=text).wait_for(timeout=WAIT_MS)
    await shoot_guide(
        page, operator, "inbox-telegram", opening(service.base, "#conversation-list tr[data-row]")
    )

    # The group question: answered from its conversation page, the bot's reply lands in the group.
    group_thread = await _conversation_of("Вы работаете в воскресенье?")
    assert group_thread.channel == Channel.GROUP
    await rows.locator("tr[data-row]", has_text="Вы работаете в воскресенье?").locator("a").first.click()
    await page.wait_for_selector("#timeline")
    await _reply(page, "Да, с 10:00 до 18:00.")
    answers = [
        m
        for m in telegram.group.messages.values()
        if m.from_user is not None and m.from_user.id == telegram.bot.id
    ]
    assert [(m.text, m.reply_to.message_id if m.reply_to else None) for m in answers] == [
        ("Да, с 10:00 до 18:00.", question.message_id)
    ]
    group_url = page.url
    await page.locator("#timeline article[id^=item-]", has_text="Да, с 10:00 до 18:00.").wait_for(
        timeout=WAIT_MS
    )
    await shoot_guide(
        page, operator, "conversation-telegram", opening(group_url, "#timeline article[id^=item-]")
    )

    # The business chat: the reply goes out on the business connection it came by.
    business = await _conversation_of("Доставите заказ в Казань?")
    assert (business.channel, business.connection) == (Channel.BUSINESS, connection.id)
    await page.goto(f"{service.base}conversations/{business.id}")
    await page.wait_for_selector("#timeline")
    await _reply(page, "Да, за два дня.")
    chat = telegram.state.business_chat(connection, telegram.member)
    sent = [m for m in chat.messages.values() if m.text == "Да, за два дня."]
    assert [m.business_connection_id for m in sent] == [connection.id]

    # The spam: deleted from the group through the bot.
    spam_item = await Item.get(text="Заработок без вложений: spam.example")
    await page.goto(f"{service.base}conversations/{spam_item.conversation_id}")  # type: ignore[attr-defined]
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "Delete it?": yes
    await page.click(f"#item-{spam_item.id} button[hx-post$='/delete']")
    await page.locator(f"#item-{spam_item.id}.deleted:not(.moderating)").wait_for(timeout=WAIT_MS)
    assert telegram.group.messages[spam.message_id].deleted
    assert not telegram.group.messages[question.message_id].deleted
    assert errors == []
