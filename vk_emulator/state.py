"""The emulator's in-memory VK world: communities, users, dialogs, comments, bans and event logs.

Everything here is plain data plus the operations that change it. Each change appends the event VK
would send to the community's event log (read by the long-poll handler and the callback delivery).
The state is not thread-safe: use it from the event loop that serves the emulator.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .faults import FaultPlan

API_VERSION = "5.199"

CommentKind = Literal["wall", "photo", "video", "market", "board"]
TokenKind = Literal["community", "user"]
# Requests remembered per token for rate accounting.
MAX_CALL_RECORDS = 100_000
COMMENT_KINDS: tuple[CommentKind, ...] = ("wall", "photo", "video", "market", "board")

# Requests per second VK allows per token.
RATE_LIMITS: dict[TokenKind, int] = {"community": 20, "user": 3}

# Event type prefixes per comment kind (VK names them inconsistently).
EVENT_PREFIX: dict[CommentKind, str] = {
    "wall": "wall_reply",
    "photo": "photo_comment",
    "video": "video_comment",
    "market": "market_comment",
    "board": "board_post",
}
# Name of the commented object's id field in events.
TARGET_FIELD: dict[CommentKind, str] = {
    "wall": "post_id",
    "photo": "photo_id",
    "video": "video_id",
    "market": "item_id",
    "board": "topic_id",
}
# Name of the commented object's owner field in *_new / *_edit / *_restore events.
OWNER_FIELD: dict[CommentKind, str] = {
    "wall": "post_owner_id",
    "photo": "photo_owner_id",
    "video": "video_owner_id",
    "market": "market_owner_id",
    "board": "topic_owner_id",
}

ERROR_TEXTS: dict[int, str] = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    14: "Captcha needed",
    15: "Access denied",
    18: "User was deleted or banned",
    27: "Group authorization failed: method is unavailable with group auth.",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
}


class VkFault(Exception):
    """A VK error envelope to answer with; raised by state operations and method handlers."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or ERROR_TEXTS.get(code, "Unknown error occurred")
        super().__init__(f"[{code}] {self.message}")


def bad_param(detail: str) -> VkFault:
    """Error 100 with VK's wording for a missing or invalid parameter."""
    return VkFault(100, f"One of the parameters specified was missing or invalid: {detail}")


def new_token() -> str:
    """A random token shaped like VK's current access tokens."""
    return "vk1.a." + secrets.token_urlsafe(60)


def new_event_id() -> str:
    """VK event ids are 40 hex characters."""
    return secrets.token_hex(20)


