"""Ingest's one-statement path (PostgreSQL) writes exactly the rows the general path writes.

A new comment or message from an author is stored on PostgreSQL by one statement that carries the
conversation state machine in SQL (`conversations.author_wrote_upsert_sql`). The same story of events is
ingested into two communities, once with that path switched off and once with it on, and every row
either path wrote is compared: raw events, conversations, items and versions, with the authors they name.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from typing import Any

import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from proxy import conversations, ingest, metrics
from proxy.clock import utcnow
from proxy.connectors.vk.normalize import normalize
from proxy.db import group_commit
from proxy.ingest import one_statement as one_statement_path
from proxy.models import Author, Community, Conversation, Item, ItemVersion, RawEvent
from tests.ingest_samples import add_community, load_event

pytestmark = pytest.mark.usefixtures("db")

PYTHON_GROUP, SQL_GROUP, GROUPED = 41_000_001, 42_000_002, 43_000_003
# The authors of each community are other people: authors are shared between communities.
AUTHOR_OFFSET = {PYTHON_GROUP: 0, SQL_GROUP: 50_000_000, GROUPED: 60_000_000}
BASE_DATE = 1_760_000_000
NOTIFIED_AT = utcnow() - timedelta(minutes=30)


def _message(group: int, event_id: str, *, peer: int, number: int, date: int, text: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("message_new-1.json"))
    peer += AUTHOR_OFFSET[group]
    event.update(group_id=group, event_id=f"{group}-{event_id}")
    event["object"]["message"].update(
        peer_id=peer, from_id=peer, id=number, conversation_message_id=number, date=date, text=text
    )
    return event


def _comment(group: int, event_id: str, *, author: int, number: int, post: int, date: int, text: str,
             reply_to: int | None = None) -> dict[str, Any]:  # fmt: skip
    event = copy.deepcopy(load_event("wall_reply_new-1.json"))
    event.update(group_id=group, event_id=f"{group}-{event_id}")
    obj = event["object"]
    obj.update(id=number, from_id=author + AUTHOR_OFFSET[group], post_id=post, owner_id=-group,
               post_owner_id=-group, date=date, text=text)  # fmt: skip
    obj.pop("parents_stack", None)
    obj.pop("reply_to_comment", None)
    obj.pop("reply_to_user", None)
    if reply_to is not None:
        obj["parents_stack"] = [reply_to]
        obj["reply_to_comment"] = reply_to
    return event


async def _feed(group: int, events: list[dict[str, Any]], *, at_once: bool = False) -> list[ingest.IngestResult]:
    """The events one after the other, or all at once (as concurrent callbacks arrive)."""
    community = await Community.get_or_none(vk_group_id=group) or await add_community(group)
    if at_once:
        return await asyncio.gather(
            *(ingest.ingest(community, raw, normalize(raw), source="callback") for raw in events)
        )
    return [await ingest.ingest(community, raw, normalize(raw), source="callback") for raw in events]


def _story(group: int) -> list[list[dict[str, Any]]]:
    """Acts of events; between acts the test closes the first dialog (so the next act reopens it)."""
    d = BASE_DATE
    first = [
        _message(group, "m1", peer=7001, number=1, date=d, text="hello"),  # new author, new dialog
        _message(group, "m2", peer=7001, number=2, date=d + 60, text="anyone there?"),  # already waiting
        _message(group, "m2", peer=7001, number=2, date=d + 60, text="anyone there?"),  # a repeat of m2
        _message(group, "m2b", peer=7001, number=2, date=d + 60, text="anyone there?"),  # stored item
        _message(group, "m0", peer=7001, number=3, date=d - 600, text="late and older"),  # older: no preview
        _message(group, "m3", peer=7002, number=4, date=d + 5, text=""),  # empty text
        _comment(group, "c1", author=7003, number=501, post=11, date=d + 10, text="a comment"),
        _comment(group, "c2", author=7001, number=502, post=11, date=d + 20, text="a reply", reply_to=501),
        _comment(group, "c3", author=7004, number=503, post=12, date=d + 30, text="x" * 300),  # long preview
    ]
    second = [
        _message(group, "m4", peer=7001, number=5, date=d + 7200, text="back again"),  # reopens
        _message(group, "m5", peer=7002, number=6, date=d + 7300, text="still waiting"),
    ]
    return [first, second]


async def _close_first_dialog(group: int) -> None:
    conversation = await Conversation.get(
        community__vk_group_id=group, key=f"message:{7001 + AUTHOR_OFFSET[group]}"
    )
    async with in_transaction() as conn:
        locked = await conversations.lock(conversation.id, conn)
        await conversations.close(locked, at=utcnow() - timedelta(hours=1), operator_id=None, conn=conn)
    # Breach notices already sent: a dialog that starts waiting again forgets its own, one that was
    # waiting all along keeps it.
    notified = NOTIFIED_AT
    for peer in (7001, 7002):
        await Conversation.filter(
            community__vk_group_id=group, key=f"message:{peer + AUTHOR_OFFSET[group]}"
        ).update(sla_breach_notified_at=notified)


async def _rows(group: int) -> dict[str, Any]:
    offset = AUTHOR_OFFSET[group]

    def vk(vk_id: int | None) -> int | None:
        return None if vk_id is None else vk_id - offset if vk_id > 0 else vk_id

    def anon(key: str | None) -> str | None:
        """A key with this community's group and author ids replaced by names both communities share."""
        if key is None:
            return None
        for person in range(7001, 7005):
            key = key.replace(str(person + offset), f"P{person - 7000}")
        return key.replace(str(group), "G")

    authors = {a.id: a.vk_id for a in await Author.all()}
    conversation_rows = await Conversation.filter(community__vk_group_id=group).order_by("key")
    keys = {c.id: anon(c.key) for c in conversation_rows}
    conversation_data = [
        {
            "key": keys[c.id],
            "author": vk(authors.get(c.author_id)),  # type: ignore[attr-defined]
            **{
                name: getattr(c, name)
                for name in ("channel", "vk_owner_id", "vk_object_id", "vk_root_id", "status", "opened_at",
                             "waiting_since", "awaiting_first_reaction", "last_item_at", "preview",
                             "closed_at", "closing_kind", "sla_breach_notified_at", "assignee_id")
            },
        }
        for c in conversation_rows
    ]  # fmt: skip
    for row in conversation_data:
        if row["vk_owner_id"] is not None and row["vk_owner_id"] < 0:
            row["vk_owner_id"] = "community"
        if row["channel"] == "message":
            row["vk_object_id"] = vk(row["vk_object_id"])
    items = await Item.filter(community__vk_group_id=group).order_by("key")
    item_data = [
        {
            "key": anon(i.key),
            "conversation": keys[i.conversation_id],  # type: ignore[attr-defined]
            "author": vk(authors.get(i.author_id)),  # type: ignore[attr-defined]
            "from": vk(i.from_vk_id),
            **{
                name: getattr(i, name)
                for name in ("channel", "vk_id", "direction", "admin_author_vk_id", "reply_to_key", "text",
                             "attachments", "created_at", "edited_at", "version_count", "is_deleted")
            },
        }
        for i in items
    ]  # fmt: skip
    for row in item_data:
        row["reply_to_key"] = anon(row["reply_to_key"])
    versions = [
        (anon(v.item.key), v.number, v.text, v.attachments, v.valid_from)
        for v in await ItemVersion.filter(item__community__vk_group_id=group).prefetch_related("item")
    ]
    raw = [
        (r.event_id.split("-", 1)[1], r.type, r.source, r.status, r.detail)
        for r in await RawEvent.filter(vk_group_id=group).order_by("id")
    ]
    return {"conversations": conversation_data, "items": item_data, "versions": sorted(versions), "raw": raw}


