"""The live team case's open pages, replayed in a process of their own so the senders' timing is not theirs.

Each client is one operator's logged-in session with the inbox or a conversation page open, doing what
the browser does and keeping only what shows a change: per conversation the preview and wait of the
last row pushed (inbox), or the text and deleted mark of each timeline entry by item (conversation page:
a whole timeline replaces them all, an entry pushed alone, `upsert`, its own), and the first moment each
text appeared. Pushed rows and partials are parsed once per distinct content
(every inbox hears the same bytes), with precompiled expressions: the bench must not take the cores
it measures. Times are `time.perf_counter()` (CLOCK_MONOTONIC: the same clock in every process).

The conversation page speaks either protocol: the domain events by name, each making htmx GET the
partials whose `hx-trigger` lists it (one request in flight per partial, one more queued: app.js's
"missed"), or `part` events that carry the partial's html or one timeline entry's (swapped, no request) and
`resync` (each partial fetched once).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.cases.common import log_in
from bench.dataset import BENCH_PASSWORD

_FRAME_SPLIT = b"\n\n"
_ROW_ID = re.compile(r'<tr id="conversation-(\d+)"')
_PREVIEW = re.compile(r'<td class="preview">([^<]*)</td>')
_WAITING = re.compile(r'data-waiting-since="([^"]*)"')
_ROW = re.compile(r'<tr id="conversation-\d+".*?</tr>', re.S)
_ENTRY = re.compile(
    r'<article class="entry ([^"]*)" id="item-(\d+)"[^>]*>.*?<div class="text">([^<]*)</div>', re.S
)
_TAG = re.compile(r'<[a-z]+\s[^>]*hx-trigger="[^"]*sse:[^>]*>')
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')
_SINCE = re.compile(r'data-live-since="([^"]*)"')
_LIST_URL = re.compile(r'data-list-url="([^"]*)"')
_TIMELINE = "timeline"
_UPSERT = "upsert"
CACHE_SIZE = 4096
LOGINS_AT_ONCE = 8
DRAIN_SECONDS = 120.0
QUIET_SECONDS = 1.0


class _Parsed:
    """What a content shows, parsed once however many clients received it."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, str, str]] = {}
        self._timelines: dict[str, tuple[tuple[int, str, bool], ...]] = {}
        self._data: dict[bytes, Any] = {}  # an SSE event's data line -> its JSON, decoded once

    def data(self, line: bytes) -> Any:
        found = self._data.get(line)
        if found is None:
            if len(self._data) > CACHE_SIZE:
                self._data.clear()
            found = self._data[line] = json.loads(line)
        return found

    def row(self, html: str) -> tuple[int, str, str]:
        """(conversation id, preview, waiting since) of an inbox row."""
        found = self._rows.get(html)
        if found is None:
            if len(self._rows) > CACHE_SIZE:
                self._rows.clear()
            preview, waiting = _PREVIEW.search(html), _WAITING.search(html)
            found = (int(_ROW_ID.search(html).group(1)),  # type: ignore[union-attr]
                     preview.group(1).strip() if preview else "", waiting.group(1) if waiting else "")  # fmt: skip
            self._rows[html] = found
        return found

    def timeline(self, html: str) -> tuple[tuple[int, str, bool], ...]:
        """(item id, text, deleted) of each item's entry of a timeline (or of one entry)."""
        found = self._timelines.get(html)
        if found is None:
            if len(self._timelines) > CACHE_SIZE:
                self._timelines.clear()
            found = tuple(
                (int(item), text.strip(), "deleted" in classes.split())
                for classes, item, text in _ENTRY.findall(html)
            )
            self._timelines[html] = found
        return found


PARSED = _Parsed()


@dataclass
class ClientSpec:
    login: str
    base_url: str
    conversation_id: int | None = None  # None: the inbox


@dataclass
class ClientResult:
    """What one client saw: its requests, when each text first showed, and its final view."""

    spec: ClientSpec
    requests: int = 0
    events: dict[str, int] = field(default_factory=dict)  # SSE events heard, by name
    first_seen: dict[str, float] = field(default_factory=dict)  # text (or "deleted:" + text) -> when
    wait_ended: dict[int, float] = field(default_factory=dict)  # inbox: conversation -> first row not waiting
    rows: dict[int, tuple[str, str]] = field(
        default_factory=dict
    )  # inbox: conversation -> (preview, waiting)
    timeline: dict[str, bool] = field(default_factory=dict)  # page: text -> deleted, when it stopped
    error: str = ""


