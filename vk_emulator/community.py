"""A community and everything in it: messages, dialogs, commentable objects, comments, bans."""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .vk_basics import OWNER_FIELD, TARGET_FIELD, CallbackConfig, CommentKind


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
    # A post's attachments as VK gives them (wall.getById, wall_post_new); none for the other kinds.
    attachments: list[dict[str, Any]] = field(default_factory=list)


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

    def is_banned(self, user_id: int, now: int) -> bool:
        """Whether the user is in the blacklist at `now` (a ban with an end date lapses then, as in VK)."""
        ban = self.bans.get(user_id)
        return ban is not None and (ban.end_date == 0 or now < ban.end_date)

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
