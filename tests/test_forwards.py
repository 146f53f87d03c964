"""Quoted and forwarded messages are content: stored on the item and its versions, shown (escaped) in the
conversation page, found by search, kept in the backup; their nesting is bounded."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from proxy import db as proxy_db
from proxy.audit.backup import export_backup, import_backup
from proxy.audit.incidents import search
from proxy.connectors.vk.normalize import normalize
from proxy.events import MAX_FORWARD_DEPTH, MAX_FORWARDED_MESSAGES, ItemCreated
from proxy.ingest import ingest
from proxy.models import Community, Conversation, Item, ItemVersion
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import log_in_page, screenshot_path
from tests.ingest_samples import load_event
from tests.vk_callbacks import post_event

HOSTILE = "meh <script>alert(1)</script>"
PHOTO = {"type": "photo", "photo": {"id": 1, "owner_id": 333, "sizes": []}}
LINK = {"type": "link", "link": {"url": "javascript:alert(2)", "title": "click"}}


def forwarding_event(group_id: int) -> dict[str, Any]:
    """message_new-5.json (a message with only a forward), answering a quoted message and forwarding
    a message that forwards another, with attachments at each level."""
    event = copy.deepcopy(load_event("message_new-5.json"))
    event["group_id"] = group_id
    message = event["object"]["message"]
    quoted = copy.deepcopy(load_event("message_new-2.json")["object"]["message"]["reply_message"])
    quoted["text"] = "the question"
    message["reply_message"] = quoted
    outer = message["fwd_messages"][0]
    outer.update(text="first level", attachments=[PHOTO])
    outer["fwd_messages"] = [
        {"date": 1590520000, "from_id": -55, "text": HOSTILE, "attachments": [LINK], "peer_id": 444}
    ]
    return event


def nested(depth: int, *, children: int = 1) -> dict[str, Any]:
    """A message with `children` forwards at every level, `depth` levels deep."""
    message: dict[str, Any] = {"text": f"level {depth}", "from_id": 1, "date": 1590520000}
    if depth:
        message["fwd_messages"] = [nested(depth - 1, children=children) for _ in range(children)]
    return message


async def test_forwarded_and_quoted_messages_are_stored_shown_and_found(
    client_for, community: Community, operator, manager
) -> None:
    client = await client_for(operator)
    await post_event(client, forwarding_event(community.vk_group_id))

    item = await Item.get()
    assert [(m["kind"], m["text"]) for m in item.forwarded] == [("reply", "the question"), ("forward", "first level")]
    reply, forward = item.forwarded
    assert (reply["from_id"], reply["conversation_message_id"], reply["forwarded"]) == (333, 4392, [])
    assert (forward["from_id"], forward["date"], forward["attachments"]) == (333, "2020-05-26T20:07:11+00:00", [PHOTO])
    [inner] = forward["forwarded"]
    assert (inner["kind"], inner["from_id"], inner["text"], inner["attachments"]) == ("forward", -55, HOSTILE, [LINK])
    version = await ItemVersion.get(item_id=item.id)
    assert version.forwarded == item.forwarded
    assert version.forwarded_text == f"the question\nfirst level\n{HOSTILE}"
    # A message with no text of its own shows what it forwards in the inbox.
    conversation = await Conversation.get(id=item.conversation_id)
    assert conversation.preview == f"» the question first level {HOSTILE}"

    page = await (await client.get(f"/conversations/{conversation.id}")).text()
    assert "В ответ на" in page and "Пересланное сообщение" in page
    assert "the question" in page and "first level" in page and "club55" in page
    assert "meh &lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'href="javascript:' not in page and "javascript:alert(2)" in page  # shown, never linked

    boss = await client_for(manager)
    found = await (await boss.get("/search?q=meh")).text()
    assert f"/conversations/{conversation.id}#item-{item.id}" in found
    assert "<mark>meh</mark> &lt;script&gt;" in found
    assert [hit.item_id for hit in await search("question")] == [item.id]


def test_nesting_is_bounded_in_depth_and_count() -> None:
    event = load_event("message_new-5.json")
    deep = copy.deepcopy(event)
    deep["object"]["message"]["fwd_messages"] = [nested(MAX_FORWARD_DEPTH + 3)]
    normalized = normalize(deep)
    assert isinstance(normalized, ItemCreated)
    level, kept = normalized.forwarded, 0
    while level:
        [message] = level
        kept += 1
        last, level = message, message["forwarded"]
    assert kept == MAX_FORWARD_DEPTH
    # The message at the last kept level forwards four more levels of one message each.
    assert (last["text"], last["omitted"]) == ("level 4", 4)

    wide = copy.deepcopy(event)
    wide["object"]["message"]["fwd_messages"] = [nested(1, children=80), nested(1, children=80)]
    first, second = normalize(wide).forwarded
    assert (len(first["forwarded"]), first["omitted"]) == (80, 0)
    assert (len(second["forwarded"]), second["omitted"]) == (MAX_FORWARDED_MESSAGES - 80, 160 - MAX_FORWARDED_MESSAGES)


async def test_backup_keeps_forwarded_content(request, db_url: str, tmp_path: Path) -> None:
    other = "postgres" if db_url.startswith("sqlite") else "sqlite"
    factory = request.getfixturevalue(f"{other}_factory")
    target_url = await factory.new_database()
    try:
        await proxy_db.open_database(db_url)
        community = await Community.create(vk_group_id=777, name="c", callback_secret="s")
        event = forwarding_event(777)
        await ingest(community, event, normalize(event), source="callback")
        item = await Item.get()
        await export_backup(tmp_path / "backup")
        await proxy_db.close_database()

        await proxy_db.open_database(target_url)
        await import_backup(tmp_path / "backup")
        restored = await Item.get()
        assert restored.forwarded == item.forwarded and restored.forwarded[1]["forwarded"][0]["text"] == HOSTILE
        version = await ItemVersion.get(item_id=restored.id)
        assert version.forwarded_text == f"the question\nfirst level\n{HOSTILE}"
        assert [hit.item_id for hit in await search("meh")] == [restored.id]
    finally:
        await proxy_db.close_database()
        await factory.drop(target_url)


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["ru", "en"])
async def test_forwarded_content_in_the_browser(
    browser, live_server, community: Community, operator, locale: str
) -> None:
    """The conversation page shows the quote and the nested forward, escaped, at desktop and phone width."""
    event = forwarding_event(community.vk_group_id)
    await ingest(community, event, normalize(event), source="callback")
    conversation = await Conversation.get()
    operator.locale = locale
    await operator.save(update_fields=["locale"])
    base = str(live_server.make_url("/"))
    for width, height, name in [(1366, 900, "desktop"), (390, 844, "phone")]:
        page = await browser.new_page(viewport={"width": width, "height": height}, locale=f"{locale}-RU")
        errors: list[str] = []
        page.on("console", lambda message, errors=errors: errors.append(message.text) if message.type == "error" else None)
        await log_in_page(page, base, operator)
        await page.goto(base + f"conversations/{conversation.id}")
        forwarded = page.locator(".forwarded").first
        await forwarded.wait_for()
        shown = await page.locator("main").inner_text()
        assert "the question" in shown and "first level" in shown and HOSTILE in shown
        assert ("Пересланное сообщение" in shown) == (locale == "ru")
        await page.screenshot(path=screenshot_path(f"forwards-{locale}-{name}.png"), full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
        assert errors == []
        await page.close()
