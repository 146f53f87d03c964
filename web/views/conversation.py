"""One conversation: the page, its live partials, earlier versions of an item, a reply's outbox state."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import inbox
from proxy.access import require_row
from proxy.appkeys import LIVE, PARENT_WAKEUP
from proxy.models import Conversation
from web import params
from web.auth import OPERATOR, SCOPE
from web.partials import render, wants_partial
from web.views.conversation_live import CONVERSATION_BROADCASTER, present
from web.views.conversation_parent import parent_context

PARTS = {
    "header": "conversation/_header.html",
    "timeline": "conversation/_timeline.html",
    "author": "conversation/_author.html",
    "presence": "conversation/_presence.html",
    "reply": "conversation/_reply.html",
    "note": "conversation/_note.html",
}


async def accessible_conversation(request: web.Request, conversation_id: int) -> Conversation:
    """The conversation, or NotFound (404 "Not found.") when this operator may not see it.

    A missing id answers the same as a forbidden one (proxy/access.py), so an operator cannot learn which
    ids exist in communities they do not serve; the forbidden one is still journaled as a refusal.
    """
    conversation = await inbox.get_conversation(conversation_id)
    await require_row(
        request[SCOPE],
        request[OPERATOR],
        conversation.community_id if conversation is not None else None,  # type: ignore[attr-defined]
        action="conversation.view",
        target=f"conversation:{conversation_id}",
    )
    return conversation  # type: ignore[return-value]


async def conversation_context(
    request: web.Request, conversation: Conversation, **extra: Any
) -> dict[str, Any]:
    """What the conversation page and each of its partials need."""
    from proxy.canned import list_canned  # written alongside the actions; imported where used

    broadcaster = request.app.get(CONVERSATION_BROADCASTER)
    context: dict[str, Any] = {
        # Taken before the page is read: the page's stream is resent every change after it.
        "live_since": broadcaster.position if broadcaster is not None else "",
        "view": await inbox.conversation_view(conversation),
        # Presence as pushed (everyone here) less this operator: the page hides its own operator too.
        "viewers": present(request.app[LIVE], conversation.id),
        "me": request[OPERATOR].id,
        "canned": await list_canned(conversation.community_id),  # type: ignore[attr-defined]
        # What the thread hangs on, in the header (conversation/_parent.html).
        **await parent_context(conversation, request.app.get(PARENT_WAKEUP)),
    }
    context.update(extra)
    return context


async def render_conversation(
    request: web.Request, conversation_id: int, part: str, *, status: int = 200, **extra: Any
) -> web.Response:
    """The partial `part` for htmx, the whole page otherwise (so every URL works without JavaScript)."""
    conversation = await accessible_conversation(request, conversation_id)
    context = await conversation_context(request, conversation, **extra)
    template = PARTS[part] if wants_partial(request) else "conversation/page.html"
    return render(request, template, context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    """GET /conversations/{id} and /conversations/{id}/{part}."""
    part = request.match_info.get("part", "timeline")
    if part not in PARTS:
        raise web.HTTPNotFound()
    return await render_conversation(request, params.path_id(request, "id"), part)


async def versions(request: web.Request) -> web.StreamResponse:
    """GET /conversations/{id}/items/{item_id}/versions: every earlier text of an item."""
    conversation = await accessible_conversation(request, params.path_id(request, "id"))
    item_id = params.path_id(request, "item_id")
    found = await inbox.item_versions(item_id)
    if not found or not await conversation.items.filter(id=item_id).exists():
        raise web.HTTPNotFound(text="No such item in this conversation.")
    if not wants_partial(request):
        raise web.HTTPFound(f"/conversations/{conversation.id}#item-{item_id}")
    return render(request, "conversation/_versions.html", {"versions": found})


async def outbox_state(request: web.Request) -> web.StreamResponse:
    """GET /outbox/{id}: where a reply stands (pending, sent, failed with the reason)."""
    scope = request[SCOPE]
    row_id = params.path_id(request, "id")
    row = await inbox.outbox_row(row_id)
    community_id = row.community_id if row is not None else None  # type: ignore[attr-defined]
    await require_row(scope, request[OPERATOR], community_id, action="outbox.view", target=f"outbox:{row_id}")
    if not wants_partial(request):
        target = f"/conversations/{row.conversation_id}" if row.conversation_id else "/"  # type: ignore[attr-defined]
        raise web.HTTPFound(target)
    return render(request, "conversation/_outbox.html", {"row": row})


async def next_waiting(request: web.Request) -> web.StreamResponse:
    """GET /conversations/next?after=ID: the longest-waiting open conversation other than ID."""
    try:
        after = params.query_of(request)(params.NEXT_AFTER)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    page = await inbox.inbox_page(request[SCOPE], inbox.InboxFilter(), limit=2)
    for row in page.rows:
        if row.conversation.id != after and row.wait_seconds is not None:
            raise web.HTTPFound(f"/conversations/{row.conversation.id}")
    raise web.HTTPFound("/")
