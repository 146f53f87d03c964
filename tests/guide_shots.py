"""The pictures of docs/guide.md: one state of a page in Russian and English, at desktop and phone width.

A guide test reaches a state (a search run, a history opened, a token just created), checks it, then
calls `shoot_guide` with a `prepare` that brings a fresh page to the same state (open the address, click,
wait). Each picture is `test-artifacts/guide/<name>-<locale>-<view>.png`; `make guide-screenshots` copies
them to docs/guide/. For a page that needs no more than its address, `shoot_in_every_view` in
tests/browser_fixtures.py does the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from proxy.models import Operator
from tests.browser_fixtures import (
    BROWSER_LOCALES,
    UI_LOCALES,
    VIEWPORTS,
    browser_in,
    save_screenshot,
    screenshot_path,
)

Prepare = Callable[[Any], Awaitable[None]]


async def shoot_guide(
    page: Any, operator: Operator, name: str, prepare: Prepare, *, full_page: bool = True
) -> dict[tuple[str, str], str]:
    """Save `guide/<name>-<locale>-<view>.png` in each language and width, as `operator`.

    `page` is the test's page, logged in as `operator`: each picture is taken in a fresh browser context
    of the same session, in a browser speaking the picture's language (browser_fixtures.browser_in; no
    new log in, so the journal the pictures show holds only what the test did),
    brought to the state by `prepare(page)`. The operator's language is put back afterwards, so the test
    goes on in the language it started in. Returns the files by (locale, view)."""
    saved: dict[tuple[str, str], str] = {}
    session = await page.context.storage_state()
    language = (await Operator.get(id=operator.id)).locale
    try:
        for locale in UI_LOCALES:
            await Operator.filter(id=operator.id).update(locale=locale)
            async with browser_in(page.context.browser, locale) as speaking:
                for view, viewport in VIEWPORTS.items():
                    context = await speaking.new_context(
                        viewport=viewport, storage_state=session, locale=BROWSER_LOCALES[locale]
                    )
                    try:
                        shot = await context.new_page()
                        await prepare(shot)
                        file = screenshot_path(f"guide/{name}-{locale}-{view}.png")
                        await save_screenshot(shot, file, full_page=full_page)
                        saved[(locale, view)] = file
                    finally:
                        await context.close()
    finally:
        await Operator.filter(id=operator.id).update(locale=language)
        operator.locale = language
    return saved


def opening(url: str, ready: str) -> Prepare:
    """A `prepare` that opens `url` and waits for the `ready` selector."""

    async def prepare(page: Any) -> None:
        await page.goto(url)
        await page.wait_for_selector(ready)

    return prepare
