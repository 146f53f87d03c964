"""Async VK API client on top of the real `vk_api` library.

vk_api is blocking (requests), so each call runs in a worker thread. A per-token rate limiter, shared
by every client using the same token, keeps within VK's limits; VK errors become `VkApiError` (with a
transient flag the outbox uses to decide on a retry) and transport failures become `VkNetworkError`.

What the clients of one application share lives in a `VkRuntime` the application owns (opened by
proxy/connectors/vk/connector.py, closed with the app): each token's limiter, this process's own unless
the application installs shared ones (`use_shared_limits`: on PostgreSQL several instances use one
token, and proxy/rate_limit.py keeps its window in the database), and the worker threads. A client made
without a runtime (tests, benchmarks) has a limiter of its own and uses the loop's default executor.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import jconfig
import requests
import vk_api

from proxy.connectors.base import Limiter, NetworkError, SharedLimits
from proxy.connectors.pacing import RateLimiter  # noqa: F401 (VK clients and tests name it here)

from .transport import DEFAULT_TIMEOUT, vk_session

API_VERSION = "5.199"

TokenKind = Literal["community", "user"]
# Requests per second VK allows per token.
RATE_LIMITS: dict[TokenKind, int] = {"community": 20, "user": 3}

# VK errors worth retrying later: unknown error, too many requests per second, flood control,
# internal server error.
TRANSIENT_CODES = frozenset({1, 6, 9, 10})

# Methods VK refuses with a community token (error 27): they need a community admin's user token.
USER_TOKEN_METHODS = frozenset(
    {
        "wall.deleteComment",
        "wall.restoreComment",
        "photos.deleteComment",
        "photos.restoreComment",
        "video.deleteComment",
        "video.restoreComment",
        "market.deleteComment",
        "market.restoreComment",
        "groups.ban",
        "groups.unban",
    }
)

# Short explanations an operator can act on, by VK error code.
ERROR_MESSAGES: dict[int, str] = {
    1: "VK reported an unknown error; the action will be retried",
    5: "the access token is invalid or expired; an admin must update the community's token",
    6: "too many requests to VK per second; the action will be retried",
    7: "the token lacks the permission for this action",
    9: "VK flood control: too many similar actions; the action will be retried later",
    10: "VK internal server error; the action will be retried",
    14: "VK asks for a captcha; the action cannot be completed automatically",
    15: "access denied",
    18: "the user's page was deleted or blocked",
    27: "this action needs the admin user token, not the community token",
    29: "VK's daily limit for this method is reached",
    100: "VK rejected the request parameters",
    113: "invalid user id",
    900: "the user is in the community's blacklist",
    901: "the user has not allowed messages from the community",
    902: "the user's privacy settings do not allow messages from the community",
    914: "the message is too long",
    917: "the community has no access to this conversation",
}


def needs_user_token(method: str) -> bool:
    """Whether VK only accepts this method with an admin's user token."""
    return method in USER_TOKEN_METHODS


class VkError(NetworkError):
    """Any failure of a VK call; `transient` says whether trying again later may succeed."""


class VkApiError(VkError):
    """VK answered with an error envelope."""

    def __init__(
        self, code: int, message: str, transient: bool | None = None, *, method: str | None = None
    ) -> None:
        self.code = code
        self.message = message
        self.transient = code in TRANSIENT_CODES if transient is None else transient
        self.method = method
        super().__init__(f"VK error {code}: {message}" + (f" ({method})" if method else ""))

    @property
    def operator_message(self) -> str:
        """The known explanation for the code, or VK's own message."""
        return ERROR_MESSAGES.get(self.code, self.message)


class VkNetworkError(VkError):
    """VK could not be reached, did not answer in time, or answered something that is not the API."""

    transient = True

    @property
    def operator_message(self) -> str:
        """A short explanation for the operator."""
        return "VK could not be reached; the action will be retried"


