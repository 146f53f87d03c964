"""The demo, as `make run` shows it, in a real browser: the banner saying VK is emulated above the header
on every page (small, the navigation still usable on a phone), and the connection test saying it talked
to the emulator. Screenshots for docs/guide.md: guide/demo-banner, guide/demo-connection-test.

SQLite only (tests/test_demo_truth.py checks the same pages on both databases).
"""

from __future__ import annotations

from typing import Any

import pytest

from proxy.emulation import DEMO_GROUP_ID
from proxy.models import Community, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import (
    UI_LOCALES,
    VIEWPORTS,
    horizontal_overflow,
    log_in_page,
    screenshot_path,
    shoot_in_every_view,
)
from tests.demo_fixtures import *  # noqa: F403

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
BANNERS = {
    "ru": "Демо: VK эмулируется, настоящего сообщества нет",
    "en": "Demo: VK is emulated, no real community is connected",
}


@pytest.fixture
async def db_url(sqlite_factory):
    """One backend only: a fresh SQLite database."""
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def test_the_demo_banner_and_its_connection_test(
    browser: Any, demo_server: Any, demo_admin: Operator
) -> None:
    base = str(demo_server.make_url("/"))
    # The inbox once the demo's warm-up has written (the banner is on every page, the login page too).
    shots = await shoot_in_every_view(
        browser, base, demo_admin, "/", "guide/demo-banner", ready="#conversation-list tr[data-row]"
    )
    assert len(shots) == 4
    demo = await Community.get(vk_group_id=DEMO_GROUP_ID)
    for locale in UI_LOCALES:
        demo_admin.locale = locale
        await demo_admin.save(update_fields=["locale"])
        for view, viewport in VIEWPORTS.items():
            page = await browser.new_page(viewport=viewport)
            try:
                await log_in_page(page, base, demo_admin)
                banner = page.locator("#demo-banner")
                assert (await banner.inner_text()).strip() == BANNERS[locale]
                box = await banner.bounding_box()
                header = await page.locator("header.topbar").bounding_box()
                assert box is not None and header is not None
                # A thin strip above the header: the navigation stays where it was, and usable.
                assert box["y"] + box["height"] <= header["y"] + 1
                assert box["height"] <= 48, f"the banner takes {box['height']} px at {view}"
                assert await page.locator("header.topbar a[href='/journal']").is_visible()
                assert await horizontal_overflow(page) == 0
                await page.goto(base + f"admin/communities/{demo.id}")
                await page.click("#test-connection")
                await page.locator("#connection-test li.check-emulator").wait_for(timeout=WAIT_MS)
                await page.locator("#connection-test li.check-ok").nth(1).wait_for(timeout=WAIT_MS)
                text = await page.locator("#connection-test").inner_text()
                assert ("эмулятор VK" if locale == "ru" else "VK emulator") in text
                said_of_vk = text.replace("Эмулятор VK принимает", "").replace("VK emulator accepts", "")
                assert "VK принимает" not in said_of_vk and "VK accepts" not in said_of_vk
                assert await horizontal_overflow(page) == 0
                await page.locator("#connection-test").scroll_into_view_if_needed()
                await page.screenshot(path=screenshot_path(f"guide/demo-connection-test-{locale}-{view}.png"))
            finally:
                await page.close()
