"""What a rule does when it matches, through the operators' own paths (proxy/actions.py).

A rule's deletion, ban and reply are queued in the outbox like an operator's, with their rate limits and
idempotency keys, so VK's echo is matched to the row and nothing is done twice; the entries are
journaled with the rule as the actor (`ActorKind.RULE`, params "rule" and "matched") and no operator is
credited. Each action is tried on its own: one VK refuses at queueing (the comment is already deleted,
the author already banned, a token is missing) is recorded as skipped with its reason, and the rule's
other actions still run. Everything happens in the caller's transaction, after it locked the item's
conversation and the item (docs/architecture.md, "Lock order").

Notes: a rule's note is a journal entry ("note.add") shown with the rule's mark on the conversation,
not a `note` row, which names an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from proxy import actions, local_actions
from proxy.access import ActionError
from proxy.actor import Actor
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.models import ActorKind, CannedResponse, Conversation, Item, Outcome, RuleMode
from proxy.settings import Settings


@dataclass(frozen=True)
class RuleRef:
    """The rule as its entries name it: id, name and version at the time it matched."""

    id: int
    name: str
    version: int
    mode: RuleMode
    actions: list[dict[str, Any]]


def actor_of(rule: RuleRef, matched: str) -> Actor:
    params = {"rule": {"id": rule.id, "name": rule.name, "version": rule.version}, "matched": matched}
    return Actor(ActorKind.RULE, rule_id=rule.id, params=params)


async def journal_hit(
    conn: Any, rule: RuleRef, matched: str, conversation: Conversation, item: Item
) -> int:
    """The hit's own entry ("rule.hit"): what matched and what the rule does (or would, in dry run)."""
    entry = await journal.record(
        "rule.hit",
        actor_kind=ActorKind.RULE,
        community_id=item.community_id,  # type: ignore[attr-defined]
        conversation_id=conversation.id,
        item_id=item.id,
        text=item.text[:2000],
        params={
            "rule": {"id": rule.id, "name": rule.name, "version": rule.version},
            "matched": matched,
            "mode": str(rule.mode),
            "actions": rule.actions,
        },
        outcome=Outcome.DONE,
        connection=conn,
    )
    return entry.id


async def perform(
    conn: Any, settings: Settings, rule: RuleRef, matched: str, conversation: Conversation, item: Item
) -> list[dict[str, Any]]:
    """Do the rule's actions on the (locked) item; what became of each, in the order given."""
    actor = actor_of(rule, matched)
    done = []
    for action in rule.actions:
        record = dict(action)
        try:
            record.update(await _one(conn, settings, actor, action, conversation, item))
            record["queued"] = True
        except ActionError as exc:
            record.update(queued=False, skipped=str(exc))
        done.append(record)
    return done


async def _one(
    conn: Any, settings: Settings, actor: Actor, action: dict[str, Any], conversation: Conversation, item: Item
) -> dict[str, Any]:
    kind = action["do"]
    if kind == "delete":
        row = await actions.queue_moderation(conn, settings, actor, item.id, restore=False)
        return {"outbox_id": row.id}
    if kind == "ban":
        until = utcnow() + timedelta(days=action["days"]) if action.get("days") else None
        row = await actions.queue_ban(
            conn, settings, actor, conversation.id,
            reason=int(action.get("reason", 1)), comment=action.get("comment", ""), until=until,
        )  # fmt: skip
        return {"outbox_id": row.id}
    if kind == "reply":
        canned = await CannedResponse.get_or_none(id=action["canned_id"]).using_db(conn)
        if canned is None:
            raise ActionError("the canned response no longer exists")
        # In a thread the reply answers the matched comment itself.
        reply_to = None if item.channel == "message" else item.id
        row = await actions.queue_reply(conn, settings, actor, conversation.id, canned.text, reply_to_item_id=reply_to)
        return {"outbox_id": row.id}
    if kind == "assign":
        await local_actions.assign_in(conn, actor, conversation.id, action["operator_id"])
        return {}
    if kind == "note":
        await journal.record(
            "note.add",
            actor_kind=actor.kind,
            community_id=conversation.community_id,  # type: ignore[attr-defined]
            conversation_id=conversation.id,
            item_id=item.id,
            text=action["text"],
            params=dict(actor.params),
            outcome=Outcome.DONE,
            connection=conn,
        )
        return {}
    # "alert" is posted by the worker once the transaction is committed; "flag" is the hit itself.
    return {}
