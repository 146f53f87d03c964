"""Fixtures for the inbox tests: the app wired to the VK emulator, logged-in clients, hostile content.

View tests (tests/test_inbox_*.py) and browser tests (tests/test_browser_*.py) import these with
`from tests.browser_fixtures import *  # noqa: F403`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from proxy.accounts import hash_password
from proxy.models import CommunityMode, Operator
from proxy.runtime.app import create_app
from proxy.settings import Settings
from tests.actions_fixtures import *  # noqa: F403
from tests.actions_fixtures import __all__ as _actions_fixtures

__all__ = [
    *_actions_fixtures,
    "PASSWORD",
    "browser",
    "browser_in",
    "BROWSER_LOCALES",
    "client_for",
    "csrf_token",
    "inbox_client",
    "live_server",
    "log_in",
    "log_in_page",
    "screenshot_path",
    "VIEWPORTS",
    "horizontal_overflow",
    "save_screenshot",
    "shoot_in_every_view",
]

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def log_in(client: TestClient, operator: Operator) -> None:
    """Give the operator a known password and log the client in as them."""
    operator.password_hash = hash_password(PASSWORD)
    await operator.save(update_fields=["password_hash"])
    response = await client.post("/login", data={"login": operator.login, "password": PASSWORD})
    assert response.status == 200, await response.text()


async def csrf_token(client: TestClient) -> str:
    """The session's CSRF token, as a page's forms carry it."""
    response = await client.get("/")
    match = _TOKEN.search(await response.text())
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
async def client_for(aiohttp_client: Any, vk_settings: Settings, db: str):
    """A factory of clients of one app (VK routed to the emulator), each logged in as an operator."""
    app = create_app(vk_settings)
    server = None

    async def make(operator: Operator) -> TestClient:
        nonlocal server
        client = await aiohttp_client(app if server is None else server)
        server = client.server
        await log_in(client, operator)
        return client

    return make


@pytest.fixture
async def inbox_client(client_for: Any, operator: Operator) -> TestClient:
    """A client logged in as the community's operator."""
    return await client_for(operator)


# --- a real server and a real browser -------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


# The browser speaks the language of the page, as a person's usually does: navigator.language and
# Accept-Language per page, and Chromium's own language, in which it draws a date field (dd.mm.yyyy or
# mm/dd/yyyy). That one is the process's (--lang, from Debian's chromium-l10n), so a browser per language.
BROWSER_LOCALES = {"ru": "ru-RU", "en": "en-US"}
CHROMIUM_LOCALES = Path("/usr/lib/chromium/locales")


@contextlib.asynccontextmanager
async def browser_in(browser: Any, locale: str) -> AsyncIterator[Any]:
    """A Chromium of the same kind as `browser` whose own language is `locale`'s (closed afterwards).

    A test's wrapper of the browser (one with the real browser as `.browser` and a `wrapped(browser)`)
    wraps the new one the same way."""
    language = BROWSER_LOCALES[locale]
    if not any((CHROMIUM_LOCALES / f"{name}.pak").exists() for name in (language, locale)):
        pytest.fail(f"Chromium has no {language} language: install Debian's chromium-l10n (make browser)")
    real = getattr(browser, "browser", browser)
    instance = await real.browser_type.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--lang={language}", f"--accept-lang={language},{locale}"],
        env={**os.environ, "LANGUAGE": language.replace("-", "_")},
    )
    try:
        yield browser.wrapped(instance) if hasattr(browser, "wrapped") else instance
    finally:
        await instance.close()


@pytest.fixture
async def live_server(aiohttp_server: Any, vk_settings: Settings, community: Any):
    """The whole service listening on a port, workers on (outbox, long poll) and VK emulated.

    The community is switched to long poll, so what members do in the emulator reaches the proxy by
    itself, the way it would from VK.
    """
    community.mode = CommunityMode.LONGPOLL
    await community.save(update_fields=["mode"])
    return await aiohttp_server(create_app(dataclasses.replace(vk_settings, workers=True)))


async def log_in_page(page: Any, base_url: str, operator: Operator) -> None:
    """Log in through the form, as a person would."""
    operator.password_hash = hash_password(PASSWORD)
    await operator.save(update_fields=["password_hash"])
    await page.goto(base_url + "login")
    await page.fill("input[name=login]", operator.login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#conversation-list")


def screenshot_path(name: str) -> str:
    """Where a test saves a screenshot; names under "guide/" are the pictures of docs/guide.md."""
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


# The two widths every page is checked at: a common laptop and a common phone.
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
UI_LOCALES = ("ru", "en")


async def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when nothing sticks out)."""
    return int(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


# A full-page screenshot stops after this many screens: the rest of a long page repeats what is shown,
# and the pictures of docs/guide.md stay small.
MAX_SCREENS = 3


async def save_screenshot(page: Any, file: str, *, full_page: bool = True) -> None:
    """Save a screenshot of the whole page (or only the viewport), cut after MAX_SCREENS screens.

    The picture is as wide as the page, so anything sticking out past the viewport shows."""
    viewport = page.viewport_size
    height = int(await page.evaluate("document.documentElement.scrollHeight"))
    if not full_page or height <= MAX_SCREENS * viewport["height"]:
        await page.screenshot(path=file, full_page=full_page)
        return
    width = max(viewport["width"], int(await page.evaluate("document.documentElement.scrollWidth")))
    clip = {"x": 0, "y": 0, "width": width, "height": MAX_SCREENS * viewport["height"]}
    await page.screenshot(path=file, full_page=True, clip=clip)


async def shoot_in_every_view(
    browser: Any, base_url: str, operator: Operator, path: str, name: str, *, ready: str = "main"
) -> dict[tuple[str, str], str]:
    """Screenshots of one page in Russian and English, at desktop and phone width.

    Logs in as `operator` (their language set to each locale in turn), opens `path`, waits for the
    `ready` selector and saves `test-artifacts/{name}-{locale}-{view}.png` (a name under "guide/" is a
    picture of docs/guide.md). Returns the files by (locale, view)."""
    saved: dict[tuple[str, str], str] = {}
    for locale in UI_LOCALES:
        operator.locale = locale
        await operator.save(update_fields=["locale"])
        async with browser_in(browser, locale) as speaking:
            for view, viewport in VIEWPORTS.items():
                page = await speaking.new_page(viewport=viewport, locale=BROWSER_LOCALES[locale])
                try:
                    await log_in_page(page, base_url, operator)
                    await page.goto(base_url + path.lstrip("/"))
                    await page.wait_for_selector(ready)
                    file = screenshot_path(f"{name}-{locale}-{view}.png")
                    await save_screenshot(page, file)
                    saved[(locale, view)] = file
                finally:
                    await page.close()
    return saved
