"""The live conversation page: each changed partial rendered once and pushed to every page open on it.

The inbox's principle (web/views/inbox_live.py) for the conversation page. Every instance hears every
change once (`LiveHub`); this broadcaster gathers them for `BATCH_SECONDS`, and for each conversation that
changed and is open on a page of this instance loads what the affected partials need once, renders each
affected partial once per language in use, and hands the same bytes to every stream open on that
conversation. A conversation nobody here has open costs nothing but a note in the replay buffer; streams
are indexed by conversation, so a message is never filtered per stream.

Which partial a message changes is `AFFECTS` (what the partials used to re-fetch themselves on). A
message without a conversation (a ban reported by VK names the community) changes the author card of
every open conversation of that community.

A new, edited, deleted or restored item changes one entry of the timeline, and its message names the
item (`item_id`, proxy/ingest/outcome.py): when every timeline change of a conversation in a batch names
its item, only those items' entries are loaded (`inbox.item_entries`) and pushed, each rendered once per
language (conversation/_entry.html), so a change costs the same whatever the timeline's length (up to
`inbox.TIMELINE_LIMIT` entries). Anything else that changes the timeline (a reply's outcome, a note, an
action taken on the page) pushes the whole timeline, as do item messages batched with such a change.

The pushed HTML is the same for every viewer, so nothing in it may belong to one operator:
- CSRF tokens are rendered empty; the page fills its own in (web/static/js/conversation.js, from the
  `csrf-token` meta tag of base.html) when it swaps a partial in. htmx also sends the token as the
  `X-CSRF-Token` header, which web/csrf.py checks first.
- Presence lists everyone who has the page open, each name marked with its operator id; the page hides
  its own operator. The alternative, rendering "who is here" per viewer, would cost a render per viewer
  on every arrival; rendering everyone including "me" would change what the page says.
- No partial depends on the viewer's role (the server refuses what a role may not do).

Wire format (Turbo Streams' action + target + template), one SSE event `part` per partial:
`{"action": "replace", "target": "timeline", "conversation_id": 12, "html": "<section ...>"}`, or per
changed entry `{"action": "upsert", "target": "item-7", "conversation_id": 12, "at": <entry's data-at>,
"html": "<article ...>", "remove": ["outbox-entry-3"]}` (the page replaces the article, or inserts it
into the timeline in `data-at` order; `remove`, when VK echoed a reply back: its pending article), with
an SSE id `<boot>.<seq>`, as the inbox; the parts of one push share it. A stream that (re)connects with
`Last-Event-ID`, or `?since=` (the page's position when it was rendered), gets what it missed on its
conversation from a bounded replay buffer, or `resync` (the page re-fetches its partials once, with GET
/conversations/{id}/{part}) when that is gone, was another instance's, was not rendered (nobody here had
the page open), or was not rendered in its language.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from proxy import inbox
from proxy.live import PRESENCE_CHANGED, RESYNC_EVENT, LiveHub, LiveMessage, Viewer
from web import i18n
from web.views.conversation_parent import parent_context
from web.views.inbox_live import BATCH_SECONDS, HUB_QUEUE_SIZE, KEEPALIVE_FRAME, REPLAY_SIZE, sse_frame

log = logging.getLogger(__name__)

STREAM_QUEUE_SIZE = 256
PART_EVENT = "part"

# Partial -> (its element id on the page, its template). Pushed in this order.
PARTS: dict[str, tuple[str, str]] = {
    "header": ("conversation-header", "conversation/_header.html"),
    "presence": ("presence", "conversation/_presence.html"),
    "timeline": ("timeline", "conversation/_timeline.html"),
    "author": ("author-card", "conversation/_author.html"),
}
AFFECTS: dict[str, frozenset[str]] = {
    "item_created": frozenset({"timeline", "header"}),
    "item_edited": frozenset({"timeline"}),
    "item_deleted": frozenset({"timeline"}),
    "item_restored": frozenset({"timeline"}),
    "outbox_updated": frozenset({"timeline", "header"}),
    "conversation_updated": frozenset({"timeline", "header"}),
    "author_blocked": frozenset({"author"}),
    "author_unblocked": frozenset({"author"}),
    "author_changed": frozenset({"author"}),
    PRESENCE_CHANGED: frozenset({"presence"}),
}
# Messages about one item (they name it, `item_id`): the timeline changes in that item's entry only.
ITEM_MESSAGES = frozenset({"item_created", "item_edited", "item_deleted", "item_restored"})
ENTRY_TEMPLATE = "conversation/_entry.html"


def present(hub: LiveHub, conversation_id: int) -> list[Viewer]:
    """Who has the conversation open (any instance), each operator once, in arrival order."""
    seen: dict[int, Viewer] = {}
    for viewer in hub.viewers(conversation_id):
        seen.setdefault(viewer.operator_id, viewer)
    return list(seen.values())


@dataclass
class Changes:
    """What a batch changed on one conversation's page: partials, and items whose entries alone changed
    in the timeline (pushed as entries unless the whole timeline is pushed anyway)."""

    parts: set[str] = field(default_factory=set)
    items: set[int] = field(default_factory=set)

    def add(self, name: str, data: dict[str, Any]) -> None:
        affected = AFFECTS[name]
        item_id = data.get("item_id")
        if name in ITEM_MESSAGES and isinstance(item_id, int):
            self.items.add(item_id)
            affected = affected - {"timeline"}
        self.parts.update(affected)

    @property
    def entries(self) -> list[int]:
        """Items whose entries are pushed alone: none when the whole timeline is."""
        return [] if "timeline" in self.parts else sorted(self.items)


@dataclass(frozen=True)
class PartUpdate:
    """Pushed partials of one conversation (their frames per language rendered), or a note that these
    conversations changed while nobody here had them open (`frames` None)."""

    seq: int
    conversation_ids: frozenset[int]
    frames: dict[str, bytes] | None


@dataclass(eq=False)
class ConversationStream:
    """One open conversation page: which conversation, its community, its language, its waiting frames."""

    conversation_id: int
    community_id: int
    locale: str
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(STREAM_QUEUE_SIZE))
    behind: bool = False  # frames were dropped: it must re-fetch its partials

    def offer(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.behind = True


@dataclass
class _Shared:
    """What a batch's pushes read together rather than once per conversation: the conversations that
    need more than presence (one query), the changed items' entries (one set of reads), and each
    community's assignable operators (read once per batch, for the headers)."""

    conversations: dict[int, Any]
    entries: dict[int, list[inbox.TimelineEntry]]
    _assignable: dict[int, list[inbox.Assignable]] = field(default_factory=dict)

    @classmethod
    async def load(cls, watched: dict[int, Changes]) -> _Shared:
        needing = [cid for cid, changes in watched.items() if changes.parts - {"presence"}]
        wanted = {cid: changes.entries for cid, changes in watched.items() if changes.entries}
        return cls(await inbox.get_conversations(needing), await inbox.items_entries(wanted))

    async def assignable(self, community_id: int) -> list[inbox.Assignable]:
        if community_id not in self._assignable:
            self._assignable[community_id] = await inbox.assignable_operators(community_id)
        return self._assignable[community_id]


