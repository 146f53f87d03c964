"""Operator actions: recorded first, performed second.

Each action checks access (a refusal is journaled on its own, proxy/access.py), then in ONE transaction
validates, writes its journal entry and, when VK must do something, an outbox row with an idempotency
key; the outbox worker (proxy/outbox.py) performs it later. Nothing is queued when validation fails,
and the operator gets an ActionError in plain words. Whoever calls an action that queues wakes the
workers of its process after it returns (app[OUTBOX_WAKEUPS], web/views/actions.py); the row's INSERT
trigger wakes those of the other instances.

Decisions:
- Replying to a closed conversation is allowed. VK has no notion of closing: the author can still read
  the reply, and refusing would push the operator to answer directly in VK, where the reply is no
  longer attributed. The conversation stays closed (an author's next message reopens it).
- Closing while a reply through the proxy is still queued counts as closing with a reply: the waiting
  period ends at the close, attributed to the reply's operator, because the answer was committed before
  the close (otherwise "reply, then close" would always be counted "without reply").
- Closing a dialog also queues messages.markAsAnsweredConversation when the community token is there;
  without it the close still happens (closing is the proxy's own bookkeeping) and the journal says so.

Locks follow the project's order (docs/architecture.md, "Lock order"; proxy/locks.py): an action locks
its conversation first, then the item it acts on (`locks.item`), and writes its journal entry after
them. The outbox row comes after the journal entry it names, and still keeps the order: inserting a
new row waits for nobody, as the rows it refers to are this transaction's own or locked by it already.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from proxy import conversations, locks, outbox
from proxy.access import AccessDenied, ActionError, require_access
from proxy.actor import Actor
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.communities import MissingToken, admin_token, community_token
from proxy.connectors.base import ActionKind, ActionRequest, TokenNeed, UnsupportedAction
from proxy.connectors.registry import connector_for, methods_of
from proxy.models import (
    Author,
    Ban,
    Channel,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
    Item,
    Operator,
    OutboxRow,
    OutboxStatus,
    Outcome,
)
from proxy.network_limits import DIALOG_CHANNELS, past_delete_window
from proxy.rules import undo as rule_undo
from proxy.settings import Settings

__all__ = [
    "AccessDenied",
    "ActionError",
    "BAN_REASONS",
    "CLOSE_REASONS",
    "ban_author",
    "close_conversation",
    "delete_comment",
    "mark_read",
    "reply",
    "restore_comment",
    "unban_author",
]

# VK's limits on text length.
MESSAGE_MAX_CHARS = 4096
COMMENT_MAX_CHARS = 16000
NOTE_MAX_CHARS = 16000
BAN_COMMENT_MAX_CHARS = 2048
# groups.ban reasons as VK numbers them.
BAN_REASONS = {0: "other", 1: "spam", 2: "verbal abuse", 3: "strong language", 4: "irrelevant messages"}
# Why a conversation was closed without a reply (optional; docs/metrics.md "Closed without a reply").
CLOSE_REASONS = ("spam", "duplicate", "no_answer_needed", "other")
_UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)


# --- loading and validating -------------------------------------------------------------------------


async def _conversation(conversation_id: int) -> Conversation:
    conversation = await Conversation.get_or_none(id=conversation_id)
    if conversation is None:
        raise ActionError("this conversation does not exist", 404)
    return conversation


async def _item(item_id: int) -> Item:
    item = await Item.get_or_none(id=item_id)
    if item is None:
        raise ActionError("this comment does not exist", 404)
    return item


def _text(text: str, limit: int, what: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise ActionError(f"the {what} is empty")
    if len(cleaned) > limit:
        raise ActionError(f"the {what} is too long: {len(cleaned)} characters, VK allows {limit}")
    return cleaned


def _check_token(settings: Settings, community: Community, need: TokenNeed) -> None:
    """A missing token fails the action before anything is queued, naming the token."""
    try:
        if need == TokenNeed.ADMIN:
            admin_token(settings, community)
        else:
            community_token(settings, community)
    except MissingToken as exc:
        raise ActionError(str(exc), 409) from None


async def _new_random_id(conn: Any) -> str:
    """A messages.send random_id: a positive int32 no other outbox row uses."""
    while True:
        candidate = str(secrets.randbelow(2**31 - 1) + 1)
        if not await OutboxRow.filter(idempotency_key=candidate).using_db(conn).exists():
            return candidate


async def _queue(
    conn: Any,
    settings: Settings,
    actor: Actor,
    community: Community,
    request: ActionRequest,
    *,
    journal_action: str,
    conversation_id: int | None,
    item_id: int | None = None,
    text: str = "",
    extra: dict[str, Any] | None = None,
) -> OutboxRow:
    """Plan the VK call, check its token, journal it (outcome pending) and queue it, in `conn`."""
    try:
        call = connector_for(community.network).plan(request)
    except UnsupportedAction as exc:
        raise ActionError(str(exc)) from None
    _check_token(settings, community, call.token)
    entry = await journal.record(
        journal_action,
        actor_kind=actor.kind,
        operator_id=actor.operator_id,
        community_id=community.id,
        conversation_id=conversation_id,
        item_id=item_id,
        text=text,
        params={
            "method": call.method,
            # The text is the entry's own (VK calls it message, Telegram text).
            **{k: v for k, v in call.params.items() if k not in ("message", "text")},
            **(extra or {}),
            **actor.params,
        },
        outcome=Outcome.PENDING,
        connection=conn,
    )
    return await OutboxRow.create(
        community_id=community.id,
        journal_entry_id=entry.id,
        operator_id=actor.operator_id,
        rule_id=actor.rule_id,
        conversation_id=conversation_id,
        item_id=item_id,
        method=call.method,
        params=call.params,
        token_kind=call.token.value,
        idempotency_key=request.idempotency_key or uuid.uuid4().hex,
        text=text,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
        using_db=conn,
    )


async def _local_entry(
    conn: Any, actor: Actor, action: str, conversation: Conversation, *, text: str = "", **params: Any
) -> None:
    await journal.record(
        action,
        actor_kind=actor.kind,
        operator_id=actor.operator_id,
        community_id=conversation.community_id,
        conversation_id=conversation.id,
        text=text,
        params={**params, **actor.params},
        outcome=Outcome.DONE,
        connection=conn,
    )


async def _accessible_conversation(operator: Operator, conversation_id: int, action: str) -> Conversation:
    """The conversation, if the operator may act on its community (a refusal is journaled)."""
    conversation = await _conversation(conversation_id)
    await require_access(
        operator, conversation.community_id, action=action, target=f"conversation:{conversation_id}"
    )
    return conversation


async def _author_vk_id(conversation: Conversation, conn: Any) -> tuple[int, int]:
    if conversation.author_id is None:
        raise ActionError("this conversation has no known author")
    author = await Author.get(id=conversation.author_id).using_db(conn)
    return author.id, author.vk_id


# --- actions performed on VK -------------------------------------------------------------------------


async def reply(
    settings: Settings,
    operator: Operator,
    conversation_id: int,
    text: str,
    *,
    reply_to_item_id: int | None = None,
) -> OutboxRow:
    """Queue a reply: messages.send in a dialog, *.createComment as the community in a comment thread.

    In a thread the reply answers the thread's top comment, or `reply_to_item_id` when given.
    """
    await _accessible_conversation(operator, conversation_id, "reply.send")
    async with in_transaction() as conn:
        return await queue_reply(
            conn, settings, Actor.of(operator), conversation_id, text, reply_to_item_id=reply_to_item_id
        )


async def queue_reply(
    conn: Any,
    settings: Settings,
    actor: Actor,
    conversation_id: int,
    text: str,
    *,
    reply_to_item_id: int | None = None,
) -> OutboxRow:
    """`reply` inside the caller's transaction, for an actor already allowed to act here."""
    conversation = await conversations.lock(conversation_id, conn)
    is_dialog = conversation.channel in DIALOG_CHANNELS
    text = _text(text, MESSAGE_MAX_CHARS if is_dialog else COMMENT_MAX_CHARS, "reply")
    community = await Community.get(id=conversation.community_id).using_db(conn)
    reply_to = None if is_dialog else conversation.vk_root_id
    if reply_to_item_id is not None:
        item = await Item.filter(id=reply_to_item_id, conversation_id=conversation.id).using_db(conn).first()
        if item is None:
            raise ActionError("the message you answer is not in this conversation", 404)
        if item.is_deleted and not is_dialog:
            raise ActionError("the comment you answer was deleted", 409)
        reply_to = item.vk_id or reply_to
    key = await _new_random_id(conn) if is_dialog else str(uuid.uuid4())
    request = ActionRequest(
        kind=ActionKind.REPLY,
        channel=conversation.channel,
        group_id=community.vk_group_id,
        owner_id=conversation.vk_owner_id,
        object_id=conversation.vk_object_id,
        reply_to=reply_to,
        connection=conversation.connection,
        text=text,
        idempotency_key=key,
    )
    return await _queue(
        conn, settings, actor, community, request,
        journal_action="reply.send", conversation_id=conversation.id, item_id=reply_to_item_id, text=text,
    )  # fmt: skip