async def test_one_statement_writes_what_the_general_path_writes(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.startswith("postgres"):
        pytest.skip("the one-statement path is PostgreSQL's; SQLite always takes the general path")
    results: dict[int, list[list[tuple[bool, bool]]]] = {}
    statements: dict[int, int] = {}
    for group, one_statement in ((PYTHON_GROUP, False), (SQL_GROUP, True)):
        taken: list[bool] = []
        original = one_statement_path._takes_one_statement

        def takes(
            event: Any, _original: Any = original, _on: bool = one_statement, _taken: list[bool] = taken
        ) -> bool:
            answer = _on and _original(event)
            _taken.append(answer)
            return answer

        monkeypatch.setattr(one_statement_path, "_takes_one_statement", takes)
        results[group] = []
        for number, act in enumerate(_story(group)):
            if number:
                await _close_first_dialog(group)
            outcome = await _feed(group, act)
            results[group].append([(r.duplicate, r.changed) for r in outcome])
        statements[group] = sum(taken)
        monkeypatch.undo()
    assert statements[PYTHON_GROUP] == 0
    # Every new incoming item went through the one statement (the repeat and the stored item too,
    # which it hands back untouched).
    assert statements[SQL_GROUP] == 11
    assert results[PYTHON_GROUP] == results[SQL_GROUP]
    assert await _rows(PYTHON_GROUP) == await _rows(SQL_GROUP)
    python_rows = await _rows(PYTHON_GROUP)
    first = next(c for c in python_rows["conversations"] if c["key"].endswith("P1"))
    # The story did what it meant to: the first dialog was closed, then reopened and waits again.
    assert first["status"] == "open" and first["waiting_since"] is not None
    assert first["closed_at"] is None and first["awaiting_first_reaction"] is True
    assert first["preview"] == "back again" and first["sla_breach_notified_at"] is None
    second = next(c for c in python_rows["conversations"] if c["key"].endswith("P2"))
    assert second["sla_breach_notified_at"] is not None and second["preview"] == "still waiting"


async def test_events_that_arrive_at_once_write_what_they_write_one_after_the_other(db: str) -> None:
    """Each act of the story at once: all but the first event of an act wait for it and are committed
    as one group (`group_commit`), in the order of their conversations, and write the same rows."""
    if not db.startswith("postgres"):
        pytest.skip("group commit is PostgreSQL's")
    outcomes: dict[int, list[list[tuple[bool, bool]]]] = {}
    read = metrics.REGISTRY.get_sample_value
    groups_before = read("proxy_group_commit_statements_count") or 0.0
    failed_before = read("proxy_group_commit_failed_total") or 0.0
    for group, at_once in ((PYTHON_GROUP, False), (GROUPED, True)):
        outcomes[group] = []
        for number, act in enumerate(_story(group)):
            if number:
                await _close_first_dialog(group)
            outcome = await _feed(group, act, at_once=at_once)
            outcomes[group].append([(r.duplicate, r.changed) for r in outcome])
    groups = (read("proxy_group_commit_statements_count") or 0.0) - groups_before
    # Sequentially: one group of one per new incoming item (11). At once: per act, the first alone and
    # the rest together (the stored item and the repeat are in it too), and no group was undone.
    assert groups == 11 + 4
    assert (read("proxy_group_commit_failed_total") or 0.0) == failed_before
    assert outcomes[PYTHON_GROUP] == outcomes[GROUPED]
    sequential, grouped = await _rows(PYTHON_GROUP), await _rows(GROUPED)
    # The stored item goes on to the general path after its group: its raw event comes later.
    sequential["raw"].sort()
    grouped["raw"].sort()
    assert sequential == grouped


async def test_a_concurrent_writer_of_the_same_item_sends_it_to_the_general_path(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two events of one new message at once (VK's retry racing the first delivery under another event
    id), written at the same time as two instances would write them: exactly one item, one version,
    and both raw events stored."""
    if not db.startswith("postgres"):
        pytest.skip("the one-statement path is PostgreSQL's")
    # Groups of one, each writer on a connection of its own: the two statements race in PostgreSQL
    # (one instance would put the second in the group after the first). Which one loses, and whether
    # on the item's key or by finding the item, is up to the timing; the outcome is the same.
    monkeypatch.setattr(group_commit, "MAX_GROUP", 1)
    community = await add_community(PYTHON_GROUP)
    events = [
        _message(PYTHON_GROUP, f"race{n}", peer=7101, number=77, date=BASE_DATE, text="same message")
        for n in range(2)
    ]
    outcome = await asyncio.gather(
        *(ingest.ingest(community, raw, normalize(raw), source="callback") for raw in events)
    )
    assert [r.duplicate for r in outcome] == [False, False]
    assert await Item.filter(community_id=community.id).count() == 1
    assert await ItemVersion.filter(item__community_id=community.id).count() == 1
    assert await RawEvent.filter(vk_group_id=PYTHON_GROUP).count() == 2
    conn = connections.get("default")
    [row] = await conn.execute_query_dict(
        "SELECT count(*) AS n FROM conversation WHERE community_id = $1", [community.id]
    )
    assert row["n"] == 1
