"""Turn one Telegram Bot API ``Update`` into domain events.

The input is one update as the webhook delivers it (or one element of getUpdates' ``result``); the
output is classes of :mod:`proxy.events`. normalize_message.py says where each message lives and who
wrote it, normalize_members.py how membership changes read, normalize_content.py the shape of texts,
attachments and forwards.

The envelope of every event: ``group_id`` is the bot's id (a Telegram "community" is one bot),
``event_id`` is ``"tg:{update_id}"`` (the prefix keeps Telegram's ids apart from VK's in the raw event's
key), ``vk_type`` is the update's kind (``message``, ``edited_message``, ``business_message``,
``chat_member``...; ``update`` for an update with no content), ``api_version`` None (Telegram sends
none), ``raw`` the update as received.

Totality, as for VK: anything that has an integer ``update_id`` becomes events. An unknown kind, a kind
the proxy does not handle, or an object lacking what identifies the item becomes
:class:`~proxy.events.Unsupported` (stored raw, ignored) with its reason. Only input that is not an update
at all raises :class:`~proxy.connectors.base.MalformedEvent`.

One update is one event, except ``deleted_business_messages``, which lists several message ids and
becomes one :class:`~proxy.events.ItemDeleted` each (the domain deletes one item per event). So the
endpoint calls :func:`normalize_all`; each of those deletions has the event_id
``"tg:{update_id}:{message_id}"`` (deterministic, so a redelivered update is still recognised, and
distinct, so that none is taken for a duplicate of another) and carries the whole update as ``raw``.
:func:`normalize` is the one-event view, for callers that handle one event per update.

Telegram sample files quoted in comments live in ``tests/fixtures/telegram``.
"""

from collections.abc import Mapping
from typing import Any

from proxy.connectors.base import MalformedEvent
from proxy.events import Channel, DomainEvent, ItemDeleted, ItemRef, ThreadRef, Unsupported

from .normalize_fields import _connection, _dict, _Handler, _int, _list, _required, _Skip
from .normalize_members import MEMBER_HANDLERS
from .normalize_message import MESSAGE_HANDLERS

__all__ = ["HANDLED_KINDS", "INTERNAL_ERROR_PREFIX", "MalformedEvent", "normalize", "normalize_all"]

# Marks an Unsupported produced by a bug in this package rather than by Telegram's input, so that such
# events can be found (and the tests can assert that none occur).
INTERNAL_ERROR_PREFIX = "normalizer error: "

# Kinds the proxy receives or may receive and knowingly ignores, with the reason it stores.
_IGNORED_KINDS = {
    "message_reaction": "reaction changed",
    "message_reaction_count": "anonymous reaction counts changed",
    "callback_query": "inline button pressed",
    "chat_join_request": "join request",
    "business_connection": "business connection changed",
    "channel_post": "channel post (its comments are read in the discussion group)",
    "edited_channel_post": "edited channel post",
    "inline_query": "inline query",
    "chosen_inline_result": "inline result chosen",
    "poll": "poll state changed",
    "poll_answer": "poll answer",
    "chat_boost": "chat boosted",
    "removed_chat_boost": "chat boost removed",
}

_HANDLERS: dict[str, _Handler] = {**MESSAGE_HANDLERS, **MEMBER_HANDLERS}

HANDLED_KINDS: frozenset[str] = frozenset(_HANDLERS) | {"deleted_business_messages"}
"""Update kinds that become something other than :class:`Unsupported`."""


def _kind(update: Mapping[str, Any]) -> str:
    # An update has exactly one field besides update_id; should a future one carry more, a kind this
    # module reads wins over one it does not.
    kinds = [key for key in update if key != "update_id"]
    for key in kinds:
        if key in _HANDLERS or key == "deleted_business_messages":
            return key
    return kinds[0] if kinds else "update"


