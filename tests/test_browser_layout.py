"""Every main page fits a phone (390 px) and a laptop (1366 px) without scrolling sideways, the filters'
selects show their whole text, and the guide's pictures of search and statistics.

Before: at 390 px the top menu did not wrap (the page was 883 px wide), the statistics' communities
table pushed a 1366 px page sideways, and "Все каналы" was cut under the inbox filter's arrow.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from proxy.clock import utcnow
from proxy.models import Channel, Community, Conversation, Direction, Item, ReactionSample, Role
from proxy.runtime.app import create_app
from tests.audit_pages_fixtures import *  # noqa: F403
from tests.audit_pages_fixtures import Story
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import (
    UI_LOCALES,
    VIEWPORTS,
    horizontal_overflow,
    log_in_page,
    shoot_in_every_view,
)
from tests.stats_fixtures import make_operator

pytestmark = pytest.mark.browser

# How much room a select's text has: its width less its paddings, and Pico's arrow sits in the right one.
SELECT_ROOM = """select => {
    const style = getComputedStyle(select);
    const canvas = document.createElement('canvas').getContext('2d');
    canvas.font = style.font;
    const text = canvas.measureText(select.selectedOptions[0].text).width;
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    return {
        free: select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - text,
        arrowRoom: parseFloat(style.paddingRight) - 1.6 * rem,
    };
}"""

# The outermost elements whose right edge is past the viewport: what a failure names.
STICKING_OUT = """() => {
    const width = window.innerWidth, out = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.right > width + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1)) {
            out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' ' + Math.round(box.right));
        }
    }
    return out.slice(0, 6);
}"""


async def _a_week_of_traffic(story: Story) -> None:
    """Incoming comments and replies on each of the last seven days, and their reaction times."""
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    conversation = await Conversation.get(id=story.vk_story.conversation_id)  # type: ignore[attr-defined]
    n = 0
    for day in range(7):
        for hour in (9, 11, 14, 16, 19)[: 2 + day % 4]:
            at = (
                now - timedelta(days=day) - timedelta(hours=now.hour - hour + (0 if hour <= now.hour else 24))
            )
            n += 1
            common = {"community": story.community, "conversation": conversation, "channel": Channel.WALL}
            await Item.create(
                **common,
                key=f"wall:layout:{n}",
                direction=Direction.IN,
                author=story.author,
                text="?",
                created_at=at,
            )
            reply = at + timedelta(minutes=4 + 3 * (n % 5))
            await Item.create(
                **common, key=f"wall:layout:{n}r", direction=Direction.OUT, text="!", created_at=reply
            )
            await ReactionSample.create(
                **common, operator=story.operator, ended_by="reply", is_first=True, started_at=at,
                ended_at=reply, seconds=(reply - at).total_seconds(),
            )  # fmt: skip


@pytest.fixture
async def layout_server(aiohttp_server, vk_settings, story: Story):
    await _a_week_of_traffic(story)
    # Names as long as real ones, for the statistics' communities table.
    await Community.create(vk_group_id=70001, name="Интернет-магазин бытовой техники «Пылесосы и компания»")
    await Community.create(vk_group_id=70002, name="Служба поддержки клиентов федеральной сети")
    return await aiohttp_server(create_app(vk_settings))


async def test_every_main_page_fits_a_phone_and_a_laptop(browser, layout_server, story: Story) -> None:
    base = str(layout_server.make_url("/"))
    admin = await make_operator("alla", Role.ADMIN)
    pages = {
        "inbox": ("/", "#conversation-list"),
        "conversation": (f"/conversations/{story.vk_story.conversation_id}", "#timeline"),  # type: ignore[attr-defined]
        "journal": ("/journal", "#journal"),
        "stats": ("/stats", "#chart[data-chart-state=drawn]"),
        "deleted": ("/deleted", "#deleted"),
        "search": ("/search?q=хлеб", "#results"),
        "admin": ("/admin", "main"),
        "admin-communities": ("/admin/communities", "main"),
        "admin-operators": ("/admin/operators", "main"),
        "admin-tokens": ("/admin/tokens", "main"),
        "admin-canned": ("/admin/canned", "main"),
        "admin-rules": ("/admin/rules", "#rules"),
        "admin-rule-new": ("/admin/rules/new", "#rule-form"),
        "account": ("/account", "main"),
    }
    overflow, rooms, fits = {}, {}, {}
    for locale, view in ((locale, view) for locale in UI_LOCALES for view in VIEWPORTS):
        admin.locale = locale
        await admin.save(update_fields=["locale"])
        page = await browser.new_page(viewport=VIEWPORTS[view])
        try:
            await log_in_page(page, base, admin)
            for name, (path, ready) in pages.items():
                await page.goto(base + path.lstrip("/"))
                await page.wait_for_selector(ready)
                if name == "stats" and view == "desktop":
                    # The communities table fits a laptop whole, without scrolling in its box.
                    fits[locale] = await page.eval_on_selector(
                        "#communities-table", "t => t.parentElement.clientWidth - t.scrollWidth"
                    )
                width = await horizontal_overflow(page)
                overflow[(locale, view, name)] = (width, await page.evaluate(STICKING_OUT) if width else [])
            await page.goto(base)
            rooms[(locale, view)] = await page.eval_on_selector(
                "#inbox-filters select[name=channel]", SELECT_ROOM
            )
        finally:
            await page.close()
    assert overflow == dict.fromkeys(overflow, (0, []))
    assert all(room >= 0 for room in fits.values()), fits
    # «Все каналы» whole (to a pixel of rounding between the canvas and the layout), left of the arrow.
    assert all(room["free"] >= -1 and room["arrowRoom"] >= 0 for room in rooms.values()), rooms


async def test_guide_pictures_of_search_and_a_week_of_statistics(
    browser, layout_server, story: Story
) -> None:
    base = str(layout_server.make_url("/"))
    for path, name in (("/search?q=хлебом", "guide/search-stemmed"), ("/stats", "guide/stats-week")):
        ready = "#chart[data-chart-state=drawn]" if name.endswith("week") else "#results"
        shots = await shoot_in_every_view(browser, base, story.manager, path, name, ready=ready)
        assert len(shots) == 4
    page = await browser.new_page(viewport=VIEWPORTS["desktop"], locale="ru-RU")
    try:
        await log_in_page(page, base, story.manager)
        await page.goto(base + "stats")
        await page.wait_for_selector("#chart[data-chart-state=drawn]")
        # The default week is charted by the day: seven buckets, each with comments.
        assert await page.get_attribute("#chart", "data-points") == "7"
    finally:
        await page.close()
