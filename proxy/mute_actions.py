"""Muting an author: they stay in the group but may no longer write there (Telegram's restrictChatMember
without the right to send messages), for some time or until lifted in Telegram. VK has no such action:
its connector plans none, and the operator is told so before anything is written.

Recorded first, performed second, like every action (proxy/actions.py): access, then one transaction with
the conversation locked, the journal entry `author.mute` and the outbox row. Telegram's chat_member update
for it is recognised as the proxy's own (proxy/ingest/restrictions.py), not journaled as done in Telegram.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from proxy import conversations
from proxy.access import ActionError
from proxy.actions import _accessible_conversation, _author_vk_id, _queue, _unsent
from proxy.actor import Actor
from proxy.clock import utcnow
from proxy.connectors.base import ActionKind, ActionRequest
from proxy.models import Community, Operator, OutboxRow
from proxy.settings import Settings


async def mute_author(
    settings: Settings, operator: Operator, conversation_id: int, *, until: datetime | None
) -> OutboxRow:
    """Queue muting the conversation's author in its group; `until` None is until lifted."""
    await _accessible_conversation(operator, conversation_id, "author.mute")
    if until is not None and (until.tzinfo is None or until <= utcnow()):
        raise ActionError("the mute's end must be a moment in the future, with its time zone")
    async with in_transaction() as conn:
        conversation = await conversations.lock(conversation_id, conn)
        community = await Community.get(id=conversation.community_id).using_db(conn)
        _, user_id = await _author_vk_id(conversation, conn)
        if await _unsent(conn, community.id, ActionKind.MUTE, user_id):
            raise ActionError("muting this author is already being sent", 409)
        request = ActionRequest(
            kind=ActionKind.MUTE,
            channel=conversation.channel,
            group_id=community.vk_group_id,
            owner_id=conversation.vk_owner_id,
            user_id=user_id,
            until=until,
        )
        # A network without mutes (VK) plans none: an ActionError in plain words, nothing written.
        return await _queue(
            conn, settings, Actor.of(operator), community, request,
            journal_action="author.mute", conversation_id=conversation.id,
        )  # fmt: skip
