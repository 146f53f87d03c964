"""The live inbox: each changed queue row rendered once and pushed to every open inbox allowed to see it.

Work grows with changes, not with changes x open inboxes. Every instance hears every change once
(`LiveHub`: one NOTIFY per change or batch, one LISTEN connection per instance); the broadcaster of each
instance then loads the changed rows in one query, renders each once per language (the only thing a
row's markup depends on besides the row: the time zone is the team's), and hands the same bytes to every
inbox stream whose scope (`proxy/access.py`) sees the row's community. Changes are gathered for
`BATCH_SECONDS` before they are pushed, so a burst costs one query, one render per changed row and one
write per stream, however many events it held. The browser places the row
(`web/static/js/app.js`): each row carries its sort key and filter attributes, so a stream needs no
filter, page or query of its own, and wait times tick in the browser from `data-since`.

The message is modelled on Turbo Streams (action, target, template), as JSON in one SSE event `row`:
`{"action": "upsert", "target": "conversation-12", "conversation_id": 12, "community_id": 3,
"html": "<tr ...>"}`. "upsert" lets the page decide: insert, move or (if it no longer matches the
page's filters) remove.

Catching up. Every row event has an id, `<boot>.<seq>` (this process's boot id, a counter). The last
`REPLAY_SIZE` updates are kept; a stream that (re)connects with `Last-Event-ID` (the browser sends it
by itself) or `?since=` (the list's `data-live-since`, the position when it was rendered) gets the
updates it missed that its scope may see. When they are gone from the buffer, or the id is another
instance's (a load balancer switched it, or the instance restarted), it gets `resync` instead and
re-fetches its list once: a bounded buffer keeps memory flat during an incident, and the rare client
that fell further behind pays one list fetch rather than every client paying one per change. A stream
that stops reading (its queue fills) also gets `resync`, as do all of them when this instance's LISTEN
connection comes back (NOTIFYs sent meanwhile were lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import jinja2

from proxy import inbox
from proxy.access import Scope
from proxy.live import PRESENCE_CHANGED, RESYNC_EVENT, LiveHub, LiveMessage
from web import i18n

log = logging.getLogger(__name__)

ROW_TEMPLATE = "inbox/_row.html"
# Updates kept for reconnecting streams: at 40 changes a second, about 50 s of an incident.
REPLAY_SIZE = 2048
STREAM_QUEUE_SIZE = 1024
HUB_QUEUE_SIZE = 10_000
KEEPALIVE_FRAME = b": keep-alive\n\n"
# Changes are pushed at most this often (the bound is 1 s from "ok" to every open inbox).
BATCH_SECONDS = 0.25


@dataclass(frozen=True)
class RowUpdate:
    """One pushed row: its SSE frame in every language, and who may see it."""

    seq: int
    community_id: int
    frames: dict[str, bytes]


# Writes a frame to a stream's client now, without waiting for it to be sent; False when the client is
# gone or so far behind that its buffer is full (web/views/live.py `direct_writer`).
DirectWrite = Callable[[bytes], Awaitable[bool]]


@dataclass(eq=False)
class InboxStream:
    """One open inbox: what its operator may see and in which language, and the frames waiting for it."""

    scope: Scope
    locale: str
    write: DirectWrite | None = None
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(STREAM_QUEUE_SIZE))
    behind: bool = False  # frames were dropped: it must re-fetch its list

    def queue_frame(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.fall_behind()

    def fall_behind(self) -> None:
        """Frames could not reach it: its task sends `resync` instead of them."""
        self.behind = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(b"")  # wake its task


def sse_frame(name: str, data: dict[str, object], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


class InboxBroadcaster:
    """Renders changed rows once and fans them out to this instance's inbox streams (see the module)."""

    def __init__(
        self,
        hub: LiveHub,
        env: jinja2.Environment,
        tz: ZoneInfo | None,
        *,
        keepalive: float = 15.0,
        batch_seconds: float = BATCH_SECONDS,
    ) -> None:
        self.hub = hub
        self.keepalive = keepalive
        self.batch_seconds = batch_seconds
        self.env = env
        self.tz = tz
        self.boot = uuid.uuid4().hex[:12]
        self.seq = 0
        self.renders = 0  # rows rendered (tests: once per change and language, not per stream)
        self._replay: deque[RowUpdate] = deque(maxlen=REPLAY_SIZE)
        self._streams: set[InboxStream] = set()
        self._task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def position(self) -> str:
        """The id of the last update pushed: a list rendered now shows everything up to it."""
        return f"{self.boot}.{self.seq}"

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-broadcaster")
            self._keepalive_task = asyncio.create_task(self._keep_alive(), name="inbox-keepalive")
            await self._subscribed.wait()

    async def stop(self) -> None:
        tasks, self._task, self._keepalive_task = [self._task, self._keepalive_task], None, None
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _keep_alive(self) -> None:
        # A comment line now and then keeps proxies from closing an idle stream and notices a gone client.
        while True:
            await asyncio.sleep(self.keepalive)
            for stream in list(self._streams):
                with contextlib.suppress(asyncio.QueueFull):
                    stream.queue.put_nowait(KEEPALIVE_FRAME)

    @contextlib.asynccontextmanager
    async def attach(  # type: ignore[no-untyped-def]
        self, scope: Scope, locale: str, last_event_id: str | None, write: DirectWrite | None = None
    ):
        """An inbox stream for the block; its queue starts with what it missed since `last_event_id`."""
        await self.start()
        stream = InboxStream(scope, locale, write)
        # No await between the catch-up and joining the fan-out: nothing can fall between them.
        for frame in self._catch_up(stream, last_event_id):
            stream.queue.put_nowait(frame)
        self._streams.add(stream)
        try:
            yield stream
        finally:
            self._streams.discard(stream)

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    def resync_frame(self) -> bytes:
        return sse_frame("resync", {}, self.position)

    def _catch_up(self, stream: InboxStream, last_event_id: str | None) -> list[bytes]:
        if not last_event_id:
            return []
        boot, _, seq_text = last_event_id.partition(".")
        try:
            seq = int(seq_text)
        except ValueError:
            seq = -1
        if boot != self.boot or not 0 <= seq <= self.seq:
            return [self.resync_frame()]
        if seq == self.seq:
            return []
        if not self._replay or self._replay[0].seq > seq + 1:
            return [self.resync_frame()]  # what it missed is no longer kept
        frames = [
            update.frames[stream.locale]
            for update in self._replay
            if update.seq > seq and stream.scope.sees(update.community_id)
        ]
        if len(frames) >= STREAM_QUEUE_SIZE:
            return [self.resync_frame()]
        return frames

    async def _run(self) -> None:
        async with self.hub.subscribe(HUB_QUEUE_SIZE) as queue:
            self._subscribed.set()
            while True:
                batch = [await queue.get()]
                # Gather what arrives meanwhile: one query, one render per changed row, and one write per
                # stream for the whole batch. This bounds the work per stream to BATCH_SECONDS' worth of
                # changes at a time, at the price of that much latency.
                await asyncio.sleep(self.batch_seconds)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                try:
                    await self.broadcast(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The rows could not be read (the database is away): the pages re-fetch instead.
                    log.exception("live inbox rows could not be pushed; the open inboxes re-fetch")
                    self._resync_all()

    async def broadcast(self, messages: list[LiveMessage]) -> None:
        """Push the rows these messages changed (several messages about one conversation: one row)."""
        ids: dict[int, None] = {}
        resync = False
        for message in messages:
            conversation_id = message.data.get("conversation_id")
            # Any update naming a conversation may change how its row looks; presence never does.
            if message.name != PRESENCE_CHANGED and isinstance(conversation_id, int):
                ids[conversation_id] = None
            elif message.name == RESYNC_EVENT and not message.data:
                resync = True  # the LISTEN connection came back: what it missed is unknown
        if resync:
            self._resync_all()
        if not ids:
            return
        rows = await inbox.inbox_rows(list(ids))
        template = self.env.get_template(ROW_TEMPLATE)
        rendered: list[tuple[inbox.InboxRow, dict[str, str]]] = []
        for position, row in enumerate(rows):
            if position:
                # A burst's rows take a while to render: a callback waiting meanwhile goes between two.
                await asyncio.sleep(0)
            html: dict[str, str] = {}
            for locale in i18n.LOCALES:
                with i18n.rendering_in(locale, self.tz):
                    html[locale] = template.render(row=row).strip()
                self.renders += 1
            rendered.append((row, html))
        # Numbered, kept for catching up and handed out with no await between: `position` never names an
        # update that is not in the buffer yet, and a stream attaching now gets each update once.
        updates = [self._numbered(row, html) for row, html in rendered]
        self._replay.extend(updates)
        await self._fan_out(updates)

    def _numbered(self, row: inbox.InboxRow, html: dict[str, str]) -> RowUpdate:
        self.seq += 1
        data = {
            "action": "upsert",
            "target": f"conversation-{row.conversation.id}",
            "conversation_id": row.conversation.id,
            "community_id": row.community.id,
        }
        frames = {
            locale: sse_frame("row", {**data, "html": text}, self.position) for locale, text in html.items()
        }
        return RowUpdate(self.seq, row.community.id, frames)

    async def _fan_out(self, updates: list[RowUpdate]) -> None:
        """Hand the batch to every stream.

        A stream with nothing queued is written to here, at once, without waking its task: a hundred
        tasks woken per batch would hold the event loop for the whole burst, and a VK callback arriving
        meanwhile would wait behind all of them. A stream with frames still queued (its catch-up, a
        keep-alive) gets the batch queued behind them, so its order holds.
        """
        for stream in list(self._streams):
            frames = [
                update.frames[stream.locale] for update in updates if stream.scope.sees(update.community_id)
            ]
            if not frames:
                continue
            if stream.write is not None and stream.queue.empty() and not stream.behind:
                if not await stream.write(b"".join(frames)):
                    stream.fall_behind()
                continue
            for frame in frames:
                stream.queue_frame(frame)

    def _resync_all(self) -> None:
        for stream in list(self._streams):
            stream.behind = True
        self.wake_streams()

    def wake_streams(self) -> None:
        """Wake every stream (to see `behind`, or that the server is closing)."""
        for stream in list(self._streams):
            with contextlib.suppress(asyncio.QueueFull):
                stream.queue.put_nowait(b"")