class VkRuntime:
    """What every VK client of one application shares: each token's rate limiter, and the worker threads
    vk_api's blocking calls run in. Reservations and the pool are thread-safe, so clients on different
    event loops may share one runtime."""

    def __init__(self, *, max_workers: int = 32) -> None:
        self.max_workers = max_workers
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._shared: SharedLimits | None = None
        self._executor: ThreadPoolExecutor | None = None

    def local_limiter_for(self, token: str, kind: TokenKind) -> RateLimiter:
        """This process's limiter of a token (created on first use with the kind's limit)."""
        with self._lock:
            limiter = self._limiters.get(token)
            if limiter is None:
                limiter = self._limiters[token] = RateLimiter(RATE_LIMITS[kind])
            return limiter

    def limiter_for(self, token: str, kind: TokenKind) -> Limiter:
        """The limiter a new client of this token uses: the shared one when installed, else this process's."""
        local = self.local_limiter_for(token, kind)
        shared = self._shared
        return local if shared is None else shared.limiter(token, kind, RATE_LIMITS[kind], local)

    def use_shared_limits(self, shared: SharedLimits | None) -> SharedLimits | None:
        """Make new clients take their limiters from `shared` (None: this process's); returns the previous."""
        previous, self._shared = self._shared, shared
        return previous

    @property
    def executor(self) -> ThreadPoolExecutor:
        # Our own pool, so slow VK calls never starve the loop's default executor (used for DNS lookups).
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="vk-api")
            return self._executor

    def client(self, token: str, *, kind: TokenKind = "community", session: requests.Session) -> VkClient:
        """A client of this token sharing the runtime's limiter and threads."""
        return VkClient(
            token, kind=kind, session=session, limiter=self.limiter_for(token, kind), executor=self.executor
        )

    def close(self) -> None:
        """Stop the worker threads once the calls under way are done (the app is stopping)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)


def _encode(params: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            values[key] = "1" if value else "0"
        elif isinstance(value, list | tuple | set | frozenset):
            values[key] = ",".join(str(v) for v in value)
        else:
            values[key] = str(value)
    return values


class VkClient:
    """Calls VK API methods with one access token.

    `session` is a requests.Session (emulator_session(...) in tests); by default a session with
    `timeout` on every request. `limiter` and `executor` come from the application's `VkRuntime`
    (`VkRuntime.client`); without them the client paces its own calls and runs them in the loop's
    default executor.
    """

    def __init__(
        self,
        token: str,
        *,
        kind: TokenKind = "community",
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: Limiter | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.token = token
        self.kind = kind
        self.session = session or vk_session(timeout)
        self.limiter = limiter or RateLimiter(RATE_LIMITS[kind])
        self._executor = executor

    async def call(self, method: str, **params: Any) -> Any:
        """Call a method and return VK's `response`.

        Lists become comma-separated, booleans 1/0, None values are left out. Raises VkApiError or
        VkNetworkError. A timeout does not prove VK did nothing: retries of sends must reuse the same
        random_id / guid so VK deduplicates them.
        """
        values = _encode(params)
        await self.limiter.acquire()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.call_blocking, method, values)

    def call_blocking(self, method: str, values: dict[str, str]) -> Any:
        """The blocking call (no rate limiting): runs in a worker thread."""
        vk = vk_api.VkApi(
            token=self.token, api_version=API_VERSION, session=self.session, config=jconfig.MemoryConfig
        )
        # Pacing is the limiter's job; vk_api's own sleep would only add latency.
        vk.RPS_DELAY = 0
        # vk_api retries error 6 forever after a sleep and turns 14 into an interactive captcha;
        # every error must reach the caller instead.
        vk.error_handlers = {}
        try:
            return vk.method(method, values)
        except vk_api.ApiError as exc:
            raise VkApiError(exc.code, str(exc.error.get("error_msg", "")), method=method) from exc
        except vk_api.ApiHttpError as exc:
            raise VkNetworkError(f"VK answered HTTP {exc.response.status_code} to {method}") from exc
        except requests.RequestException as exc:
            raise VkNetworkError(f"{method}: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:
            # A 200 answer that is not JSON (a captive portal, a broken proxy).
            raise VkNetworkError(f"{method}: the answer is not VK API JSON") from exc