class Client:
    """One open page: logs in, opens it, listens, replays the browser's requests."""

    def __init__(self, spec: ClientSpec, number: int) -> None:
        self.spec = spec
        self.result = ClientResult(spec)
        # Each operator at an address of its own, as the servers' load balancer would say (their
        # PROXY_TRUSTED_PROXIES is the bench's address): one address for all would be one office's
        # worth of log ins at once, which the log in throttle slows down.
        address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256 + 1}"
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"X-Forwarded-For": address},
        )
        self.connected = asyncio.Event()
        self.live_url = ""
        self.partials: dict[str, str] = {}  # element id -> its hx-get
        self.listeners: dict[str, list[str]] = {}  # SSE event name -> element ids
        self._in_flight: set[str] = set()
        self._queued: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_activity = 0.0  # when a frame or a partial last arrived
        self.entries: dict[int, tuple[str, bool]] = {}  # page: item id -> (text, deleted), as shown

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    async def open(self, logging_in: asyncio.Semaphore) -> None:
        async with logging_in:  # a team does not log in all in the same instant
            await log_in(self.session, self.spec.base_url, self.spec.login, BENCH_PASSWORD)
        conversation = self.spec.conversation_id
        path = "/" if conversation is None else f"/conversations/{conversation}"
        async with self.session.get(self.spec.base_url + path) as response:
            page = await response.text()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
        if conversation is None:
            since, list_url = _SINCE.search(page), _LIST_URL.search(page)
            self.live_url = f"/live?since={since.group(1) if since else ''}"
            self.partials["conversation-list"] = list_url.group(1).replace("&amp;", "&") if list_url else "/"
            self.listeners["resync"] = ["conversation-list"]
            for row in _ROW.findall(page):
                self._row(time.perf_counter(), row)
            return
        self.live_url = f"/live?conversation={conversation}"
        for tag in _TAG.findall(page):
            attrs = dict(_ATTR.findall(tag))
            element, url = attrs.get("id"), attrs.get("hx-get")
            if not element or not url:
                continue
            self.partials[element] = url
            for trigger in attrs["hx-trigger"].split(","):
                name = trigger.strip()
                if name.startswith("sse:"):
                    self.listeners.setdefault(name[4:], []).append(element)
        self._timeline(time.perf_counter(), page)

    async def listen(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.session.get(self.spec.base_url + self.live_url, timeout=timeout) as response:
            if response.status != 200:
                raise RuntimeError(f"{self.live_url} answered {response.status}")
            buffer = b""
            async for chunk in response.content.iter_any():
                arrived = self.last_activity = time.perf_counter()
                self.connected.set()
                buffer += chunk
                *frames, buffer = buffer.split(_FRAME_SPLIT)
                for frame in frames:
                    self._frame(arrived, frame)

    def _frame(self, arrived: float, frame: bytes) -> None:
        name, data = "message", b""
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data = line[6:]
        if not data:
            return  # a comment (keep-alive, connected)
        events = self.result.events
        events[name] = events.get(name, 0) + 1
        if name == "row":
            self._row(arrived, PARSED.data(data)["html"])
        elif name == "part":
            part = PARSED.data(data)
            if part.get("target") == _TIMELINE:
                self._timeline(arrived, part["html"])
            elif part.get("action") == _UPSERT:
                self._timeline(arrived, part["html"], whole=False)
        elif name == "resync" and self.spec.conversation_id is not None:
            for element in self.partials:
                self._refresh(element)
        else:
            for element in self.listeners.get(name, ()):
                self._refresh(element)

    def _row(self, arrived: float, html: str) -> None:
        conversation, preview, waiting = PARSED.row(html)
        self.result.rows[conversation] = (preview, waiting)
        self.result.first_seen.setdefault(preview, arrived)
        if not waiting:
            self.result.wait_ended.setdefault(conversation, arrived)

    def _timeline(self, arrived: float, html: str, *, whole: bool = True) -> None:
        """A timeline (`whole`: it replaces every entry shown) or one entry pushed alone."""
        entries = PARSED.timeline(html)
        seen = self.result.first_seen
        if whole:
            self.entries = {}
        for item, text, deleted in entries:
            seen.setdefault(text, arrived)
            if deleted:
                seen.setdefault("deleted:" + text, arrived)
            self.entries[item] = (text, deleted)

    def finish(self) -> ClientResult:
        """The result, with the timeline the page shows now (text -> deleted, in item order)."""
        self.result.timeline = {text: deleted for _, (text, deleted) in sorted(self.entries.items())}
        return self.result

    def _refresh(self, element: str) -> None:
        # htmx: one request per element in flight; a trigger meanwhile is kept (once) and fired after.
        if element in self._in_flight:
            self._queued.add(element)
            return
        self._in_flight.add(element)
        task = asyncio.get_running_loop().create_task(self._fetch(element))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, element: str) -> None:
        try:
            while True:
                self._queued.discard(element)
                self.result.requests += 1
                url = self.spec.base_url + self.partials[element]
                async with self.session.get(url, headers={"HX-Request": "true"}) as response:
                    html = await response.text()
                self.last_activity = time.perf_counter()
                if response.status == 200:
                    if element == _TIMELINE:
                        self._timeline(time.perf_counter(), html)
                    elif element == "conversation-list":
                        arrived = time.perf_counter()
                        for row in _ROW.findall(html):
                            self._row(arrived, row)
                if element not in self._queued:
                    return
        finally:
            self._in_flight.discard(element)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.session.close()


