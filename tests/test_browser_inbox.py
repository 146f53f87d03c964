"""An operator's day in a real browser: log in, a message arrives live, reply, close, and the journal.

Runs on SQLite only (the live fan-out on PostgreSQL is covered by tests/test_inbox_views.py).
"""

from __future__ import annotations

import pytest

from proxy.models import Conversation, ConversationStatus, JournalEntry, Operator, OutboxRow, OutboxStatus
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page, screenshot_path
from tests.guide_shots import opening, shoot_guide

pytestmark = pytest.mark.browser
# Generous: the long poll, the outbox worker and the page each take their turn; none is timed here.
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only (a browser run costs seconds): a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def test_operator_works_the_queue_in_the_browser(
    browser, live_server, operator, world, community
) -> None:
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, operator)
    # The stream starts from where the list was rendered (data-live-since), so nothing falls in between.
    await page.wait_for_selector("[data-live-url] #conversation-list[data-live-since]")

    # Record every request the page makes: live updates must not make any, and nothing may poll.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    member = world.members[0]
    comment = world.scenario.member_comments(
        world.group, world.members[1], world.post, "Когда будет в наличии?"
    )
    comment_row = page.locator("#conversation-list tr[data-row]", has_text="Когда будет в наличии?")
    await comment_row.wait_for(timeout=WAIT_MS)  # no reload: the row was pushed and placed
    world.scenario.member_writes_message(world.group, member, "Где мой заказ №48213? <b>срочно</b>")
    row = page.locator("#conversation-list tr[data-row]", has_text="Где мой заказ №48213? <b>срочно</b>")
    await row.wait_for(timeout=WAIT_MS)
    # Both wait; the comment has waited longer (or as long, and came first): it is the first row.
    assert await _row_texts(page) == ["Когда будет в наличии?", "Где мой заказ №48213? <b>срочно</b>"]

    # An edit changes the row where it stands.
    world.scenario.member_edits(world.group, comment, "Когда будет в наличии синий?")
    await page.locator("#conversation-list tr[data-row]", has_text="Когда будет в наличии синий?").wait_for(
        timeout=WAIT_MS
    )
    assert await _row_texts(page) == ["Когда будет в наличии синий?", "Где мой заказ №48213? <b>срочно</b>"]
    # A deletion by its author withdraws the wait: the row moves below the waiting one, without a badge.
    world.scenario.member_deletes(world.group, comment)
    await _rows_become(page, ["Где мой заказ №48213? <b>срочно</b>", "Когда будет в наличии синий?"])
    assert await _row_texts(page) == ["Где мой заказ №48213? <b>срочно</b>", "Когда будет в наличии синий?"]
    assert await comment_row.locator("[data-since]").count() == 0
    assert await row.locator("[data-since]").count() == 1
    assert not [url for url in requests if "/live" not in url], requests  # the list was never re-fetched
    await shoot_guide(page, operator, "inbox", opening(base, "#conversation-list tr[data-row]"))

    await row.locator("a").click()
    await page.wait_for_selector("#timeline")
    await page.keyboard.press("r")
    await page.keyboard.type("Здравствуйте! Заказ передан курьеру, он будет у вас завтра.")
    await page.click("#reply button[type=submit]")
    await page.locator(".outbox-state.sent").wait_for(timeout=WAIT_MS)  # the emulated VK accepted it
    assert not [url for url in requests if "/outbox/" in url], "the reply's state was polled"
    sent = [m for m in world.group.messages.values() if m.text.startswith("Здравствуйте! Заказ передан")]
    assert len(sent) == 1 and sent[0].peer_id == member.id
    await shoot_guide(page, operator, "conversation", opening(page.url, ".outbox-state.sent"))

    await page.goto(base)
    await (
        page.locator("#conversation-list tr[data-row]", has_text="Когда будет в наличии синий?")
        .locator("a")
        .click()
    )
    await page.wait_for_selector("#conversation-header")
    await page.click("#conversation-header form[action$='/close'] button")
    # Its wait was withdrawn by the deletion: closed, with nothing owed, and it can be reopened.
    await page.locator("#conversation-header form[action$='/reopen']").wait_for(timeout=WAIT_MS)

    closed = await Conversation.get(key__startswith="wall:")
    assert closed.status == ConversationStatus.CLOSED
    assert (await OutboxRow.get(method="messages.send")).status == OutboxStatus.SENT
    journal = [
        (entry.action, entry.operator_id)
        for entry in await JournalEntry.filter(action__in=["reply.send", "conversation.close"]).order_by("id")
    ]
    assert journal == [("reply.send", operator.id), ("conversation.close", operator.id)]
    assert errors == []

    # Filters hold live: a page showing the wall only takes a new comment and leaves a new message out.
    await page.goto(base + "?channel=wall")
    await page.wait_for_selector("[data-live-url] #conversation-list[data-live-since]")
    world.scenario.member_writes_message(world.group, world.members[2], "Сообщение не для стены")
    world.scenario.member_comments(world.group, world.members[2], world.post, "Комментарий для стены")
    await page.locator("#conversation-list tr[data-row]", has_text="Комментарий для стены").wait_for(
        timeout=WAIT_MS
    )
    # The message came first (one long-poll stream, in order): it was pushed, and left out of this view.
    assert await page.locator("#conversation-list", has_text="Сообщение не для стены").count() == 0

    # For the eye: the inbox and a conversation in both languages, at desktop and phone width.
    conversation_url = base + f"conversations/{closed.id}"
    for locale in ("ru", "en"):
        await Operator.filter(id=operator.id).update(locale=locale)
        for width, height, name in ((1280, 800, "desktop"), (390, 844, "phone")):
            await page.set_viewport_size({"width": width, "height": height})
            await page.goto(base + "?status=all")
            await page.wait_for_selector("#conversation-list tr[data-row]")
            await page.screenshot(path=screenshot_path(f"live/inbox-{locale}-{name}.png"), full_page=True)
            await page.goto(conversation_url)
            await page.wait_for_selector("#timeline")
            await page.screenshot(
                path=screenshot_path(f"live/conversation-{locale}-{name}.png"), full_page=True
            )
    assert errors == []


async def _rows_become(page, expected: list[str]) -> None:
    """Wait (within WAIT_MS) until the queue shows these rows in this order (no reload)."""
    for _ in range(WAIT_MS // 100):
        if await _row_texts(page) == expected:
            return
        await page.wait_for_timeout(100)


async def _row_texts(page) -> list[str]:
    """The previews of the queue's rows, top to bottom."""
    return await page.locator("#conversation-list tr[data-row] td.preview").all_inner_texts()
