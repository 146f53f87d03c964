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
from tests.browser_fixtures import UI_LOCALES, VIEWPORTS, log_in_page, save_screenshot, screenshot_path

Prepare = Callable[[Any], Awaitable[None]]


async def shoot_guide(
    browser: Any, base_url: str, operator: Operator, name: str, prepare: Prepare, *, full_page: bool = True
) -> dict[tuple[str, str], str]:
    """Log in as `operator` in each language and width, run `prepare(page)`, save `guide/<name>-...png`.

    The operator's language is put back afterwards, so the test goes on in the language it started in.
    Returns the files by (locale, view)."""
    saved: dict[tuple[str, str], str] = {}
    language = (await Operator.get(id=operator.id)).locale
    try:
        for locale in UI_LOCALES:
            await Operator.filter(id=operator.id).update(locale=locale)
            for view, viewport in VIEWPORTS.items():
                page = await browser.new_page(viewport=viewport)
                try:
                    await log_in_page(page, base_url, operator)
                    await prepare(page)
                    file = screenshot_path(f"guide/{name}-{locale}-{view}.png")
                    await save_screenshot(page, file, full_page=full_page)
                    saved[(locale, view)] = file
                finally:
                    await page.close()
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
