"""What an operator sees of a stored attachment: a kind, a title, and a link only when it is a web address.

Items keep VK's attachments verbatim (`{"type": "photo", "photo": {...}}`), and an attachment's URL and
title are written by whoever sent it: a `link` attachment can carry `javascript:alert(1)`. So a URL
becomes an `href` or an image `src` only if it is an absolute http(s) address with a host, read the way a
browser reads it (tabs and newlines inside and spaces or control characters around are dropped first,
so `java\\nscript:` is caught); any other URL is shown as plain text. An image is shown only from the
hosts of PROXY_IMAGE_HOSTS (VK's image servers by default), which the Content-Security-Policy's `img-src`
names too (web/security_headers.py): a photo from anywhere else would tell that host who opened the
conversation, and when, so it is shown as a link instead. Templates get the filter `attachments` (list of
`AttachmentView`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jinja2

from proxy.settings import DEFAULT_IMAGE_HOSTS

SAFE_SCHEMES = frozenset({"http", "https"})
# A refused URL is shown as text; this much of it is enough to see what it was.
SHOWN_URL_LIMIT = 200
# What a browser strips before parsing a URL: ASCII tab and newlines anywhere, C0 controls and spaces
# at either end (WHATWG URL standard, "basic URL parser").
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
# Photo sizes from small to large (VK's `type` letters); the thumbnail is the largest up to "x" (604 px).
_THUMBNAIL_SIZES = ("s", "m", "o", "p", "q", "r", "x")


@dataclass(frozen=True)
class AttachmentView:
    """One attachment as shown: `url` and `image` are safe to put in href / src, or None."""

    kind: str
    title: str = ""
    url: str | None = None
    image: str | None = None
    refused_url: str = ""


def safe_url(value: Any) -> str | None:
    """`value` as an absolute http(s) URL with a host, cleaned as a browser would read it; else None."""
    if not isinstance(value, str):
        return None
    cleaned = _TAB_OR_NEWLINE.sub("", value.strip(_C0_OR_SPACE))
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    return cleaned


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """Whether an address's host is one of `hosts` (`vk.com`) or under one (`*.userapi.com`), as CSP reads them."""
    host = (urlsplit(url).hostname or "").lower()
    for pattern in hosts:
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
            return True
        if host == pattern:
            return True
    return False


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _photo_urls(photo: dict[str, Any]) -> tuple[Any, Any]:
    """(largest URL, thumbnail URL) of a VK photo object."""
    sizes = [s for s in photo.get("sizes") or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]
    if not sizes:
        return photo.get("url") or photo.get("photo_url"), photo.get("url") or photo.get("photo_url")
    by_type = {s.get("type"): s["url"] for s in sizes}
    largest = max(sizes, key=lambda s: (_int(s.get("width")) or 0) * (_int(s.get("height")) or 0))["url"]
    thumbnail = next((by_type[t] for t in reversed(_THUMBNAIL_SIZES) if t in by_type), largest)
    return largest, thumbnail


def _vk_object_url(prefix: str, owner_id: Any, object_id: Any, suffix: str = "") -> str | None:
    owner, obj = _int(owner_id), _int(object_id)
    if owner is None or obj is None:
        return None
    return f"https://vk.com/{prefix}{owner}_{obj}{suffix}"


def _view(attachment: Any, image_hosts: tuple[str, ...]) -> AttachmentView:
    if not isinstance(attachment, dict):
        return AttachmentView(kind="")
    kind = _str(attachment.get("type"))
    body = attachment.get(kind) if kind else None
    if not isinstance(body, dict):
        # Not VK's shape: the fields, if any, sit at the top level.
        body = attachment
    title = _str(body.get("title"))
    url: Any = body.get("url")
    image: Any = None
    if kind == "photo":
        url, image = _photo_urls(body)
        title = _str(body.get("text"))
    elif kind == "sticker":
        images = [i for i in body.get("images") or [] if isinstance(i, dict)]
        image = url = images[-1].get("url") if images else body.get("url")
    elif kind == "video":
        url = url or _vk_object_url("video", body.get("owner_id"), body.get("id"))
    elif kind == "audio":
        title = " — ".join(p for p in (_str(body.get("artist")), _str(body.get("title"))) if p)
    elif kind == "audio_message":
        url = body.get("link_mp3") or body.get("link_ogg") or url
    elif kind == "wall":
        url = url or _vk_object_url("wall", body.get("owner_id", body.get("to_id")), body.get("id"))
        title = title or _str(body.get("text"))
    elif kind == "wall_reply":
        reply = _int(body.get("id"))
        url = url or _vk_object_url(
            "wall", body.get("owner_id"), body.get("post_id"), f"?reply={reply}" if reply is not None else ""
        )
        title = title or _str(body.get("text"))
    elif kind == "market":
        url = url or _vk_object_url("product", body.get("owner_id"), body.get("id"))
    elif kind == "poll":
        title = _str(body.get("question"))
    elif kind == "graffiti":
        image = url
    link = safe_url(url)
    refused = "" if link is not None or not isinstance(url, str) else url.strip()[:SHOWN_URL_LIMIT]
    image = safe_url(image)
    if image is not None and not host_allowed(image, image_hosts):
        link, image = link or image, None
    return AttachmentView(kind=kind, title=title.strip(), url=link, image=image, refused_url=refused)


def attachment_views(attachments: Any, image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS) -> list[AttachmentView]:
    """The views of an item's stored attachments (anything that is not a list shows nothing)."""
    if not isinstance(attachments, list):
        return []
    return [_view(attachment, image_hosts) for attachment in attachments]


def install(env: jinja2.Environment, image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS) -> None:
    """Give templates the `attachments` filter, showing images from `image_hosts` only."""
    env.filters["attachments"] = lambda attachments: attachment_views(attachments, image_hosts)