async def _moderate_comment(
    settings: Settings, operator: Operator, item_id: int, *, restore: bool
) -> OutboxRow:
    action = "comment.restore" if restore else "comment.delete"
    item = await _item(item_id)
    await require_access(operator, item.community_id, action=action, target=f"item:{item_id}")
    async with in_transaction() as conn:
        undone: list[int] = []
        if restore:
            # A comment a rule deleted, restored by a person: the rule's false positive (proxy/rules/undo.py).
            await locks.item(item_id, conn)
            undone = await rule_undo.restored(conn, item_id, operator.id)
        extra = {"undoes_rules": undone} if undone else None
        row = await queue_moderation(
            conn, settings, Actor.of(operator), item_id, restore=restore, extra=extra
        )
    return row


async def queue_moderation(
    conn: Any,
    settings: Settings,
    actor: Actor,
    item_id: int,
    *,
    restore: bool,
    extra: dict[str, Any] | None = None,
) -> OutboxRow:
    """Delete or restore a comment inside the caller's transaction, for an actor already allowed to."""
    action = "comment.restore" if restore else "comment.delete"
    conversation, item = await locks.item(item_id, conn)
    if item.channel in DIALOG_CHANNELS:
        raise ActionError("messages cannot be deleted or restored through the proxy, only comments")
    if restore and not item.is_deleted:
        raise ActionError("the comment is not deleted", 409)
    if not restore and item.is_deleted:
        raise ActionError("the comment is already deleted", 409)
    kind = ActionKind.RESTORE_COMMENT if restore else ActionKind.DELETE_COMMENT
    if (
        await OutboxRow.filter(item_id=item.id, method__in=methods_of(kind), status__in=_UNSENT)
        .using_db(conn)
        .exists()
    ):
        raise ActionError(f"the comment is already being {'restored' if restore else 'deleted'}", 409)
    community = await Community.get(id=item.community_id).using_db(conn)
    if not restore and past_delete_window(community.network, item.created_at, utcnow()):
        hours = int(connector_for(community.network).delete_window.total_seconds() // 3600)  # type: ignore[union-attr]
        raise ActionError(
            f"this message is older than {hours} hours: the network no longer lets it be deleted", 409
        )
    request = ActionRequest(
        kind=kind,
        channel=item.channel,
        group_id=community.vk_group_id,
        owner_id=conversation.vk_owner_id,
        object_id=conversation.vk_object_id,
        item_id=item.vk_id,
    )
    return await _queue(
        conn, settings, actor, community, request,
        journal_action=action, conversation_id=conversation.id, item_id=item.id,
        # The comment's text, so the journal shows what was removed or brought back.
        text=item.text, extra=extra,
    )  # fmt: skip


async def delete_comment(settings: Settings, operator: Operator, item_id: int) -> OutboxRow:
    """Queue the deletion of a comment (the admin user token; the community token for board topics)."""
    return await _moderate_comment(settings, operator, item_id, restore=False)


async def restore_comment(settings: Settings, operator: Operator, item_id: int) -> OutboxRow:
    """Queue the restoration of a deleted comment."""
    return await _moderate_comment(settings, operator, item_id, restore=True)


async def ban_author(
    settings: Settings,
    operator: Operator,
    conversation_id: int,
    *,
    reason: int,
    comment: str,
    until: datetime | None,
) -> OutboxRow:
    """Queue a ban of the conversation's author (groups.ban, admin user token); `until` None is forever."""
    await _accessible_conversation(operator, conversation_id, "author.ban")
    async with in_transaction() as conn:
        return await queue_ban(
            conn, settings, Actor.of(operator), conversation_id, reason=reason, comment=comment, until=until
        )


async def queue_ban(
    conn: Any,
    settings: Settings,
    actor: Actor,
    conversation_id: int,
    *,
    reason: int,
    comment: str,
    until: datetime | None,
) -> OutboxRow:
    """`ban_author` inside the caller's transaction, for an actor already allowed to act here."""
    if reason not in BAN_REASONS:
        raise ActionError(
            "the ban reason is one of: " + ", ".join(f"{k} {v}" for k, v in BAN_REASONS.items())
        )
    comment = (comment or "").strip()
    if len(comment) > BAN_COMMENT_MAX_CHARS:
        raise ActionError(f"the ban comment is too long: at most {BAN_COMMENT_MAX_CHARS} characters")
    now = utcnow()
    if until is not None:
        if until.tzinfo is None:
            raise ActionError("the ban end needs a time zone")
        if until <= now:
            raise ActionError("the ban end is in the past")
    conversation = await conversations.lock(conversation_id, conn)
    community = await Community.get(id=conversation.community_id).using_db(conn)
    author_id, vk_id = await _author_vk_id(conversation, conn)
    banned = Ban.filter(community_id=community.id, author_id=author_id, lifted_at__isnull=True)
    active = [b for b in await banned.using_db(conn) if b.until is None or b.until > now]
    if active:
        raise ActionError("the author is already banned", 409)
    if await _unsent(conn, community.id, ActionKind.BAN, vk_id):
        raise ActionError("a ban of this author is already being sent", 409)
    request = ActionRequest(
        kind=ActionKind.BAN,
        channel=conversation.channel,
        group_id=community.vk_group_id,
        # Where the author is banned on a network that bans per chat (Telegram: the group).
        owner_id=conversation.vk_owner_id,
        user_id=vk_id,
        reason=reason,
        comment=comment,
        until=until,
    )
    return await _queue(
        conn, settings, actor, community, request,
        journal_action="author.ban", conversation_id=conversation.id, text=comment,
    )  # fmt: skip


async def _unsent(conn: Any, community_id: int, kind: ActionKind, vk_id: int) -> bool:
    rows = await OutboxRow.filter(
        community_id=community_id, method__in=methods_of(kind), status__in=_UNSENT
    ).using_db(conn)
    # VK names the author owner_id, Telegram user_id.
    return any(row.params.get("owner_id", row.params.get("user_id")) == vk_id for row in rows)


async def unban_author(settings: Settings, operator: Operator, conversation_id: int) -> OutboxRow:
    """Queue lifting the ban of the conversation's author (groups.unban).

    Allowed without a ban the proxy knows of: the ban may predate the proxy, and VK accepts it anyway.
    """
    conversation = await _accessible_conversation(operator, conversation_id, "author.unban")
    async with in_transaction() as conn:
        conversation = await conversations.lock(conversation_id, conn)
        community = await Community.get(id=conversation.community_id).using_db(conn)
        _, vk_id = await _author_vk_id(conversation, conn)
        if await _unsent(conn, community.id, ActionKind.UNBAN, vk_id):
            raise ActionError("lifting this author's ban is already being sent", 409)
        request = ActionRequest(
            kind=ActionKind.UNBAN,
            channel=conversation.channel,
            group_id=community.vk_group_id,
            owner_id=conversation.vk_owner_id,
            user_id=vk_id,
        )
        # A ban a rule made, lifted by a person: the rule's false positive (proxy/rules/undo.py).
        undone = await rule_undo.unbanned(conn, community.id, conversation.author_id, operator.id)  # type: ignore[attr-defined]
        row = await _queue(
            conn, settings, Actor.of(operator), community, request,
            journal_action="author.unban", conversation_id=conversation.id,
            extra={"undoes_rules": undone} if undone else None,
        )  # fmt: skip
    return row


async def mark_read(settings: Settings, operator: Operator, conversation_id: int) -> OutboxRow | None:
    """Queue messages.markAsRead for a dialog; None for comment threads, which VK has no read state for.

    A mark already waiting to be sent is returned instead of queuing another.
    """
    conversation = await _accessible_conversation(operator, conversation_id, "conversation.mark_read")
    if conversation.channel != Channel.MESSAGE:
        return None
    community = await Community.get(id=conversation.community_id)
    if not connector_for(community.network).methods.get(ActionKind.MARK_READ):
        return None  # no read mark for a bot to send (Telegram)
    async with in_transaction() as conn:
        conversation = await conversations.lock(conversation_id, conn)
        waiting = (
            await OutboxRow.filter(
                conversation_id=conversation.id,
                method__in=methods_of(ActionKind.MARK_READ),
                status=OutboxStatus.PENDING,
            )
            .using_db(conn)
            .first()
        )
        if waiting is not None:
            return waiting
        community = await Community.get(id=conversation.community_id).using_db(conn)
        request = ActionRequest(
            kind=ActionKind.MARK_READ,
            channel=conversation.channel,
            group_id=community.vk_group_id,
            object_id=conversation.vk_object_id,
        )
        row = await _queue(
            conn, settings, Actor.of(operator), community, request,
            journal_action="conversation.mark_read", conversation_id=conversation.id,
        )  # fmt: skip
    return row


# --- the proxy's own bookkeeping -------------------------------------------------------------------


async def close_conversation(
    settings: Settings, operator: Operator, conversation_id: int, *, reason: str | None = None
) -> ConversationClose:
    """Close: "with reply" when nobody waits (or a reply through the proxy is queued), else "without reply".

    `reason` (one of CLOSE_REASONS, optional) says why nobody was answered; it is kept in the journal
    entry and on the closing, and only for a closing without a reply (a closing with one needs no reason).
    For dialogs VK is also told the dialog is answered (messages.markAsAnsweredConversation).
    """
    if reason is not None and reason not in CLOSE_REASONS:
        raise ActionError("the reason for closing is one of: " + ", ".join(CLOSE_REASONS))
    conversation = await _accessible_conversation(operator, conversation_id, "conversation.close")
    async with in_transaction() as conn:
        conversation = await conversations.lock(conversation_id, conn)
        if conversation.status == ConversationStatus.CLOSED:
            raise ActionError("the conversation is already closed", 409)
        community = await Community.get(id=conversation.community_id).using_db(conn)
        now = utcnow()
        if conversation.waiting_since is not None:
            pending_reply = (
                await OutboxRow.filter(
                    conversation_id=conversation.id, method__in=outbox.REPLY_METHODS, status__in=_UNSENT
                )
                .using_db(conn)
                .order_by("id")
                .first()
            )
            if pending_reply is not None:
                await conversations.community_replied(
                    conversation,
                    at=now,
                    operator_id=pending_reply.operator_id,
                    outside_proxy=False,
                    conn=conn,
                )
        # Nobody waits and no wait of this opening was answered (a withdrawn wait, or nothing was ever
        # asked): the closing counts "with reply" (docs/metrics.md), but the journal says what happened.
        unasked = conversation.waiting_since is None and conversation.awaiting_first_reaction
        closing = await conversations.close(
            conversation, at=now, operator_id=operator.id, conn=conn, reason=reason
        )
        # Telegram has no "answered" mark: its connector plans none, and closing is the proxy's own there.
        mark_answered = (
            conversation.channel == Channel.MESSAGE
            and community.community_token_enc is not None
            and bool(connector_for(community.network).methods.get(ActionKind.MARK_ANSWERED))
        )
        await _local_entry(
            conn, Actor.of(operator), "conversation.close", conversation,
            kind=str(closing.kind), close_id=closing.id, vk_mark_answered=mark_answered,
            **({"nothing_to_answer": True} if unasked else {}),
            **({"reason": closing.reason} if closing.reason else {}),
        )  # fmt: skip
        if mark_answered:
            request = ActionRequest(
                kind=ActionKind.MARK_ANSWERED,
                channel=conversation.channel,
                group_id=community.vk_group_id,
                object_id=conversation.vk_object_id,
            )
            await _queue(
                conn, settings, Actor.of(operator), community, request,
                journal_action="conversation.mark_answered", conversation_id=conversation.id,
            )  # fmt: skip
    return closing