@dataclass
class User:
    """A VK user."""

    id: int
    first_name: str
    last_name: str

    def as_vk(self) -> dict[str, Any]:
        """The users.get item."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "can_access_closed": True,
            "is_closed": False,
        }


@dataclass
class Token:
    """An access token: a community token (group_id) or a user token (user_id)."""

    value: str
    kind: TokenKind
    group_id: int | None = None
    user_id: int | None = None

    @property
    def rate_limit(self) -> int:
        """Requests per second VK allows this token."""
        return RATE_LIMITS[self.kind]


@dataclass
class CallbackConfig:
    """Callback API server settings of a community."""

    url: str
    secret: str | None = None
    confirmation_code: str = "c0nf1rm"


@dataclass
class Message:
    """One message in a community dialog."""

    id: int
    conversation_message_id: int
    date: int
    from_id: int
    peer_id: int
    out: int
    text: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    random_id: int = 0
    admin_author_id: int | None = None
    update_time: int | None = None
    deleted: bool = False

    def as_vk(self) -> dict[str, Any]:
        """The message object as in events and messages.getHistory (field order as VK sends it)."""
        data: dict[str, Any] = {
            "date": self.date,
            "from_id": self.from_id,
            "id": self.id,
            "out": self.out,
            "peer_id": self.peer_id,
            "text": self.text,
            "conversation_message_id": self.conversation_message_id,
            "fwd_messages": [],
            "important": False,
            "random_id": self.random_id,
            "attachments": list(self.attachments),
        }
        if self.admin_author_id is not None:
            data["admin_author_id"] = self.admin_author_id
        data["is_hidden"] = False
        if self.update_time is not None:
            data["update_time"] = self.update_time
        return data


@dataclass
class Conversation:
    """A dialog between the community and one peer."""

    peer_id: int
    message_ids: list[int] = field(default_factory=list)
    next_cmid: int = 1
    in_read: int = 0
    out_read: int = 0
    unanswered: bool = False


@dataclass
class Target:
    """Something commentable: a wall post, photo, video, market item or board topic."""

    kind: CommentKind
    id: int
    owner_id: int
    text: str
    date: int
    from_id: int


@dataclass
class Comment:
    """A comment on a target (a board "post" is a comment on a topic)."""

    kind: CommentKind
    id: int
    owner_id: int
    target_id: int
    from_id: int
    date: int
    text: str
    reply_to_comment: int | None = None
    reply_to_user: int | None = None
    parents_stack: list[int] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    def as_event_object(self, thread_count: int = 0) -> dict[str, Any]:
        """The object of *_new / *_edit / *_restore events, shaped per kind as in the samples."""
        if self.kind == "board":
            data: dict[str, Any] = {
                "id": self.id,
                "from_id": self.from_id,
                "date": self.date,
                "text": self.text,
            }
            if self.attachments:
                data["attachments"] = list(self.attachments)
            data["topic_owner_id"] = self.owner_id
            data["topic_id"] = self.target_id
            return data
        data = {"id": self.id, "from_id": self.from_id}
        if self.kind == "wall":
            data["post_id"] = self.target_id
            data["owner_id"] = self.owner_id
        data["parents_stack"] = list(self.parents_stack)
        data["date"] = self.date
        data["text"] = self.text
        if self.attachments:
            data["attachments"] = list(self.attachments)
        data["thread"] = {"count": thread_count}
        if self.reply_to_comment is not None:
            data["reply_to_user"] = self.reply_to_user
            data["reply_to_comment"] = self.reply_to_comment
        data[OWNER_FIELD[self.kind]] = self.owner_id
        if self.kind != "wall":
            data[TARGET_FIELD[self.kind]] = self.target_id
        return data

    def as_api_item(self) -> dict[str, Any]:
        """The comment as the *.getComments methods return it."""
        data: dict[str, Any] = {"id": self.id, "from_id": self.from_id, "date": self.date, "text": self.text}
        if self.kind == "board":
            if self.attachments:
                data["attachments"] = list(self.attachments)
            return data
        if self.kind == "wall":
            data["post_id"] = self.target_id
        data["owner_id"] = self.owner_id
        data["parents_stack"] = list(self.parents_stack)
        if self.attachments:
            data["attachments"] = list(self.attachments)
        if self.reply_to_comment is not None:
            data["reply_to_user"] = self.reply_to_user
            data["reply_to_comment"] = self.reply_to_comment
        return data


@dataclass
class Ban:
    """A user in the community's blacklist."""

    user_id: int
    admin_id: int
    date: int
    end_date: int
    reason: int
    comment: str
    comment_visible: bool


@dataclass
class CallRecord:
    """One request to /method, for rate checks in tests and benchmarks."""

    at: float
    method: str
    error_code: int | None
    version: str | None = None


