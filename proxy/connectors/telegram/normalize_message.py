"""Messages: new and edited ones in a private chat with the bot, in a group, or in a business chat.

Where an item lives (``ref``) and which conversation it belongs to (``thread``):

- private chat (``message`` / ``edited_message`` with chat.type "private"): channel ``message``, the
  dialog with the user as on VK: ItemRef(owner_id=-bot_id, object_id=chat.id, item_id=message_id),
  ThreadRef(owner_id=-bot_id, object_id=chat.id); always incoming, the author is ``from``.
- group or supergroup: channel ``group``, owner_id = chat.id (negative), item_id = message_id. The
  conversation:

  * a forum topic's message (``is_topic_message`` and ``message_thread_id``): the topic, like a VK board
    topic: ThreadRef(object_id=message_thread_id, root_id=None); the item's object_id is the topic too;
  * a comment under a channel post in the channel's discussion group (a reply to a message with
    ``is_automatic_forward``): the post's comments, like a VK wall post: object_id = the forwarded
    post's message_id in the group for the item and the thread, root_id = the comment's own id;
  * a reply to any other message: object_id 0, root_id = the replied message, ``follows_reply`` (the
    network does not say which conversation the replied message is in; ingest puts the reply in the
    stored one's), ``reply_to`` = that message with object_id 0;
  * anything else starts a conversation of its own: object_id 0, root_id = its own message_id.

  The automatic forward itself (a channel's post copied into its discussion group, ``from`` 777000,
  ``sender_chat`` = the channel) is not an item: it becomes :class:`~proxy.events.WallPostCreated`, the
  post the comments hang on.

  The author: ``from`` 1087968824 (GroupAnonymousBot) and 777000 are placeholders and never an author;
  ``sender_chat`` is. When ``sender_chat`` is the group itself, an admin wrote anonymously as the group:
  author_id = chat.id, outgoing, from_community, admin_author_id None (Telegram does not say which
  admin). Another ``sender_chat`` (a channel writing in the group) is an incoming author of its own.
- business chat (``business_message`` / ``edited_business_message``): channel ``business``, the
  customer's private chat with a business account the bot serves, keyed by the connection as well:
  ItemRef(owner_id=-bot_id, object_id=chat.id, item_id=message_id, connection=business_connection_id).
  A message whose ``from`` is not the customer (chat.id) was written by the business account itself
  (its owner in Telegram, or a bot for it): outgoing, from_community, admin_author_id = from.id, and
  author_id = from.id as well (the account is a user, not a community with an id of its own).

Service messages (joins, leaves, pins, migrations...) arrive as ``message`` too: joins and leaves are
read in normalize_members.py, the others are Unsupported with the service field's name as reason.
"""

from collections.abc import Mapping
from typing import Any

from proxy.events import (
    Channel,
    Direction,
    DomainEvent,
    ItemCreated,
    ItemEdited,
    ItemRef,
    ThreadRef,
    WallPostCreated,
)

from .normalize_content import attachments, forwarded, message_text
from .normalize_fields import (
    PLACEHOLDER_SENDERS,
    _connection,
    _dict,
    _Handler,
    _id_of,
    _int,
    _required,
    _Skip,
    _str,
    _time,
)
from .normalize_members import member_service_event

# Fields that make a message a notice of something that happened rather than something someone wrote.
SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "successful_payment",
    "refunded_payment",
    "users_shared",
    "chat_shared",
    "connected_website",
    "write_access_allowed",
    "proximity_alert_triggered",
    "boost_added",
    "chat_background_set",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "giveaway_created",
    "giveaway_completed",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "web_app_data",
)

_BUSINESS_KINDS = frozenset({"business_message", "edited_business_message"})


def _author(msg: Mapping[str, Any]) -> int | None:
    """Who wrote a group message: ``sender_chat`` when set, else ``from`` unless it is a placeholder."""
    sender_chat = _id_of(msg, "sender_chat")
    if sender_chat is not None:
        return sender_chat
    from_id = _id_of(msg, "from")
    return None if from_id in PLACEHOLDER_SENDERS else from_id


