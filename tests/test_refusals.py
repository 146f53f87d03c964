"""Refused requests write nothing: they are counted and journaled once per minute window with the count.

Wrong callback secrets and an operator's forbidden pages go through the real app; the counter's clock is
pinned (proxy/clock.py is the one place that says what time it is), so that every request of a test falls
in the window the test chose, and the test says when a window has ended.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from proxy import db as proxy_db
from proxy import metrics, refusals
from proxy.appkeys import BACKGROUND, SETTINGS
from proxy.models import ActorKind, JournalEntry, Operator, RawEvent
from proxy.runtime.app import create_app
from proxy.runtime.workers import refusals_context
from proxy.settings import Settings, SettingsError
from tests.browser_fixtures import *  # noqa: F403
from tests.ingest_samples import SECRET, add_community, load_event, table_counts

GID = 191949777
# Half past a minute: the window is 10:15:00 to 10:16:00.
T0 = datetime(2026, 3, 2, 10, 15, 30, tzinfo=UTC)
WINDOW_START = "2026-03-02T10:15:00+00:00"
WINDOW_END = "2026-03-02T10:16:00+00:00"
# Long beside the few milliseconds a valid callback takes, even on a busy machine.
REFUSAL_DELAY = 5.0
SUPERVISORS_ONLY = "only managers and admins may do this"  # the reason proxy/access.py gives


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The refusal counter's clock, pinned at T0 until the test moves it."""
    pinned = Clock(T0)
    monkeypatch.setattr(refusals, "utcnow", pinned)
    return pinned


def wrong_secret_body(number: int) -> bytes:
    event = {**load_event("message_new-1.json"), "group_id": GID, "event_id": f"forged{number}"}
    if number % 3:
        event["secret"] = f"guess-{number}"
    else:
        event.pop("secret", None)  # a missing secret is refused the same way
    return json.dumps(event).encode()


async def post_wrong_secrets(client: TestClient, count: int) -> None:
    for number in range(count):
        response = await client.post(f"/callback/vk/{GID}", data=io.BytesIO(wrong_secret_body(number)))
        assert (response.status, await response.text()) == (403, "forbidden")


