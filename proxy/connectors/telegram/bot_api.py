"""One call of the Telegram Bot API over aiohttp: ``POST {base}/bot{token}/{method}`` with a JSON body.

Plain aiohttp rather than a bot framework: the proxy makes a dozen kinds of call, stores every update as
received and normalizes it itself (normalize.py), and paces calls with the limiters every instance shares
(proxy/rate_limit.py). A framework's typed models and its own session, retry and flood-wait handling would
sit between those and Telegram, and pin aiohttp's version besides.

Telegram answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...,
"parameters": {"retry_after": S}}``. What the answer means for the action (final or worth another try)
is `TelegramError.transient`.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from proxy.connectors.base import NetworkError

API_BASE = "https://api.telegram.org"
# A call that is not answered within this is abandoned (getUpdates adds its own long-poll wait).
CALL_TIMEOUT_SECONDS = 15.0


class TelegramError(NetworkError):
    """Telegram refused the call, or could not be reached."""

    def __init__(
        self,
        description: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
        transient: bool = False,
        maybe_done: bool = False,
    ) -> None:
        super().__init__(f"Telegram error {code}: {description}" if code is not None else description)
        self.description = description
        self.code = code
        self.retry_after = retry_after
        self.transient = transient
        # The request may have reached Telegram and been carried out, its answer lost on the way.
        self.maybe_done = maybe_done

    @property
    def operator_message(self) -> str:
        return self.description


def _refusal(status: int, body: bytes) -> TelegramError:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("ok") is not False:
        # Not the API speaking (a proxy's error page): the call may not have reached it.
        return TelegramError(
            f"Telegram answered HTTP {status}", code=None, transient=status >= 500, maybe_done=True
        )
    code = answer.get("error_code") if isinstance(answer.get("error_code"), int) else status
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    return TelegramError(
        str(answer.get("description") or f"HTTP {status}"),
        code=code,
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
        # Flood control and Telegram's own trouble pass; a refusal of what was asked does not.
        transient=code == 429 or code >= 500,
    )


async def call(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    method: str,
    params: dict[str, Any],
    *,
    seconds: float = CALL_TIMEOUT_SECONDS,
) -> Any:
    """The call's `result`; raises TelegramError."""
    url = f"{base.rstrip('/')}/bot{token}/{method}"
    try:
        async with session.post(url, json=params, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            body = await response.read()
            status = response.status
    except aiohttp.ClientConnectorError as exc:
        # No connection was made: nothing was sent.
        raise TelegramError(f"Telegram could not be reached ({type(exc).__name__})", transient=True) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TelegramError(
            f"Telegram did not answer ({type(exc).__name__})", transient=True, maybe_done=True
        ) from None
    if status != 200:
        raise _refusal(status, body)
    try:
        answer = json.loads(body)
    except ValueError:
        raise TelegramError(
            "Telegram answered something that is not JSON", transient=True, maybe_done=True
        ) from None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        raise _refusal(status, body)
    return answer.get("result")
