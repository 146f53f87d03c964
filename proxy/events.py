"""Domain events: what happened in a community, independent of VK's wire format.

Connectors turn network payloads into these events; ingest consumes them. Nothing downstream of a
connector reads VK JSON, so every event carries all that ingest needs (ids, texts, attachments,
times, actors). Each class has a ``name``: the event name used in the journal and as the SSE
event name.

Every event carries the envelope fields of :class:`DomainEvent` (``group_id``, ``event_id``,
``vk_type``, ``api_version``, ``raw``). All times are aware UTC datetimes.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "ALL_EVENTS",
    "AuthorBlocked",
    "AuthorRestricted",
    "AuthorUnblocked",
    "Channel",
    "DeprecatedVersionWarning",
    "Direction",
    "DomainEvent",
    "EVENTS_BY_NAME",
    "MAX_FORWARDED_MESSAGES",
    "MAX_FORWARD_DEPTH",
    "MemberChanged",
    "ItemCreated",
    "ItemDeleted",
    "ItemEdited",
    "ItemRef",
    "ItemRestored",
    "MessagesAllowed",
    "MessagesDenied",
    "MessagesRead",
    "Network",
    "OfficersEdited",
    "ThreadRef",
    "TypingState",
    "Unsupported",
    "WallPostCreated",
]


class Channel(StrEnum):
    """Where an item lives on its network.

    VK: a private dialog (``message``) or the comments under a post, photo, video, product or board
    topic. Telegram: a private chat with the bot (``message``), a group or supergroup, the discussion
    group of a channel included (``group``), or a business account's private chat answered through the
    bot (``business``). docs/metrics.md says what a conversation is on each.
    """

    MESSAGE = "message"
    WALL = "wall"
    PHOTO = "photo"
    VIDEO = "video"
    MARKET = "market"
    BOARD = "board"
    GROUP = "group"
    BUSINESS = "business"


# Quoted and forwarded messages (``forwarded`` of an item's events) are JSON objects, stored as they
# are on the item and on each of its versions:
# - "kind": "reply" for the message this one answers (VK's reply_message: at most one, first), "forward"
#   for each of fwd_messages, in VK's order;
# - "from_id" (int or null), "date" (ISO 8601 UTC or null), "text", "attachments" (VK's JSON, as an
#   item's), "peer_id" and "conversation_message_id" (int or null);
# - "forwarded": the messages it quotes or forwards in turn, in the same shape;
# - "omitted": how many messages below it the bounds left out (0 when none).
# VK nests forwards with no practical limit. The connector keeps MAX_FORWARD_DEPTH levels and, below the
# first level (which VK itself bounds: one quote and 100 forwards), at most MAX_FORWARDED_MESSAGES
# messages per item, depth first. The raw event keeps every one of them.
MAX_FORWARD_DEPTH = 5
MAX_FORWARDED_MESSAGES = 100


class Network(StrEnum):
    """The network a community is on: it chooses the connector (proxy/connectors/registry.py).

    A Telegram "community" is one bot: its id on the network (``Community.vk_group_id``) is the number
    before the colon of its token. Ids are the network's own, so a VK group and a bot may share a number;
    the store keys communities and authors by (network, id).
    """

    VK = "vk"
    TELEGRAM = "telegram"


class Direction(StrEnum):
    """``in``: written by an author to the community; ``out``: written as the community."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRef:
    """Identifies one comment or message within a community.

    ``object_id`` is what the item hangs on: post_id (wall), photo_id, video_id, market item_id,
    topic_id (board), or the peer_id of the dialog (message). ``item_id`` is the comment id, or the
    ``conversation_message_id`` for messages (stable per dialog, unlike the global message id,
    which is 0 in some community captures). For messages ``owner_id`` is ``-group_id``.
    """

    channel: Channel
    owner_id: int
    object_id: int
    item_id: int
    # Telegram's business_connection_id for a business chat (the same customer may write to two business
    # accounts a bot serves); "" elsewhere.
    connection: str = ""

    @property
    def key(self) -> str:
        """Stable string unique within a community.

        ``"message:{peer_id}:{conversation_message_id}"`` for messages,
        ``"business:{connection}:{chat_id}:{message_id}"`` for a Telegram business chat,
        ``"{channel}:{owner_id}_{object_id}:{item_id}"`` otherwise, e.g. ``"wall:-1_3:4"``.
        """
        if self.channel is Channel.MESSAGE:
            return f"message:{self.object_id}:{self.item_id}"
        if self.channel is Channel.BUSINESS:
            return f"business:{self.connection}:{self.object_id}:{self.item_id}"
        return f"{self.channel.value}:{self.owner_id}_{self.object_id}:{self.item_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadRef:
    """The conversation an item belongs to, with what is needed to reply in it.

    - message: the dialog with one peer; ``object_id`` is the peer_id, ``root_id`` is None.
    - wall / photo / video / market: a top-level comment and its replies; ``root_id`` is the
      top-level comment id (reply with ``reply_to_comment=root_id``).
    - board: the whole topic; ``root_id`` is None.
    """

    channel: Channel
    owner_id: int
    object_id: int
    root_id: int | None = None
    # As ItemRef.connection: Telegram's business_connection_id, which a reply in the chat must carry.
    connection: str = ""
    # Telegram groups: the item answers `root_id`, whose own conversation the network does not say
    # (a reply_to_message carries no reply of its own); ingest puts the item in the conversation of the
    # stored item it answers, and uses this thread only when that item was never seen.
    follows_reply: bool = False

    @property
    def key(self) -> str:
        """Stable string unique within a community.

        ``"message:{peer_id}"``, ``"business:{connection}:{chat_id}"``, ``"board:{owner_id}_{topic_id}"``,
        ``"{channel}:{owner_id}_{object_id}:{root_id}"`` for comment threads (and Telegram group threads).
        """
        if self.channel is Channel.MESSAGE:
            return f"message:{self.object_id}"
        if self.channel is Channel.BUSINESS:
            return f"business:{self.connection}:{self.object_id}"
        base = f"{self.channel.value}:{self.owner_id}_{self.object_id}"
        if self.root_id is None:
            return base
        return f"{base}:{self.root_id}"

    @property
    def peer_id(self) -> int | None:
        """The peer to send messages to, for dialogs; None for comment threads."""
        return self.object_id if self.channel in (Channel.MESSAGE, Channel.BUSINESS) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    """Envelope shared by every event.

    ``event_id`` is VK's id as a string (deduplicate on ``(group_id, event_id)``). ``vk_type`` is
    VK's event type, ``api_version`` its ``v`` field when present. ``raw`` is the VK event object
    as received, minus the Callback ``secret``, for verbatim storage; it is left out of equality
    and repr.
    """

    name: ClassVar[str] = ""

    group_id: int
    event_id: str
    vk_type: str
    api_version: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ItemContent(DomainEvent):
    """Fields of a full comment or message (shared by created and restored items)."""

    ref: ItemRef
    thread: ThreadRef
    author_id: int | None
    text: str
    attachments: list[Any] = field(default_factory=list)
    created_at: datetime | None
    direction: Direction
    from_community: bool
    reply_to: ItemRef | None = None
    reply_to_user: int | None = None
    admin_author_id: int | None = None
    random_id: int | None = None
    message_id: int | None = None
    forwarded: list[dict[str, Any]] = field(default_factory=list)
    # The author's name as the network sends it with the item (Telegram names every sender); "" when it
    # does not (VK: authors are named later, proxy/author_profiles.py).
    author_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemCreated(_ItemContent):
    """A new comment or message.

    ``author_id`` is VK's ``from_id`` (negative for a group; ``-group_id`` is the community).
    ``created_at`` is None only when VK sent no usable ``date``. ``reply_to`` is the replied-to
    comment (``reply_to_comment``) or quoted message (``reply_message``). ``admin_author_id`` is
    set on community messages written by a VK admin. ``random_id`` is the sender's idempotency
    key (0 becomes None) and lets an echo be matched to an outbox row. ``message_id`` is VK's
    global message id (messages only; None when 0 or absent). ``forwarded`` is the quoted
    message (``reply_message``) and the forwarded ones (``fwd_messages``), nested, in the shape
    described above :data:`MAX_FORWARD_DEPTH`.
    """

    name: ClassVar[str] = "item_created"


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRestored(_ItemContent):
    """A deleted comment restored in VK; carries the full comment like :class:`ItemCreated`."""

    name: ClassVar[str] = "item_restored"


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemEdited(DomainEvent):
    """A new version of a comment or message.

    ``edited_at`` is VK's ``update_time`` (messages); comment edits carry none, so it is None and
    ingest uses the time of receipt. ``created_at`` is the item's original ``date``.
    ``forwarded`` is as in :class:`ItemCreated` (a message's edit carries the whole message).
    """

    name: ClassVar[str] = "item_edited"

    ref: ItemRef
    thread: ThreadRef
    author_id: int | None
    text: str
    attachments: list[Any] = field(default_factory=list)
    edited_at: datetime | None
    created_at: datetime | None
    from_community: bool
    admin_author_id: int | None = None
    forwarded: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDeleted(DomainEvent):
    """A comment deleted in VK. No delete event carries the text.

    ``thread`` is known only for board posts (the topic); for other comments it is None and ingest
    finds the thread through the stored item. ``deleter_id`` is who deleted it (the author or a
    community admin; None when VK omits it, as in board captures). ``user_id`` is the comment's
    author where VK gives it.
    """

    name: ClassVar[str] = "item_deleted"

    ref: ItemRef
    thread: ThreadRef | None
    deleter_id: int | None
    user_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesAllowed(DomainEvent):
    """A user allowed the community to message them. ``key`` is the subscription-link key."""

    name: ClassVar[str] = "messages_allowed"

    user_id: int
    key: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesDenied(DomainEvent):
    """A user forbade messages from the community."""

    name: ClassVar[str] = "messages_denied"

    user_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesRead(DomainEvent):
    """A peer read the community's messages up to ``read_message_id`` (or
    ``conversation_message_id``, whichever VK sends)."""

    name: ClassVar[str] = "messages_read"

    peer_id: int
    from_id: int | None = None
    read_message_id: int | None = None
    conversation_message_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorBlocked(DomainEvent):
    """A user was banned in the community by VK admin ``admin_id``.

    ``unblock_date`` is None for a permanent ban (VK sends 0). ``reason`` is VK's code
    (0 other, 1 spam, 2 verbal abuse, 3 strong language, 4 off-topic).
    """

    name: ClassVar[str] = "author_blocked"

    user_id: int
    admin_id: int | None
    unblock_date: datetime | None
    reason: int
    comment: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorUnblocked(DomainEvent):
    """A ban was lifted; ``by_end_date`` is True when it simply expired."""

    name: ClassVar[str] = "author_unblocked"

    user_id: int
    admin_id: int | None
    by_end_date: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorRestricted(DomainEvent):
    """A member was restricted (Telegram: may no longer send messages, a mute) by ``admin_id``, or the
    restriction lifted (``lifted``). ``admin_id`` is None when the network does not say who (an anonymous
    group admin). ``until`` is None for a restriction without end."""

    name: ClassVar[str] = "author_restricted"

    user_id: int
    admin_id: int | None
    until: datetime | None
    lifted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberChanged(DomainEvent):
    """A member joined, left, was added or promoted (Telegram's chat_member / service messages), in
    ``chat_id``. ``actor_id`` is who did it when another than the member (None when unknown or
    anonymous); ``old_status`` and ``new_status`` are the network's words (member, administrator, left...)."""

    name: ClassVar[str] = "member_changed"

    chat_id: int
    user_id: int
    actor_id: int | None
    old_status: str
    new_status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficersEdited(DomainEvent):
    """A community manager role changed (levels: 0 none, 1 moderator, 2 editor, 3 admin)."""

    name: ClassVar[str] = "officers_edited"

    admin_id: int | None
    user_id: int
    level_old: int | None
    level_new: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WallPostCreated(DomainEvent):
    """A post appeared on the community wall. ``created_by`` is the admin who published it."""

    name: ClassVar[str] = "wall_post_created"

    post_id: int
    owner_id: int
    from_id: int | None
    created_by: int | None
    text: str
    attachments: list[Any] = field(default_factory=list)
    created_at: datetime | None
    post_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TypingState(DomainEvent):
    """Someone is typing. Recognized so it is not reported as unsupported; ingest ignores it."""

    name: ClassVar[str] = "typing_state"

    from_id: int | None
    to_id: int | None
    state: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsupported(DomainEvent):
    """An event that is stored raw and otherwise ignored.

    ``reason`` says why: an event type the proxy does not handle, or a known type whose object
    lacks what is needed to identify the item (the raw event is still kept).
    """

    name: ClassVar[str] = "unsupported"

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeprecatedVersionWarning(DomainEvent):
    """VK replaced the object with a warning because the server is set to a deprecated API
    version. ``vk_type`` is the event type that was withheld."""

    name: ClassVar[str] = "deprecated_version_warning"

    warning: str


ALL_EVENTS: tuple[type[DomainEvent], ...] = (
    ItemCreated,
    ItemEdited,
    ItemDeleted,
    ItemRestored,
    MessagesAllowed,
    MessagesDenied,
    MessagesRead,
    AuthorBlocked,
    AuthorUnblocked,
    AuthorRestricted,
    MemberChanged,
    OfficersEdited,
    WallPostCreated,
    TypingState,
    Unsupported,
    DeprecatedVersionWarning,
)

EVENTS_BY_NAME: dict[str, type[DomainEvent]] = {cls.name: cls for cls in ALL_EVENTS}
