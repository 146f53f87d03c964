"""Operator actions from the conversation page. Each answers with the updated partial (htmx) or a
redirect back to the page (plain forms); a refused action answers 422 with the reason next to its form.

The actions themselves (authorize, journal, outbox) live in proxy/actions.py; these handlers only parse
the form, call one action, tell the other open pages (live update), and render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web

from proxy import actions, local_actions
from proxy.access import AccessDenied, ActionError, require_row
from proxy.appkeys import LIVE, OUTBOX_WAKEUPS, SETTINGS
from proxy.clock import utcnow
from proxy.models import Item
from web import params
from web.auth import OPERATOR, SCOPE
from web.i18n import gettext as _
from web.partials import wants_partial
from web.refusal import refused
from web.views.conversation import accessible_conversation, render_conversation

T = TypeVar("T")


class FormError(Exception):
    """A form field that cannot be used; the message is shown next to the form."""


def _conversation_id(request: web.Request) -> int:
    return params.path_id(request, "id")


def _field(form: params.Source, param: params.Param[T]) -> T | None:
    """A form field (web/params.py); a FormError, shown next to the form, when it cannot be used."""
    try:
        return form(param)
    except params.ParamError as exc:
        raise FormError(_(exc.message, **exc.params)) from None


def _text(form: params.Source) -> str:
    text = _field(form, params.TEXT)
    if not text:
        raise FormError(_("Write something first."))
    return text


async def _perform(
    request: web.Request,
    conversation_id: int,
    part: str,
    error_key: str,
    run: Callable[[Any], Awaitable[Any]],
    *,
    live_event: str = "conversation_updated",
    keep: Callable[[Any], dict[str, Any]] | None = None,
    success: dict[str, Any] | None = None,
    trigger: str | None = "timeline-changed",
    queues: bool = True,
) -> web.StreamResponse:
    """Run one action; answer with the partial `part` (success or its error), or redirect/page.

    `queues`: the action may queue a row for VK, so this process's outbox workers are woken after it.
    """
    conversation = await accessible_conversation(request, conversation_id)
    form = await params.form_of(request)
    try:
        await run(form)
    except AccessDenied as exc:
        raise refused(exc) from None
    except (ActionError, FormError) as exc:
        message = exc.message if isinstance(exc, ActionError) else str(exc)
        status = exc.status if isinstance(exc, ActionError) and exc.status != 400 else 422
        extra = {error_key: message, **(keep(form.values) if keep else {})}
        # 422 is swapped by htmx (base.html's responseHandling), so the reason shows next to the form.
        return await render_conversation(request, conversation_id, part, status=max(status, 422), **extra)
    if queues:
        request.app[OUTBOX_WAKEUPS].wake()
    await request.app[LIVE].publish(
        live_event,
        {"community_id": conversation.community_id, "conversation_id": conversation_id},  # type: ignore[attr-defined]
    )
    if not wants_partial(request):
        raise web.HTTPSeeOther(f"/conversations/{conversation_id}")
    response = await render_conversation(request, conversation_id, part, **(success or {}))
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


async def reply(request: web.Request) -> web.StreamResponse:
    """POST /conversations/{id}/reply: queue a reply for VK (sent by the outbox worker)."""
    cid = _conversation_id(request)
    settings, operator = request.app[SETTINGS], request[OPERATOR]

    queued: dict[str, Any] = {}

    async def run(form: Any) -> None:
        text = _text(form)
        # The notice names the row, so the page can take it away once the reply is sent (conversation.js).
        queued["reply_sent"] = await actions.reply(
            settings, operator, cid, text, reply_to_item_id=_field(form, params.REPLY_TO)
        )

    return await _perform(
        request,
        cid,
        "reply",
        "reply_error",
        run,
        live_event="outbox_updated",
        keep=lambda form: {"reply_text": form.get("text", ""), "reply_to_item_id": form.get("reply_to_item_id")},
        success=queued,
    )


async def add_note(request: web.Request) -> web.StreamResponse:
    """POST /conversations/{id}/notes: an internal note, never sent to VK."""
    cid = _conversation_id(request)
    settings, operator = request.app[SETTINGS], request[OPERATOR]

    async def run(form: Any) -> None:
        await local_actions.add_note(settings, operator, cid, _text(form))

    return await _perform(
        request, cid, "note", "note_error", run, keep=lambda form: {"note_text": form.get("text", "")},
        queues=False,
    )


def _header_action(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        cid = _conversation_id(request)
        settings, operator = request.app[SETTINGS], request[OPERATOR]

        async def run(form: Any) -> None:
            if name == "assign":
                await local_actions.assign(settings, operator, cid, _field(form, params.ASSIGNEE))
            elif name == "close_conversation":
                reason = _field(form, params.CLOSE_REASON)
                await actions.close_conversation(settings, operator, cid, reason=reason)
            elif name == "reopen_conversation":
                await local_actions.reopen_conversation(settings, operator, cid)
            else:
                await getattr(actions, name)(settings, operator, cid)

        # Closing a dialog queues messages.markAsAnsweredConversation; reopening and assigning queue nothing.
        queues = name in ("close_conversation", "mark_read")
        # A refused close keeps its form open, with the reason to fix next to it.
        keep = (lambda form: {"close_open": True}) if name == "close_conversation" else None
        return await _perform(request, cid, "header", "header_error", run, queues=queues, keep=keep)

    handler.__name__ = name
    handler.__doc__ = f"POST /conversations/{{id}}/…: {name.replace('_', ' ')}."
    return handler


close = _header_action("close_conversation")
reopen = _header_action("reopen_conversation")
assign = _header_action("assign")
mark_read = _header_action("mark_read")


async def ban(request: web.Request) -> web.StreamResponse:
    """POST /conversations/{id}/ban: ban the author in the community (for some days, or for ever)."""
    cid = _conversation_id(request)
    settings, operator = request.app[SETTINGS], request[OPERATOR]

    async def run(form: Any) -> None:
        days = _field(form, params.BAN_DAYS)
        await actions.ban_author(
            settings,
            operator,
            cid,
            reason=_field(form, params.BAN_REASON) or 0,
            comment=_field(form, params.BAN_COMMENT) or "",
            until=utcnow() + timedelta(days=days) if days else None,
        )

    return await _perform(request, cid, "author", "author_error", run, live_event="author_changed", trigger=None)


async def unban(request: web.Request) -> web.StreamResponse:
    """POST /conversations/{id}/unban: lift the author's ban in the community."""
    cid = _conversation_id(request)
    settings, operator = request.app[SETTINGS], request[OPERATOR]

    async def run(form: Any) -> None:
        await actions.unban_author(settings, operator, cid)

    return await _perform(request, cid, "author", "author_error", run, live_event="author_changed", trigger=None)


def _item_action(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        item_id = params.path_id(request, "item_id")
        item = await Item.get_or_none(id=item_id)
        settings, operator = request.app[SETTINGS], request[OPERATOR]
        community_id = item.community_id if item is not None else None  # type: ignore[attr-defined]
        await require_row(request[SCOPE], operator, community_id, action=name, target=f"item:{item_id}")

        async def run(form: Any) -> None:
            await getattr(actions, name)(settings, operator, item_id)

        return await _perform(
            request, item.conversation_id, "timeline", "timeline_error", run, trigger=None  # type: ignore[attr-defined]
        )

    handler.__name__ = name
    handler.__doc__ = f"POST /items/{{item_id}}/…: {name.replace('_', ' ')}."
    return handler


delete_comment = _item_action("delete_comment")
restore_comment = _item_action("restore_comment")
