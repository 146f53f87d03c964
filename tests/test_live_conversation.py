"""The live conversation page (issue 19): a changed partial is rendered once per change and language and
pushed to every page open on that conversation (web/views/conversation_live.py); a reconnecting page gets
what it missed, or is told to re-fetch its partials."""

from __future__ import annotations

import re
from typing import Any

from proxy.appkeys import LIVE
from proxy.live import LiveMessage
from proxy.models import Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.test_live_rows import _attribute, _conversation, _frame, _open, _publish, _wait_for
from web.views.conversation_live import CONVERSATION_BROADCASTER


async def _part(stream: Any, target: str, containing: str = "") -> tuple[str | None, dict[str, Any]]:
    """The next pushed `target` partial (containing `containing`), skipping the stream's other parts."""
    while True:
        name, event_id, data = await _frame(stream)
        assert name == "part", (name, data)
        assert data["action"] == "replace"
        if data["target"] == target and containing in data["html"]:
            return event_id, data


def _seq(event_id: str | None) -> int:
    return int((event_id or "x.-1").split(".")[1])


async def test_partials_are_rendered_once_and_reach_only_the_pages_open_on_their_conversation(
    client_for, operator, manager, community
) -> None:
    sveta = await Operator.create(login="sveta", display_name="Sveta", password_hash="x", role=Role.OPERATOR)
    await sveta.communities.add(community)
    manager.locale = "en"
    await manager.save()
    olga, maria, other = await client_for(operator), await client_for(manager), await client_for(sveta)
    broadcaster = olga.server.app[CONVERSATION_BROADCASTER]
    first = await _conversation(community, "wall:-1_20_1")
    second = await _conversation(community, "wall:-1_20_2")

    olga_first = await _open(olga, f"/live?conversation={first.id}")
    await _part(olga_first, "presence", "Olga")
    maria_first = await _open(maria, f"/live?conversation={first.id}")
    # Presence is pushed once for both pages: it names everyone here, marked with their operator ids
    # (each page hides its own operator).
    _, presence = await _part(olga_first, "presence", "Maria")
    assert f'data-operator-id="{operator.id}"' in presence["html"]
    assert f'data-operator-id="{manager.id}"' in presence["html"]
    await _part(maria_first, "presence", "Maria")
    sveta_second = await _open(other, f"/live?conversation={second.id}")
    await _part(sveta_second, "presence", "Sveta")
    assert broadcaster.streams_on(first.id) == 2 and broadcaster.streams_on(second.id) == 1

    renders = broadcaster.renders
    await _publish(olga, first, "item_created")
    olga_id, olga_header = await _part(olga_first, "conversation-header")
    timeline_id, olga_timeline = await _part(olga_first, "timeline")
    assert olga_id == timeline_id and olga_header["conversation_id"] == first.id
    assert olga_header["html"].startswith('<section id="conversation-header"')
    assert olga_timeline["html"].startswith('<section id="timeline"')
    _, maria_header = await _part(maria_first, "conversation-header")
    assert "Assignee" in maria_header["html"] and "Ответственный" in olga_header["html"]  # each its language
    # Two partials, two languages: rendered four times for two pages, not once per page and partial.
    assert broadcaster.renders - renders == 2 * 2

    # No session's CSRF token travels to another page: the page fills in its own.
    for data in (olga_header, maria_header):
        assert 'name="csrf_token" value=""' in data["html"]
        for client in (olga, maria):
            assert await csrf_token(client) not in data["html"]

    # The other conversation's page heard nothing of the first: its next part is its own.
    await _publish(other, second, "conversation_updated")
    _, _, data = await _frame(sveta_second)
    assert data["conversation_id"] == second.id

    # A ban VK reports names the community only: the author card of every page open in it is pushed.
    await olga.server.app[LIVE].publish("author_blocked", {"community_id": community.id, "conversation_id": None})
    _, card = await _part(olga_first, "author-card")
    assert card["html"].startswith('<section id="author-card"') and card["conversation_id"] == first.id
    _, card = await _part(sveta_second, "author-card")
    assert card["conversation_id"] == second.id

    # A conversation nobody has open costs no render, only a note for pages that connect late.
    unwatched = await _conversation(community, "wall:-1_20_3")
    renders, seq = broadcaster.renders, broadcaster.seq
    await _publish(olga, unwatched, "item_created")
    await _wait_for(lambda: broadcaster.seq > seq)
    assert broadcaster.renders == renders
    for stream in (olga_first, maria_first, sveta_second):
        stream.close()


