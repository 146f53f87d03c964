"""The live conversation page pushes a changed item's timeline entry, not the whole timeline (issue 19):
an edit, a deletion or a new message on a long conversation costs one entry rendered once per language
(web/views/conversation_live.py); a change without an item still pushes the whole timeline."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from proxy.audit import journal
from proxy.live import LiveMessage
from proxy.models import (
    ActorKind,
    Channel,
    Conversation,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    Operator,
    OutboxRow,
    OutboxStatus,
)
from tests.browser_fixtures import *  # noqa: F403
from tests.test_live_rows import _conversation, _frame, _open, _wait_for
from web.views.conversation_live import CONVERSATION_BROADCASTER

ITEMS = 40


async def _parts(stream: Any, until: str) -> list[dict[str, Any]]:
    """The stream's next parts (presence left out), up to the one aimed at `until`."""
    parts: list[dict[str, Any]] = []
    while True:
        name, _, data = await _frame(stream)
        assert name == "part", (name, data)
        if data["target"] != "presence":
            parts.append(data)
            if data["target"] == until:
                return parts


async def _items(conversation: Conversation, count: int) -> list[Item]:
    start = conversation.opened_at
    return [
        await Item.create(
            community_id=conversation.community_id, conversation=conversation, channel=Channel.WALL,
            key=f"{conversation.key}:{n}", vk_id=n, direction=Direction.IN, author_id=conversation.author_id,  # type: ignore[attr-defined]
            text=f"question number {n}", created_at=start + timedelta(minutes=n),
        )  # fmt: skip
        for n in range(1, count + 1)
    ]


def _message(name: str, conversation: Conversation, item: Item | None = None) -> LiveMessage:
    data: dict[str, Any] = {"community_id": conversation.community_id, "conversation_id": conversation.id}
    if item is not None:
        data["item_id"] = item.id
    return LiveMessage(name, data)


async def _two_pages(client_for: Any, operator: Operator, manager: Operator, conversation: Conversation) -> Any:
    """A Russian and an English page open on the conversation, pushed by hand from here on."""
    manager.locale = "en"
    await manager.save()
    clients = [await client_for(operator), await client_for(manager)]
    broadcaster = clients[0].server.app[CONVERSATION_BROADCASTER]
    streams = [await _open(client, f"/live?conversation={conversation.id}") for client in clients]
    await _wait_for(lambda: broadcaster.streams_on(conversation.id) == 2)
    await broadcaster.stop()  # so no arrival's presence is rendered meanwhile
    return broadcaster, streams


def _only_article(html: str, element_id: str) -> str:
    assert html.startswith('<article class="entry') and html.endswith("</article>"), html[:200]
    assert html.count("<article") == 1 and f'id="{element_id}"' in html
    return html


async def test_an_edit_and_a_deletion_push_only_that_entry_rendered_once_per_language(
    client_for, operator, manager, community
) -> None:
    conversation = await _conversation(community, "wall:-1_30_1")
    items = await _items(conversation, ITEMS)
    broadcaster, (olga, maria) = await _two_pages(client_for, operator, manager, conversation)
    edited = items[17]

    edited.text, edited.version_count = "question number 18, edited", 2
    await edited.save()
    renders = broadcaster.renders
    await broadcaster.broadcast([_message("item_edited", conversation, edited)])
    assert broadcaster.renders - renders == 2  # one entry, two languages
    for stream in (olga, maria):
        [part] = await _parts(stream, f"item-{edited.id}")
        assert part["action"] == "upsert" and part["conversation_id"] == conversation.id
        html = _only_article(part["html"], f"item-{edited.id}")
        assert "question number 18, edited" in html and "remove" not in part
        assert f'data-at="{part["at"]}"' in html

    edited.is_deleted, edited.deleted_at = True, conversation.opened_at + timedelta(hours=2)
    await edited.save()
    await ItemTombstone.create(item=edited, deleted_at=edited.deleted_at, deleted_via=DeletedVia.AUTHOR)
    renders = broadcaster.renders
    await broadcaster.broadcast([_message("item_deleted", conversation, edited)])
    assert broadcaster.renders - renders == 2
    [russian] = await _parts(olga, f"item-{edited.id}")
    [english] = await _parts(maria, f"item-{edited.id}")
    assert 'class="entry in deleted"' in _only_article(english["html"], f"item-{edited.id}")
    assert "Deleted" in english["html"] and "Удалено" in russian["html"]

    # The entry pushed alone is the article the whole timeline shows (a change without an item pushes it).
    await broadcaster.broadcast([_message("conversation_updated", conversation)])
    [*_, timeline] = await _parts(maria, "timeline")
    assert timeline["action"] == "replace" and timeline["html"].count("<article") == ITEMS
    assert _article(timeline["html"], f"item-{edited.id}") == _article(english["html"], f"item-{edited.id}")
    for stream in (olga, maria):
        stream.close()


