"""POST /callback/vk/{group_id} over a raw socket: bodies in pieces, chunked, large, too large, stalled.

VK's requests cross the internet, so a body arrives in as many TCP segments as the path makes of it.
Each test writes the request itself, piece by piece, to the real aiohttp server of the app, then
checks the answer and what was (or was not) stored.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from proxy import db as proxy_db
from proxy import metrics
from proxy.connectors.vk.callback import MAX_CALLBACK_BYTES
from proxy.models import Item, RawEvent
from proxy.runtime.app import create_app
from proxy.settings import Settings, SettingsError
from tests.ingest_samples import SECRET, add_community, load_event, table_counts

GID = 191949777
# How long the server under test waits for a body: longer than the pauses of the piecewise tests
# added up (1.5 s), shorter than a test waits for an answer.
READ_SECONDS = 3.0
# A test gives up on an answer after this long (the old endpoint never answered a stalled sender).
ANSWER_SECONDS = 15.0


@pytest.fixture
async def server(aiohttp_server: Any, settings: Settings) -> AsyncIterator[TestServer]:
    app = create_app(dataclasses.replace(settings, callback_read_seconds=READ_SECONDS))
    test_server = await aiohttp_server(app)
    yield test_server
    await test_server.close()
    await proxy_db.close_database()


@pytest.fixture
async def connect(server: TestServer) -> AsyncIterator[Callable[[], Awaitable[Connection]]]:
    """Opens raw connections to the server; closes them after the test, whatever happened."""
    opened: list[Connection] = []

    async def open_connection() -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        opened.append(Connection(reader, writer))
        return opened[-1]

    yield open_connection
    for connection in opened:
        await connection.close()


def message_new(event_id: str, size: int) -> bytes:
    """A valid message_new body of at least `size` bytes: a message forwarding photo messages."""
    event = copy.deepcopy(load_event("message_new-1.json"))
    event.update(group_id=GID, event_id=event_id, secret=SECRET)
    message = event["object"]["message"]
    message["text"] = "Где мой заказ? Пересылаю переписку."
    forwarded = load_event("message_new-4.json")["object"]["message"]
    # Each forward adds its own JSON and a ", " separator.
    each = len(json.dumps({**forwarded, "text": "фото 00000"}, ensure_ascii=False).encode()) + 2
    missing = size - len(json.dumps(event, ensure_ascii=False).encode())
    message["fwd_messages"] = [
        {**forwarded, "text": f"фото {number:05d}"} for number in range(max(0, -(-missing // each)))
    ]
    body = json.dumps(event, ensure_ascii=False).encode()
    assert len(body) >= size
    return body


def head(length: int | None = None, *, chunked: bool = False) -> bytes:
    lines = [f"POST /callback/vk/{GID} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class Connection:
    """One raw TCP connection to the server: write pieces with pauses, read one HTTP answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, *pieces: bytes, pause: float = 0.0) -> None:
        for number, piece in enumerate(pieces):
            if number and pause:
                await asyncio.sleep(pause)
            self.writer.write(piece)
            await self.writer.drain()

    async def answer(self) -> tuple[int, str]:
        """The status and body of the server's answer (AssertionError if none comes)."""
        try:
            async with asyncio.timeout(ANSWER_SECONDS):
                status_line = await self.reader.readline()
                headers: dict[str, str] = {}
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except TimeoutError:
            raise AssertionError(f"no answer within {ANSWER_SECONDS} s") from None
        return int(status_line.split()[1]), body.decode()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


Connect = Callable[[], Awaitable[Connection]]


async def stored(event_id: str) -> bool:
    return await RawEvent.filter(vk_group_id=GID, event_id=event_id).exists()


