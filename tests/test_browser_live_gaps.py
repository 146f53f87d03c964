"""In a real browser: the journal refreshes itself on the manager pages' notice; an inbox page pushed past
its size keeps its size and shows the next page; an "over SLA" list takes in a row that crosses its SLA
with no event of its own. Runs on SQLite only (a browser run costs seconds)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from proxy import local_actions
from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.models import Author, Channel, Conversation, ConversationStatus, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page, screenshot_path
from web.views.manager_live import MANAGER_SIGNALS

pytestmark = pytest.mark.browser
WAIT_MS = 15_000


@pytest.fixture
async def db_url(sqlite_factory):
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def _waiting(community, key: str, seconds: float) -> Conversation:
    author, _ = await Author.get_or_create(vk_id=8000 + len(key), defaults={"name": f"Author {key}"})
    now = utcnow()
    return await Conversation.create(
        community=community, channel=Channel.WALL, key=key, author=author, opened_at=now - timedelta(hours=2),
        waiting_since=now - timedelta(seconds=seconds), last_item_at=now - timedelta(seconds=seconds),
        preview=f"preview {key}",
    )  # fmt: skip


def _errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


async def test_the_journal_refreshes_on_a_notice(
    browser, live_server, manager, community, vk_settings
) -> None:
    app = live_server.app
    signals = app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}  # only the test gives notices
    conversation = await _waiting(community, "wall:1_9:1", 60)
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _errors(page)
    await log_in_page(page, base, manager)
    await page.goto(base + "journal")
    # The stream is open: the marker says "live".
    await page.wait_for_selector("[data-manager-live=journal] [data-live-on]:not([hidden])", timeout=WAIT_MS)
    assert await page.locator("li.journal-line[data-action='note.add']").count() == 0

    await local_actions.add_note(vk_settings, manager, conversation.id, "проверить возврат")
    await app[LIVE].publish(
        "conversation_updated", {"community_id": community.id, "conversation_id": conversation.id}
    )
    await asyncio.wait_for(signals._pending["journal"].arrived.wait(), WAIT_MS / 1000)  # the signal heard it
    assert await signals.flush("journal") == 1
    await page.wait_for_selector("li.journal-line[data-action='note.add']", timeout=WAIT_MS)

    # For the eye: the live marker of the journal and of the statistics, both languages, desktop and phone.
    for locale in ("ru", "en"):
        await Operator.filter(id=manager.id).update(locale=locale)
        for width, height, name in ((1280, 800, "desktop"), (390, 844, "phone")):
            await page.set_viewport_size({"width": width, "height": height})
            for kind, address in (("journal", "journal"), ("stats", "stats")):
                await page.goto(base + address)
                await page.wait_for_selector(
                    f"[data-manager-live={kind}] [data-live-on]:not([hidden])", timeout=WAIT_MS
                )
                await page.screenshot(
                    path=screenshot_path(f"live/{kind}-{locale}-{name}.png"), full_page=True
                )
    assert errors == []


async def test_a_full_inbox_page_keeps_its_size(browser, live_server, operator, community) -> None:
    for n in range(50):
        await _waiting(community, f"wall:2_{n}:1", 3600 - n)
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _errors(page)
    await log_in_page(page, base, operator)
    await page.wait_for_selector("#conversation-list[data-live-since]")
    assert await page.locator("#conversation-list tr[data-row]").count() == 50
    assert await page.locator("[data-next-page]").is_hidden()

    # A wait older than every shown one goes first; the page's last row moves on to the next page.
    newcomer = await _waiting(community, "wall:3_0:1", 7200)
    await live_server.app[LIVE].publish(
        "item_created", {"community_id": community.id, "conversation_id": newcomer.id}
    )
    await page.wait_for_selector(f"#conversation-{newcomer.id}", timeout=WAIT_MS)
    assert await page.locator("#conversation-list tr[data-row]").count() == 50
    await page.wait_for_selector("[data-next-page]:not([hidden])", timeout=WAIT_MS)
    assert await page.get_attribute("#conversation-list", "data-has-next") == "1"
    await page.click("[data-next-page]")
    await page.wait_for_selector("#conversation-list[data-paged='1']", timeout=WAIT_MS)
    assert await page.locator("#conversation-list tr[data-row]").count() == 1
    assert errors == []


async def test_a_row_leaving_a_full_inbox_page_is_replaced_by_the_next(
    browser, live_server, operator, community
) -> None:
    shown = [await _waiting(community, f"wall:6_{n}:1", 3600 - n) for n in range(50)]
    following = [await _waiting(community, f"wall:7_{n}:1", 60 - n) for n in range(3)]
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _errors(page)
    await log_in_page(page, base, operator)
    await page.wait_for_selector("#conversation-list[data-live-since]")
    assert await page.locator("#conversation-list tr[data-row]").count() == 50
    assert await page.locator(f"#conversation-{following[0].id}").count() == 0

    # Two rows of the full page are closed at once: the first rows of the next page take their place,
    # the page keeps its size, and the burst costs one fetch of the list.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    for leaving in shown[10:12]:
        leaving.status = ConversationStatus.CLOSED
        await leaving.save()
        await live_server.app[LIVE].publish(
            "conversation_closed", {"community_id": community.id, "conversation_id": leaving.id}
        )
    await page.wait_for_selector(f"#conversation-{following[1].id}", timeout=WAIT_MS)
    assert await page.locator(f"#conversation-{shown[10].id}").count() == 0
    assert await page.locator(f"#conversation-{following[2].id}").count() == 0
    assert await page.locator("#conversation-list tr[data-row]").count() == 50
    assert await page.get_attribute("#conversation-list", "data-has-next") == "1"
    assert len([url for url in requests if "/live" not in url]) == 1
    assert errors == []


async def test_an_over_sla_list_takes_in_a_row_that_crosses(
    browser, live_server, operator, community
) -> None:
    community.sla_seconds = 60
    await community.save()
    crossing = await _waiting(community, "wall:4_0:1", 50)
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _errors(page)
    await log_in_page(page, base, operator)
    await page.goto(base + "?over_sla=1")
    await page.wait_for_selector("#conversation-list[data-next-sla-at]")
    assert await page.locator(f"#conversation-{crossing.id}").count() == 0
    # Nothing happens to the conversation: the list re-fetches itself when it crosses.
    await page.wait_for_selector(f"#conversation-{crossing.id}", timeout=2 * WAIT_MS)
    assert errors == []


async def test_the_statistics_refresh_their_figures_on_a_notice(
    browser, live_server, manager, community
) -> None:
    app = live_server.app
    signals = app[MANAGER_SIGNALS]
    signals.windows = {page: 3600.0 for page in signals.windows}
    base = str(live_server.make_url("/"))
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors = _errors(page)
    await log_in_page(page, base, manager)
    await page.goto(base + "stats?sort=-replies")
    await page.wait_for_selector("[data-manager-live=stats] [data-live-on]:not([hidden])", timeout=WAIT_MS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # Something the manager types in the filters is not thrown away by a refresh.
    await page.fill("#stats-filters input[name=from]", "2026-01-01")

    conversation = await _waiting(community, "wall:5_0:1", 60)
    await app[LIVE].publish(
        "item_created", {"community_id": community.id, "conversation_id": conversation.id}
    )
    await asyncio.wait_for(signals._pending["stats"].arrived.wait(), WAIT_MS / 1000)
    assert await signals.flush("stats") == 1
    await page.wait_for_function(
        "() => document.querySelector('#report-figures [data-community] [data-col=unanswered_now]')"
        " && document.querySelector('#report-figures [data-community] [data-col=unanswered_now]').dataset.value === '1'",
        timeout=WAIT_MS,
    )
    # One re-fetch of the page's own report (its sort kept), and the chart drawn again.
    refreshes = [url for url in requests if "/stats?" in url]
    assert len(refreshes) == 1 and "sort=-replies" in refreshes[0]
    assert await page.input_value("#stats-filters input[name=from]") == "2026-01-01"
    assert errors == []
