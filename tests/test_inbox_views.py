"""The inbox queue, the conversation page and its actions, in both languages, as pages and partials."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from proxy import inbox
from proxy.access import scope_of
from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.models import (
    Author,
    Channel,
    Conversation,
    ConversationStatus,
    DeletedVia,
    ItemTombstone,
    ItemVersion,
    JournalEntry,
    Operator,
    OutboxRow,
    OutboxStatus,
)
from tests.actions_fixtures import drain
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HX = {"HX-Request": "true"}


async def _conversation(community, key: str, *, channel=Channel.MESSAGE, waiting_minutes=None,
                        active_minutes=None, status=ConversationStatus.OPEN, assignee=None, now=NOW):
    author, _ = await Author.get_or_create(vk_id=1000 + len(key), defaults={"name": f"Author {key}"})
    return await Conversation.create(
        community=community,
        channel=channel,
        key=key,
        author=author,
        status=status,
        opened_at=now - timedelta(days=1),
        waiting_since=None if waiting_minutes is None else now - timedelta(minutes=waiting_minutes),
        last_item_at=None if active_minutes is None else now - timedelta(minutes=active_minutes),
        preview=f"preview {key}",
        assignee=assignee,
    )


async def test_queue_order_filters_and_keyset_paging(community, operator, db) -> None:
    # community SLA is 900 s: 60 and 20 minutes of waiting are past it, 5 minutes is not.
    a = await _conversation(community, "a", waiting_minutes=20, active_minutes=20)
    b = await _conversation(community, "b", waiting_minutes=60, active_minutes=1, channel=Channel.WALL)
    c = await _conversation(community, "c", waiting_minutes=5, active_minutes=5, assignee=operator)
    d = await _conversation(community, "d", active_minutes=30)
    e = await _conversation(community, "e", active_minutes=2)
    f = await _conversation(community, "f")
    g = await _conversation(community, "g", waiting_minutes=90, status=ConversationStatus.CLOSED)

    async def ids(limit=50, **filters) -> list[str]:
        page = await inbox.inbox_page(await scope_of(operator), inbox.InboxFilter(**filters), limit=limit, now=NOW)
        return [row.conversation.key for row in page.rows]

    assert await ids() == ["b", "a", "c", "e", "d", "f"]
    assert await ids(channel=Channel.WALL) == ["b"]
    assert await ids(assigned="me") == ["c"]
    assert await ids(assigned="none") == ["b", "a", "e", "d", "f"]
    assert await ids(over_sla=True) == ["b", "a"]
    assert await ids(status=ConversationStatus.CLOSED) == ["g"]
    assert await ids(status=None) == ["g", "b", "a", "c", "e", "d", "f"]

    seen, cursor = [], None
    while True:
        page = await inbox.inbox_page(await scope_of(operator), inbox.InboxFilter(), cursor=cursor, limit=2, now=NOW)
        seen.append([row.conversation.key for row in page.rows])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [["b", "a"], ["c", "e"], ["d", "f"]]
    rows = (await inbox.inbox_page(await scope_of(operator), inbox.InboxFilter(), now=NOW)).rows
    assert [(r.wait_seconds, r.over_sla) for r in rows[:3]] == [(3600.0, True), (1200.0, True), (300.0, False)]
    assert {a.id, b.id, c.id, d.id, e.id, f.id, g.id}  # all created


async def test_list_is_a_partial_for_htmx_and_a_page_otherwise(inbox_client, community) -> None:
    now = utcnow()
    await _conversation(community, "late", waiting_minutes=120, active_minutes=120, now=now)
    await _conversation(community, "fresh", waiting_minutes=1, active_minutes=1, now=now, channel=Channel.WALL)
    page = await inbox_client.get("/?over_sla=1")
    body = await page.text()
    assert body.startswith("<!doctype html>") and 'id="conversation-list"' in body
    assert "preview late" in body and "preview fresh" not in body
    assert page.headers["Vary"] == "HX-Request"
    partial = await inbox_client.get("/?channel=wall", headers=HX)
    body = await partial.text()
    assert body.lstrip().startswith('<section id="conversation-list"')
    assert "<html" not in body
    assert "preview fresh" in body and "preview late" not in body
    assert 'data-list-url="/?channel=wall"' in body  # a re-fetch after a reconnect keeps the filter
    assert 'data-filter-channel="wall"' in body  # and pushed rows are placed under it (app.js)
    bad = await inbox_client.get("/?channel=telegram", headers=HX)
    # In the reader's language, as the rest of the inbox (web/params.py explain).
    bad_text = await bad.text()
    assert bad.status == 400 and "channel: допустимо одно из" in bad_text and "must be one of" not in bad_text


async def test_conversation_page_shows_history_edits_deletions_notes_and_outbox(
    inbox_client, mirror, world, operator, vk_settings
) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "first text")
    await ItemVersion.create(item=item, number=1, text="first text", valid_from=item.created_at)
    await ItemVersion.create(item=item, number=2, text="second text", valid_from=item.created_at)
    item.text, item.version_count, item.is_deleted = "second text", 2, True
    item.deleted_at = item.created_at
    await item.save()
    await ItemTombstone.create(
        item=item, deleted_at=item.created_at, deleted_via=DeletedVia.PROXY, deleted_by=operator, last_text="x"
    )
    token = await csrf_token(inbox_client)
    headers = {**HX, "X-CSRF-Token": token}
    response = await inbox_client.post(f"/conversations/{conversation.id}/notes", data={"text": "call back"}, headers=headers)
    assert response.status == 200 and response.headers["HX-Trigger"] == "timeline-changed"

    empty = await inbox_client.post(f"/conversations/{conversation.id}/reply", data={"text": "  "}, headers=headers)
    assert empty.status == 422
    assert "Сначала напишите текст." in await empty.text()
    assert await OutboxRow.all().count() == 0

    sent = await inbox_client.post(f"/conversations/{conversation.id}/reply", data={"text": "we are on it"}, headers=headers)
    assert sent.status == 200
    assert (await sent.text()).lstrip().startswith('<form id="reply"')
    row = await OutboxRow.get()
    timeline = await (await inbox_client.get(f"/conversations/{conversation.id}/timeline", headers=HX)).text()
    assert timeline.lstrip().startswith('<section id="timeline"')
    for expected in ("second text", "изменено (1)", "Удалено оператором", "Olga", "call back", "we are on it",
                     "ждёт отправки", f'id="outbox-{row.id}"'):
        assert expected in timeline, expected
    assert "/outbox/" not in timeline and "every 1s" not in timeline  # the outcome is pushed: nothing polls
    versions = await (await inbox_client.get(
        f"/conversations/{conversation.id}/items/{item.id}/versions", headers=HX)).text()
    assert versions.index("first text") < versions.index("second text")

    assert await drain(vk_settings) == 1
    state = await inbox_client.get(f"/outbox/{row.id}", headers=HX)
    body = await state.text()
    assert (await OutboxRow.get(id=row.id)).status == OutboxStatus.SENT
    assert "отправлено" in body and "hx-trigger" not in body  # the no-JavaScript reload still answers


async def test_close_assign_and_english_ui(inbox_client, mirror, world, operator) -> None:
    conversation, _, _ = await mirror.message(world.members[1], "help")
    await Operator.filter(id=operator.id).update(locale="en")
    token = await csrf_token(inbox_client)
    headers = {**HX, "X-CSRF-Token": token}
    page = await (await inbox_client.get(f"/conversations/{conversation.id}")).text()
    assert "Close without reply" in page and "Send reply" in page and '<html lang="en">' in page
    assigned = await inbox_client.post(
        f"/conversations/{conversation.id}/assign", data={"assignee_id": str(operator.id)}, headers=headers
    )
    assert assigned.status == 200 and "Assignee: <bdi>Olga</bdi>" in await assigned.text()
    closed = await inbox_client.post(f"/conversations/{conversation.id}/close", headers=headers)
    body = await closed.text()
    assert closed.status == 200 and body.lstrip().startswith('<section id="conversation-header"')
    assert "Closed without a reply" in body and "Reopen" in body
    entries = await JournalEntry.filter(action__in=["conversation.assign", "conversation.close"]).order_by("id")
    assert [(e.action, e.operator_id) for e in entries] == [
        ("conversation.assign", operator.id), ("conversation.close", operator.id)
    ]
    again = await inbox_client.post(f"/conversations/{conversation.id}/close", headers=headers)
    assert again.status == 422 and 'class="error"' in await again.text()


async def test_live_stream_delivers_events_and_presence(client_for, operator, manager, mirror, world) -> None:
    conversation, _, _ = await mirror.message(world.members[2], "anyone?")
    olga = await client_for(operator)
    maria = await client_for(manager)
    inbox_stream = await olga.get("/live")
    assert inbox_stream.headers["Content-Type"].startswith("text/event-stream")
    assert await inbox_stream.content.readuntil(b"\n\n") == b": connected\n\n"
    conversation_stream = await maria.get(f"/live?conversation={conversation.id}")
    await conversation_stream.content.readuntil(b"\n\n")

    hub = olga.server.app[LIVE]
    # Her arrival is pushed to the page as its presence partial, naming everyone here (the page hides
    # its own operator); a page rendered for Olga names Maria.
    frame = await asyncio.wait_for(conversation_stream.content.readuntil(b"\n\n"), 5)
    assert frame.startswith(b"id: ") and b"\nevent: part\ndata: {" in frame
    assert b'"target": "presence"' in frame and b"<bdi>Maria</bdi>" in frame
    presence = await olga.get(f"/conversations/{conversation.id}/presence", headers=HX)
    assert f'Здесь также: <span data-names><span data-operator-id="{manager.id}"><bdi>Maria</bdi>' in await presence.text()

    await hub.publish("item_created", {"community_id": conversation.community_id,
                                        "conversation_id": conversation.id, "item_id": 7})
    frame = await asyncio.wait_for(inbox_stream.content.readuntil(b"\n\n"), 5)
    # The inbox hears the conversation's rendered row (tests/test_live_rows.py), not the bare event.
    assert frame.startswith(b"id: ") and b"\nevent: row\ndata: {" in frame
    assert f'"conversation_id": {conversation.id}'.encode() in frame
    frame = await asyncio.wait_for(conversation_stream.content.readuntil(b"\n\n"), 5)
    assert b"\nevent: part\n" in frame and b'"target": "conversation-header"' in frame
    conversation_stream.close()
    inbox_stream.close()