def _envelope(bot_id: int, update: object) -> dict[str, Any]:
    if isinstance(bot_id, bool) or not isinstance(bot_id, int) or bot_id <= 0:
        raise MalformedEvent("bot id is not a positive integer")
    if not isinstance(update, dict):
        raise MalformedEvent("update is not a JSON object")
    update_id = _int(update.get("update_id"))
    if update_id is None:
        raise MalformedEvent("update has no integer 'update_id'")
    return {
        "group_id": bot_id,
        "event_id": f"tg:{update_id}",
        "vk_type": _kind(update),
        "api_version": None,
        "raw": update,
    }


def _deleted_business_messages(env: dict[str, Any], obj: Mapping[str, Any], bot_id: int) -> list[DomainEvent]:
    connection = _connection(obj)
    chat_id = _required(_dict(obj.get("chat")), "id")
    message_ids = list(
        dict.fromkeys(number for number in map(_int, _list(obj.get("message_ids"))) if number and number > 0)
    )
    if not message_ids:
        raise _Skip("deleted_business_messages lists no integer message id")
    thread = ThreadRef(channel=Channel.BUSINESS, owner_id=-bot_id, object_id=chat_id, connection=connection)
    return [
        ItemDeleted(
            **{**env, "event_id": f"{env['event_id']}:{message_id}"},
            ref=ItemRef(
                channel=Channel.BUSINESS,
                owner_id=-bot_id,
                object_id=chat_id,
                item_id=message_id,
                connection=connection,
            ),
            thread=thread,
            deleter_id=None,
            user_id=None,
        )
        for message_id in message_ids
    ]


def normalize_all(bot_id: int, update: object) -> list[DomainEvent]:
    """Turn one update into its domain events: one, or one per message of a business deletion.

    ``bot_id`` is the bot's id (the number before the colon of its token). Never returns an empty list.
    Raises :class:`MalformedEvent` (and nothing else) when ``update`` is not an update: not a dict, or
    no integer ``update_id`` (or ``bot_id`` is not a positive integer).
    """
    env = _envelope(bot_id, update)
    kind = env["vk_type"]
    obj = env["raw"].get(kind)
    if kind in _IGNORED_KINDS:
        return [Unsupported(**env, reason=_IGNORED_KINDS[kind])]
    handler = _HANDLERS.get(kind)
    if handler is None and kind != "deleted_business_messages":
        return [Unsupported(**env, reason="unhandled update kind")]
    if not isinstance(obj, dict):
        return [Unsupported(**env, reason="object is not a JSON object")]
    try:
        if handler is None:
            return _deleted_business_messages(env, obj, bot_id)
        return [handler(env, obj, bot_id)]
    except _Skip as skip:
        return [Unsupported(**env, reason=skip.reason)]
    except Exception as exc:
        # A bug here must not lose the update: it is kept raw and can be replayed once fixed.
        return [Unsupported(**env, reason=f"{INTERNAL_ERROR_PREFIX}{type(exc).__name__}: {exc}")]


def message_event(bot_id: int, event_id: str, vk_type: str, message: object) -> DomainEvent:
    """A Message the bot itself sent (sendMessage's answer, which Telegram never delivers back as an
    update) as the event ingest stores; Unsupported when it is not a usable message."""
    env = {"group_id": bot_id, "event_id": event_id, "vk_type": vk_type, "api_version": None, "raw": message}
    if not isinstance(message, dict):
        return Unsupported(**env, reason="the sent message is not a JSON object")
    try:
        return MESSAGE_HANDLERS["message"](env, message, bot_id)
    except _Skip as skip:
        return Unsupported(**env, reason=skip.reason)


def normalize(bot_id: int, update: object) -> DomainEvent:
    """Turn one update into one domain event, for callers that take one event per update.

    The same as :func:`normalize_all` for every update that is one event. A business deletion of several
    messages is not: it becomes an :class:`Unsupported` saying so (its raw update kept), so that nothing
    is silently dropped; the endpoint uses :func:`normalize_all`. Raises only :class:`MalformedEvent`, as
    :func:`normalize_all` does.
    """
    events = normalize_all(bot_id, update)
    if len(events) == 1:
        return events[0]
    env = _envelope(bot_id, update)
    return Unsupported(**env, reason=f"{len(events)} events in one update: normalize_all reads them")