def rejected(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("proxy_callback_rejected_total", {"reason": reason}) or 0.0


async def test_headers_and_body_in_pieces_with_pauses_are_stored(connect: Connect) -> None:
    await add_community(GID)
    body = message_new("pieces", 2048)
    assert len(body) >= 2048
    request = head(len(body)) + body
    connection = await connect()
    # The headers in two pieces, then 500 bytes of the body, then the rest in three pieces.
    cut = request.index(b"\r\n") + 2
    start = len(head(len(body)))
    pieces = [request[:cut], request[cut:start], body[:500], body[500:900], body[900:1500], body[1500:]]
    await connection.send(*pieces, pause=0.3)
    assert await connection.answer() == (200, "ok")
    assert await stored("pieces")
    assert await Item.all().count() == 1


async def test_a_chunked_body_in_pieces_is_stored(connect: Connect) -> None:
    await add_community(GID)
    body = message_new("chunked", 4096)
    connection = await connect()
    pieces = [head(chunked=True), *(chunk(body[i : i + 700]) for i in range(0, len(body), 700)), chunk(b"")]
    await connection.send(*pieces, pause=0.1)
    assert await connection.answer() == (200, "ok")
    assert await stored("chunked")
    assert await Item.all().count() == 1


async def test_a_900_kb_body_sent_at_once_is_stored(connect: Connect) -> None:
    await add_community(GID)
    body = message_new("large", 900 * 1024)
    assert 900 * 1024 <= len(body) < MAX_CALLBACK_BYTES
    connection = await connect()
    await connection.send(head(len(body)) + body)
    assert await connection.answer() == (200, "ok")
    raw = await RawEvent.get(vk_group_id=GID, event_id="large")
    assert len(json.loads(raw.payload)["object"]["message"]["fwd_messages"]) > 400
    assert await Item.all().count() == 1


async def test_a_content_length_over_the_limit_is_refused_before_the_body(connect: Connect) -> None:
    await add_community(GID)
    before = await table_counts()
    connection = await connect()
    # Only the headers: the answer must not wait for a body it will not read.
    await connection.send(head(MAX_CALLBACK_BYTES + 1))
    status, text = await connection.answer()
    assert (status, text) == (413, f"body larger than {MAX_CALLBACK_BYTES} bytes")
    assert await table_counts() == before


async def test_a_chunked_body_over_the_limit_is_refused_without_waiting_for_its_end(
    connect: Connect,
) -> None:
    await add_community(GID)
    before = await table_counts()
    refused = rejected("too_large")
    body = message_new("too-large", MAX_CALLBACK_BYTES + 1)
    connection = await connect()
    # Every byte past the limit, but never the last chunk: the server must answer all the same.
    pieces = [head(chunked=True), *(chunk(body[i : i + 256 * 1024]) for i in range(0, len(body), 256 * 1024))]
    sending = asyncio.create_task(connection.send(*pieces))
    status, _ = await connection.answer()
    sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)
    assert status == 413
    assert rejected("too_large") == refused + 1
    assert not await stored("too-large")
    assert await table_counts() == before


async def test_a_stalled_body_times_out_is_counted_and_stores_nothing(connect: Connect) -> None:
    await add_community(GID)
    before = await table_counts()
    timeouts = rejected("read_timeout")
    body = message_new("stalled", 2048)
    connection = await connect()
    # 500 bytes of the body, then nothing more.
    await connection.send(head(len(body)) + body[:500])
    status, text = await connection.answer()
    assert (status, text) == (408, f"body not received within {READ_SECONDS:g} s")
    assert rejected("read_timeout") == timeouts + 1
    assert not await stored("stalled")
    assert await table_counts() == before


def test_the_limits_come_from_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.callback_max_bytes, defaults.callback_read_seconds) == (4 * 1024 * 1024, 10.0)
    chosen = Settings.from_env({"PROXY_CALLBACK_MAX_BYTES": "8388608", "PROXY_CALLBACK_READ_SECONDS": "2.5"})
    assert (chosen.callback_max_bytes, chosen.callback_read_seconds) == (8 * 1024 * 1024, 2.5)
    with pytest.raises(SettingsError, match="PROXY_CALLBACK_MAX_BYTES"):
        Settings.from_env({"PROXY_CALLBACK_MAX_BYTES": "1000"})
    with pytest.raises(SettingsError, match="PROXY_CALLBACK_READ_SECONDS"):
        Settings.from_env({"PROXY_CALLBACK_READ_SECONDS": "0"})