async def _serve(conn: Any, specs: list[ClientSpec]) -> None:
    loop = asyncio.get_running_loop()
    clients = [Client(spec, number) for number, spec in enumerate(specs)]
    tasks: list[asyncio.Task[None]] = []
    try:
        logging_in = asyncio.Semaphore(LOGINS_AT_ONCE)
        await asyncio.gather(*(c.open(logging_in) for c in clients))
        tasks = [asyncio.create_task(c.listen()) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 60)
        await asyncio.sleep(1.0)  # the pages' own first requests (presence) settle before counting
        conn.send("ready")
        assert await loop.run_in_executor(None, conn.recv) == "start"
        for client in clients:  # what the pages asked for before the traffic is not the traffic's
            client.result.requests = 0
            client.result.events = {}
        assert await loop.run_in_executor(None, conn.recv) == "drain"
        conn.send(await _drained(clients))
        assert await loop.run_in_executor(None, conn.recv) == "stop"
        failed = [t.exception() for t in tasks if t.done() and not t.cancelled() and t.exception()]
        if failed:
            for client in clients:
                client.result.error = repr(failed[0])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    conn.send([c.finish() for c in clients])


async def _drained(clients: list[Client]) -> float:
    """Seconds until no client has a request in flight and none heard anything for `QUIET_SECONDS`
    (a loaded server answers late: what it still owes the pages belongs to the level)."""
    started = time.perf_counter()
    while time.perf_counter() - started < DRAIN_SECONDS:
        now = time.perf_counter()
        if not any(c.busy for c in clients) and now - max(c.last_activity for c in clients) >= QUIET_SECONDS:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


def _main(conn: Any, specs: list[ClientSpec]) -> None:
    try:
        asyncio.run(_serve(conn, specs))
    except Exception as exc:
        conn.send(f"failed: {exc!r}")


class ClientProcess:
    """The clients of one level in a child process: `ready()`, `start()`, `drain()`, `stop()` -> results."""

    def __init__(self, specs: list[ClientSpec]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=_main, args=(child, specs), daemon=True)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    async def _recv(self, wait_seconds: float) -> Any:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self._conn.poll, wait_seconds):
            raise RuntimeError("the clients' process did not answer")
        message = self._conn.recv()
        if isinstance(message, str) and message.startswith("failed"):
            raise RuntimeError(f"the clients' process {message}")
        return message

    async def ready(self) -> None:
        self.process.start()
        await self._recv(180)

    def start(self) -> None:
        self._conn.send("start")

    async def drain(self) -> float:
        """Wait for the clients to have nothing left coming (seconds waited)."""
        self._conn.send("drain")
        return float(await self._recv(DRAIN_SECONDS + 30))

    async def stop(self) -> list[ClientResult]:
        self._conn.send("stop")
        results = await self._recv(120)
        self.process.join(10)
        return results

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
