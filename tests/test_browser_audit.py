"""A manager investigates in a real browser: finds a deleted comment by a word, opens its history,
restores it, reads the team's journal, exports one operator's journal as CSV (the file holds the rows
the page shows), searches content and journal, and follows a timeline.

Pictures for docs/guide.md go to test-artifacts/guide/, in both languages and at both widths.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import expect

from proxy import actions, local_actions, refusals
from proxy.models import JournalEntry, OutboxRow, OutboxStatus
from proxy.runtime.app import create_app
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import SPAM_TEXT, Story
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page, screenshot_path
from tests.guide_shots import opening, shoot_guide

pytestmark = pytest.mark.browser
WAIT_MS = 15_000


@pytest.fixture
async def audit_server(aiohttp_server, vk_settings, story: Story):
    """The service on a port (no background workers: a restore stays queued, as the page then says).

    The operator's day adds a few entries to their journal, one with a comma, quotes and a line break,
    so the CSV's quoting is compared too.
    """
    dialog = story.other_conversation.id
    await local_actions.add_note(vk_settings, story.operator, dialog, 'Клиент пишет "срочно", перезвонить\nзавтра')
    await local_actions.assign(vk_settings, story.operator, dialog, story.operator.id)
    await actions.close_conversation(vk_settings, story.operator, dialog)
    return await aiohttp_server(create_app(vk_settings))


async def _journal_rows_on_page(page) -> list[tuple[str, str, str, str]]:
    """(id, action, text, outcome) of each row the journal page shows."""
    return await page.eval_on_selector_all(
        "#journal li.journal-line",
        """rows => rows.map(r => [
            r.dataset.entry,
            r.dataset.action,
            (r.querySelector('details.technical dd.text') || {textContent: ''}).textContent,
            (r.querySelector('.line-meta .badge.outcome') ? r.querySelector('.line-meta .badge.outcome').className.split(' ').pop() : ''),
        ])""",
    )


async def test_manager_investigates_in_the_browser(browser, audit_server, story: Story) -> None:
    base = str(audit_server.make_url("/"))
    # A Russian-speaking browser, as the team uses (Accept-Language: ru).
    page = await browser.new_page(
        viewport={"width": 1366, "height": 900}, accept_downloads=True, locale="ru-RU"
    )
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, story.manager)

    # Deleted content: find the comment by a word of its text (an earlier version has it too).
    await page.click("header a[href='/deleted']")
    await page.wait_for_selector("#deleted-filters")
    await page.fill("#deleted-filters input[name=q]", "пылесос")
    await page.press("#deleted-filters input[name=q]", "Enter")
    item = page.locator(f"#deleted-item-{story.proxy_deleted.id}")
    # htmx swaps the list and puts the filters in the address (bookmarkable). Waits use expect(), not
    # wait_for_function: the Content-Security-Policy forbids the eval that one needs.
    await expect(page.locator("#deleted article.deleted-item")).to_have_count(1, timeout=WAIT_MS)
    await expect(item.locator(".text mark").first).to_have_text("пылесос")
    await page.wait_for_url("**/deleted?*q=*", timeout=WAIT_MS)
    assert parse_qs(urlsplit(page.url).query)["q"] == ["пылесос"]

    # Its history: both versions, and who deleted it.
    await item.locator("details.history summary").click()
    states = item.locator("details.history ol.states > li")
    await states.first.wait_for()
    assert await states.count() == 3
    assert await states.evaluate_all("els => els.map(e => e.className)") == [
        "state created", "state edited", "state deleted",
    ]  # fmt: skip
    texts = await item.locator("details.history ol.states .text").all_text_contents()
    assert texts == ["Купите пылесос недорого", SPAM_TEXT, SPAM_TEXT]
    assert "оператором" in await states.nth(2).text_content()
    deleted_url = page.url

    async def history_open(shot) -> None:
        await shot.goto(deleted_url)
        shown = shot.locator(f"#deleted-item-{story.proxy_deleted.id}")
        await shown.locator("details.history summary").click()
        await shown.locator("details.history ol.states > li").first.wait_for()

    await shoot_guide(page, story.manager, "deleted", history_open)

    # Restore it from there: queued for VK, journaled, and the page says where it stands.
    await item.locator("form.restore-form button").click()
    await page.locator(f"#deleted-item-{story.proxy_deleted.id} .restore-state").wait_for(timeout=WAIT_MS)
    assert (
        "ждёт отправки"
        in await page.locator(f"#deleted-item-{story.proxy_deleted.id} .restore-state").text_content()
    )
    row = await OutboxRow.get(method__endswith="restoreComment")
    assert (row.status, row.operator_id, row.item_id) == (
        OutboxStatus.PENDING,
        story.manager.id,
        story.proxy_deleted.id,
    )
    assert (await JournalEntry.get(action="comment.restore")).operator_id == story.manager.id

    # The team's journal, then one operator's: filtered in place, the address follows.
    await page.click("header a[href='/journal']")
    await page.wait_for_selector("#journal li.journal-line")
    assert await page.locator("h1").text_content() == "Журнал команды"
    await shoot_guide(page, story.manager, "journal", opening(page.url, "#journal li.journal-line"))
    await page.select_option("#journal-filters select[name=operator]", str(story.operator.id))
    expected = await JournalEntry.filter(operator_id=story.operator.id).order_by("-id")
    await expect(page.locator("#journal li.journal-line")).to_have_count(len(expected), timeout=WAIT_MS)
    await page.wait_for_url(f"**/journal?*operator={story.operator.id}*", timeout=WAIT_MS)
    assert parse_qs(urlsplit(page.url).query)["operator"] == [str(story.operator.id)]
    shown = await _journal_rows_on_page(page)
    assert [int(r[0]) for r in shown] == [e.id for e in expected] and len(shown) == 5

    # Export CSV: the downloaded file holds exactly the rows the page shows.
    async with page.expect_download() as download_info:
        await page.click("#journal a.export")
    download = await download_info.value
    assert download.suggested_filename == "journal.csv"
    content = Path(await download.path()).read_bytes()  # a few hundred bytes: reading it blocks nobody
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"), newline="")))
    assert [(r["id"], r["action"], r["text"], r["outcome"]) for r in rows] == [tuple(r) for r in shown]
    assert {r["operator"] for r in rows} == {story.operator.login}

    # Incident search: content and journal, grouped by conversation, with a timeline behind each group.
    await page.click("header a[href='/search']")
    await page.fill("#search-form input[name=q]", "пароль")
    await page.press("#search-form input[name=q]", "Enter")
    group = page.locator(f"#hits-conversation-{story.other_conversation.id}")
    await group.wait_for(timeout=WAIT_MS)
    assert await group.locator("li.hit").count() == 2  # the author's message and the manager's note
    hits = f"#hits-conversation-{story.other_conversation.id} li.hit"
    await shoot_guide(page, story.manager, "search", opening(page.url, hits))

    await group.locator("a.timeline-link").click()
    await page.wait_for_selector("#events li.event")
    assert urlsplit(page.url).query == f"conversation={story.other_conversation.id}"
    kinds = await page.eval_on_selector_all("#events li.event", "els => els.map(e => e.classList[1])")
    about = await JournalEntry.filter(conversation_id=story.other_conversation.id).count()
    assert kinds == ["item", "delete"] + ["journal"] * about and about == 5
    await shoot_guide(page, story.manager, "timeline", opening(page.url, "#events li.event"))

    # The author's timeline, linked from the deleted-content rows.
    await page.goto(base + "deleted?q=" + "черствый")
    await page.locator(f"#deleted-item-{story.vk_story.id} header a[href^='/timeline?author=']").click()
    await page.wait_for_selector("#events li.event")
    assert "Хронология автора" in await page.locator("h1").text_content()
    await shoot_guide(page, story.manager, "timeline-author", opening(page.url, "#events li.event"))
    assert errors == []


async def test_operator_journal_refusals_and_bad_filters_in_the_browser(
    browser, audit_server, story: Story
) -> None:
    base = str(audit_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, story.operator)
    assert await page.locator("header a[href='/deleted']").count() == 0  # not offered to operators

    await page.click("header a[href='/journal']")
    await page.wait_for_selector("#journal li.journal-line")
    assert await page.locator("h1").text_content() == "Мой журнал"
    mine = (
        await JournalEntry.filter(operator_id=story.operator.id).order_by("-id").values_list("id", flat=True)
    )
    shown = await page.eval_on_selector_all(
        "#journal li.journal-line", "rows => rows.map(r => Number(r.dataset.entry))"
    )
    assert shown == list(mine)
    await shoot_guide(page, story.operator, "journal-operator", opening(page.url, "#journal li.journal-line"))

    # Filters with nothing to show: said in words.
    await page.fill("#journal-filters input[name=action]", "author.ban")
    await page.press("#journal-filters input[name=action]", "Enter")
    await expect(page.locator("#journal .empty")).to_have_text("С этими фильтрами записей в журнале нет.")
    await page.screenshot(path=screenshot_path("audit-journal-empty.png"), full_page=True)

    # A bad parameter in the address: 400, the reason on the page.
    response = await page.goto(base + "journal?from=2025-13-01")
    assert response.status == 400
    await expect(page.locator("#journal .error")).to_contain_text("from должен быть датой вида 2025-03-01")
    await page.screenshot(path=screenshot_path("audit-journal-400.png"), full_page=True)

    # Someone else's journal, the deleted content: 403 with the reason, journaled.
    response = await page.goto(base + f"journal?operator={story.manager.id}")
    assert response.status == 403
    await expect(page.locator(".denied .error")).to_have_text("Вы можете читать только свой журнал.")
    response = await page.goto(base + "deleted")
    assert response.status == 403
    await expect(page.locator(".denied .error")).to_have_text(
        "Эта страница открыта только менеджерам и администраторам."
    )
    await page.screenshot(path=screenshot_path("audit-denied.png"), full_page=True)
    await refusals.flush()  # refusals are counted, then journaled with the others of their minute
    denied = await JournalEntry.filter(action="access.denied", operator_id=story.operator.id)
    assert sum(entry.params["count"] for entry in denied) == 2
    # The browser's own console reports each 400 and 403 document load; nothing else may be there.
    assert [e for e in errors if "status of 40" not in e] == []
