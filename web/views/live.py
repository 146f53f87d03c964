"""GET /live: server-sent events for the open inbox or conversation page.

The inbox (`/live`, `?since=` the list's position) hears rendered rows, `row`, and `resync`
(web/views/inbox_live.py: rendered once per change, placed by app.js, caught up on reconnect through
`Last-Event-ID`). A conversation page (`?conversation=ID`, after the page's own access check) hears its
partials rendered, `part`, and `resync` (web/views/conversation_live.py: rendered once per change for every
page open on it, swapped in by conversation.js, caught up the same way), and announces its operator's
presence while it is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from proxy.appkeys import BACKGROUND, LIVE, SETTINGS
from proxy.inbound import publish
from proxy.live import LiveHub, LiveMessage, Viewer
from proxy.models import Conversation
from web import i18n, params
from web.auth import OPERATOR, SCOPE, session_ended
from web.views.conversation import accessible_conversation
from web.views.conversation_live import CONVERSATION_BROADCASTER, ConversationBroadcaster
from web.views.inbox_live import DirectWrite, InboxBroadcaster, InboxStream

# A comment line this often keeps proxies from closing an idle stream, and notices a gone client.
KEEPALIVE_SECONDS = 15.0
CLOSING = web.AppKey("live_closing", asyncio.Event)
# A stream re-reads its account this often, and ends once the account's sessions have ended.
SESSION_CHECK_SECONDS = 5.0
INBOX_BROADCASTER = web.AppKey("inbox_broadcaster", InboxBroadcaster)


async def stream(request: web.Request) -> web.StreamResponse:
    try:
        conversation_id = params.query_of(request)(params.CONVERSATION)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if conversation_id is None:
        return await inbox_stream(request)
    conversation = await accessible_conversation(request, conversation_id)
    return await conversation_stream(request, conversation)


async def conversation_stream(request: web.Request, conversation: Conversation) -> web.StreamResponse:
    """A conversation page's stream: its partials rendered once for every page open on it
    (web/views/conversation_live.py), resent from where the page left off; and its operator's presence."""
    broadcaster = request.app[CONVERSATION_BROADCASTER]
    hub = request.app[LIVE]
    closing = request.app[CLOSING]
    last_event_id = request.headers.get("Last-Event-ID") or request.query.get("since")
    operator = request[OPERATOR]
    response = await _open_stream(request)
    viewer = Viewer(uuid.uuid4().hex, operator.id, operator.display_name or operator.login)
    community_id = conversation.community_id  # type: ignore[attr-defined]
    async with broadcaster.attach(
        conversation.id, community_id, i18n.current_locale(), last_event_id
    ) as page:
        await hub.enter(conversation.id, viewer)
        try:
            checked_at = asyncio.get_running_loop().time()
            while not closing.is_set():
                frames = [await page.queue.get()]
                while not page.queue.empty():
                    frames.append(page.queue.get_nowait())
                # The broadcaster's keep-alives wake every stream at least every SESSION_CHECK_SECONDS.
                if asyncio.get_running_loop().time() - checked_at >= SESSION_CHECK_SECONDS:
                    if await session_ended(operator):
                        break
                    checked_at = asyncio.get_running_loop().time()
                payload = broadcaster.payload(page, frames)
                if payload:
                    await response.write(payload)
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
        finally:
            with contextlib.suppress(Exception):  # shutting down: the others learn when we stop
                await hub.leave(conversation.id, viewer)
    return response


async def _open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
        }
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    return response


async def inbox_stream(request: web.Request) -> web.StreamResponse:
    """The inbox's stream: rows rendered once for everyone (web/views/inbox_live.py), resent from where
    the client left off (`Last-Event-ID` on a reconnect, `?since=` on the page's first connect)."""
    broadcaster = request.app[INBOX_BROADCASTER]
    closing = request.app[CLOSING]
    last_event_id = request.headers.get("Last-Event-ID") or request.query.get("since")
    response = await _open_stream(request)
    operator = request[OPERATOR]
    write = direct_writer(request, await response.prepare(request))  # prepared: its writer again
    async with broadcaster.attach(request[SCOPE], i18n.current_locale(), last_event_id, write) as inbox:
        try:
            checked_at = asyncio.get_running_loop().time()
            while not closing.is_set():
                # Everything waiting goes out in one write: under load a stream costs one wake-up and one
                # write per batch of rows, not per row. (Keep-alives are queued by the broadcaster, so no
                # timer is armed per read.)
                frames = [await inbox.queue.get()]
                while not inbox.queue.empty():
                    frames.append(inbox.queue.get_nowait())
                # The broadcaster's keep-alives wake every stream at least every SESSION_CHECK_SECONDS.
                if asyncio.get_running_loop().time() - checked_at >= SESSION_CHECK_SECONDS:
                    if await session_ended(operator):
                        break
                    checked_at = asyncio.get_running_loop().time()
                payload = _payload(broadcaster, inbox, frames)
                if payload:
                    await response.write(payload)
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
    return response