def _sender_name(msg: Mapping[str, Any]) -> str:
    """The sender's name as Telegram shows it: a chat's title, or a person's first and last name."""
    sender_chat = _dict(msg.get("sender_chat"))
    if sender_chat:
        return _str(sender_chat.get("title"))[:255]
    person = _dict(msg.get("from"))
    return " ".join(part for part in (_str(person.get("first_name")), _str(person.get("last_name"))) if part)[
        :255
    ]


class _Place:
    """Where a message lives and who wrote it, as the created and edited events both need it."""

    __slots__ = (
        "admin_author_id",
        "author_id",
        "from_community",
        "ref",
        "reply_to",
        "reply_to_user",
        "thread",
    )

    def __init__(self, vk_type: str, msg: Mapping[str, Any], bot_id: int) -> None:
        chat = _dict(msg.get("chat"))
        chat_id = _required(chat, "id")
        message_id = _required(msg, "message_id")
        self.reply_to: ItemRef | None = None
        self.reply_to_user: int | None = None
        self.admin_author_id: int | None = None
        self.from_community = False
        replied = msg.get("reply_to_message")
        replied = replied if isinstance(replied, dict) else None
        if vk_type in _BUSINESS_KINDS:
            self._business(msg, chat_id, message_id, bot_id, replied)
        elif chat.get("type") == "private":
            self._private(msg, chat_id, message_id, bot_id, replied)
        elif chat.get("type") in ("group", "supergroup"):
            self._group(msg, chat_id, message_id, replied)
        else:
            raise _Skip(f"message in a chat of type {_str(chat.get('type')) or 'unknown'!r}")

    def _private(
        self,
        msg: Mapping[str, Any],
        chat_id: int,
        message_id: int,
        bot_id: int,
        replied: Mapping[str, Any] | None,
    ) -> None:
        self.ref = ItemRef(channel=Channel.MESSAGE, owner_id=-bot_id, object_id=chat_id, item_id=message_id)
        self.thread = ThreadRef(channel=Channel.MESSAGE, owner_id=-bot_id, object_id=chat_id)
        self.author_id = _id_of(msg, "from")
        self._reply(replied, Channel.MESSAGE, -bot_id, chat_id, "")

    def _business(
        self,
        msg: Mapping[str, Any],
        chat_id: int,
        message_id: int,
        bot_id: int,
        replied: Mapping[str, Any] | None,
    ) -> None:
        # Library fixtures business_message-1.json and edited_business_message-1.json lack it; a real
        # business message always has it, and without it no reply can be sent.
        connection = _connection(msg)
        self.ref = ItemRef(
            channel=Channel.BUSINESS,
            owner_id=-bot_id,
            object_id=chat_id,
            item_id=message_id,
            connection=connection,
        )
        self.thread = ThreadRef(
            channel=Channel.BUSINESS, owner_id=-bot_id, object_id=chat_id, connection=connection
        )
        self.author_id = _id_of(msg, "from")
        if self.author_id is not None and self.author_id != chat_id:
            self.from_community = True
            self.admin_author_id = self.author_id
        self._reply(replied, Channel.BUSINESS, -bot_id, chat_id, connection)

    def _group(
        self, msg: Mapping[str, Any], chat_id: int, message_id: int, replied: Mapping[str, Any] | None
    ) -> None:
        self.author_id = _author(msg)
        # The group as sender_chat, not merely author_id == chat.id: message_group_command-1.json's
        # anonymisation gave a basic group its member's id.
        if _id_of(msg, "sender_chat") == chat_id:
            self.from_community = True
        topic = _int(msg.get("message_thread_id"))
        if msg.get("is_topic_message") is True and topic is not None:
            self.thread = ThreadRef(channel=Channel.GROUP, owner_id=chat_id, object_id=topic)
            self._reply(replied, Channel.GROUP, chat_id, 0, "", skip_id=topic)
        elif replied is not None and replied.get("is_automatic_forward") is True:
            post_id = _required(replied, "message_id")
            self.thread = ThreadRef(
                channel=Channel.GROUP, owner_id=chat_id, object_id=post_id, root_id=message_id
            )
        elif replied is not None and _int(replied.get("message_id")) is not None:
            replied_id = _required(replied, "message_id")
            self.thread = ThreadRef(
                channel=Channel.GROUP, owner_id=chat_id, object_id=0, root_id=replied_id, follows_reply=True
            )
            self._reply(replied, Channel.GROUP, chat_id, 0, "")
        else:
            self.thread = ThreadRef(channel=Channel.GROUP, owner_id=chat_id, object_id=0, root_id=message_id)
        # A group's message is keyed by its chat and id alone (object 0), wherever its thread is: a reply
        # names the message it answers so, and finds it whether it was a comment under a post, in a topic
        # or in the group at large.
        self.ref = ItemRef(channel=Channel.GROUP, owner_id=chat_id, object_id=0, item_id=message_id)

    def _reply(
        self,
        replied: Mapping[str, Any] | None,
        channel: Channel,
        owner_id: int,
        object_id: int,
        connection: str,
        skip_id: int | None = None,
    ) -> None:
        if replied is None:
            return
        replied_id = _int(replied.get("message_id"))
        # In a forum topic, a message that answers nothing still carries the topic's creation notice as
        # reply_to_message (message_obj_supergroup_document-1.json): that is no reply.
        if replied_id is None or replied_id == skip_id:
            return
        self.reply_to = ItemRef(
            channel=channel, owner_id=owner_id, object_id=object_id, item_id=replied_id, connection=connection
        )
        self.reply_to_user = _author(replied)