@dataclass
class Group:
    """A community with everything in it."""

    id: int
    name: str
    screen_name: str
    community_token: str
    admin_token: str
    admin_user_id: int
    callback: CallbackConfig | None = None
    longpoll_key: str = field(default_factory=lambda: secrets.token_hex(20))
    messages: dict[int, Message] = field(default_factory=dict)
    conversations: dict[int, Conversation] = field(default_factory=dict)
    targets: dict[tuple[CommentKind, int], Target] = field(default_factory=dict)
    comments: dict[tuple[CommentKind, int], Comment] = field(default_factory=dict)
    bans: dict[int, Ban] = field(default_factory=dict)
    messages_allowed: dict[int, bool] = field(default_factory=dict)
    sent_random_ids: dict[int, int] = field(default_factory=dict)
    comment_guids: dict[tuple[CommentKind, str], int] = field(default_factory=dict)
    # (ts, event); ts numbers are consecutive, the first retained one is events[0][0].
    events: deque[tuple[int, dict[str, Any]]] = field(default_factory=deque)
    next_ts: int = 1
    next_message_id: int = 1
    # VK numbers wall comments and posts from one counter per wall; other kinds count on their own.
    next_ids: dict[str, int] = field(default_factory=dict)

    @property
    def owner_id(self) -> int:
        """The community as an owner of posts and comments (negative)."""
        return -self.id

    def take_id(self, counter: str) -> int:
        """Next id from a per-community counter."""
        value = self.next_ids.get(counter, 1)
        self.next_ids[counter] = value + 1
        return value

    def first_ts(self) -> int:
        """The oldest ts a long-poll client may still ask for."""
        return self.events[0][0] if self.events else self.next_ts

    def events_since(self, ts: int, limit: int = 100) -> list[dict[str, Any]]:
        """Events numbered ts and later, oldest first."""
        start = max(ts - self.first_ts(), 0)
        return [event for _, event in list(self.events)[start : start + limit]]

    def thread_count(self, comment: Comment) -> int:
        """Live replies in the thread under a top-level comment."""
        if comment.parents_stack:
            return 0
        return sum(
            1
            for other in self.comments.values()
            if other.kind == comment.kind
            and other.target_id == comment.target_id
            and other.parents_stack[:1] == [comment.id]
            and not other.deleted
        )


EventListener = Callable[[Group, dict[str, Any]], None]


