"""The callback path's own guarantees: distinct event ids stay distinct, the community read is cached
but never stale after a change on this instance, live subscribers hear of an event after its "ok" and
never miss it, and how many statements one new message costs."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from tortoise import connections

from proxy.appkeys import LIVE
from proxy.ingest import raw_event_key
from proxy.live import LiveHub
from proxy.models import Community, Item, RawEvent
from tests.ingest_samples import SECRET, add_community, load_event

GID = 191949777


def message_new(event_id: str, number: int, *, peer: int = 2_000_001) -> dict[str, Any]:
    event = load_event("message_new-1.json")
    event = {**event, "group_id": GID, "event_id": event_id, "secret": SECRET}
    message = {**event["object"]["message"], "peer_id": peer, "from_id": peer}
    message.update(conversation_message_id=number, id=10_000 + number, text=f"message {number}")
    event["object"] = {**event["object"], "message": message}
    return event


async def post(client: TestClient, body: dict[str, Any]) -> tuple[int, str]:
    data = json.dumps(body).encode()
    response = await client.post(f"/callback/vk/{GID}", data=io.BytesIO(data))
    return response.status, await response.text()


async def test_event_ids_that_differ_only_in_what_postgres_cannot_store_stay_distinct(
    client: TestClient,
) -> None:
    await add_community(GID)
    long_id = "x" * 65
    ids = [
        "a",
        "a\x00",  # PostgreSQL text holds no NUL: stripping it made this "a"
        "\x00a",
        long_id,
        long_id + "y",
        "a\ud800",  # a lone surrogate is not UTF-8: replacing it made this "a?"
        "a?",
        # An id that spells the key another one is stored under.
        "sha1:" + hashlib.sha1(b"a\x00").hexdigest(),
    ]
    for number, event_id in enumerate(ids, start=1):
        assert await post(client, message_new(event_id, number)) == (200, "ok"), event_id
    assert await RawEvent.all().count() == len(ids)
    assert await Item.all().count() == len(ids)
    keys = await RawEvent.all().values_list("event_id", flat=True)
    assert sorted(keys) == sorted(raw_event_key(i) for i in ids)
    assert len(set(keys)) == len(ids)
    # A repeat of any of them is recognised as the same event: answered ok, nothing new.
    for number, event_id in enumerate(ids, start=1):
        assert await post(client, message_new(event_id, number)) == (200, "ok"), event_id
    assert (await RawEvent.all().count(), await Item.all().count()) == (len(ids), len(ids))


def test_raw_event_key() -> None:
    vk_id = "d8b3fbe3c1d6a8ab2d1b0a7c2e7b2e4c5a6f7a8b"  # VK's form: 40 hexadecimal characters
    assert raw_event_key(vk_id) == vk_id
    assert raw_event_key("x" * 64) == "x" * 64
    for odd in ("x" * 65, "a\x00", "a\ud800", "sha1:0"):
        key = raw_event_key(odd)
        assert key.startswith("sha1:") and len(key) == 45 and key != odd
    assert raw_event_key("a\x00") != raw_event_key("a") != raw_event_key("\x00a")


async def test_a_community_changed_on_this_instance_is_seen_at_once(client: TestClient) -> None:
    community = await add_community(GID)
    assert await post(client, message_new("e1", 1)) == (200, "ok")  # the community is cached now
    community.callback_secret = "new-secret"
    await community.save(update_fields=["callback_secret"])
    assert (await post(client, message_new("e2", 2)))[0] == 403
    assert await post(client, {**message_new("e2", 2), "secret": "new-secret"}) == (200, "ok")
    community.is_active = False
    await community.save(update_fields=["is_active"])
    assert (await post(client, {**message_new("e3", 3), "secret": "new-secret"}))[0] == 404
    await Community.filter(id=community.id).update(is_active=True)  # not through the ORM's save
    # A bulk update fires no signal: an inactive community is not cached, so it is read again.
    assert await post(client, {**message_new("e3", 3), "secret": "new-secret"}) == (200, "ok")


async def test_live_subscribers_hear_after_the_ok_and_nothing_is_lost_at_shutdown(
    client: TestClient, app: web.Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_community(GID)
    release = asyncio.Event()
    published: list[tuple[str, dict[str, Any]]] = []

    async def slow_publish(self: LiveHub, name: str, data: dict[str, Any] | None = None) -> None:
        await release.wait()
        published.append((name, data or {}))

    monkeypatch.setattr(LiveHub, "publish", slow_publish)
    # The publication cannot finish until released, yet VK has its answer.
    assert await post(client, message_new("e1", 1)) == (200, "ok")
    assert await post(client, message_new("e2", 2)) == (200, "ok")
    assert published == []
    items = await Item.all().order_by("id").values_list("id", flat=True)
    # Stopping the app waits for the publications still running.
    closing = asyncio.create_task(client.close())
    await asyncio.sleep(0)
    assert not closing.done()
    release.set()
    await closing
    assert [(name, data["item_id"]) for name, data in published] == [
        ("item_created", items[0]),
        ("item_created", items[1]),
    ]
    assert isinstance(app[LIVE], LiveHub)


class StatementCounter:
    """Counts the statements sent through the ORM's connections (transactions included)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        client = type(connections.get("default"))
        wrappers = {client}
        module = __import__(client.__module__, fromlist=["TransactionWrapper"])
        if hasattr(module, "TransactionWrapper"):
            wrappers.add(module.TransactionWrapper)
        for cls in wrappers:
            for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many"):
                # Only where the class defines it: a wrapper that inherits the method from the client
                # would otherwise wrap the already counting one and count each statement twice.
                if name in vars(cls):
                    monkeypatch.setattr(cls, name, self._counting(vars(cls)[name]))

    def _counting(self, original: Any) -> Any:
        async def counted(db: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            self.statements.append(query)
            return await original(db, query, *args, **kwargs)

        return counted


async def test_statements_of_a_new_message(
    client: TestClient, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new message in a known dialog. PostgreSQL: one statement in autocommit (raw event, author,
    conversation and its new state, item, first version). SQLite: the raw event, the look-ups of the
    item and the author, the conversation, the item, its first version and the conversation's new
    state, one statement each, in a transaction."""
    await add_community(GID)
    assert await post(client, message_new("e1", 1)) == (200, "ok")  # the dialog and its author now exist
    counter = StatementCounter(monkeypatch)
    assert await post(client, message_new("e2", 2)) == (200, "ok")
    expected = 1 if db.startswith("postgres") else 7
    assert len(counter.statements) == expected, counter.statements