def _automatic_forward(env: dict[str, Any], msg: Mapping[str, Any]) -> DomainEvent:
    chat_id = _required(_dict(msg.get("chat")), "id")
    return WallPostCreated(
        **env,
        post_id=_required(msg, "message_id"),
        owner_id=chat_id,
        from_id=_id_of(msg, "sender_chat"),
        created_by=None,
        text=message_text(msg),
        attachments=attachments(msg),
        created_at=_time(msg.get("date")),
    )


def _service_field(msg: Mapping[str, Any]) -> str | None:
    for name in SERVICE_FIELDS:
        if msg.get(name) not in (None, False):
            return name
    return None


def _message_created(env: dict[str, Any], msg: Mapping[str, Any], bot_id: int) -> DomainEvent:
    service = _service_field(msg)
    if service is not None:
        member_event = member_service_event(env, msg, service)
        if member_event is not None:
            return member_event
        raise _Skip(f"service message: {service}")
    is_group = _dict(msg.get("chat")).get("type") in ("group", "supergroup")
    if is_group and msg.get("is_automatic_forward") is True and env["vk_type"] == "message":
        return _automatic_forward(env, msg)
    place = _Place(env["vk_type"], msg, bot_id)
    return ItemCreated(
        **env,
        ref=place.ref,
        thread=place.thread,
        author_id=place.author_id,
        text=message_text(msg),
        attachments=attachments(msg),
        created_at=_time(msg.get("date")),
        direction=Direction.OUT if place.from_community else Direction.IN,
        from_community=place.from_community,
        reply_to=place.reply_to,
        reply_to_user=place.reply_to_user,
        admin_author_id=place.admin_author_id,
        message_id=place.ref.item_id,
        forwarded=forwarded(msg),
        author_name=_sender_name(msg),
    )


def _message_edited(env: dict[str, Any], msg: Mapping[str, Any], bot_id: int) -> DomainEvent:
    is_group = _dict(msg.get("chat")).get("type") in ("group", "supergroup")
    if is_group and msg.get("is_automatic_forward") is True:
        # A channel post edited in the channel is edited in its discussion group too; the domain has no
        # edit of a post.
        raise _Skip("edit of a channel post's automatic forward")
    place = _Place(env["vk_type"], msg, bot_id)
    return ItemEdited(
        **env,
        ref=place.ref,
        thread=place.thread,
        author_id=place.author_id,
        text=message_text(msg),
        attachments=attachments(msg),
        edited_at=_time(msg.get("edit_date")),
        created_at=_time(msg.get("date")),
        from_community=place.from_community,
        admin_author_id=place.admin_author_id,
        forwarded=forwarded(msg),
    )


MESSAGE_HANDLERS: dict[str, _Handler] = {
    "message": _message_created,
    "edited_message": _message_edited,
    "business_message": _message_created,
    "edited_business_message": _message_edited,
}
