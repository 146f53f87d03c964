"""POST /callback/vk/{group_id}: every sample event through the real server, and every refusal."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from tortoise.exceptions import OperationalError

from proxy import inbound, refusals
from proxy.appkeys import LIVE
from proxy.connectors.vk.callback import MAX_CALLBACK_BYTES
from proxy.live import LiveMessage
from proxy.models import ActorKind, Item, JournalEntry, RawEvent
from tests.ingest_samples import (
    CONFIRMATION,
    SECRET,
    add_community,
    assert_sample_rows,
    event_samples,
    load_event,
    table_counts,
)

GID = 191949777


async def post(client: TestClient, group_id: int, body: Any) -> tuple[int, str, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(f"/callback/vk/{group_id}", data=io.BytesIO(data))
    return response.status, await response.text(), response.content_type


@pytest.mark.parametrize("name", event_samples())
async def test_sample_event_is_stored_once(client: TestClient, name: str) -> None:
    event = load_event(name)
    await add_community(event["group_id"])
    assert await post(client, event["group_id"], {**event, "secret": SECRET}) == (200, "ok", "text/plain")
    await assert_sample_rows(name, "callback")
    before = await table_counts()
    # VK repeats an event now and then: answered ok, no second effect.
    assert await post(client, event["group_id"], {**event, "secret": SECRET}) == (200, "ok", "text/plain")
    assert await table_counts() == before


async def test_confirmation_answers_the_community_string(client: TestClient) -> None:
    await add_community(GID)
    before = await table_counts()
    body = {"type": "confirmation", "group_id": GID, "secret": SECRET}
    assert await post(client, GID, body) == (200, CONFIRMATION, "text/plain")
    assert await table_counts() == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON: JSONDecodeError"),
        (b"[1, 2]", "body is not a JSON object"),
        (json.dumps({"type": "message_new", "group_id": GID}).encode(), "missing or invalid 'event_id'"),
        (
            json.dumps({"type": "message_new", "group_id": 1, "event_id": "x"}).encode(),
            "group_id does not match the URL",
        ),
    ],
)
async def test_malformed_bodies_are_refused_and_nothing_is_written(
    client: TestClient, body: bytes, reason: str
) -> None:
    await add_community(GID)
    before = await table_counts()
    assert await post(client, GID, body) == (400, reason, "text/plain")
    assert await table_counts() == before


@pytest.mark.parametrize("secret", ["wrong", None, 12345])
async def test_wrong_or_missing_secret_is_forbidden_and_journaled(client: TestClient, secret: Any) -> None:
    community = await add_community(GID)
    before = await table_counts()
    event = load_event("message_allow-1.json")
    body = {**event, "secret": secret} if secret is not None else event
    assert await post(client, GID, body) == (403, "forbidden", "text/plain")
    # Counted, not written; journaled with the other refusals of its minute (proxy/refusals.py).
    assert await table_counts() == before
    await refusals.flush()
    entry = await JournalEntry.get()
    assert (entry.action, entry.actor_kind, entry.community_id) == (
        "callback.bad_secret",
        ActorKind.SYSTEM,
        community.id,
    )
    assert (entry.params["count"], entry.params["remotes"]) == (1, ["127.0.0.1"])
    assert await table_counts() == {**before, "journal_entry": 1}


async def test_huge_body_is_refused_before_parsing(client: TestClient) -> None:
    await add_community(GID)
    before = await table_counts()
    event = {**load_event("message_allow-1.json"), "secret": SECRET, "padding": "x" * MAX_CALLBACK_BYTES}
    status, _, _ = await post(client, GID, event)
    assert status == 413
    assert await table_counts() == before


async def test_unknown_group_is_not_found(client: TestClient) -> None:
    await add_community(GID)
    before = await table_counts()
    event = {**load_event("message_allow-1.json"), "group_id": 5, "secret": SECRET}
    assert await post(client, 5, event) == (404, "unknown community", "text/plain")
    assert await post(client, "abc", event) == (404, "unknown community", "text/plain")  # type: ignore[arg-type]
    assert await table_counts() == before


async def test_deprecated_version_warning_is_kept_raw_and_acknowledged(client: TestClient) -> None:
    event = load_event("deprecated_version_warning-1.json")
    await add_community(event["group_id"])
    before = await table_counts()
    assert await post(client, event["group_id"], {**event, "secret": SECRET}) == (200, "ok", "text/plain")
    assert await table_counts() == {**before, "raw_event": 1}
    raw = await RawEvent.get()
    assert (raw.status, raw.detail) == ("warning", event["object"]["warning"])


async def test_database_failure_is_503_never_ok(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    await add_community(GID)
    before = await table_counts()

    async def failing_ingest(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(inbound, "ingest", failing_ingest)
    event = {**load_event("message_allow-1.json"), "secret": SECRET}
    assert await post(client, GID, event) == (503, "temporarily unavailable", "text/plain")
    assert await table_counts() == before


async def test_accepted_events_are_published_after_commit(client: TestClient, app: web.Application) -> None:
    event = load_event("wall_reply_new-1.json")
    community = await add_community(event["group_id"])
    async with app[LIVE].subscribe() as queue:
        assert (await post(client, event["group_id"], {**event, "secret": SECRET}))[1] == "ok"
        message = await asyncio.wait_for(queue.get(), 5)
    item = await Item.get()
    assert message == LiveMessage(
        "item_created",
        {"community_id": community.id, "conversation_id": item.conversation_id, "item_id": item.id},
    )
