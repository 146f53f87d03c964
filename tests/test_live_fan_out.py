"""The inbox broadcaster's hand-out of a batch: written at once to idle streams, queued behind frames a
stream still holds, and a client that cannot take it is sent `resync` rather than silently skipped."""

from __future__ import annotations

import jinja2

from proxy.access import Scope
from proxy.live import LiveHub
from proxy.models import Role
from web.views.inbox_live import InboxBroadcaster, InboxStream, RowUpdate

FIRST = RowUpdate(1, community_id=7, frames={"ru": b"row-1-ru", "en": b"row-1-en"})
SECOND = RowUpdate(2, community_id=8, frames={"ru": b"row-2-ru", "en": b"row-2-en"})


def _scope(*communities: int) -> Scope:
    return Scope(operator_id=1, role=Role.OPERATOR, community_ids=frozenset(communities), own_rows_only=True)


class Client:
    def __init__(self, *, accepts: bool = True) -> None:
        self.accepts = accepts
        self.received: list[bytes] = []

    async def write(self, data: bytes) -> bool:
        if self.accepts:
            self.received.append(data)
        return self.accepts


def _broadcaster(*streams: InboxStream) -> InboxBroadcaster:
    broadcaster = InboxBroadcaster(LiveHub(), jinja2.Environment(), None)
    broadcaster._streams.update(streams)
    return broadcaster


async def test_an_idle_stream_gets_the_batch_in_one_write_with_only_what_it_may_see() -> None:
    client = Client()
    stream = InboxStream(_scope(7), "en", client.write)

    await _broadcaster(stream)._fan_out([FIRST, SECOND])

    assert client.received == [b"row-1-en"]
    assert stream.queue.empty() and not stream.behind


async def test_a_stream_with_frames_queued_gets_the_batch_queued_behind_them() -> None:
    client = Client()
    stream = InboxStream(_scope(7, 8), "ru", client.write)
    stream.queue.put_nowait(b"catch-up")

    await _broadcaster(stream)._fan_out([FIRST, SECOND])

    assert client.received == []  # its own task writes, in order
    assert [stream.queue.get_nowait() for _ in range(3)] == [b"catch-up", b"row-1-ru", b"row-2-ru"]


async def test_a_client_that_cannot_take_the_batch_falls_behind_and_is_woken() -> None:
    slow = Client(accepts=False)
    stream = InboxStream(_scope(7), "ru", slow.write)

    await _broadcaster(stream)._fan_out([FIRST])

    assert stream.behind  # its task sends `resync` (web/views/live.py `_payload`)
    assert stream.queue.get_nowait() == b""
