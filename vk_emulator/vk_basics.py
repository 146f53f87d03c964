"""The emulator's VK vocabulary: API version, limits, error texts, ids, users, tokens and settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

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
    # What VK answers a blacklisted member's comment (wall.createComment and the like).
    213: "Access to status replies denied",
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
class CallRecord:
    """One request to /method, for rate checks in tests and benchmarks."""

    at: float
    method: str
    error_code: int | None
    version: str | None = None
