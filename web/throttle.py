"""Log in throttling: after repeated failures for one login or from one address, refuse for a while.

Counted in memory per instance (a sliding window): behind N instances an attacker gets at most N times the
allowance, still far too few guesses to matter against argon2-hashed passwords, and no database write
is needed to count. Every failure and every refusal is journaled by the log in view.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
# Bounds memory when someone sprays many logins: the oldest keys are forgotten first.
MAX_TRACKED_KEYS = 50_000


@dataclass
class LoginThrottle:
    """Failures per login and per client address within the last `window` seconds."""

    max_failures: int = MAX_FAILURES
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    @staticmethod
    def _keys(login: str, ip: str | None) -> list[str]:
        keys = [f"login:{login.lower()}"]
        if ip:
            keys.append(f"ip:{ip}")
        return keys

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def retry_after(self, login: str, ip: str | None) -> int:
        """Seconds until this login may be tried from this address again; 0 when it may be now."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(login, ip):
            stamps = self._recent(key, now)
            if len(stamps) >= self.max_failures:
                wait = max(wait, stamps[-self.max_failures] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, login: str, ip: str | None) -> None:
        now = self.clock()
        for key in self._keys(login, ip):
            if key not in self._failures and len(self._failures) >= MAX_TRACKED_KEYS:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque(maxlen=self.max_failures * 4)).append(now)

    def succeeded(self, login: str) -> None:
        """A correct password clears the login's count (the address's stays: it may be guessing others)."""
        self._failures.pop(f"login:{login.lower()}", None)


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
