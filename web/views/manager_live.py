"""GET /live/manager?page=stats|journal|deleted: the manager pages' live signal, at a cost independent of
the event rate.

A figure of the statistics page depends on the viewer's own filters and period, so unlike an inbox row
nothing rendered once could be placed by the browser. What is pushed instead is a notice, `changed`,
coalesced per page: each instance hears every change once (`LiveHub`), notes which communities changed,
and at most once every `WINDOWS[page]` seconds tells each open page of that kind whose scope
(`proxy/access.py` `Scope.sees`) sees one of them. The page then re-fetches its own partial once, with
its own filters (web/static/js/manager_live.js: at most one request in flight), and only when what it
shows covers "now": a report of past days never changes, so its page renders no live marker and opens no
stream. Work is (open pages / window) requests a second, however many events arrive.

Messages that name a conversation but no community (an outbox outcome) are resolved in one query per
window; a message naming neither (the LISTEN connection came back: what was missed is unknown) reaches
every page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

from aiohttp import web

from proxy.access import AccessDenied, Scope, require_supervisor
from proxy.appkeys import LIVE
from proxy.clock import utcnow
from proxy.live import PRESENCE_CHANGED, LiveHub, LiveMessage
from proxy.models import Conversation
from web.auth import OPERATOR, SCOPE, session_ended
from web.i18n import gettext as _
from web.views import live

log = logging.getLogger(__name__)

# At most one notice per page kind and instance this often (seconds). The statistics are the dearest to
# re-compute and the least urgent; the journal and the archive are lists a manager watches.
WINDOWS = {"stats": 10.0, "journal": 3.0, "deleted": 3.0}
SUPERVISOR_PAGES = frozenset({"deleted"})
HUB_QUEUE_SIZE = 10_000
CHANGED_EVENT = "changed"
KEEPALIVE_FRAME = b": keep-alive\n\n"


@dataclass(eq=False)
class ManagerStream:
    """One open manager page: what its viewer may see, and whether a notice waits for it."""

    scope: Scope
    page: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    notices: int = 0  # notices given (tests: one per window, whatever the number of events)

    def notify(self) -> None:
        # A notice already waiting covers this one too: the page re-fetches what it shows, whole.
        if not self.changed.is_set():
            self.notices += 1
            self.changed.set()


@dataclass
class _Pending:
    """What changed since a page kind's last notice."""

    communities: set[int] = field(default_factory=set)
    everything: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __bool__(self) -> bool:
        return self.everything or bool(self.communities)