# A client with this much unsent is not reading: it is sent `resync` (by its own task) instead of rows.
SLOW_CLIENT_BYTES = 1 << 20


def direct_writer(request: web.Request, writer: AbstractStreamWriter) -> DirectWrite:
    """Writes to this response at once: the broadcaster's path to an idle stream (inbox_live `_fan_out`).

    The write never waits for the client to take it (`drain=False`), so the broadcaster writes to every
    stream in one pass; a client that stops reading is caught by its transport's buffer instead.
    """

    async def write(data: bytes) -> bool:
        transport = request.transport
        if (
            transport is None
            or transport.is_closing()
            or transport.get_write_buffer_size() > SLOW_CLIENT_BYTES
        ):
            return False
        await writer.write(data, drain=False)  # type: ignore[call-arg]  # aiohttp's StreamWriter takes it
        return True

    return write


def _payload(broadcaster: InboxBroadcaster, inbox: InboxStream, frames: list[bytes]) -> bytes:
    if not inbox.behind:
        return b"".join(frames)
    # Frames were dropped (it did not read, or the rows could not be loaded): one re-fetch instead.
    inbox.behind = False
    while not inbox.queue.empty():
        inbox.queue.get_nowait()
    return broadcaster.resync_frame()


async def _close_streams(app: web.Application) -> None:
    # Open streams would hold a graceful shutdown for its whole timeout: end them first.
    app[CLOSING].set()
    app[LIVE].deliver_locally(LiveMessage("server_closing"))
    app[INBOX_BROADCASTER].wake_streams()
    app[CONVERSATION_BROADCASTER].wake_streams()


async def _stop_broadcaster(app: web.Application) -> None:
    await app[INBOX_BROADCASTER].stop()
    await app[CONVERSATION_BROADCASTER].stop()


OUTBOX_UPDATED = "outbox_updated"


def outbox_outcome_publisher(hub: LiveHub) -> Callable[[int | None], Awaitable[None]]:
    """An `OutboxWorker` listener: a reply's outcome (sent, failed, retried) published to every instance,
    so the conversation page is pushed its timeline instead of polling `GET /outbox/{id}`, and the inbox
    row is pushed again."""

    async def published(conversation_id: int | None) -> None:
        if conversation_id is not None:
            await hub.publish(OUTBOX_UPDATED, {"conversation_id": conversation_id})

    return published


AUTHOR_CHANGED = "author_changed"


def author_outcome_publisher(hub: LiveHub) -> Callable[[int | None], Awaitable[None]]:
    """An `OutboxWorker.author_listeners` entry: a ban's or an unban's outcome published, so the
    conversation page is pushed its author card (banned, or VK's refusal)."""

    async def published(conversation_id: int | None) -> None:
        if conversation_id is not None:
            await hub.publish(AUTHOR_CHANGED, {"conversation_id": conversation_id})

    return published


async def _publish_outbox_outcomes(app: web.Application) -> None:
    # An on_startup callback runs after every cleanup context has started, so the worker is there
    # (when this instance runs one: outbox.outbox_worker_context).
    worker = app[BACKGROUND].get("outbox_worker")
    if worker is not None:
        worker.listeners.append(outbox_outcome_publisher(app[LIVE]))
        worker.author_listeners.append(author_outcome_publisher(app[LIVE]))
        worker.ingest_listeners.append(functools.partial(publish, app[LIVE]))


def prepare_streams(app: web.Application) -> None:
    """Live streams end when the application shuts down (their route is in web/routes.py)."""
    app[CLOSING] = asyncio.Event()
    env = aiohttp_jinja2.get_env(app)
    app[INBOX_BROADCASTER] = InboxBroadcaster(
        app[LIVE], env, app[SETTINGS].tz, keepalive=min(KEEPALIVE_SECONDS, SESSION_CHECK_SECONDS)
    )
    app[CONVERSATION_BROADCASTER] = ConversationBroadcaster(
        app[LIVE], env, app[SETTINGS].tz, keepalive=min(KEEPALIVE_SECONDS, SESSION_CHECK_SECONDS)
    )
    app.on_startup.append(_publish_outbox_outcomes)
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_stop_broadcaster)