def _article(html: str, element_id: str) -> str:
    found = re.search(rf'<article [^>]*id="{element_id}".*?</article>', html, re.S)
    assert found, element_id
    return re.sub(r"\s+", " ", found.group(0))


async def test_a_new_message_upserts_its_entry_and_the_header_and_an_echoed_reply_removes_its_pending_one(
    client_for, operator, manager, community
) -> None:
    conversation = await _conversation(community, "wall:-1_31_1")
    items = await _items(conversation, ITEMS)
    broadcaster, (olga, maria) = await _two_pages(client_for, operator, manager, conversation)

    newest = await Item.create(
        community_id=conversation.community_id, conversation=conversation, channel=Channel.WALL,
        key=f"{conversation.key}:new", direction=Direction.IN, author_id=conversation.author_id,  # type: ignore[attr-defined]
        text="a new question", created_at=items[-1].created_at + timedelta(minutes=1),
    )  # fmt: skip
    renders = broadcaster.renders
    await broadcaster.broadcast([_message("item_created", conversation, newest)])
    assert broadcaster.renders - renders == 2 * 2  # the header and the entry, two languages
    for stream in (olga, maria):
        header, entry = await _parts(stream, f"item-{newest.id}")
        assert (header["action"], header["target"]) == ("replace", "conversation-header")
        assert entry["action"] == "upsert" and "a new question" in _only_article(entry["html"], f"item-{newest.id}")
        assert entry["at"] > 0

    # A reply VK echoed back: its pending article goes, its item's article shows where it stands.
    entry = await journal.record(
        "reply.send", actor_kind=ActorKind.OPERATOR, operator_id=operator.id, community_id=community.id
    )
    row = await OutboxRow.create(
        community=community, journal_entry=entry, operator=operator, conversation=conversation,
        method="wall.createComment", token_kind="community", idempotency_key="echoed-1", text="our answer",
        status=OutboxStatus.SENT, next_attempt_at=newest.created_at, sent_at=newest.created_at,
    )  # fmt: skip
    echo = await Item.create(
        community_id=conversation.community_id, conversation=conversation, channel=Channel.WALL,
        key=f"{conversation.key}:echo", direction=Direction.OUT, sent_by=operator, outbox_row_id=row.id,
        text="our answer", created_at=newest.created_at + timedelta(minutes=1),
    )  # fmt: skip
    await broadcaster.broadcast([_message("item_created", conversation, echo)])
    for stream in (olga, maria):
        _, entry = await _parts(stream, f"item-{echo.id}")
        assert entry["remove"] == [f"outbox-entry-{row.id}"]
        html = _only_article(entry["html"], f"item-{echo.id}")
        assert f'id="outbox-{row.id}"' in html and "outbox-state sent" in html
        stream.close()


async def test_a_change_without_an_item_pushes_the_whole_timeline_even_batched_with_an_items(
    client_for, operator, manager, community
) -> None:
    conversation = await _conversation(community, "wall:-1_32_1")
    items = await _items(conversation, 5)
    broadcaster, (olga, maria) = await _two_pages(client_for, operator, manager, conversation)

    renders = broadcaster.renders
    await broadcaster.broadcast([_message("outbox_updated", conversation)])
    assert broadcaster.renders - renders == 2 * 2  # the header and the timeline, two languages
    for stream in (olga, maria):
        parts = await _parts(stream, "timeline")
        assert [(p["action"], p["target"]) for p in parts] == [
            ("replace", "conversation-header"),
            ("replace", "timeline"),
        ]

    # An item's change batched with a change without one: the whole timeline carries both.
    items[0].text = "edited with the outcome of a reply"
    await items[0].save()
    await broadcaster.broadcast(
        [_message("item_edited", conversation, items[0]), _message("outbox_updated", conversation)]
    )
    for stream in (olga, maria):
        parts = await _parts(stream, "timeline")
        assert [(p["action"], p["target"]) for p in parts] == [
            ("replace", "conversation-header"),
            ("replace", "timeline"),
        ]
        assert "edited with the outcome of a reply" in parts[-1]["html"]

    # An item message that names no item (as they all did before) pushes the whole timeline too.
    await broadcaster.broadcast([_message("item_deleted", conversation)])
    for stream in (olga, maria):
        [part] = await _parts(stream, "timeline")
        assert part["action"] == "replace" and part["html"].count("<article") == 5
    for stream in (olga, maria):
        stream.close()
