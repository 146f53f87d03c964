"""A conversation page in a real browser: a new message, an edit, a deletion, a sent reply and a second
operator's arrival appear without reload, pushed once-rendered (web/views/conversation_live.py), and the
page neither re-fetches its partials nor polls the reply's state meanwhile.

Runs on SQLite only (the fan-out across instances on PostgreSQL is covered by tests/test_live_*.py).
"""

from __future__ import annotations

import asyncio
import re

import pytest

from proxy.appkeys import LIVE
from proxy.live import RESYNC_EVENT, LiveMessage
from proxy.models import Conversation, Item, OutboxRow, OutboxStatus
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page
from web.views.conversation_live import CONVERSATION_BROADCASTER

pytestmark = pytest.mark.browser
# Generous: the long poll, the outbox worker and the page each take their turn; none is timed here.
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only (a browser run costs seconds): a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def _streams_open(server, conversation_id: int, count: int) -> None:
    broadcaster = server.app[CONVERSATION_BROADCASTER]
    async with asyncio.timeout(WAIT_MS / 1000):
        while broadcaster.streams_on(conversation_id) != count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_the_conversation_page_is_pushed_its_changes(
    browser, live_server, operator, manager, world, community
) -> None:
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, operator)

    member = world.members[0]
    question = world.scenario.member_comments(world.group, member, world.post, "Есть ли доставка в Казань?")
    row = page.locator("#conversation-list tr[data-row]", has_text="Есть ли доставка в Казань?")
    await row.wait_for(timeout=WAIT_MS)
    await row.locator("a").click()
    await page.wait_for_selector("#timeline")
    conversation = await Conversation.get(key__startswith="wall:")
    await _streams_open(live_server, conversation.id, 1)
    assert await page.locator("#presence").is_hidden()  # alone on the page: nobody "also here"

    # From here on, every request the page makes is recorded: live changes must cost none.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    timeline = page.locator("#timeline")

    follow_up = world.scenario.member_comments(world.group, member, world.post, "А в Самару?", reply_to=question)
    await timeline.get_by_text("А в Самару?").wait_for(timeout=WAIT_MS)
    # Pushed alone (its entry, not the whole timeline), it took its place: after the question.
    question_id, follow_up_id = await _item_id(question.id), await _item_id(follow_up.id)
    assert await _entry_ids(page) == [f"item-{question_id}", f"item-{follow_up_id}"]
    world.scenario.member_edits(world.group, follow_up, "А в Самару и Тольятти?")
    await timeline.get_by_text("А в Самару и Тольятти?").wait_for(timeout=WAIT_MS)
    world.scenario.member_deletes(world.group, follow_up)
    await page.locator(f"#timeline #item-{await _item_id(follow_up.id)}.deleted").wait_for(timeout=WAIT_MS)

    # A reply: queued (the form's own answer), then its outcome pushed into the timeline.
    await page.keyboard.press("r")
    await page.keyboard.type("Да, доставляем в оба города.")
    await page.click("#reply button[type=submit]")
    await page.locator("#timeline .outbox-state.sent").wait_for(timeout=WAIT_MS)
    sent = await OutboxRow.get(method="wall.createComment")
    assert sent.status == OutboxStatus.SENT
    # VK's echo of the reply is its item's entry, last; the pending entry is gone.
    echo = page.locator("#timeline article[id^=item-]", has_text="Да, доставляем в оба города.")
    await echo.wait_for(timeout=WAIT_MS)
    await page.locator(f"#outbox-entry-{sent.id}").wait_for(state="detached", timeout=WAIT_MS)
    echo_id = (await Item.get(outbox_row_id=sent.id)).id
    assert await _entry_ids(page) == [f"item-{question_id}", f"item-{follow_up_id}", f"item-{echo_id}"]
    assert await page.locator("#timeline .outbox-state.sent").count() == 1

    # A second operator opens the page: the first sees her arrive; she does not see herself.
    other = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in_page(other, base, manager)
    await other.goto(base + f"conversations/{conversation.id}")
    await page.locator("#presence", has_text="Maria").wait_for(timeout=WAIT_MS)
    await _streams_open(live_server, conversation.id, 2)
    assert "Olga" in await other.locator("#presence").inner_text()
    assert "Maria" not in await other.locator("#presence").inner_text()
    assert "Olga" not in await page.locator("#presence").inner_text()
    await other.close()

    partials = re.compile(rf"/conversations/{conversation.id}/(timeline|header|author|presence)\b")
    assert not [r for r in requests if partials.search(r)], requests  # nothing was re-fetched
    assert not [r for r in requests if "/outbox/" in r], requests  # the reply's state was never polled
    assert [r for r in requests if "/live" not in r] == [f"POST {base}conversations/{conversation.id}/reply"]

    # The pushed header carried no token; the page filled in its own, and its forms still post.
    token = await page.get_attribute("meta[name=csrf-token]", "content")
    tokens = await page.eval_on_selector_all("#conversation-header input[name=csrf_token]", "els => els.map(e => e.value)")
    assert token and tokens and set(tokens) == {token}
    await page.click("#conversation-header form[action$='/close'] button")
    await page.locator("#conversation-header form[action$='/reopen']").wait_for(timeout=WAIT_MS)

    # Told to re-fetch (here: this instance's LISTEN connection came back), the page asks for each
    # partial once, and shows what they show.
    requests.clear()
    live_server.app[LIVE].deliver_locally(LiveMessage(RESYNC_EVENT, {}))
    for _ in range(WAIT_MS // 100):
        if len([r for r in requests if partials.search(r)]) >= 4:
            break
        await page.wait_for_timeout(100)
    await page.wait_for_timeout(300)
    fetched = sorted(partials.search(r).group(1) for r in requests if partials.search(r))
    assert fetched == ["author", "header", "presence", "timeline"], requests
    assert await page.locator("#timeline .outbox-state.sent").count() == 1
    assert errors == []


async def _entry_ids(page) -> list[str]:
    return await page.eval_on_selector_all("#timeline > article", "els => els.map(e => e.id)")


async def _item_id(vk_comment_id: int) -> int:
    item = await Item.get(key__endswith=f":{vk_comment_id}")
    return item.id