class ConversationBroadcaster:
    """Renders changed partials once and fans them out to the pages open on them (see the module)."""

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
        self.env = env
        self.tz = tz
        self.keepalive = keepalive
        self.batch_seconds = batch_seconds
        self.boot = uuid.uuid4().hex[:12]
        self.seq = 0
        self.renders = 0  # partials rendered (tests: once per change and language, not per stream)
        self._replay: deque[PartUpdate] = deque(maxlen=REPLAY_SIZE)
        self._streams: dict[int, set[ConversationStream]] = {}
        self._task: asyncio.Task[None] | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def position(self) -> str:
        """The id of the last update: a page rendered now shows everything up to it."""
        return f"{self.boot}.{self.seq}"

    def streams_on(self, conversation_id: int) -> int:
        return len(self._streams.get(conversation_id, ()))

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="conversation-broadcaster")
            self._keepalive_task = asyncio.create_task(self._keep_alive(), name="conversation-keepalive")
            await self._subscribed.wait()

    async def stop(self) -> None:
        tasks, self._task, self._keepalive_task = [self._task, self._keepalive_task], None, None
        for task in tasks:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _all_streams(self) -> list[ConversationStream]:
        return [stream for streams in self._streams.values() for stream in streams]

    async def _keep_alive(self) -> None:
        # Also wakes each stream now and then, so it checks whether its session has ended.
        while True:
            await asyncio.sleep(self.keepalive)
            for stream in self._all_streams():
                with contextlib.suppress(asyncio.QueueFull):
                    stream.queue.put_nowait(KEEPALIVE_FRAME)

    @contextlib.asynccontextmanager
    async def attach(self, conversation_id: int, community_id: int, locale: str, last_event_id: str | None):  # type: ignore[no-untyped-def]
        """A stream on the conversation for the block; its queue starts with what it missed."""
        await self.start()
        stream = ConversationStream(conversation_id, community_id, locale)
        # No await between the catch-up and joining the fan-out: nothing can fall between them.
        for frame in self._catch_up(stream, last_event_id):
            stream.queue.put_nowait(frame)
        self._streams.setdefault(conversation_id, set()).add(stream)
        try:
            yield stream
        finally:
            streams = self._streams.get(conversation_id)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._streams[conversation_id]

    def resync_frame(self) -> bytes:
        return sse_frame("resync", {}, self.position)

    def payload(self, stream: ConversationStream, frames: list[bytes]) -> bytes:
        """What the stream writes for these frames: them, or one `resync` when it fell behind."""
        if not stream.behind:
            return b"".join(frames)
        stream.behind = False
        while not stream.queue.empty():
            stream.queue.get_nowait()
        return self.resync_frame()

    def _catch_up(self, stream: ConversationStream, last_event_id: str | None) -> list[bytes]:
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
        frames: list[bytes] = []
        for update in self._replay:
            if update.seq <= seq or stream.conversation_id not in update.conversation_ids:
                continue
            frame = update.frames.get(stream.locale) if update.frames is not None else None
            if frame is None:
                return [self.resync_frame()]  # changed but not rendered (for it)
            frames.append(frame)
        if len(frames) >= STREAM_QUEUE_SIZE:
            return [self.resync_frame()]
        return frames

    async def _run(self) -> None:
        async with self.hub.subscribe(HUB_QUEUE_SIZE) as queue:
            self._subscribed.set()
            while True:
                batch = [await queue.get()]
                # One load and one render per changed partial for everything a batch holds.
                await asyncio.sleep(self.batch_seconds)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                try:
                    await self.broadcast(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("live conversation partials could not be pushed; the open pages re-fetch")
                    self._resync_all()

    def _changed_parts(self, messages: list[LiveMessage]) -> tuple[dict[int, Changes], bool]:
        """What of which conversations these messages change; whether every page must re-fetch."""
        by_conversation: dict[int, Changes] = {}
        by_community: dict[int, set[str]] = {}
        resync = False
        for message in messages:
            if message.name == RESYNC_EVENT and not message.data:
                resync = True  # the LISTEN connection came back: what it missed is unknown
                continue
            affected = AFFECTS.get(message.name)
            if not affected:
                continue
            conversation_id = message.data.get("conversation_id")
            community_id = message.data.get("community_id")
            if isinstance(conversation_id, int):
                by_conversation.setdefault(conversation_id, Changes()).add(message.name, message.data)
            elif isinstance(community_id, int):
                by_community.setdefault(community_id, set()).update(affected)
        if by_community:
            for conversation_id, streams in self._streams.items():
                community_id = next(iter(streams)).community_id
                if community_id in by_community:
                    by_conversation.setdefault(conversation_id, Changes()).parts.update(
                        by_community[community_id]
                    )
        return by_conversation, resync

    async def broadcast(self, messages: list[LiveMessage]) -> None:
        """Push the partials these messages changed, to the pages open on their conversations."""
        changed, resync = self._changed_parts(messages)
        if resync:
            self._resync_all()
        unwatched = frozenset(cid for cid in changed if not self._streams.get(cid))
        if unwatched:
            # Nothing to render; a page rendered before this and connecting after it re-fetches.
            self.seq += 1
            self._replay.append(PartUpdate(self.seq, unwatched, None))
        watched = {cid: changes for cid, changes in changed.items() if cid not in unwatched}
        if not watched:
            return
        shared = await _Shared.load(watched)
        for conversation_id, changes in watched.items():
            await self._push(conversation_id, changes, shared)
            await asyncio.sleep(0)  # the callbacks waiting meanwhile run between two conversations' renders

    async def _push(self, conversation_id: int, changes: Changes, shared: _Shared) -> None:
        parts = changes.parts
        context = await self._load(conversation_id, parts, shared)
        entries = shared.entries.get(conversation_id, []) if changes.entries else []
        streams = self._streams.get(conversation_id)
        if context is None or not streams or not (parts or entries):
            return
        locales = sorted({stream.locale for stream in streams})
        self.seq += 1
        event_id = self.position
        frames: dict[str, bytes] = {}
        for locale in locales:
            rendered: list[bytes] = []
            with i18n.rendering_in(locale, self.tz):
                for part, (target, template) in PARTS.items():
                    if part == "timeline" and entries:
                        rendered.extend(self._entry_frames(conversation_id, entries, context, event_id))
                    if part not in parts:
                        continue
                    html = self.env.get_template(template).render(context)
                    self.renders += 1
                    data = {
                        "action": "replace",
                        "target": target,
                        "conversation_id": conversation_id,
                        "html": html.strip(),
                    }
                    rendered.append(sse_frame(PART_EVENT, data, event_id))
            frames[locale] = b"".join(rendered)
        self._replay.append(PartUpdate(self.seq, frozenset({conversation_id}), frames))
        for stream in list(self._streams.get(conversation_id, ())):
            stream.offer(frames[stream.locale])

    def _entry_frames(
        self, conversation_id: int, entries: list[inbox.TimelineEntry], context: dict[str, Any], event_id: str
    ) -> list[bytes]:
        """One `upsert` per changed entry: the page replaces the article or puts it in its place by `at`.
        A reply VK echoed back is now its item's article: its pending one goes."""
        template = self.env.get_template(ENTRY_TEMPLATE)
        frames = []
        for entry in entries:
            item = entry.item
            assert item is not None
            html = template.render({**context, "entry": entry})
            self.renders += 1
            data: dict[str, Any] = {
                "action": "upsert",
                "target": f"item-{item.id}",
                "conversation_id": conversation_id,
                "at": entry.sort_at,
                "html": html.strip(),
            }
            if item.outbox_row_id:
                data["remove"] = [f"outbox-entry-{item.outbox_row_id}"]
            frames.append(sse_frame(PART_EVENT, data, event_id))
        return frames

    async def _load(self, conversation_id: int, parts: set[str], shared: _Shared) -> dict[str, Any] | None:
        """What the affected partials need, loaded once for every page and language; the same for
        every viewer (no CSRF token, presence of everyone)."""
        context: dict[str, Any] = {
            "csrf_token": "",
            "viewers": present(self.hub, conversation_id),
            "me": None,
        }
        if parts <= {"presence"}:
            return context
        conversation = shared.conversations.get(conversation_id)
        if conversation is None:
            return None
        entries, truncated = await inbox.timeline(conversation) if "timeline" in parts else ([], False)
        card = None
        if "author" in parts and conversation.author_id:  # type: ignore[attr-defined]
            card = await inbox.author_card(conversation)
        assignable = await shared.assignable(conversation.community_id) if "header" in parts else []  # type: ignore[attr-defined]
        if "header" in parts:
            context.update(await parent_context(conversation, None))
        context["view"] = inbox.ConversationView(
            conversation=conversation,
            entries=entries,
            truncated=truncated,
            author_card=card,
            assignable=assignable,
        )
        return context

    def _resync_all(self) -> None:
        for stream in self._all_streams():
            stream.behind = True
        self.wake_streams()

    def wake_streams(self) -> None:
        """Wake every stream (to see `behind`, or that the server is closing)."""
        for stream in self._all_streams():
            with contextlib.suppress(asyncio.QueueFull):
                stream.queue.put_nowait(b"")


CONVERSATION_BROADCASTER = web.AppKey("conversation_broadcaster", ConversationBroadcaster)
