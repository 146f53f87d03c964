"""Feedback after an action on the conversation page, in a real browser against the live server and the VK
emulator: a ban, a delete and a reply show where they stand at once and then their outcome, pushed; a
restored comment keeps its mark; closing without a reply asks for a reason.

Runs on SQLite only (the fan-out across instances on PostgreSQL is covered by tests/test_live_*.py).
"""

from __future__ import annotations

import time

import pytest

from proxy.models import Conversation
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page

pytestmark = pytest.mark.browser
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def test_probe(browser, live_server, operator, world, community) -> None:
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await log_in_page(page, base, operator)
    member = world.members[0]
    world.scenario.member_comments(world.group, member, world.post, "Спам спам")
    row = page.locator("#conversation-list tr[data-row]", has_text="Спам спам")
    await row.wait_for(timeout=WAIT_MS)
    await row.locator("a").click()
    await page.wait_for_selector("#timeline")
    conversation = await Conversation.get(key__startswith="wall:")
    page.on("dialog", lambda dialog: dialog.accept())
    started = time.monotonic()
    await page.click("#timeline button[hx-post$='/delete']")
    await page.locator("#timeline article.deleted").wait_for(timeout=WAIT_MS)
    print("DELETE MARKED AFTER", time.monotonic() - started, conversation.id)
