"""GET /live: server-sent events for the open inbox or conversation page (htmx-ext-sse).

Event names are the domain event names (item_created, item_deleted, ...) plus conversation_updated,
outbox_updated, author_changed and presence_changed; the data is the event's JSON. A page refreshes its
partials on them (`hx-trigger="sse:item_created"`). An inbox page hears every community its operator may
see; a conversation page (`?conversation=ID`) hears that conversation and community-wide events, and
announces its operator's presence while it is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid

from aiohttp import web

from proxy.appkeys import LIVE
from proxy.live import PRESENCE_CHANGED, LiveMessage, Viewer
from web import params
from web.auth import OPERATOR, SCOPE, session_ended
from web.views.conversation import accessible_conversation

# A comment line this often keeps proxies from closing an idle stream, and notices a gone client.
KEEPALIVE_SECONDS = 15.0
CLOSING = web.AppKey("live_closing", asyncio.Event)
# A stream re-reads its account this often, and ends once the account's sessions have ended.
SESSION_CHECK_SECONDS = 5.0


def wanted(message: LiveMessage, *, communities: list[int] | None, conversation_id: int | None) -> bool:
    """Whether a page of this kind should hear this message."""
    data = message.data
    community = data.get("community_id")
    if communities is not None and community is not None and community not in communities:
        return False
    if conversation_id is None:
        return message.name != PRESENCE_CHANGED  # the inbox does not show who is where
    about = data.get("conversation_id")
    return about is None or about == conversation_id


def frame(message: LiveMessage) -> bytes:
    data = json.dumps(message.data, ensure_ascii=False, default=str)
    return f"event: {message.name}\ndata: {data}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    try:
        conversation_id = params.query_of(request)(params.CONVERSATION)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    if conversation_id is not None:
        await accessible_conversation(request, conversation_id)
    communities = request[SCOPE].communities()
    hub = request.app[LIVE]
    closing = request.app[CLOSING]

    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold events back
        }
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    viewer = Viewer(uuid.uuid4().hex, operator.id, operator.display_name or operator.login)
    async with hub.subscribe() as queue:
        if conversation_id is not None:
            await hub.enter(conversation_id, viewer)
        try:
            checked_at = asyncio.get_running_loop().time()
            while not closing.is_set():
                try:
                    message = await asyncio.wait_for(queue.get(), min(KEEPALIVE_SECONDS, SESSION_CHECK_SECONDS))
                except TimeoutError:
                    message = None
                if asyncio.get_running_loop().time() - checked_at >= SESSION_CHECK_SECONDS:
                    if await session_ended(operator):
                        break
                    checked_at = asyncio.get_running_loop().time()
                if message is None:
                    await response.write(b": keep-alive\n\n")
                    continue
                if message.name == "server_closing":
                    break
                if wanted(message, communities=communities, conversation_id=conversation_id):
                    await response.write(frame(message))
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
        finally:
            if conversation_id is not None:
                with contextlib.suppress(Exception):  # shutting down: the others learn when we stop
                    await hub.leave(conversation_id, viewer)
    return response


async def _close_streams(app: web.Application) -> None:
    # Open streams would hold a graceful shutdown for its whole timeout: end them first.
    app[CLOSING].set()
    app[LIVE].deliver_locally(LiveMessage("server_closing"))


def prepare_streams(app: web.Application) -> None:
    """Live streams end when the application shuts down (their route is in web/routes.py)."""
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_close_streams)