def refusals_counted(action: str, reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("proxy_refusals_total", {"action": action, "reason": reason}) or 0.0


async def test_wrong_secrets_write_nothing_then_one_entry_with_their_count(
    client: TestClient, clock: Clock
) -> None:
    community = await add_community(GID)
    before = await table_counts()
    counted = refusals_counted("callback.bad_secret", "bad_secret")

    await post_wrong_secrets(client, 200)

    assert await table_counts() == before  # no row in any table
    assert refusals_counted("callback.bad_secret", "bad_secret") == counted + 200
    assert await refusals.flush(T0 + timedelta(seconds=29)) == 0  # the window has not ended
    assert await table_counts() == before
    assert await refusals.flush(T0 + timedelta(seconds=30)) == 1
    entry = await JournalEntry.get()
    assert (entry.action, entry.actor_kind, entry.community_id, entry.operator_id) == (
        "callback.bad_secret", ActorKind.SYSTEM, community.id, None,
    )  # fmt: skip
    assert entry.params == {
        "reason": "bad_secret",
        "count": 200,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "remotes": ["127.0.0.1"],
    }
    assert await table_counts() == {**before, "journal_entry": before["journal_entry"] + 1}
    assert await refusals.flush() == 0  # nothing is left to journal

    # A valid callback is stored as ever.
    event = {**load_event("message_new-1.json"), "group_id": GID, "secret": SECRET}
    response = await client.post(f"/callback/vk/{GID}", data=io.BytesIO(json.dumps(event).encode()))
    assert (response.status, await response.text()) == (200, "ok")


async def test_each_minute_window_is_one_entry(client: TestClient, clock: Clock) -> None:
    await add_community(GID)
    await post_wrong_secrets(client, 3)
    clock.now = T0 + timedelta(minutes=1)
    await post_wrong_secrets(client, 2)

    assert await refusals.flush(T0 + timedelta(seconds=30)) == 1  # only the first window has ended
    assert await refusals.flush(T0 + timedelta(seconds=90)) == 1
    entries = await JournalEntry.filter(action="callback.bad_secret").order_by("id")
    assert [(e.params["count"], e.params["window_start"]) for e in entries] == [
        (3, WINDOW_START),
        (2, "2026-03-02T10:16:00+00:00"),
    ]


async def test_100_forbidden_page_loads_write_nothing_then_one_entry_with_their_count(
    client_for: Any, operator: Operator, clock: Clock
) -> None:
    client = await client_for(operator)  # logging in is journaled: before the count is taken
    before = await table_counts()
    counted = refusals_counted("access.denied", SUPERVISORS_ONLY)

    for _ in range(100):
        response = await client.get("/deleted", allow_redirects=False)
        assert response.status == 403

    assert await table_counts() == before  # no row in any table
    assert await refusals.flush(T0 + timedelta(seconds=30)) == 1
    entry = await JournalEntry.filter(action="access.denied").get()
    assert (entry.actor_kind, entry.operator_id, entry.community_id) == (ActorKind.OPERATOR, operator.id, None)
    assert entry.params == {
        "action": "audit.view",
        "reason": SUPERVISORS_ONLY,
        "count": 100,
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "targets": ["deleted"],
    }
    assert await table_counts() == {**before, "journal_entry": before["journal_entry"] + 1}
    assert refusals_counted("access.denied", SUPERVISORS_ONLY) == counted + 100


async def test_the_open_window_is_journaled_when_the_app_stops(
    aiohttp_client: Any, app: web.Application, db_url: str, clock: Clock
) -> None:
    client = await aiohttp_client(app)
    community = await add_community(GID)
    await post_wrong_secrets(client, 7)
    assert await JournalEntry.all().count() == 0

    await client.close()  # the app's cleanup: the database is still open for the last flush

    await proxy_db.open_database(db_url)
    try:
        entries = await JournalEntry.all().values_list("action", "community_id", "params")
    finally:
        await proxy_db.close_database()
    assert [(action, community_id, params["count"]) for action, community_id, params in entries] == [
        ("callback.bad_secret", community.id, 7)
    ]


async def test_the_app_journals_each_window_after_it_ends(
    db: str, settings: Settings, clock: Clock
) -> None:
    """The app's task (a cleanup context, when workers run) wakes at the window's end and journals it."""
    community = await add_community(GID)
    clock.now = T0.replace(second=59, microsecond=800_000)
    for _ in range(4):
        refusals.callback_refused(community.id, "bad_secret", "203.0.113.9")
    app = web.Application()
    app[SETTINGS] = Settings.from_env({}, database_url=db, workers=True)
    app[BACKGROUND] = {}
    context = refusals_context(app)
    await context.__anext__()
    await asyncio.sleep(0)  # the task reads the clock and sleeps until the window's end
    clock.now = T0 + timedelta(seconds=31)
    for _ in range(100):  # until the task has woken (about 1.2 s), at most 10 s
        if await JournalEntry.exists():
            break
        await asyncio.sleep(0.1)
    entry = await JournalEntry.get()
    assert (entry.community_id, entry.params["count"], entry.params["remotes"]) == (community.id, 4, ["203.0.113.9"])
    assert not app[BACKGROUND]["refusals"].done()
    with pytest.raises(StopAsyncIteration):
        await context.__anext__()
    assert app[BACKGROUND]["refusals"].done()
    assert await JournalEntry.all().count() == 1


async def test_a_count_the_database_cannot_take_is_kept_and_journaled_later(db: str, clock: Clock) -> None:
    community = await add_community(GID)
    refusals.callback_refused(community.id, "bad_secret", None)
    refusals.callback_refused(community.id, "bad_secret", None)
    await proxy_db.close_database()
    assert await refusals.flush() == 0  # no database: nothing written, nothing forgotten
    await proxy_db.open_database(db)
    refusals.callback_refused(community.id, "bad_secret", None)
    assert await refusals.flush() == 1
    entry = await JournalEntry.get()
    assert (entry.params["count"], "remotes" in entry.params) == (3, False)


@pytest.fixture
async def late_refusals(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient]:
    """A client of the app with refused callbacks answered after REFUSAL_DELAY."""
    yield await aiohttp_client(create_app(dataclasses.replace(settings, callback_refusal_delay=REFUSAL_DELAY)))
    await proxy_db.close_database()  # the connections the test body opened (see the `client` fixture)


async def test_a_refused_callback_is_answered_late_and_holds_up_no_valid_one(late_refusals: TestClient) -> None:
    """In service a refused callback is answered after a delay, so that a sender of wrong secrets that waits
    for its answers (as HTTP clients do) sends at most one a second per connection (docs/security.md)."""
    client = late_refusals
    await add_community(GID)
    refused = asyncio.create_task(client.post(f"/callback/vk/{GID}", data=io.BytesIO(wrong_secret_body(1))))
    await asyncio.sleep(0.1)  # the wrong secret is in first
    event = {**load_event("message_new-1.json"), "group_id": GID, "secret": SECRET}
    response = await client.post(f"/callback/vk/{GID}", data=io.BytesIO(json.dumps(event).encode()))
    assert (response.status, await response.text()) == (200, "ok")
    assert not refused.done()  # still waiting for its answer while the valid one was stored
    assert await RawEvent.filter(vk_group_id=GID).count() == 1
    late = await refused
    assert (late.status, await late.text()) == (403, "forbidden")


def test_the_refusal_delay_comes_from_the_environment() -> None:
    assert Settings.from_env({}).callback_refusal_delay == 1.0
    assert Settings.from_env({"PROXY_CALLBACK_REFUSAL_DELAY": "0"}).callback_refusal_delay == 0.0
    with pytest.raises(SettingsError, match="PROXY_CALLBACK_REFUSAL_DELAY"):
        Settings.from_env({"PROXY_CALLBACK_REFUSAL_DELAY": "-1"})
