"""requests sessions for vk_api: a default request timeout, and routing to the VK emulator.

vk_api posts to https://api.vk.ru/method/{name} and never passes a timeout, so the timeout lives in
the transport adapter. `emulator_session(base_url)` sends those same requests to the emulator over real
HTTP, which lets tests exercise the real vk_api end to end.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

# Seconds to connect and to wait for each read.
DEFAULT_TIMEOUT = 10.0
# The same for the application's clients (the outbox, sync, long poll, names, the connection check).
REQUEST_TIMEOUT_SECONDS = 15.0
VK_API_PREFIXES = ("https://api.vk.ru/", "https://api.vk.com/")


class TimeoutHTTPAdapter(HTTPAdapter):
    """An HTTPAdapter that applies a timeout to requests sent without one."""

    def __init__(self, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with the adapter's timeout unless the caller gave one."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class EmulatorAdapter(TimeoutHTTPAdapter):
    """Rewrites https://api.vk.ru/... (or api.vk.com) to `{base_url}/...` and sends it over real HTTP."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base = urlsplit(base_url.rstrip("/"))

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Point the request at the emulator, keeping path and query."""
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, parts.fragment)
        )
        return super().send(request, **kwargs)


def vk_session(timeout: float = DEFAULT_TIMEOUT) -> requests.Session:
    """A session for the real VK with a timeout on every request."""
    session = requests.Session()
    adapter = TimeoutHTTPAdapter(timeout=timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def emulator_session(base_url: str, timeout: float = DEFAULT_TIMEOUT) -> requests.Session:
    """A session whose VK API requests go to the emulator at `base_url` (e.g. http://127.0.0.1:8090)."""
    session = vk_session(timeout)
    # Proxy settings from the environment were chosen for the real VK host, not for the emulator.
    session.trust_env = False
    adapter = EmulatorAdapter(base_url, timeout=timeout)
    for prefix in VK_API_PREFIXES:
        session.mount(prefix, adapter)
    return session


def http_session(api_base: str | None) -> requests.Session:
    """The application's session: to the emulator at `api_base` (the demo and the tests), else to VK."""
    if api_base:
        return emulator_session(api_base, timeout=REQUEST_TIMEOUT_SECONDS)
    return vk_session(REQUEST_TIMEOUT_SECONDS)
