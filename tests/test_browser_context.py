"""A comment conversation in a real browser with its context: the post it is under (from the community's
wall_post_new) and a video fetched in the background, shown above the timeline; "Answer this" says whom
the reply goes to, and can be cancelled. Takes the guide's pictures `guide/conversation-parent`.

Runs on SQLite only, like the other browser tests. VK's image servers are out of reach here, so the page's
requests for them are answered with a picture drawn by the test (Playwright's routing); the addresses,
and the Content-Security-Policy that lets them in, are the real ones.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest

from proxy.db.sql import SqlQuery
from proxy.models import Conversation, Item
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
WAIT_MS = 15_000
POST = (
    "Друзья, мы открыли второй магазин «Северный ветер» на Невском проспекте, 28! В честь открытия "
    "до конца месяца скидка 20% на всю верхнюю одежду, а первым ста покупателям — термокружка в подарок. "
    "Ждём вас каждый день с 10 до 22. Примерочных стало вдвое больше, есть парковка для покупателей и "
    "детский уголок. Пишите в комментариях, какие модели привезти в новый магазин в первую очередь."
)
PHOTO = {
    "type": "photo",
    "photo": {
        "id": 457239017,
        "owner_id": -1,
        "sizes": [
            {"type": "x", "width": 604, "height": 403, "url": "https://sun9-31.userapi.com/shop-opening.jpg"}
        ],
    },
}


@pytest.fixture
async def db_url(sqlite_factory):
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


def _png(width: int = 240, height: int = 160) -> bytes:
    """A small picture (a sky-to-sea gradient), enough to see where the parent's image goes."""
    rows = b"".join(
        b"\x00" + bytes(c for _ in range(width) for c in (40 + y // 2, 110 + y // 3, 190 - y // 4))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class _ImagesServed:
    """The browser, with VK's image servers answered by the test's picture on every new page."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.picture = _png()

    def wrapped(self, browser: Any) -> _ImagesServed:
        """The same for another browser (browser_fixtures.browser_in: one speaking a picture's language)."""
        return _ImagesServed(browser)

    async def new_page(self, **options: Any) -> Any:
        page = await self.browser.new_page(**options)
        await self.serve_images(page)
        return page

    async def serve_images(self, page: Any) -> None:
        await page.route(
            "https://*.userapi.com/**",
            lambda route: route.fulfill(status=200, content_type="image/png", body=self.picture),
        )


async def _until(condition: Any) -> None:
    async with asyncio.timeout(WAIT_MS / 1000):
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def _parents_loaded(count: int) -> bool:
    rows = await SqlQuery().rows("SELECT state FROM thread_parent")
    return [r["state"] for r in rows].count("loaded") == count


async def test_a_comment_conversation_shows_what_it_is_under(
    browser, live_server, operator, world, community
) -> None:
    base = str(live_server.make_url("/"))
    browser = _ImagesServed(browser)
    member, other = world.members[0], world.members[1]
    post = world.state.add_post(world.group, POST, attachments=[PHOTO])
    question = world.scenario.member_comments(
        world.group, member, post, "А куртки из новой коллекции уже есть в новом магазине?"
    )
    world.scenario.member_comments(
        world.group, other, post, "Присоединяюсь, особенно интересует зелёная парка размера M", question
    )
    video_target = world.state.add_target(
        world.group, "video", "Обзор новой коллекции: парки, бомберы и пуховики"
    )
    world.scenario.member_comments_video(world.group, member, video_target, "Какая модель на 2:15?")

    async def both_conversations() -> bool:
        return (
            await Item.filter(text__startswith="Присоединяюсь").exists()
            and await Conversation.filter(key__startswith="video:").exists()
        )

    await _until(both_conversations)
    wall = await Conversation.get(key__startswith="wall:")
    video = await Conversation.get(key__startswith="video:")

    page = await browser.new_page(viewport=VIEWPORTS["desktop"])
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await log_in_page(page, base, operator)
    # The wall thread: its post (shortened, "more" opens the rest), its picture, date and link. The post
    # came with its wall_post_new, or, when the long poll started after it (the comments then came by
    # catch-up sync), is fetched with wall.getById. The live pages' broadcaster starts with the first page
    # open on any conversation: a fetch that ends before that is seen on the next read, hence the reload.
    broadcaster = live_server.app[CONVERSATION_BROADCASTER]
    await page.goto(f"{base}conversations/{wall.id}")

    async def wall_page_live() -> bool:
        return broadcaster.streams_on(wall.id) == 1

    await _until(wall_page_live)
    await page.reload()
    parent = page.locator('#thread-parent[data-parent-state="loaded"]')
    await parent.wait_for(timeout=WAIT_MS)
    assert await parent.locator("img").evaluate("image => image.naturalWidth") == 240
    # The emulator's community: nothing links to vk.com, where its ids are strangers' pages.
    assert await parent.locator('a[href^="https://vk.com/"]').count() == 0
    ending = "какие модели привезти в новый магазин в первую очередь."
    assert not await parent.get_by_text(ending, exact=False).is_visible()
    await parent.locator(".thread-parent-more").click()
    await parent.get_by_text(ending, exact=False).wait_for()

    # "Answer this" on the reply: the cue names its author and its first words; Cancel takes it back.
    reply_item = await Item.get(text__startswith="Присоединяюсь").select_related("author")
    await page.locator(f"#item-{reply_item.id} [data-reply-to]").click()
    cue = page.locator("#reply [data-reply-cue]")
    await cue.wait_for()
    name = (await page.locator(f"#item-{reply_item.id} header strong").inner_text()).strip()
    assert (await cue.locator("[data-reply-cue-name]").inner_text()).strip() == name
    assert (await cue.locator("[data-reply-cue-text]").inner_text()).startswith(
        "Присоединяюсь, особенно интересует зелёная парка"
    )
    assert await page.locator("#reply [data-reply-target]").input_value() == str(reply_item.id)
    await page.screenshot(path=screenshot_path("context/reply-cue-ru-desktop.png"), full_page=True)
    await cue.locator("[data-reply-cancel]").click()
    assert await cue.is_hidden()
    assert await page.locator("#reply [data-reply-target]").input_value() == ""
    # The video's parent is asked for by its first page view and fetched in the background; loaded
    # meanwhile, it is pushed into the open page (the live pages' broadcaster runs since the first page
    # opened, above).
    response = await page.goto(f"{base}conversations/{video.id}")
    assert 'data-parent-state="pending"' in await response.text()
    await page.wait_for_selector('#thread-parent[data-parent-state="loaded"]', timeout=WAIT_MS)
    assert await _parents_loaded(2)
    assert (
        await page.locator("#thread-parent .thread-parent-text").inner_text()
    ).strip() == video_target.text
    await page.screenshot(path=screenshot_path("context/video-parent-ru-desktop.png"), full_page=True)

    assert errors == []
    await page.close()

    # At phone width nothing sticks out, the cue included.
    phone = await browser.new_page(viewport=VIEWPORTS["phone"])
    await log_in_page(phone, base, operator)
    await phone.goto(f"{base}conversations/{wall.id}")
    await phone.locator(f"#item-{reply_item.id} [data-reply-to]").click()
    await phone.locator("#reply [data-reply-cue]").wait_for()
    assert await horizontal_overflow(phone) == 0
    await phone.screenshot(path=screenshot_path("context/reply-cue-ru-phone.png"), full_page=True)

    async def replying(shot: Any) -> None:
        await browser.serve_images(shot)
        await shot.goto(f"{base}conversations/{wall.id}")
        await shot.locator(f"#item-{reply_item.id} [data-reply-to]").click()
        await shot.locator("#reply [data-reply-cue]").wait_for()
        await shot.eval_on_selector("#reply", "box => box.scrollIntoView({block: 'end'})")
        assert await horizontal_overflow(shot) == 0

    # Only the screen around the cue: the replied comment above, the reply box below.
    assert len(await shoot_guide(phone, operator, "reply-cue", replying, full_page=False)) == 4
    await phone.close()

    shots = await shoot_in_every_view(
        browser,
        base,
        operator,
        f"/conversations/{wall.id}",
        "guide/conversation-parent",
        ready="#thread-parent",
    )
    assert len(shots) == 4
    await shoot_in_every_view(
        browser, base, operator, f"/conversations/{video.id}", "context/video-parent", ready="#thread-parent"
    )
