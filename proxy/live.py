"""Live updates: domain events fanned out to every open inbox and conversation page, on every instance.

On SQLite (one process serves) `publish` delivers in-process. On PostgreSQL, once `listening()` runs,
`publish` sends `NOTIFY proxy_live, '<json>'` and every instance (this one included) LISTENs on a
dedicated asyncpg connection and delivers what it hears to its own subscribers, so an update made on
one instance reaches the pages served by all of them.

The LISTEN connection is kept up by `PgListener`: when PostgreSQL restarts, or an administrator
terminates the backend, it reconnects with back-off and LISTENs again on every channel. Other parts of
the instance hear their own channels on the same connection (`LiveHub.listen`: the outbox worker is woken
by `proxy_outbox`). NOTIFYs sent while the connection is down are lost to this instance (PostgreSQL keeps
nothing for a listener that is not there), so after a reconnect every open page is told to refresh.

Presence ("Anna is also here") rides on the same channel as `presence_changed` messages; every instance
keeps the resulting registry in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

SUBSCRIBER_QUEUE_SIZE = 256
CHANNEL = "proxy_live"
PRESENCE_CHANGED = "presence_changed"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
MAX_NOTIFY_BYTES = 7900
# Told to this instance's pages after the LISTEN connection came back: they refresh what they show.
RESYNC_EVENT = "conversation_updated"


@dataclass(frozen=True)
class LiveMessage:
    """One update: `name` is the domain event name (also the SSE event name), `data` is JSON-able."""

    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Viewer:
    """One open conversation page: who has it open."""

    key: str
    operator_id: int
    name: str


def asyncpg_dsn(database_url: str) -> str:
    """The database URL as asyncpg takes it (tortoise's own query options removed)."""
    parts = urlsplit(database_url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


OnPayload = Callable[[str], None]
OnResume = Callable[[], None]


class ListenerDown(Exception):
    """The LISTEN connection is away (being re-opened)."""


@dataclass(frozen=True)
class _Handler:
    on_payload: OnPayload
    on_resume: OnResume | None


class PgListener:
    """One LISTEN connection that stays up: when it ends it is opened again, with back-off, on every channel.

    The connection ends when PostgreSQL restarts or an administrator terminates its backend; asyncpg
    then calls our termination listener. A connection that silently stops answering (a network
    partition) is caught by a `SELECT 1` every `check_interval` seconds. Handlers run on the event loop;
    `on_resume` handlers run after a re-opened connection LISTENs again (NOTIFYs sent while it was away
    are lost to this instance: that is their cue to catch up).
    """

    def __init__(
        self,
        dsn: str,
        *,
        application_name: str = "proxy-live",
        backoff_min: float = 0.25,
        backoff_max: float = 15.0,
        check_interval: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self.application_name = application_name
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.check_interval = check_interval
        self.connect_timeout = connect_timeout
        self._handlers: dict[str, list[_Handler]] = {}
        self._connection: Any = None
        self._lost = asyncio.Event()
        self._lock = asyncio.Lock()  # one asyncpg connection runs one statement at a time
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.reconnects = 0  # times the connection was re-opened (tests, logs)
        self.connected = asyncio.Event()

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend serving the connection, while it is up."""
        connection = self._connection
        return None if connection is None or connection.is_closed() else connection.get_server_pid()

    async def add(self, channel: str, on_payload: OnPayload, on_resume: OnResume | None = None) -> None:
        """Hear `channel` (from now on, and again after every reconnect)."""
        first = channel not in self._handlers
        self._handlers.setdefault(channel, []).append(_Handler(on_payload, on_resume))
        connection = self._connection
        if first and connection is not None and not connection.is_closed():
            async with self._lock:
                await connection.add_listener(channel, self._dispatch)

    def remove(self, channel: str, on_payload: OnPayload) -> None:
        """Stop calling `on_payload` (the channel stays LISTENed: cheap, and others may share it)."""
        handlers = self._handlers.get(channel, [])
        self._handlers[channel] = [h for h in handlers if h.on_payload != on_payload]

    async def start(self) -> None:
        """Open the connection (errors propagate: a service that cannot reach its database does not start)."""
        await self._open()
        self._task = asyncio.create_task(self._supervise(), name=f"{self.application_name}-supervisor")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        connection, self._connection = self._connection, None
        self.connected.clear()
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may raise; nothing to do
                await asyncio.wait_for(connection.close(), 5)
            if not connection.is_closed():
                connection.terminate()

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY on the LISTEN connection; ListenerDown while it is being re-opened."""
        connection = self._connection
        if connection is None or connection.is_closed():
            raise ListenerDown(channel)
        try:
            async with self._lock:
                await connection.execute("SELECT pg_notify($1, $2)", channel, payload)
        except Exception:
            if connection.is_closed():
                self._lose(connection)
                raise ListenerDown(channel) from None
            raise

    # --- the connection's life ---------------------------------------------------------------

    async def _open(self) -> None:
        import asyncpg  # only PostgreSQL deployments need it here

        connection = await asyncpg.connect(
            self._dsn,
            timeout=self.connect_timeout,
            server_settings={"application_name": self.application_name},
        )
        try:
            for channel in self._handlers:
                await connection.add_listener(channel, self._dispatch)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._on_terminated)
        self._connection = connection
        self._lost.clear()
        self.connected.set()

    def _on_terminated(self, connection: Any) -> None:
        self._lose(connection)

    def _lose(self, connection: Any) -> None:
        if self._closing or connection is not self._connection:
            return
        self._connection = None
        self.connected.clear()
        log.warning("%s: the LISTEN connection was lost; re-opening it", self.application_name)
        self._lost.set()
        if not connection.is_closed():
            connection.terminate()

    async def _alive(self, connection: Any) -> bool:
        try:
            async with self._lock:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), self.connect_timeout)
        except Exception:
            return False
        return True

    async def _supervise(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), self.check_interval)
            except TimeoutError:
                connection = self._connection
                if connection is not None and not await self._alive(connection):
                    self._lose(connection)
                continue
            await self._reopen()

    async def _reopen(self) -> None:
        delay, attempts = self.backoff_min, 0
        while True:
            attempts += 1
            try:
                await self._open()
            except Exception as exc:
                if attempts == 1:
                    log.warning(
                        "%s: re-opening the LISTEN connection failed (%s: %s); trying again with back-off",
                        self.application_name, type(exc).__name__, exc,
                    )  # fmt: skip
                # Jitter, so instances that lost PostgreSQL together do not knock together.
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max)
                continue
            break
        self.reconnects += 1
        log.warning("%s: LISTEN connection re-opened after %d attempt(s)", self.application_name, attempts)
        for handlers in list(self._handlers.values()):
            for handler in list(handlers):
                if handler.on_resume is not None:
                    try:
                        handler.on_resume()
                    except Exception:
                        log.exception("a LISTEN resume handler failed")

    def _dispatch(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                handler.on_payload(payload)
            except Exception:
                log.exception("a LISTEN handler of %s failed", channel)


class LiveHub:
    """Publish updates after their transaction commits; subscribers receive them in order."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[LiveMessage]] = set()
        self.listener: PgListener | None = None  # the LISTEN connection, on PostgreSQL
        self._channels: list[tuple[str, OnPayload, OnResume | None]] = []
        self._viewers: dict[int, dict[str, Viewer]] = {}
        self._sending = asyncio.Lock()  # one NOTIFY of updates at a time, in order
        self._outgoing: list[tuple[LiveMessage, asyncio.Future[None]]] = []  # waiting for the next one

    async def publish(self, name: str, data: dict[str, Any] | None = None) -> None:
        """Send an update to every subscriber of every instance. Call after the change has committed.

        Updates published while an earlier NOTIFY is on its way wait for it and then go together, as
        one NOTIFY whose payload is a JSON array of them (as many as fit), in the order published.
        At ingest's peak that is one NOTIFY for a burst of events instead of one each: each NOTIFY
        costs a round trip, a queue entry, and a wake-up of every instance's listener (publishing was
        about a fifth of the machine's CPU per event at 64 senders, bench/findings.md). An update
        alone is sent as before, a JSON object, which instances of the previous release also read.
        """
        message = LiveMessage(name, data or {})
        listener = self.listener
        if listener is None:
            self.deliver_locally(message)
            return
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outgoing.append((message, sent))
        async with self._sending:
            if not sent.done():
                batch, self._outgoing = self._outgoing, []
                try:
                    for payload, messages in _packed([m for m, _ in batch]):
                        await self._notify(listener, payload, messages)
                finally:
                    for _, done in batch:
                        done.set_result(None)

    async def _notify(self, listener: PgListener, payload: str, messages: list[LiveMessage]) -> None:
        try:
            await listener.notify(CHANNEL, payload)
        except ListenerDown:
            # Being re-opened (logged once, by the listener): the other instances miss these.
            self._deliver_all_locally(messages)
        except Exception as exc:  # a failed NOTIFY must not fail the action that published
            log.warning(
                "NOTIFY failed (%s: %s); delivering %s on this instance only",
                type(exc).__name__,
                exc,
                ", ".join(m.name for m in messages),
            )
            self._deliver_all_locally(messages)

    def _deliver_all_locally(self, messages: list[LiveMessage]) -> None:
        for message in messages:
            self.deliver_locally(message)

    def deliver_locally(self, message: LiveMessage) -> None:
        if message.name == PRESENCE_CHANGED:
            self._apply_presence(message.data)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                # A stalled client must not hold the others back; it reloads to catch up.
                log.warning("dropping a live update for a subscriber that is not reading")

    @contextlib.asynccontextmanager
    async def subscribe(self, maxsize: int = SUBSCRIBER_QUEUE_SIZE) -> AsyncIterator[asyncio.Queue[LiveMessage]]:
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(maxsize)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # --- PostgreSQL fan-out ------------------------------------------------------------------

    async def listen(self, channel: str, on_payload: OnPayload, on_resume: OnResume | None = None) -> None:
        """Also hear `channel` on this instance's LISTEN connection (whether or not it is open yet).

        On SQLite nothing is ever heard: there is one instance, which tells itself in-process.
        """
        self._channels.append((channel, on_payload, on_resume))
        if self.listener is not None:
            await self.listener.add(channel, on_payload, on_resume)

    def unlisten(self, channel: str, on_payload: OnPayload) -> None:
        self._channels = [c for c in self._channels if not (c[0] == channel and c[1] == on_payload)]
        if self.listener is not None:
            self.listener.remove(channel, on_payload)

    @contextlib.asynccontextmanager
    async def listening(self, database_url: str, **listener_options: Any) -> AsyncIterator[None]:
        """LISTEN for updates from every instance while the block runs (a no-op on SQLite).

        The connection is re-opened whenever it ends (PgListener; `listener_options` tune it).
        """
        if database_url.startswith("sqlite"):
            yield
            return
        listener = PgListener(
            asyncpg_dsn(database_url), application_name=f"proxy-live {os.getpid()}", **listener_options
        )
        await listener.add(CHANNEL, self._on_notify, self._resumed)
        for channel, on_payload, on_resume in self._channels:
            await listener.add(channel, on_payload, on_resume)
        await listener.start()
        self.listener = listener
        try:
            yield
        finally:
            self.listener = None
            await listener.close()

    def _on_notify(self, payload: str) -> None:
        try:
            raw = json.loads(payload)
            messages = [
                LiveMessage(str(one["name"]), dict(one.get("data") or {}))
                for one in (raw if isinstance(raw, list) else [raw])
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring a malformed live update: %.200s", payload)
            return
        self._deliver_all_locally(messages)

    def _resumed(self) -> None:
        # Updates published while the connection was away never arrived: every open page refreshes.
        self.deliver_locally(LiveMessage(RESYNC_EVENT, {}))

    # --- presence ----------------------------------------------------------------------------

    async def enter(self, conversation_id: int, viewer: Viewer) -> None:
        """Announce that `viewer` has the conversation open."""
        await self.publish(PRESENCE_CHANGED, _presence_data(conversation_id, viewer, here=True))

    async def leave(self, conversation_id: int, viewer: Viewer) -> None:
        """Announce that `viewer` closed the conversation page."""
        await self.publish(PRESENCE_CHANGED, _presence_data(conversation_id, viewer, here=False))

    def viewers(self, conversation_id: int) -> list[Viewer]:
        """Everyone who has the conversation open, on any instance, in arrival order."""
        return list(self._viewers.get(conversation_id, {}).values())

    def _apply_presence(self, data: dict[str, Any]) -> None:
        try:
            conversation_id = int(data["conversation_id"])
            viewer = Viewer(str(data["viewer"]), int(data["operator_id"]), str(data.get("name", "")))
        except (KeyError, TypeError, ValueError):
            log.warning("ignoring a malformed presence update: %r", data)
            return
        here = self._viewers.setdefault(conversation_id, {})
        if data.get("here"):
            here[viewer.key] = viewer
        else:
            here.pop(viewer.key, None)
            if not here:
                del self._viewers[conversation_id]


def _presence_data(conversation_id: int, viewer: Viewer, *, here: bool) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "viewer": viewer.key,
        "operator_id": viewer.operator_id,
        "name": viewer.name,
        "here": here,
    }


def _packed(messages: list[LiveMessage]) -> list[tuple[str, list[LiveMessage]]]:
    """NOTIFY payloads for `messages`, in order: one message alone as its JSON object, several as a JSON
    array of as many as fit in MAX_NOTIFY_BYTES."""
    payloads: list[tuple[str, list[LiveMessage]]] = []
    encoded: list[str] = []
    group: list[LiveMessage] = []
    size = 2  # the brackets

    def close_group() -> None:
        text = encoded[0] if len(encoded) == 1 else "[" + ",".join(encoded) + "]"
        payloads.append((text, list(group)))
        encoded.clear()
        group.clear()

    for message in messages:
        text = _encode(message)
        length = len(text.encode()) + 1  # and its comma
        if encoded and size + length > MAX_NOTIFY_BYTES:
            close_group()
            size = 2
        encoded.append(text)
        group.append(message)
        size += length
    if encoded:
        close_group()
    return payloads


def _encode(message: LiveMessage) -> str:
    payload = json.dumps({"name": message.name, "data": message.data}, ensure_ascii=False, default=str)
    if len(payload.encode()) <= MAX_NOTIFY_BYTES:
        return payload
    # Too big for NOTIFY: keep the ids, which is all a page needs to know what to refresh.
    ids = {k: v for k, v in message.data.items() if k.endswith("_id") and isinstance(v, int | str)}
    log.warning("live update %s too large for NOTIFY; sending its ids only", message.name)
    return json.dumps({"name": message.name, "data": ids}, default=str)


# The message a stored item publishes (proxy/events.py ItemCreated.name): workers that act on new items
# wake on it.
NEW_ITEM = "item_created"


async def new_item_or_timeout(queue: asyncio.Queue[LiveMessage] | None, seconds: float) -> None:
    """Wait until an item arrives on `queue` (a `LiveHub.subscribe` queue) or `seconds` pass; a burst of
    items ends one wait (the rest are dropped). Without a queue, only wait."""
    if queue is None:
        await asyncio.sleep(seconds)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as
        # the queue hands over a message (gh-86296), and a worker that ignores its cancel holds shutdown
        # for the whole interval (a test of a worker hung on it).
        try:
            async with asyncio.timeout(left):
                message = await queue.get()
        except TimeoutError:
            return
        if message.name == NEW_ITEM:
            while not queue.empty():  # one round for a burst
                queue.get_nowait()
            return
