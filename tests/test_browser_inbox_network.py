"""The live inbox under the network filter, in a real browser: a Telegram row pushed live is placed in a
list filtered to Telegram and kept out of one filtered to VK (web/static/js/app.js `matches`).

Runs on SQLite only, as tests/test_browser_inbox.py does.
"""

from __future__ import annotations

import asyncio

import pytest

from proxy.models import Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page
from tests.telegram_flow_fixtures import *  # noqa: F403
from tests.telegram_flow_fixtures import Served

pytestmark = pytest.mark.browser
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only (a browser run costs seconds): a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def test_a_pushed_row_is_placed_only_under_its_own_network(browser, served: Served) -> None:
    manager = await Operator.create(login="max", display_name="Max", password_hash="-", role=Role.MANAGER)
    base = str(served.client.make_url("/"))
    pages = {}
    for network in ("vk", "telegram"):
        page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
        await log_in_page(page, base, manager)
        await page.goto(f"{base}?network={network}")
        await page.wait_for_selector(f"#conversation-list[data-filter-network={network}][data-live-since]")
        pages[network] = page

    world = served.world
    world.people.writes_to_bot(world.member, world.bot, "Is the blue one in stock?")
    await served.delivered()
    row = "#conversation-list tr[data-row][data-network=telegram]"
    await pages["telegram"].locator(row, has_text="Is the blue one in stock?").wait_for(timeout=WAIT_MS)
    # Both streams got the row at once; give the VK page's script the same moment to (not) place it.
    await asyncio.sleep(1.5)
    assert await pages["vk"].locator("#conversation-list tr[data-row]").count() == 0
    assert await pages["vk"].locator("#conversation-list p.empty").is_visible()
    assert "Private chat with the bot" in await pages["telegram"].locator(row).inner_text()
