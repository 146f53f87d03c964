"""The emulator's in-memory VK world: communities, users, dialogs, comments, bans and event logs.

Everything here is plain data plus the operations that change it. Each change appends the event VK
would send to the community's event log (read by the long-poll handler and the callback delivery).
The state is not thread-safe: use it from the event loop that serves the emulator.

The data lives in vk_basics.py and community.py; the operations, one VK section each, in
state_core.py (clock, ids, events, rates), state_wall.py, state_messages.py and state_bans.py.
"""

from __future__ import annotations

from .community import Ban, Comment, Conversation, EventListener, Group, Message, Target
from .state_bans import BansState
from .state_messages import MessagesState
from .state_wall import WallState
from .vk_basics import (
    API_VERSION,
    COMMENT_KINDS,
    ERROR_TEXTS,
    EVENT_PREFIX,
    MAX_CALL_RECORDS,
    OWNER_FIELD,
    RATE_LIMITS,
    TARGET_FIELD,
    CallbackConfig,
    CallRecord,
    CommentKind,
    Token,
    TokenKind,
    User,
    VkFault,
    bad_param,
    new_event_id,
    new_token,
)

__all__ = [
    "API_VERSION",
    "COMMENT_KINDS",
    "ERROR_TEXTS",
    "EVENT_PREFIX",
    "MAX_CALL_RECORDS",
    "OWNER_FIELD",
    "RATE_LIMITS",
    "TARGET_FIELD",
    "Ban",
    "CallRecord",
    "CallbackConfig",
    "Comment",
    "CommentKind",
    "Conversation",
    "EmulatorState",
    "EventListener",
    "Group",
    "Message",
    "Target",
    "Token",
    "TokenKind",
    "User",
    "VkFault",
    "bad_param",
    "new_event_id",
    "new_token",
]


class EmulatorState(WallState, MessagesState, BansState):
    """The whole emulated VK: create communities and users, act as members, read what happened."""
