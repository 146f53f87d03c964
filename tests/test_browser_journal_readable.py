"""A manager reads the journal as sentences in a real browser, opens an entry's technical details, and
meets the error page; pictures for docs/guide.md in Russian and English at desktop and phone width.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from proxy import actions, local_actions
from proxy.audit.journal import OUTCOME_ACTION
from proxy.models import JournalEntry
from proxy.runtime.app import create_app
from tests.actions_fixtures import drain
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import Story
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page, shoot_in_every_view

pytestmark = pytest.mark.browser
WAIT_MS = 15_000


@pytest.fixture
async def readable_server(aiohttp_server, vk_settings, world, mirror, story: Story):
    """The team's day: a reply in private messages, a ban with an end, a note, a closing."""
    story.operator.display_name = "Анна Петрова"
    await story.operator.save(update_fields=["display_name"])
    story.manager.display_name = "Мария Соколова"
    await story.manager.save(update_fields=["display_name"])
    dialog, _item, _ = await mirror.message(world.members[0], "Добрый вечер, когда будет доставка заказа?")
    await actions.reply(
        vk_settings, story.operator, dialog.id, "Добрый день! Доставка завтра с 10 до 14 часов."
    )
    until = datetime(2026, 12, 5, 9, 0, tzinfo=UTC).replace(year=2027)
    await actions.ban_author(vk_settings, story.operator, dialog.id, reason=1, comment="реклама", until=until)
    await drain(vk_settings)
    await local_actions.add_note(vk_settings, story.manager, dialog.id, "Проверить, дошёл ли заказ")
    await actions.close_conversation(vk_settings, story.operator, dialog.id)
    return await aiohttp_server(create_app(vk_settings))


async def test_the_journal_reads_as_sentences_in_the_browser(browser, readable_server, story: Story) -> None:
    base = str(readable_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, story.manager)
    await page.goto(base + "journal")
    lines = page.locator("#journal li.journal-line")
    shown = await JournalEntry.exclude(action=OUTCOME_ACTION).count()  # outcome records show on their entries
    await expect(lines).to_have_count(shown, timeout=WAIT_MS)
    reply = page.locator("#journal li.journal-line[data-action='reply.send']")
    sentence = await reply.locator(".sentence").inner_text()
    assert sentence.startswith("Анна Петрова ответила автору") and "в личных сообщениях" in sentence
    assert "«Добрый день! Доставка завтра" in sentence
    ban = await page.locator("#journal li.journal-line[data-action='author.ban'] .sentence").inner_text()
    assert "забанила автора" in ban and "до 5 декабря 2027, 12:00 (причина: спам)" in ban
    # The codes are hidden until asked for, then there as stored.
    details = reply.locator("details.technical")
    assert not await details.locator("code", has_text="reply.send").is_visible()
    await details.locator("summary").click()
    await expect(details.locator("code", has_text="reply.send")).to_be_visible()
    # The author's name leads to the conversation in the proxy.
    await reply.locator(".sentence a[href^='/conversations/']").first.click()
    await page.wait_for_url("**/conversations/*", timeout=WAIT_MS)
    assert errors == []


async def test_journal_and_error_page_pictures(browser, readable_server, story: Story) -> None:
    base = str(readable_server.make_url("/"))
    shots = await shoot_in_every_view(
        browser, base, story.manager, "/journal", "guide/journal-readable", ready="#journal li.journal-line"
    )
    assert len(shots) == 4
    shots = await shoot_in_every_view(
        browser, base, story.manager, "/conversations/987654", "guide/error-page", ready="article.error-page"
    )
    assert len(shots) == 4


async def test_a_missing_conversation_in_the_browser_is_the_error_page(
    browser, readable_server, story: Story
) -> None:
    base = str(readable_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
    await log_in_page(page, base, story.operator)
    response = await page.goto(base + "conversations/987654")
    assert response is not None and response.status == 404
    await expect(page.locator("article.error-page h1")).to_have_text("Не найдено")
    await page.locator("article.error-page a[href='/']").click()
    await page.wait_for_selector("#conversation-list")
