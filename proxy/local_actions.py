"""The actions that change only the proxy's own rows: reopening, assigning, notes. Each checks access,
then locks its conversation and journals itself with outcome `done` in one transaction (proxy/actions.py
says how; nothing is queued for the network)."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from proxy import conversations
from proxy.access import ActionError, can_access
from proxy.actions import NOTE_MAX_CHARS, _accessible_conversation, _local_entry, _text
from proxy.actor import Actor
from proxy.clock import utcnow
from proxy.conversations import ConversationError
from proxy.models import Conversation, Note, Operator
from proxy.settings import Settings


async def reopen_conversation(settings: Settings, operator: Operator, conversation_id: int) -> Conversation:
    """Reopen a closed conversation (nobody waits until the author writes again)."""
    conversation = await _accessible_conversation(operator, conversation_id, "conversation.reopen")
    async with in_transaction() as conn:
        conversation = await conversations.lock(conversation_id, conn)
        try:
            await conversations.reopen(conversation, at=utcnow(), conn=conn)
        except ConversationError as exc:
            raise ActionError(str(exc), 409) from None
        await _local_entry(conn, Actor.of(operator), "conversation.reopen", conversation)
    return conversation


async def assign(
    settings: Settings, operator: Operator, conversation_id: int, assignee_id: int | None
) -> Conversation:
    """Assign the conversation to an operator with access to its community, or unassign it (None)."""
    await _accessible_conversation(operator, conversation_id, "conversation.assign")
    async with in_transaction() as conn:
        return await assign_in(conn, Actor.of(operator), conversation_id, assignee_id)


async def assign_in(conn: Any, actor: Actor, conversation_id: int, assignee_id: int | None) -> Conversation:
    """`assign` inside the caller's transaction, for an actor already allowed to act here."""
    conversation = await conversations.lock(conversation_id, conn)
    if assignee_id is not None:
        assignee = await Operator.get_or_none(id=assignee_id).using_db(conn)
        if assignee is None:
            raise ActionError("this operator does not exist", 404)
        if not assignee.is_active:
            raise ActionError(f"{assignee.display_name or assignee.login}'s account is disabled")
        if not await can_access(assignee, conversation.community_id):
            raise ActionError(f"{assignee.display_name or assignee.login} has no access to this community")
    previous = conversation.assignee_id
    conversation.assignee_id = assignee_id
    await conversation.save(using_db=conn, update_fields=["assignee_id"])
    await _local_entry(
        conn,
        actor,
        "conversation.assign",
        conversation,
        assignee_id=assignee_id,
        previous_assignee_id=previous,
    )
    return conversation


async def add_note(settings: Settings, operator: Operator, conversation_id: int, text: str) -> Note:
    """An internal note on the conversation, never sent to VK."""
    conversation = await _accessible_conversation(operator, conversation_id, "note.add")
    text = _text(text, NOTE_MAX_CHARS, "note")
    async with in_transaction() as conn:
        note = await Note.create(
            conversation_id=conversation.id, operator_id=operator.id, text=text, using_db=conn
        )
        await _local_entry(conn, Actor.of(operator), "note.add", conversation, text=text, note_id=note.id)
    return note
