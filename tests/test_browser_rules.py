"""An admin writes a moderation rule in a real browser (a refused pattern first), sees it listed, watches
it delete a spam comment a member posts in the emulated VK, and undoes that from the rule's hits: the
comment is restored and the rule's undo count shows 1. Pictures for docs/guide.md ("Rules").

SQLite only: the pages are tested on both databases in tests/test_admin_rules.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from proxy.models import Item, ModerationRule, Operator, OutboxRow, Role, RuleHit, RuleMode
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import VIEWPORTS, horizontal_overflow, log_in_page
from tests.guide_shots import opening, shoot_guide

pytestmark = pytest.mark.browser
WAIT_MS = 15_000
SPAM = "Огромная скидка на всё, пишите в личку!"


@pytest.fixture
async def db_url(sqlite_factory):
    url = await sqlite_factory.new_database()
    yield url
    await sqlite_factory.drop(url)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_an_admin_writes_a_rule_it_acts_and_the_admin_undoes_it(browser, live_server, world) -> None:
    base = str(live_server.make_url("/"))
    admin = await Operator.create(
        login="ada", display_name="Ада Админова", password_hash="x", role=Role.ADMIN
    )
    page = await browser.new_page(viewport=VIEWPORTS["desktop"], locale="ru-RU")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await log_in_page(page, base, admin)

    await page.goto(base + "admin")
    await page.click(".admin-nav a[href='/admin/rules']")
    await page.locator("#rules").wait_for(timeout=WAIT_MS)
    await page.click("a[href='/admin/rules/new']")
    form = page.locator("#rule-form form.rule-form")
    await form.locator("input[name=name]").fill("Скидки в комментариях")
    await form.locator("textarea[name=words]").fill("скидка\nраспродажа")
    await form.locator("textarea[name=patterns]").fill("пишите (в )?(личку")  # does not compile
    await form.locator("input[name=act][value=delete]").check()
    await form.locator("input[name=mode][value=on]").check()
    await form.locator("button[type=submit]").click()
    alert = page.locator("#rule-form [role=alert]")
    await alert.wait_for(timeout=WAIT_MS)
    assert "регулярное выражение" in (await alert.inner_text()).lower()
    assert await page.locator("#rule-form textarea[name=words]").input_value() == "скидка\nраспродажа"
    assert await ModerationRule.all().count() == 0
    await shoot_guide(page, admin, "rules-form-error", _refused_form(base))

    form = page.locator("#rule-form form.rule-form")
    await form.locator("textarea[name=patterns]").fill("пишите (в )?личку")
    await form.locator("button[type=submit]").click()
    # The form's own address (/admin/rules/new) already matches the saved rule's: wait for what only the
    # saved rule's page shows, or the rule is read before the server has written it.
    await page.locator(".rule-history").wait_for(timeout=WAIT_MS)
    rule = await ModerationRule.get()
    assert rule.mode == RuleMode.ON and rule.conditions["words"] == ["скидка", "распродажа"]
    await shoot_guide(page, admin, "rules-form", opening(page.url, ".rule-history"))
    await page.click(".crumbs-admin a")
    await page.locator(f"#rule-{rule.id}").wait_for(timeout=WAIT_MS)

    # A member posts spam in VK; the rule deletes it through the outbox.
    world.scenario.member_comments(world.group, world.members[0], world.post, SPAM)
    world.scenario.member_comments(world.group, world.members[1], world.post, "Когда откроется магазин?")

    async def deleted() -> bool:
        item = await Item.get_or_none(text=SPAM)
        return item is not None and item.is_deleted and await RuleHit.filter(item_id=item.id).exists()

    await until(deleted)
    spam = await Item.get(text=SPAM)
    assert not (await Item.get(text="Когда откроется магазин?")).is_deleted
    await page.reload()
    row = page.locator(f"#rule-{rule.id}")
    assert "0 / 1" in await row.inner_text()
    assert await row.locator(".undone-count").inner_text() == "0"

    await row.locator(f"a[href='/admin/rules/{rule.id}/hits']").click()
    hit = page.locator(".rule-hits li.hit").first
    await hit.wait_for(timeout=WAIT_MS)
    assert await hit.locator("mark").first.inner_text() == "скидка"
    await shoot_guide(page, admin, "rules-hits", opening(page.url, ".rule-hits"))
    await hit.locator("button.undo").click()
    await page.locator(".admin-flash").wait_for(timeout=WAIT_MS)

    async def restored() -> bool:
        hit_row = await RuleHit.get(item_id=spam.id)
        await spam.refresh_from_db()
        return hit_row.undone_at is not None and not spam.is_deleted

    await until(restored)
    restore = await OutboxRow.filter(method__endswith="restoreComment").get()
    assert restore.operator_id == admin.id  # type: ignore[attr-defined]
    await page.goto(base + "admin/rules")
    assert await page.locator(f"#rule-{rule.id} .undone-count").inner_text() == "1"
    await shoot_guide(page, admin, "rules-list", opening(base + "admin/rules", "#rules"))
    await page.goto(base + f"admin/rules/{rule.id}/hits")
    assert await page.locator(".rule-hits .undone-by").count() == 1
    assert errors == []

    # Nothing sticks out sideways, on a laptop or a phone, in either language.
    overflow = {}
    for locale in ("ru", "en"):
        await Operator.filter(id=admin.id).update(locale=locale)
        for view, viewport in VIEWPORTS.items():
            other = await browser.new_page(viewport=viewport)
            await log_in_page(other, base, admin)
            for path in (
                "admin/rules",
                "admin/rules/new",
                f"admin/rules/{rule.id}",
                f"admin/rules/{rule.id}/hits",
            ):
                await other.goto(base + path)
                await other.locator("main").wait_for()
                overflow[(locale, view, path)] = await horizontal_overflow(other)
            await other.close()
    assert overflow == dict.fromkeys(overflow, 0)


def _refused_form(base: str):
    async def prepare(shot) -> None:
        await shot.goto(base + "admin/rules/new")
        form = shot.locator("#rule-form form.rule-form")
        await form.locator("input[name=name]").fill("Скидки в комментариях")
        await form.locator("textarea[name=words]").fill("скидка\nраспродажа")
        await form.locator("textarea[name=patterns]").fill("пишите (в )?(личку")
        await form.locator("input[name=act][value=delete]").check()
        await form.locator("button[type=submit]").click()
        await shot.locator("#rule-form [role=alert]").wait_for(timeout=WAIT_MS)

    return prepare
