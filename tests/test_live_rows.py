"""The live inbox (issue 19): a changed row is rendered once per language and pushed to every open inbox
allowed to see its community; a reconnecting inbox gets what it missed, or is told to re-fetch."""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from datetime import timedelta
from typing import Any

from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.communities import add_community
from proxy.live import RESYNC_EVENT, LiveMessage
from proxy.models import Author, Channel, Conversation, Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from web.views.live import INBOX_BROADCASTER

GUARD_SECONDS = 10.0


async def _frame(stream: Any) -> tuple[str, str | None, dict[str, Any]]:
    """The next event of an SSE stream (comments skipped): its name, id and data."""
    while True:
        raw = (await asyncio.wait_for(stream.content.readuntil(b"\n\n"), GUARD_SECONDS)).decode()
        if raw.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in raw.strip().split("\n"))
        return fields["event"], fields.get("id"), json.loads(fields["data"])


async def _open(client: Any, url: str = "/live", **headers: str) -> Any:
    stream = await client.get(url, headers=headers)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert await stream.content.readuntil(b"\n\n") == b": connected\n\n"
    return stream


async def _conversation(community: Any, key: str, *, assignee: Operator | None = None) -> Conversation:
    author, _ = await Author.get_or_create(vk_id=5000 + len(key), defaults={"name": f"Author {key}"})
    now = utcnow()
    return await Conversation.create(
        community=community, channel=Channel.WALL, key=key, author=author, opened_at=now - timedelta(hours=1),
        waiting_since=now - timedelta(minutes=30), last_item_at=now - timedelta(minutes=30),
        preview=f"preview {key}", assignee=assignee,
    )  # fmt: skip


def _attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, f"{name} missing from {html[:200]}"
    return found.group(1)


async def _publish(client: Any, conversation: Conversation, name: str = "item_created") -> None:
    await client.server.app[LIVE].publish(
        name, {"community_id": conversation.community_id, "conversation_id": conversation.id}
    )


async def _second_community(vk_settings: Any) -> Any:
    return await add_community(
        vk_settings, vk_group_id=777_001, name="Другое сообщество", secret="s", confirmation="c",
        community_token="community-token-2", admin_token=None, admin_vk_user_id=None,
    )  # fmt: skip


async def test_a_row_is_rendered_once_and_reaches_only_streams_that_may_see_it(
    client_for, operator, manager, community, vk_settings
) -> None:
    other = await _second_community(vk_settings)
    stranger = await Operator.create(login="sveta", display_name="Sveta", password_hash="x", role=Role.OPERATOR)
    await stranger.communities.add(other)
    manager.locale = "en"
    await manager.save()
    olga, maria, sveta = await client_for(operator), await client_for(manager), await client_for(stranger)
    streams = [await _open(olga), await _open(maria), await _open(sveta)]
    broadcaster = olga.server.app[INBOX_BROADCASTER]
    renders = broadcaster.renders

    mine = await _conversation(community, "wall:-1_10_1", assignee=operator)
    theirs = await _conversation(other, "wall:-2_10_1")
    await _publish(olga, mine)
    await _publish(olga, theirs)

    # Olga (this community only) and Maria (a manager, every community) get both in order; Sveta only hers.
    for stream, expected in ((streams[0], [mine]), (streams[1], [mine, theirs]), (streams[2], [theirs])):
        for conversation in expected:
            name, event_id, data = await _frame(stream)
            assert name == "row" and event_id and data["action"] == "upsert"
            assert data["target"] == f"conversation-{conversation.id}"
            assert data["conversation_id"] == conversation.id
            assert data["community_id"] == conversation.community_id
            assert data["html"].startswith(f'<tr id="conversation-{conversation.id}"')
    # Rendered once per change and language, not once per open inbox.
    assert broadcaster.renders - renders == 2 * 2

    # The row carries what the page places it by: filters, sort key, the wait's start.
    await _publish(olga, mine, "conversation_updated")
    _, _, data = await _frame(streams[1])
    html = data["html"]
    assert _attribute(html, "data-community") == str(community.id)
    assert _attribute(html, "data-channel") == "wall"
    assert _attribute(html, "data-status") == "open"
    assert _attribute(html, "data-assignee") == str(operator.id)
    assert _attribute(html, "data-segment") == "w"
    waiting_ms = int(mine.waiting_since.timestamp() * 1000)
    assert _attribute(html, "data-waiting-since") == str(waiting_ms)
    assert _attribute(html, "data-sort-at") == str(waiting_ms)
    assert _attribute(html, "data-sla") == str(community.sla_seconds)
    assert "30 minutes" in html  # Maria reads English
    _, _, olga_data = await _frame(streams[0])
    assert "30 минут" in olga_data["html"]
    for stream in streams:
        stream.close()


