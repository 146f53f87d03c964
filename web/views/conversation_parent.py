"""The conversation page's parent block: what a comment thread hangs on (proxy/thread_parents.py).

Read from the database only: a parent not stored yet is asked for (a pending row) and the fetcher is
woken, while the page shows a placeholder with the link. Its image is shown only from the hosts of
PROXY_IMAGE_HOSTS, as attachments' are (web/attachments.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import thread_parents
from proxy.appkeys import PARENT_WAKEUP, SETTINGS
from proxy.models import Conversation
from web.attachments import host_allowed, safe_url

# How much of a long text shows before "more".
SHORT_TEXT = 280


async def parent_context(request: web.Request, conversation: Conversation) -> dict[str, Any]:
    """`parent` (None for a dialog), its `parent_image` (a safe address or None) and `parent_short`."""
    parent = await thread_parents.parent_for(conversation)
    if parent is None:
        return {"parent": None}
    if parent.state == "pending":
        wakeup = request.app.get(PARENT_WAKEUP)
        if wakeup is not None:
            wakeup.set()
    image = safe_url(parent.image_url) if parent.image_url else None
    if image is not None and not host_allowed(image, request.app[SETTINGS].image_hosts):
        image = None
    text = parent.text.strip()
    short = text if len(text) <= SHORT_TEXT else text[:SHORT_TEXT].rsplit(" ", 1)[0].rstrip() + "…"
    return {"parent": parent, "parent_image": image, "parent_short": short, "parent_long": short != text}
