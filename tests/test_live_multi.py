"""Live updates across instances on one PostgreSQL database, and the LISTEN connection surviving its end.

Issue 10: "live updates reach operators on either instance": a callback taken by instance A reaches an
SSE client of instance B (two `python -m proxy serve` processes). The LISTEN connection is re-opened with
back-off when its backend is terminated or PostgreSQL restarts, LISTENs again, and tells its pages to
refresh; a later publish reaches subscribers again. Waits below are guards against hanging, never speed
requirements.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bench.processes import proxy_server
from bench.soak_postgres import PrivateCluster, postgres_bin
from proxy import db as proxy_db
from proxy.accounts import hash_password
from proxy.live import MAX_NOTIFY_BYTES, RESYNC_EVENT, LiveHub, LiveMessage, PgListener, _packed, asyncpg_dsn
from proxy.models import Community, Operator
from tests.actions_fixtures import *  # noqa: F403
from tests.browser_fixtures import PASSWORD
from tests.conftest import TEST_SECRET_KEY
from tests.security_fixtures import CALLBACK_SECRET, message_new

GUARD_SECONDS = 60.0
FAST = {"backoff_min": 0.05, "backoff_max": 0.5}


def postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("SQLite runs one process: live updates are delivered in-process")


async def _reopened(listener: PgListener, times: int) -> None:
    while not (listener.reconnects >= times and listener.connected.is_set()):  # noqa: ASYNC110
        await asyncio.sleep(0.02)


async def _next(queue: asyncio.Queue[LiveMessage], name: str) -> LiveMessage:
    """The next message called `name` (others, such as a resync, may come first)."""
    while True:
        message = await asyncio.wait_for(queue.get(), GUARD_SECONDS)
        if message.name == name:
            return message


async def _terminate(database_url: str, pid: int | None) -> None:
    assert pid is not None
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


async def test_listener_reopens_after_its_backend_is_terminated_and_hears_again(db_url: str) -> None:
    postgres_only(db_url)
    here, there = LiveHub(), LiveHub()  # two instances' hubs, each with its own LISTEN connection
    async with here.listening(db_url, **FAST), there.listening(db_url, **FAST), here.subscribe() as queue:
        listener = here.listener
        assert listener is not None
        for n in range(1, 4):
            before = listener.backend_pid
            await _terminate(db_url, before)
            await asyncio.wait_for(_reopened(listener, n), GUARD_SECONDS)
            assert listener.backend_pid not in (None, before)
            # Whatever was published while the connection was away is lost here: pages refresh.
            assert (await _next(queue, RESYNC_EVENT)).data == {}
            await there.publish("item_created", {"community_id": 1, "item_id": n})
            assert (await _next(queue, "item_created")).data == {"community_id": 1, "item_id": n}
            # And this instance's own NOTIFYs go out on the new connection.
            async with there.subscribe() as theirs:
                await here.publish("item_edited", {"item_id": n})
                assert (await _next(theirs, "item_edited")).data == {"item_id": n}
        assert listener.reconnects == 3


async def test_publish_while_the_listener_is_away_stays_on_this_instance_and_logs_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    postgres_only(db_url)
    hub = LiveHub()
    caplog.set_level(logging.WARNING, logger="proxy.live")
    async with hub.listening(db_url, **FAST), hub.subscribe() as queue:
        listener = hub.listener
        assert listener is not None and listener.backend_pid is not None
        listener._connection.terminate()  # the connection is gone before anyone noticed
        for n in range(5):
            await hub.publish("item_created", {"item_id": n})  # never raises: the action succeeded
        received = [await _next(queue, "item_created") for _ in range(5)]
        assert [m.data["item_id"] for m in received] == [0, 1, 2, 3, 4]
        await asyncio.wait_for(_reopened(listener, 1), GUARD_SECONDS)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("LISTEN connection was lost" in line for line in lines) == 1
    assert not any("NOTIFY failed" in line for line in lines)  # not one line per update


async def test_a_burst_of_updates_goes_as_few_notifies_in_order_to_every_instance(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_only(db_url)
    here, there = LiveHub(), LiveHub()
    notifies: list[str] = []
    original = PgListener.notify

    async def counted(self: PgListener, channel: str, payload: str) -> None:
        notifies.append(payload)
        await original(self, channel, payload)

    monkeypatch.setattr(PgListener, "notify", counted)
    async with here.listening(db_url, **FAST), there.listening(db_url, **FAST), there.subscribe() as queue:
        await asyncio.gather(*(here.publish("item_created", {"item_id": n}) for n in range(200)))
        received = [await _next(queue, "item_created") for _ in range(200)]
    assert [m.data["item_id"] for m in received] == list(range(200))
    # The first goes alone, as a JSON object; the rest waited for it and went packed.
    assert json.loads(notifies[0]) == {"name": "item_created", "data": {"item_id": 0}}
    assert 2 <= len(notifies) <= 5, len(notifies)
    assert all(len(payload.encode()) <= MAX_NOTIFY_BYTES for payload in notifies)


def test_packed_payloads_keep_order_and_stay_under_the_notify_limit() -> None:
    messages = [LiveMessage("item_created", {"item_id": n, "text": "ж" * 900}) for n in range(30)]
    payloads = _packed(messages)
    assert len(payloads) > 1
    assert all(len(text.encode()) <= MAX_NOTIFY_BYTES for text, _ in payloads)
    decoded = [one for text, _ in payloads for one in json.loads(text)]
    assert [one["data"]["item_id"] for one in decoded] == list(range(30))
    assert [m for _, group in payloads for m in group] == messages
    [(alone, _)] = _packed(messages[:1])
    assert json.loads(alone)["data"]["item_id"] == 0


@pytest.mark.skipif(postgres_bin() is None, reason="Debian's PostgreSQL server programs are not installed")
async def test_listener_comes_back_after_postgresql_restarts() -> None:
    cluster = PrivateCluster().init()
    cluster.start()
    try:
        hub, other = LiveHub(), LiveHub()
        async with hub.listening(cluster.url, **FAST), hub.subscribe() as queue:
            listener = hub.listener
            assert listener is not None
            for n in range(1, 3):
                await asyncio.to_thread(cluster.stop)
                await hub.publish("item_created", {"item_id": -n})  # down: delivered here only
                assert (await _next(queue, "item_created")).data == {"item_id": -n}
                await asyncio.sleep(1.0)  # stays down a while: reconnecting fails and backs off
                await asyncio.to_thread(cluster.start)
                await asyncio.wait_for(_reopened(listener, n), GUARD_SECONDS)
                async with other.listening(cluster.url, **FAST):  # an instance started after the restart
                    await other.publish("item_created", {"item_id": n})
                assert (await _next(queue, "item_created")).data == {"item_id": n}
    finally:
        cluster.destroy()


# --- issue 10: two app instances ------------------------------------------------------------------------


async def _log_in(session: aiohttp.ClientSession, base_url: str, login: str) -> None:
    async with session.post(f"{base_url}/login", data={"login": login, "password": PASSWORD}) as response:
        assert response.status == 200, await response.text()
        assert "/login" not in str(response.url)


async def _frames(response: aiohttp.ClientResponse, name: str) -> dict[str, Any]:
    """Read SSE frames until one is `name`; its data (comments, such as keep-alives, are skipped)."""
    while True:
        frame = await asyncio.wait_for(response.content.readuntil(b"\n\n"), GUARD_SECONDS)
        if frame.startswith(b":"):
            continue
        fields = dict(line.split(": ", 1) for line in frame.decode().strip().split("\n"))
        if fields.get("event") == name:
            return json.loads(fields["data"])


async def _callback(session: aiohttp.ClientSession, base_url: str, event: dict[str, Any]) -> None:
    body = {**event, "secret": CALLBACK_SECRET}
    async with session.post(f"{base_url}/callback/vk/{event['group_id']}", json=body) as response:
        assert (response.status, await response.text()) == (200, "ok")


async def _listener_pid(database_url: str, process_pid: int, *, not_pid: int | None = None) -> int:
    """The backend of an instance's LISTEN connection (application_name "proxy-live <its pid>")."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        deadline = time.monotonic() + GUARD_SECONDS
        while time.monotonic() < deadline:
            pid = await connection.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2",
                f"proxy-live {process_pid}", not_pid or 0,
            )  # fmt: skip
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
    raise AssertionError(f"no LISTEN connection of process {process_pid}")