class EmulatorState:
    """The whole emulated VK: create communities and users, act as members, read what happened."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_events: int = 10_000) -> None:
        self.clock = clock
        self.max_events = max_events
        self.groups: dict[int, Group] = {}
        self.users: dict[int, User] = {}
        self.tokens: dict[str, Token] = {}
        self.faults = FaultPlan()
        self.enforce_rate_limits = True
        # Bounded so a long-running demo emulator does not grow without limit.
        self.calls: dict[str, deque[CallRecord]] = {}
        self._listeners: list[EventListener] = []
        self._next_group_id = 200_000_001
        self._next_user_id = 100_000_001

    # --- setup -------------------------------------------------------------------------------

    def now(self) -> int:
        """Unix time as VK puts it in `date` fields."""
        return int(self.clock())

    def add_user(self, first_name: str, last_name: str, user_id: int | None = None) -> User:
        """Create a VK user."""
        if user_id is None:
            user_id = self._next_user_id
        self._next_user_id = max(self._next_user_id, user_id + 1)
        user = User(user_id, first_name, last_name)
        self.users[user_id] = user
        return user

    def add_group(
        self,
        name: str = "Test community",
        *,
        group_id: int | None = None,
        community_token: str | None = None,
        admin_token: str | None = None,
        admin: User | None = None,
        callback: CallbackConfig | None = None,
    ) -> Group:
        """Create a community with its community token and an admin with a user token."""
        if group_id is None:
            group_id = self._next_group_id
        self._next_group_id = max(self._next_group_id, group_id + 1)
        if admin is None:
            admin = self.add_user("Админ", "Сообщества")
        group = Group(
            id=group_id,
            name=name,
            screen_name=f"club{group_id}",
            community_token=community_token or new_token(),
            admin_token=admin_token or new_token(),
            admin_user_id=admin.id,
            callback=callback,
        )
        self.groups[group_id] = group
        self.tokens[group.community_token] = Token(group.community_token, "community", group_id=group_id)
        self.tokens[group.admin_token] = Token(group.admin_token, "user", user_id=admin.id)
        return group

    def group(self, group_id: int) -> Group:
        """A community by id (KeyError if unknown)."""
        return self.groups[group_id]

    def add_listener(self, listener: EventListener) -> None:
        """Call `listener(group, event)` after every event appended to any community's log."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        """Stop calling a listener."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- events ------------------------------------------------------------------------------

    def emit(self, group: Group, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Append the event VK would send for a change and notify listeners."""
        event = {
            "type": event_type,
            "object": obj,
            "group_id": group.id,
            "event_id": new_event_id(),
            "v": API_VERSION,
        }
        group.events.append((group.next_ts, event))
        group.next_ts += 1
        while len(group.events) > self.max_events:
            group.events.popleft()
        for listener in list(self._listeners):
            listener(group, event)
        return event

    def events(self, group_id: int, event_type: str | None = None) -> list[dict[str, Any]]:
        """Retained events of a community, optionally of one type."""
        return [e for _, e in self.groups[group_id].events if event_type is None or e["type"] == event_type]

    def forget_events(self, group_id: int) -> None:
        """Drop the retained history, so a long-poll client behind it gets `failed: 1`."""
        self.groups[group_id].events.clear()

    def expire_longpoll_key(self, group_id: int) -> str:
        """Rotate the long-poll key (clients holding the old one get `failed: 2`)."""
        group = self.groups[group_id]
        group.longpoll_key = secrets.token_hex(20)
        return group.longpoll_key

    # --- rate accounting ---------------------------------------------------------------------

    def record_call(
        self,
        token: str,
        method: str,
        error_code: int | None,
        at: float | None = None,
        version: str | None = None,
    ) -> CallRecord:
        """Remember one request made with a token (its error code may be filled in later)."""
        record = CallRecord(time.monotonic() if at is None else at, method, error_code, version)
        self.calls.setdefault(token, deque(maxlen=MAX_CALL_RECORDS)).append(record)
        return record

    def over_rate_limit(self, token: Token, at: float) -> bool:
        """True when the token already made its allowed number of accepted requests in the last second."""
        if not self.enforce_rate_limits:
            return False
        recent = 0
        for record in reversed(self.calls.get(token.value, ())):
            if record.at <= at - 1.0:
                break
            if record.error_code != 6:
                recent += 1
        return recent >= token.rate_limit

    def max_calls_in_window(self, token: str, window: float = 1.0, *, include_rejected: bool = True) -> int:
        """The most requests made with a token within any `window` seconds (half-open)."""
        times = [r.at for r in self.calls.get(token, ()) if include_rejected or r.error_code != 6]
        times.sort()
        best = 0
        start = 0
        for end, at in enumerate(times):
            while times[start] <= at - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # --- targets ----------------------------------------------------------------------------

    def add_target(
        self, group: Group, kind: CommentKind, text: str = "", *, from_id: int | None = None
    ) -> Target:
        """Create a post, photo, video, market item or board topic owned by the community."""
        counter = "wall" if kind == "wall" else f"{kind}_target"
        target = Target(
            kind, group.take_id(counter), group.owner_id, text, self.now(), from_id or group.owner_id
        )
        group.targets[(kind, target.id)] = target
        if kind == "wall":
            self.emit(
                group,
                "wall_post_new",
                {
                    "id": target.id,
                    "from_id": target.from_id,
                    "owner_id": group.owner_id,
                    "date": target.date,
                    "marked_as_ads": 0,
                    "post_type": "post",
                    "text": text,
                    "can_edit": 1,
                    "created_by": group.admin_user_id,
                    "can_delete": 1,
                    "comments": {"count": 0},
                },
            )
        return target

    def add_post(self, group: Group, text: str) -> Target:
        """A wall post by the community (emits wall_post_new)."""
        return self.add_target(group, "wall", text)

    def target(self, group: Group, kind: CommentKind, target_id: int) -> Target:
        """A commentable object, or error 100 like VK for an unknown one."""
        try:
            return group.targets[(kind, target_id)]
        except KeyError:
            raise bad_param(f"{TARGET_FIELD[kind]} is invalid") from None

    # --- comments ---------------------------------------------------------------------------

    def comment(self, group: Group, kind: CommentKind, comment_id: int) -> Comment:
        """A comment, or error 100 for an unknown one."""
        try:
            return group.comments[(kind, comment_id)]
        except KeyError:
            raise bad_param("comment_id is invalid") from None

    def create_comment(
        self,
        group: Group,
        kind: CommentKind,
        target_id: int,
        from_id: int,
        text: str,
        *,
        reply_to_comment: int | None = None,
        guid: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Comment:
        """Add a comment and emit its *_new event; the same guid returns the first comment unchanged."""
        if guid:
            existing = group.comment_guids.get((kind, guid))
            if existing is not None:
                return group.comments[(kind, existing)]
        if not text and not attachments:
            raise bad_param("message is empty")
        self.target(group, kind, target_id)
        parents: list[int] = []
        reply_to_user = None
        if reply_to_comment:
            parent = self.comment(group, kind, reply_to_comment)
            if parent.target_id != target_id:
                raise bad_param("reply_to_comment is invalid")
            parents = [parent.parents_stack[0] if parent.parents_stack else parent.id]
            reply_to_user = parent.from_id
        counter = "wall" if kind == "wall" else f"{kind}_comment"
        comment = Comment(
            kind=kind,
            id=group.take_id(counter),
            owner_id=group.owner_id,
            target_id=target_id,
            from_id=from_id,
            date=self.now(),
            text=text,
            reply_to_comment=reply_to_comment or None,
            reply_to_user=reply_to_user,
            parents_stack=parents,
            attachments=list(attachments or []),
        )
        group.comments[(kind, comment.id)] = comment
        if guid:
            group.comment_guids[(kind, guid)] = comment.id
        self.emit(group, f"{EVENT_PREFIX[kind]}_new", comment.as_event_object())
        return comment

    def edit_comment(self, group: Group, kind: CommentKind, comment_id: int, text: str) -> Comment:
        """Change a comment's text and emit *_edit."""
        comment = self.comment(group, kind, comment_id)
        comment.text = text
        self.emit(group, f"{EVENT_PREFIX[kind]}_edit", comment.as_event_object(group.thread_count(comment)))
        return comment

    def delete_comment(self, group: Group, kind: CommentKind, comment_id: int, deleter_id: int) -> bool:
        """Mark a comment deleted and emit *_delete; False (no event) if it already was."""
        comment = self.comment(group, kind, comment_id)
        if comment.deleted:
            return False
        comment.deleted = True
        obj: dict[str, Any]
        if kind == "board":
            # VK's board_post_delete names no deleter.
            obj = {"topic_owner_id": comment.owner_id, "id": comment.id, "topic_id": comment.target_id}
        else:
            obj = {"owner_id": comment.owner_id, "id": comment.id, "deleter_id": deleter_id}
            obj[TARGET_FIELD[kind]] = comment.target_id
            if kind in ("photo", "market"):
                obj["user_id"] = comment.from_id
        self.emit(group, f"{EVENT_PREFIX[kind]}_delete", obj)
        return True

    def restore_comment(self, group: Group, kind: CommentKind, comment_id: int) -> bool:
        """Undelete a comment and emit *_restore with the full object; False if it was not deleted."""
        comment = self.comment(group, kind, comment_id)
        if not comment.deleted:
            return False
        comment.deleted = False
        self.emit(
            group, f"{EVENT_PREFIX[kind]}_restore", comment.as_event_object(group.thread_count(comment))
        )
        return True

    def live_comments(self, group: Group, kind: CommentKind, target_id: int | None = None) -> list[Comment]:
        """Not-deleted comments of a kind (on one target if given), oldest first."""
        return sorted(
            (
                c
                for c in group.comments.values()
                if c.kind == kind and not c.deleted and (target_id is None or c.target_id == target_id)
            ),
            key=lambda c: c.id,
        )

    # --- messages ---------------------------------------------------------------------------

    def conversation(self, group: Group, peer_id: int) -> Conversation:
        """The dialog with a peer, created on first use."""
        conv = group.conversations.get(peer_id)
        if conv is None:
            conv = group.conversations[peer_id] = Conversation(peer_id)
        return conv

    def _add_message(self, group: Group, peer_id: int, **fields: Any) -> Message:
        conv = self.conversation(group, peer_id)
        message = Message(
            id=group.next_message_id,
            conversation_message_id=conv.next_cmid,
            date=self.now(),
            peer_id=peer_id,
            **fields,
        )
        group.next_message_id += 1
        conv.next_cmid += 1
        conv.message_ids.append(message.id)
        group.messages[message.id] = message
        return message

    def incoming_message(
        self, group: Group, user_id: int, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> Message:
        """A user writes to the community: emits message_new and allows replies, as VK does."""
        message = self._add_message(
            group, user_id, from_id=user_id, out=0, text=text, attachments=list(attachments or [])
        )
        group.messages_allowed[user_id] = True
        self.conversation(group, user_id).unanswered = True
        self.emit(
            group,
            "message_new",
            {
                "message": message.as_vk(),
                "client_info": {
                    "button_actions": ["text", "vkpay", "open_app", "location", "open_link"],
                    "keyboard": True,
                    "inline_keyboard": True,
                    "carousel": True,
                    "lang_id": 0,
                },
            },
        )
        return message

    def send_message(
        self,
        group: Group,
        peer_id: int,
        text: str,
        *,
        random_id: int,
        attachments: list[dict[str, Any]] | None = None,
        admin_author_id: int | None = None,
    ) -> Message:
        """The community writes to a peer: emits message_reply; a repeated random_id is a no-op."""
        if random_id:
            existing = group.sent_random_ids.get(random_id)
            if existing is not None:
                return group.messages[existing]
        if not text and not attachments:
            raise bad_param("message is empty")
        if peer_id in group.bans:
            raise VkFault(900)
        if peer_id > 0 and not group.messages_allowed.get(peer_id, False):
            raise VkFault(901)
        message = self._add_message(
            group,
            peer_id,
            from_id=group.owner_id,
            out=1,
            text=text,
            attachments=list(attachments or []),
            random_id=random_id,
            admin_author_id=admin_author_id,
        )
        if random_id:
            group.sent_random_ids[random_id] = message.id
        self.conversation(group, peer_id).unanswered = False
        self.emit(group, "message_reply", message.as_vk())
        return message

    def edit_message(self, group: Group, message_id: int, text: str) -> Message:
        """Change a message's text and emit message_edit (the object is the message itself)."""
        message = group.messages[message_id]
        message.text = text
        message.update_time = self.now()
        self.emit(group, "message_edit", message.as_vk())
        return message

    def set_messages_allowed(self, group: Group, user_id: int, allowed: bool) -> None:
        """A user allows or denies messages from the community (message_allow / message_deny)."""
        group.messages_allowed[user_id] = allowed
        if allowed:
            self.emit(group, "message_allow", {"user_id": user_id, "key": ""})
        else:
            self.emit(group, "message_deny", {"user_id": user_id})

    # --- bans -------------------------------------------------------------------------------

    def ban(
        self,
        group: Group,
        user_id: int,
        admin_id: int,
        *,
        end_date: int = 0,
        reason: int = 0,
        comment: str = "",
        comment_visible: bool = False,
    ) -> Ban:
        """Blacklist a user and emit user_block."""
        if user_id not in self.users:
            raise VkFault(113)
        ban = Ban(user_id, admin_id, self.now(), end_date, reason, comment, comment_visible)
        group.bans[user_id] = ban
        self.emit(
            group,
            "user_block",
            {
                "admin_id": admin_id,
                "user_id": user_id,
                "unblock_date": end_date,
                "reason": reason,
                "comment": comment,
            },
        )
        return ban

    def unban(self, group: Group, user_id: int, admin_id: int) -> bool:
        """Remove a user from the blacklist and emit user_unblock; False if not banned."""
        if group.bans.pop(user_id, None) is None:
            return False
        self.emit(group, "user_unblock", {"admin_id": admin_id, "user_id": user_id, "by_end_date": 0})
        return True
