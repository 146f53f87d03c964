"""The conversation page's parent block: what a comment thread hangs on (proxy/thread_parents.py).

Read from the database only: a parent not stored yet is asked for (a pending row) and the fetcher is
woken, while the page shows a placeholder with the link; when it is loaded, the fetcher's
`conversation_updated` pushes the header (conversation/_header.html includes conversation/_parent.html)
to the pages open on it. Its image goes through the `attachments` filter, so it is shown only from the
hosts of PROXY_IMAGE_HOSTS, as attachments' are (web/attachments.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from proxy import thread_parents
from proxy.models import Conversation

# How much of a long text shows before "more".
SHORT_TEXT = 280


async def parent_context(conversation: Conversation, wakeup: asyncio.Event | None) -> dict[str, Any]:
    """`parent` (None for a dialog), `parent_short` (its text cut at a word) and `parent_long`."""
    parent = await thread_parents.parent_for(conversation)
    if parent is None:
        return {"parent": None}
    if parent.state == "pending" and wakeup is not None:
        wakeup.set()
    text = parent.text.strip()
    short = text if len(text) <= SHORT_TEXT else text[:SHORT_TEXT].rsplit(" ", 1)[0].rstrip() + "…"
    return {"parent": parent, "parent_short": short, "parent_long": short != text}