async def test_a_callback_taken_by_one_instance_reaches_an_operator_on_the_other(
    db_url: str, community: Community, operator: Operator, world: Any, tmp_path: Path
) -> None:
    postgres_only(db_url)
    operator.password_hash = hash_password(PASSWORD)
    await operator.save(update_fields=["password_hash"])
    await proxy_db.close_database()  # the instances own the database from here
    a, b = (proxy_server(db_url, tmp_path, PROXY_SECRET_KEY=TEST_SECRET_KEY) for _ in range(2))
    await asyncio.gather(a.start(), b.start())
    try:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=jar) as browser, aiohttp.ClientSession() as vk:
            await _log_in(browser, b.base_url, operator.login)
            async with browser.get(f"{b.base_url}/live", timeout=aiohttp.ClientTimeout(total=None)) as stream:
                assert await stream.content.readuntil(b"\n\n") == b": connected\n\n"
                member = world.members[0]

                await _callback(vk, a.base_url, message_new(world.group.id, member.id, "Привет", cmid=1))
                data = await _frames(stream, "row")  # the inbox hears the rendered row (inbox_live.py)
                assert data["community_id"] == community.id and "Привет" in data["html"]

                # B's LISTEN connection is cut: it comes back, B's inbox is told to re-fetch its list,
                # and the next callback taken by A reaches B's operator again.
                first = await _listener_pid(db_url, b.pid)
                await _terminate(db_url, first)
                assert await _frames(stream, "resync") == {}
                assert await _listener_pid(db_url, b.pid, not_pid=first) != first
                await _callback(vk, a.base_url, message_new(world.group.id, member.id, "Ещё", cmid=2))
                again = await _frames(stream, "row")
                assert again["conversation_id"] == data["conversation_id"] and "Ещё" in again["html"]
    finally:
        await asyncio.gather(a.stop(), b.stop())
    assert "Traceback" not in a.log_path.read_text() + b.log_path.read_text()
