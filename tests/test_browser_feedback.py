"""Feedback after an action on the conversation page, in Debian's chromium against the live server and the
VK emulator: a ban, a delete, a restore and a reply show at once that they are on their way, then VK's
outcome, pushed in place (no reload); a restored comment keeps the mark of its deletion; closing without a
reply asks first, with an optional reason. VK is held back (the emulator's delay) only so that the state
before its answer can be seen; nothing here is timed.

Runs on SQLite only (the fan-out across instances on PostgreSQL is covered by tests/test_live_*.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from proxy import actions
from proxy.models import Conversation, ConversationClose, JournalEntry, OutboxRow, OutboxStatus
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import (
    VIEWPORTS,
    horizontal_overflow,
    log_in_page,
    screenshot_path,
    shoot_in_every_view,
)
from tests.guide_shots import shoot_guide
from web.views.conversation_live import CONVERSATION_BROADCASTER

pytestmark = pytest.mark.browser
# Generous: the long poll, the outbox worker and the page each take their turn; none is timed here.
WAIT_MS = 15_000
# VK answers this late while the test looks at the page before the answer.
HELD_SECONDS = 2.0


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only (a browser run costs seconds): a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def _open(page, base: str, server, world, text: str) -> tuple[Conversation, Any]:
    """A member comments; the operator opens the conversation from the inbox and its stream is open."""
    comment = world.scenario.member_comments(world.group, world.members[0], world.post, text)
    row = page.locator("#conversation-list tr[data-row]", has_text=text)
    await row.wait_for(timeout=WAIT_MS)
    await row.locator("a").click()
    await page.wait_for_selector("#timeline")
    conversation = await Conversation.get(preview=text)
    broadcaster = server.app[CONVERSATION_BROADCASTER]
    async with asyncio.timeout(WAIT_MS / 1000):
        while broadcaster.streams_on(conversation.id) < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return conversation, comment


async def _logged_in(browser, server, operator, *, locale: str = "en", viewport=None):
    operator.locale = locale
    await operator.save(update_fields=["locale"])
    page = await browser.new_page(viewport=viewport or VIEWPORTS["desktop"])
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await log_in_page(page, str(server.make_url("/")), operator)
    return page, errors


async def test_ban_and_delete_show_at_once_then_vk_s_outcome(
    browser, live_server, operator, world, community
) -> None:
    base = str(live_server.make_url("/"))
    page, errors = await _logged_in(browser, live_server, operator)
    conversation, comment = await _open(page, base, live_server, world, "Buy followers cheap")
    item = await conversation.items.all().first()

    # The ban: "banning" at once, then "Banned" pushed into the card when VK accepts it.
    world.state.faults.delay("groups.ban", HELD_SECONDS)
    await page.click("#author-card summary")
    await page.select_option("#author-card select[name=reason]", "1")
    await page.click("#author-card form[action$='/ban'] button[type=submit]")
    await page.locator("#author-card .action-state.pending, #author-card .action-state.sending").wait_for(
        timeout=WAIT_MS
    )
    assert "Banning in VK" in await page.locator("#author-card").inner_text()
    await page.locator("#author-card .badge.danger", has_text="Banned").wait_for(timeout=WAIT_MS)
    assert await page.locator("#author-card .action-state").count() == 0

    # The delete: marked at once as being deleted, then deleted when VK accepts it.
    world.state.faults.delay("wall.deleteComment", HELD_SECONDS)
    await page.click(f"#item-{item.id} button[hx-post$='/delete']")
    await page.locator(f"#item-{item.id}.moderating").wait_for(timeout=WAIT_MS)
    assert "Deleting in VK" in await page.locator(f"#item-{item.id}").inner_text()
    await page.screenshot(path=screenshot_path("feedback-delete-pending-en-desktop.png"), full_page=True)
    await page.locator(f"#item-{item.id}.deleted:not(.moderating)").wait_for(timeout=WAIT_MS)
    assert (await OutboxRow.get(method="wall.deleteComment")).status == OutboxStatus.SENT

    # The restore: the entry keeps "deleted ..., restored ..." once VK accepts it.
    await page.click(f"#item-{item.id} button[hx-post$='/restore']")
    await page.locator(f"#item-{item.id} .restored-note").wait_for(timeout=WAIT_MS)
    await page.locator(f"#item-{item.id}:not(.deleted):not(.moderating)").wait_for(timeout=WAIT_MS)
    mark = await page.locator(f"#item-{item.id} .restored-note").inner_text()
    assert "Deleted" in mark and "restored" in mark and mark.count("Olga") == 2
    assert errors == []


async def test_the_reply_notice_goes_when_sent_or_becomes_the_failure(
    browser, live_server, operator, world, community
) -> None:
    base = str(live_server.make_url("/"))
    page, errors = await _logged_in(browser, live_server, operator)
    await _open(page, base, live_server, world, "Do you ship to Kazan?")

    world.state.faults.delay("wall.createComment", HELD_SECONDS)
    await page.fill("#reply textarea[name=text]", "Yes, we do.")
    await page.click("#reply button[type=submit]")
    await page.locator("#reply [data-queued-outbox]").wait_for(timeout=WAIT_MS)
    await page.locator("#timeline .outbox-state.sent").wait_for(timeout=WAIT_MS)
    await page.locator("#reply [data-queued-outbox]").wait_for(state="detached", timeout=WAIT_MS)
    assert await page.locator("#reply p.ok, #reply p.error").count() == 0

    world.state.faults.error("wall.createComment", 15, message="Access denied")
    await page.fill("#reply textarea[name=text]", "And to Samara.")
    await page.click("#reply button[type=submit]")
    await page.locator("#reply p.error[role=alert]").wait_for(timeout=WAIT_MS)
    assert await page.locator("#reply p.error").inner_text() == "The reply was not sent: access denied"
    assert await page.locator("#reply [data-queued-outbox]").count() == 0
    assert errors == []


async def test_closing_without_a_reply_asks_with_reasons(
    browser, live_server, operator, world, community
) -> None:
    base = str(live_server.make_url("/"))
    page, errors = await _logged_in(browser, live_server, operator)
    conversation, comment = await _open(page, base, live_server, world, "Same question again")

    form = page.locator("#conversation-header details.close-form")
    assert not await form.locator("button[type=submit]").is_visible()  # one click does not close it
    await form.locator("summary").click()
    await form.locator("input[value=duplicate]").check()
    await form.locator("button[type=submit]").click()
    await page.locator("#conversation-header form[action$='/reopen']").wait_for(timeout=WAIT_MS)
    assert (await ConversationClose.get(conversation_id=conversation.id)).reason == "duplicate"
    assert (await JournalEntry.get(action="conversation.close")).params["reason"] == "duplicate"
    assert errors == []


async def test_close_form_without_javascript(browser, live_server, operator, world, community) -> None:
    """The plain form (no script runs) closes too, and the reason is kept."""
    base = str(live_server.make_url("/"))
    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    world.scenario.member_comments(world.group, world.members[0], world.post, "No script here")
    async with asyncio.timeout(WAIT_MS / 1000):
        while (conversation := await Conversation.get_or_none(preview="No script here")) is None:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    from tests.browser_fixtures import PASSWORD, hash_password  # noqa: PLC0415

    operator.password_hash = hash_password(PASSWORD)
    await operator.save(update_fields=["password_hash"])
    await page.goto(base + "login")
    await page.fill("input[name=login]", operator.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.goto(base + f"conversations/{conversation.id}")
    await page.click("#conversation-header details.close-form summary")
    await page.check("#conversation-header input[value=spam]")
    await page.click("#conversation-header details.close-form button[type=submit]")
    await page.locator("#conversation-header form[action$='/reopen']").wait_for(timeout=WAIT_MS)
    assert (await ConversationClose.get(conversation_id=conversation.id)).reason == "spam"
    await context.close()


async def test_guide_pictures(browser, live_server, operator, world, community) -> None:
    """guide/conversation-actions: the close form with its reasons and a restored comment's mark, in
    Russian and English at desktop and phone width."""
    base = str(live_server.make_url("/"))
    page, _ = await _logged_in(browser, live_server, operator)
    conversation, comment = await _open(page, base, live_server, world, "Как оформить возврат?")
    item = await conversation.items.all().first()
    await page.click(f"#item-{item.id} button[hx-post$='/delete']")
    await page.locator(f"#item-{item.id}.deleted:not(.moderating)").wait_for(timeout=WAIT_MS)
    await page.click(f"#item-{item.id} button[hx-post$='/restore']")
    await page.locator(f"#item-{item.id} .restored-note").wait_for(timeout=WAIT_MS)
    await page.locator(f"#item-{item.id}:not(.moderating)").wait_for(timeout=WAIT_MS)
    # The deletion ended the author's wait; a follow-up makes them wait again, so closing asks first.
    world.scenario.member_comments(world.group, world.members[0], world.post, "Жду ответа", reply_to=comment)
    await page.locator("#conversation-header details.close-form").wait_for(timeout=WAIT_MS)
    await page.close()
    for locale in ("ru", "en"):
        for view, viewport in VIEWPORTS.items():
            shot, errors = await _logged_in(browser, live_server, operator, locale=locale, viewport=viewport)
            try:
                await shot.goto(base + f"conversations/{conversation.id}")
                await shot.click("#conversation-header details.close-form summary")
                await shot.check("#conversation-header input[value=no_answer_needed]")
                await shot.locator(f"#item-{item.id} .restored-note").wait_for(timeout=WAIT_MS)
                assert await horizontal_overflow(shot) == 0, (locale, view)
                await shot.screenshot(
                    path=screenshot_path(f"guide/conversation-actions-{locale}-{view}.png"), full_page=True
                )
                assert errors == []
            finally:
                await shot.close()


async def test_guide_pictures_of_refused_actions_and_a_queued_reply(
    browser, live_server, operator, world, community
) -> None:
    """guide/conversation-feedback: a ban and a delete VK refused, each saying why, and the notice of a
    reply on its way to VK (VK holds the replies back while the pictures are taken)."""
    base = str(live_server.make_url("/"))
    page, errors = await _logged_in(browser, live_server, operator)
    world.state.faults.delay("wall.createComment", 60, times=None)
    spam = iter(["Накрутка подписчиков, пишите в личку", "Дешёвые подписчики, пишите в личку",
                 "Раскрутка групп недорого, пишите", "Продвижение страниц, пишите в личку"])  # fmt: skip
    refused = {"groups.ban": 0, "wall.deleteComment": 0}

    async def vk_refused(method: str) -> None:
        refused[method] += 1
        async with asyncio.timeout(WAIT_MS / 1000):
            while await OutboxRow.filter(method=method, status=OutboxStatus.FAILED).count() < refused[method]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)

    async def replying(shot: Any) -> None:
        # A conversation a picture, so that each shows one reply on its way.
        shot.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))  # "Delete?"
        await shot.goto(base)
        conversation, _comment = await _open(shot, base, live_server, world, next(spam))
        item = await conversation.items.all().first()
        world.state.faults.error("groups.ban", 15, message="Access denied")
        await shot.click("#author-card summary")
        await shot.select_option("#author-card select[name=reason]", "1")
        await shot.click("#author-card form[action$='/ban'] button[type=submit]")
        await vk_refused("groups.ban")
        world.state.faults.error("wall.deleteComment", 15, message="Access denied")
        await shot.click(f"#item-{item.id} button[hx-post$='/delete']")
        await vk_refused("wall.deleteComment")
        await shot.locator(f"#item-{item.id} .action-state.failed").wait_for(timeout=WAIT_MS)
        await shot.locator("#author-card .action-state:not(.failed)").wait_for(
            state="detached", timeout=WAIT_MS
        )
        await shot.locator("#author-card .action-state.failed").first.wait_for(timeout=WAIT_MS)
        await shot.fill("#reply textarea[name=text]", "Такие предложения здесь не публикуем.")
        await shot.click("#reply button[type=submit]")
        await shot.locator("#reply [data-queued-outbox]").wait_for(timeout=WAIT_MS)
        assert await horizontal_overflow(shot) == 0

    shots = await shoot_guide(page, operator, "conversation-feedback", replying)
    assert len(shots) == 4 and errors == []
    await page.close()


async def test_guide_pictures_of_closings_by_reason(
    browser, live_server, operator, manager, world, community, vk_settings
) -> None:
    """guide/stats-close-reasons: "closed without a reply" in the statistics, by the reason given."""
    for n, reason in enumerate(["spam", "spam", "duplicate", "no_answer_needed", None]):
        text = f"Вопрос номер {n}"
        world.scenario.member_comments(world.group, world.members[n % len(world.members)], world.post, text)
        async with asyncio.timeout(WAIT_MS / 1000):
            while (conversation := await Conversation.get_or_none(preview=text)) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await actions.close_conversation(vk_settings, operator, conversation.id, reason=reason)
    today = (await ConversationClose.first()).closed_at.astimezone(vk_settings.tz).date().isoformat()
    base = str(live_server.make_url("/"))
    shots = await shoot_in_every_view(
        browser,
        base,
        manager,
        f"/stats/drill?metric=closed_without_reply&from={today}&to={today}",
        "guide/stats-close-reasons",
        ready="#close-reasons",
    )
    assert len(shots) == 4