async def test_a_reconnecting_inbox_gets_what_it_missed_or_is_told_to_refetch(
    client_for, operator, community, vk_settings
) -> None:
    olga = await client_for(operator)
    broadcaster = olga.server.app[INBOX_BROADCASTER]
    other = await _second_community(vk_settings)
    first = await _conversation(community, "wall:-1_11_1")
    hidden = await _conversation(other, "wall:-2_11_1")
    second = await _conversation(community, "wall:-1_11_2")

    stream = await _open(olga)
    await _publish(olga, first)
    _, seen, _ = await _frame(stream)
    stream.close()  # the network blips...
    for conversation in (second, hidden, first):  # ... while these change
        await _publish(olga, conversation)
    await _wait_for(lambda: broadcaster.seq >= 4)

    # The browser reconnects with the last id it saw: the missed rows it may see, in order, then live ones.
    again = await _open(olga, **{"Last-Event-ID": seen})
    missed = [(await _frame(again))[2]["conversation_id"] for _ in range(2)]
    assert missed == [second.id, first.id]
    await _publish(olga, second)
    assert (await _frame(again))[2]["conversation_id"] == second.id
    again.close()

    # The page's first connection starts where its list was rendered (?since=).
    page = await olga.get("/")
    since = _attribute(await page.text(), "data-live-since")
    assert since == broadcaster.position
    await _publish(olga, first)
    fresh = await _open(olga, f"/live?since={since}")
    assert (await _frame(fresh))[2]["conversation_id"] == first.id
    fresh.close()

    # An id of another instance (or of this one before a restart): re-fetch the list, once.
    elsewhere = await _open(olga, **{"Last-Event-ID": "0123456789ab.3"})
    name, resync_id, _ = await _frame(elsewhere)
    assert (name, resync_id) == ("resync", broadcaster.position)
    elsewhere.close()

    # Missed more than the buffer keeps: re-fetch too.
    broadcaster._replay = deque(broadcaster._replay, maxlen=1)
    await _publish(olga, second)
    await _publish(olga, first)
    await _wait_for(lambda: broadcaster._replay[-1].seq == broadcaster.seq and broadcaster.seq >= 8)
    behind = await _open(olga, **{"Last-Event-ID": seen})
    assert (await _frame(behind))[0] == "resync"
    behind.close()


async def test_inbox_streams_refetch_when_the_listen_connection_came_back(client_for, operator, community) -> None:
    olga = await client_for(operator)
    stream = await _open(olga)
    await olga.server.app[INBOX_BROADCASTER].start()
    # What PgListener tells this instance after re-opening: NOTIFYs sent meanwhile are lost.
    olga.server.app[LIVE].deliver_locally(LiveMessage(RESYNC_EVENT, {}))
    assert (await _frame(stream))[0] == "resync"
    stream.close()


async def _wait_for(condition: Any) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), GUARD_SECONDS)


async def test_a_replys_outcome_is_pushed_to_its_conversation_page(
    aiohttp_client, vk_settings, operator, mirror, world
) -> None:
    """The outbox worker's listener publishes the outcome: the page is pushed its timeline and never polls."""
    import dataclasses

    from proxy.appkeys import BACKGROUND
    from proxy.models import OutboxRow, OutboxStatus
    from proxy.runtime.app import create_app
    from tests.browser_fixtures import csrf_token, log_in

    conversation, _, _ = await mirror.message(world.members[0], "where is my order?")
    client = await aiohttp_client(create_app(dataclasses.replace(vk_settings, workers=True)))
    await log_in(client, operator)
    assert len(client.server.app[BACKGROUND]["outbox_worker"].listeners) == 1
    page_stream = await _open(client, f"/live?conversation={conversation.id}")
    headers = {"HX-Request": "true", "X-CSRF-Token": await csrf_token(client)}
    sent = await client.post(f"/conversations/{conversation.id}/reply", data={"text": "on its way"}, headers=headers)
    assert sent.status == 200
    # The action's own notice pushes the pending reply, the worker's outcome pushes it sent.
    while True:
        name, _, data = await _frame(page_stream)
        if name == "part" and data["target"] == "timeline" and 'class="outbox-state sent"' in data["html"]:
            assert data["conversation_id"] == conversation.id and "on its way" in data["html"]
            break
    assert (await OutboxRow.get()).status == OutboxStatus.SENT
    page_stream.close()
