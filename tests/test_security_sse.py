"""An open live stream (GET /live, server-sent events) ends when its account's sessions end: disabled, logged
out elsewhere, a new password. Before, a disabled account's open stream kept receiving every event.

The stream re-reads its account every `SESSION_CHECK_SECONDS` (5 s in service; shortened here, as other
tests shorten their intervals). The browser test watches Chromium's own EventSource close.
"""

from __future__ import annotations

import asyncio

import pytest

from proxy.models import Community, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from web.views import live


@pytest.fixture
def quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "SESSION_CHECK_SECONDS", 0.1)


async def read_to_the_end(stream) -> bytes:
    seen = b""
    async with asyncio.timeout(30):  # a bound on a hang, not a timing assertion: it ends in 0.1 s
        while chunk := await stream.content.readany():
            seen += chunk
    return seen


async def test_disabling_ends_an_open_stream(client_for, operator: Operator, quick_checks) -> None:
    client = await client_for(operator)
    stream = await client.get("/live")
    assert stream.status == 200 and (await stream.content.readany()).startswith(b": connected")
    await Operator.filter(id=operator.id).update(is_active=False)
    await read_to_the_end(stream)
    assert stream.content.at_eof()


async def test_logging_out_elsewhere_ends_an_open_stream(client_for, operator: Operator, quick_checks) -> None:
    watching = await client_for(operator)
    other = await client_for(operator)
    stream = await watching.get("/live")
    assert (await stream.content.readany()).startswith(b": connected")
    await other.post("/logout", data={"csrf_token": await csrf_token(other)})
    await read_to_the_end(stream)
    assert stream.content.at_eof()


async def test_a_stream_of_a_live_session_stays_open(client_for, operator: Operator, quick_checks) -> None:
    client = await client_for(operator)
    stream = await client.get("/live")
    assert (await stream.content.readany()).startswith(b": connected")
    # Several checks pass and the stream only says it is alive.
    for _ in range(3):
        assert (await stream.content.readany()).startswith(b": keep-alive")
    assert not stream.content.at_eof()
    stream.close()


async def test_chromium_s_event_source_closes_when_the_account_is_disabled(
    browser, live_server, operator: Operator, community: Community, world, quick_checks
) -> None:  # type: ignore[no-untyped-def]
    from tests.browser_fixtures import log_in_page

    page = await browser.new_page()
    try:
        await log_in_page(page, str(live_server.make_url("/")), operator)
        # A page of the site that runs nothing of its own, so only this EventSource talks to the server.
        await page.goto(str(live_server.make_url("/healthz")))
        await page.evaluate(
            """() => new Promise(opened => {
                window.heard = [];
                window.source = new EventSource('/live');
                window.source.addEventListener('row', event => window.heard.push(event.data));
                window.source.addEventListener('open', opened);
            })"""
        )
        world.scenario.member_writes_message(world.group, world.members[0], "before")
        await page.wait_for_function("() => window.heard.length > 0", timeout=30_000)

        await Operator.filter(id=operator.id).update(is_active=False)
        # The stream ends; EventSource reconnects, is sent to the log in page, and gives up for good.
        await page.wait_for_function("() => window.source.readyState === EventSource.CLOSED", timeout=30_000)
    finally:
        await page.close()