class ManagerSignals:
    """This instance's coalesced notices for the manager pages (see the module)."""

    def __init__(self, hub: LiveHub, windows: dict[str, float] | None = None) -> None:
        self.hub = hub
        self.windows = dict(windows or WINDOWS)
        self._streams: dict[str, set[ManagerStream]] = {page: set() for page in self.windows}
        self._pending: dict[str, _Pending] = {page: _Pending() for page in self.windows}
        self._conversations: set[int] = set()  # named without their community: resolved at the flush
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        if not self._tasks:
            self._tasks.append(asyncio.create_task(self._hear(), name="manager-live"))
            for page in self.windows:
                self._tasks.append(asyncio.create_task(self._pace(page), name=f"manager-live-{page}"))
            await self._subscribed.wait()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @contextlib.asynccontextmanager
    async def attach(self, scope: Scope, page: str):  # type: ignore[no-untyped-def]
        await self.start()
        stream = ManagerStream(scope, page)
        self._streams[page].add(stream)
        try:
            yield stream
        finally:
            self._streams[page].discard(stream)

    def stream_count(self, page: str) -> int:
        return len(self._streams[page])

    def note(self, message: LiveMessage) -> None:
        """Remember what `message` changed, for every page kind's next notice."""
        if message.name == PRESENCE_CHANGED:
            return  # who has a conversation open changes no figure, entry or deletion
        community = message.data.get("community_id")
        conversation = message.data.get("conversation_id")
        if isinstance(community, int):
            for pending in self._pending.values():
                pending.communities.add(community)
        elif isinstance(conversation, int):
            self._conversations.add(conversation)
        else:
            for pending in self._pending.values():
                pending.everything = True
        for pending in self._pending.values():
            pending.arrived.set()

    async def flush(self, page: str) -> int:
        """Give one notice to each open page of this kind that sees a change; how many were given."""
        await self._resolve_conversations()
        pending = self._pending[page]
        self._pending[page] = _Pending()
        if not pending:
            return 0
        given = 0
        for stream in list(self._streams[page]):
            if pending.everything or any(stream.scope.sees(c) for c in pending.communities):
                stream.notify()
                given += 1
        return given

    async def _resolve_conversations(self) -> None:
        if not self._conversations:
            return
        ids, self._conversations = list(self._conversations), set()
        try:
            communities = set(await Conversation.filter(id__in=ids).values_list("community_id", flat=True))
        except Exception:
            log.exception("the communities of changed conversations could not be read; every page refreshes")
            for pending in self._pending.values():
                pending.everything = True
            return
        for pending in self._pending.values():
            pending.communities.update(communities)  # type: ignore[arg-type]

    async def _hear(self) -> None:
        async with self.hub.subscribe(HUB_QUEUE_SIZE) as queue:
            self._subscribed.set()
            while True:
                self.note(await queue.get())

    async def _pace(self, page: str) -> None:
        # The first change after a quiet spell waits out the window, so one notice covers the window's burst;
        # the next window starts only once a change arrives.
        while True:
            await self._pending[page].arrived.wait()
            await asyncio.sleep(self.windows[page])
            try:
                await self.flush(page)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("manager pages' live notice failed")

    def wake_streams(self) -> None:
        """Wake every stream (the server is closing)."""
        for streams in self._streams.values():
            for stream in list(streams):
                stream.changed.set()


MANAGER_SIGNALS = web.AppKey("manager_signals", ManagerSignals)


def changed_frame(page: str) -> bytes:
    data = json.dumps({"page": page, "at": utcnow().isoformat()})
    return f"event: {CHANGED_EVENT}\ndata: {data}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /live/manager?page=...: `changed` when what the page shows may have changed (see the module)."""
    page = request.query.get("page", "")
    signals = request.app[MANAGER_SIGNALS]
    if page not in signals.windows:
        raise web.HTTPBadRequest(text=_("page must be one of: %(pages)s", pages=", ".join(signals.windows)))
    operator = request[OPERATOR]
    if page in SUPERVISOR_PAGES:
        try:
            await require_supervisor(operator, action="audit.view", target=page)
        except AccessDenied:
            raise web.HTTPForbidden(text=_("Only managers and admins may open this page.")) from None
    closing = request.app[live.CLOSING]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    # The account is re-read as often as the other live streams do (their SESSION_CHECK_SECONDS).
    check_every = live.SESSION_CHECK_SECONDS
    async with signals.attach(request[SCOPE], page) as notices:
        # Joined before "connected" is written: a change the page hears of after that reaches it.
        await response.prepare(request)
        await response.write(b": connected\n\n")
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        try:
            while not closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.changed.wait(), check_every)
                if closing.is_set():
                    break
                if loop.time() - checked_at >= check_every:
                    if await session_ended(operator):
                        break
                    checked_at = loop.time()
                if notices.changed.is_set():
                    notices.changed.clear()
                    await response.write(changed_frame(page))
                else:
                    await response.write(KEEPALIVE_FRAME)
        except (ConnectionResetError, ConnectionError):
            pass  # the page was closed
    return response


async def _close_streams(app: web.Application) -> None:
    app[MANAGER_SIGNALS].wake_streams()


async def _stop_signals(app: web.Application) -> None:
    await app[MANAGER_SIGNALS].stop()


def prepare_streams(app: web.Application) -> None:
    """The manager pages' signal for this app (its route is in web/routes.py)."""
    app[MANAGER_SIGNALS] = ManagerSignals(app[LIVE])
    app.on_shutdown.append(_close_streams)
    app.on_cleanup.append(_stop_signals)
