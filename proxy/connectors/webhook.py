"""What every network's webhook endpoint does alike: read a body that arrives in pieces, within a size
limit, and answer in plain text."""

from __future__ import annotations

from aiohttp import web


def text_answer(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


class TooLarge(Exception):
    """The body is larger than the endpoint accepts."""


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, however many pieces it comes in; TooLarge past `max_bytes`.

    A Content-Length over the limit is refused before anything is read; a chunked body is read only
    up to one byte past it.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise TooLarge
    body = bytearray()
    while chunk := await request.content.readany():
        body += chunk
        if len(body) > max_bytes:
            raise TooLarge
    return bytes(body)


def closing(response: web.Response) -> web.Response:
    # The rest of the body was not read: the connection cannot carry another request.
    response.force_close()
    return response
