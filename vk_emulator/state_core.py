"""The emulator's clock, id counters, users and communities, event logs and rate accounting."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .community import EventListener, Group
from .faults import FaultPlan
from .vk_basics import (
    API_VERSION,
    MAX_CALL_RECORDS,
    CallbackConfig,
    CallRecord,
    Token,
    User,
    new_event_id,
    new_token,
)


class StateCore:
    """Users, communities and their event logs; the VK sections (state_*.py) build on it."""

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