async def test_each_partial_is_rendered_once_per_change_and_language_not_per_page(
    client_for, operator, manager, community
) -> None:
    manager.locale = "en"
    await manager.save()
    conversation = await _conversation(community, "wall:-1_22_1")
    url = f"/live?conversation={conversation.id}"
    clients = [await client_for(operator), await client_for(operator), await client_for(manager)]
    broadcaster = clients[0].server.app[CONVERSATION_BROADCASTER]
    streams = [await _open(client, url) for client in clients]
    await _wait_for(lambda: len(clients[0].server.app[LIVE].viewers(conversation.id)) == 3)
    # The pushing is done by hand from here, so no arrival's presence is rendered meanwhile.
    await broadcaster.stop()
    renders = broadcaster.renders
    message = LiveMessage("outbox_updated", {"community_id": community.id, "conversation_id": conversation.id})
    await broadcaster.broadcast([message, message, message])
    # Timeline and header, in two languages, for three pages and three messages: four renders.
    assert broadcaster.renders - renders == 2 * 2
    for stream in streams:
        await _part(stream, "timeline")
        stream.close()


async def test_a_reconnecting_page_gets_what_it_missed_or_is_told_to_refetch(
    client_for, operator, manager, community
) -> None:
    olga, maria = await client_for(operator), await client_for(manager)
    broadcaster = olga.server.app[CONVERSATION_BROADCASTER]
    conversation = await _conversation(community, "wall:-1_21_1")
    url = f"/live?conversation={conversation.id}"
    keeps_it_open = await _open(maria, url)
    await _part(keeps_it_open, "presence", "Maria")

    stream = await _open(olga, url)
    await _publish(olga, conversation, "item_edited")
    seen, _ = await _part(stream, "timeline")
    stream.close()  # the network blips...
    await _wait_for(lambda: broadcaster.streams_on(conversation.id) == 1)  # ... Olga is gone ...
    await _publish(maria, conversation, "item_deleted")  # ... and the timeline changes meanwhile
    missed_id = seen
    while _seq(missed_id) <= _seq(seen):
        missed_id, _ = await _part(keeps_it_open, "timeline")

    # The browser reconnects with the last id it saw: what it missed on this conversation, in order.
    again = await _open(olga, url, **{"Last-Event-ID": seen})
    caught_up_id, _ = await _part(again, "timeline")
    assert caught_up_id == missed_id
    again.close()

    # The page's first connection starts where the page was rendered (?since=).
    await _part(keeps_it_open, "presence")
    page = await (await olga.get(f"/conversations/{conversation.id}")).text()
    since = _attribute(page, "data-live-since")
    assert since.startswith(broadcaster.boot + ".")
    await _publish(maria, conversation, "item_restored")
    fresh = await _open(olga, f"{url}&since={since}")
    assert (await _part(fresh, "timeline"))[1]["conversation_id"] == conversation.id
    fresh.close()

    # An id of another instance (or of this one before a restart): re-fetch the partials, once.
    elsewhere = await _open(olga, url, **{"Last-Event-ID": "0123456789ab.1"})
    name, resync_id, _ = await _frame(elsewhere)
    assert (name, resync_id) == ("resync", broadcaster.position)
    elsewhere.close()

    # A change while nobody here had the page open was not rendered: a page rendered before it re-fetches.
    keeps_it_open.close()
    await _wait_for(lambda: broadcaster.streams_on(conversation.id) == 0)
    since = broadcaster.position
    seq = broadcaster.seq
    await _publish(maria, conversation, "item_created")
    await _wait_for(lambda: broadcaster.seq > seq)
    late = await _open(olga, f"{url}&since={since}")
    assert (await _frame(late))[0] == "resync"
    late.close()


async def test_no_partial_of_the_page_polls_or_refetches_itself() -> None:
    """Live partials are pushed: no template asks the server again by itself (`hx-trigger`, `every`)."""
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "web" / "templates" / "conversation"
    for path in templates.glob("*.html"):
        text = path.read_text()
        assert "hx-trigger" not in text and "sse-connect" not in text, path.name
        assert not re.search(r'hx-get="/outbox/|every \d', text), path.name
