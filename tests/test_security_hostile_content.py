"""A malicious commenter's content, in every place it can appear, is shown as text and never run.

The XSS corpus (tests/security_fixtures.py) arrives the way it would in production: comments, edits,
deletions and messages POSTed by VK to the real callback endpoint; author names as a member's VK profile
would give them; notes and canned responses typed by staff; an operator whose display name is hostile.
Then every page and partial, the SSE stream and every CSV export is fetched and checked.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from aiohttp.test_utils import TestClient

from proxy import actions
from proxy.canned import save_canned
from proxy.models import Author, Conversation, Item, Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from tests.security_fixtures import (
    FORMULA_CELLS,
    HOSTILE_ATTACHMENTS,
    HOSTILE_TEXT,
    assert_inert_page,
    assert_neutral_csv,
    deliver,
    message_new,
    wall_reply,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"
HOSTILE_NAME = "<script>alert('n1')</script>\u202e{{7*7}}"
HOSTILE_DISPLAY_NAME = '=HYPERLINK("https://evil.example")<img src=x onerror=alert(1)>\n\nevent: x\ndata: y'
PARTS = ("header", "timeline", "author", "presence", "reply", "note")
STATS_CSVS = ("operators", "rankings", "communities", "timeseries", "hourly", "conversations")


async def seed(client_for, operator, manager, community, world, vk_settings) -> dict:
    """Put the corpus everywhere it can go; returns the clients and conversation ids."""
    client = await client_for(operator)
    gid, members, post = world.group.id, world.members, world.post.id
    await deliver(
        client, message_new(gid, members[0].id, HOSTILE_TEXT, cmid=1, attachments=HOSTILE_ATTACHMENTS)
    )
    comment = dict(comment_id=501, post_id=post)
    text = "\n".join([*FORMULA_CELLS, HOSTILE_TEXT])
    await deliver(
        client,
        wall_reply(
            "wall_reply_new", gid, members[1].id, FORMULA_CELLS[0], **comment, attachments=HOSTILE_ATTACHMENTS
        ),
    )
    await deliver(client, wall_reply("wall_reply_edit", gid, members[1].id, text, **comment))
    await deliver(
        client,
        wall_reply("wall_reply_new", gid, members[2].id, FORMULA_CELLS[1], comment_id=502, post_id=post),
    )
    await deliver(
        client, wall_reply("wall_reply_delete", gid, members[2].id, "", comment_id=502, post_id=post)
    )
    # Names come from members' VK profiles, which they write themselves.
    await Author.filter(vk_id=members[0].id).update(name=HOSTILE_NAME, screen_name="<b>x</b>")
    await Author.filter(vk_id=members[1].id).update(name=FORMULA_CELLS[2])
    await Author.filter(vk_id=members[2].id).update(name=FORMULA_CELLS[3])

    conversations = await Conversation.filter(community_id=community.id).order_by("id")
    assert len(conversations) == 3, "the three threads were ingested"
    mallory = await Operator.create(
        login="mallory", display_name=HOSTILE_DISPLAY_NAME, password_hash="x", role=Role.OPERATOR
    )
    await mallory.communities.add(community)
    mallory_client = await client_for(mallory)
    for conversation in conversations:
        token = await csrf_token(mallory_client)
        response = await mallory_client.post(
            f"/conversations/{conversation.id}/notes", data={"text": HOSTILE_TEXT, "csrf_token": token}
        )
        assert response.status in (200, 303), await response.text()
    await save_canned(
        manager, title="<script>alert('c1')</script>", text='{{7*7}} <b hx-get="/logout">c2</b>'
    )
    await save_canned(manager, title=FORMULA_CELLS[0], text=FORMULA_CELLS[1], community_id=community.id)
    reply = await actions.reply(
        vk_settings, mallory, conversations[0].id, FORMULA_CELLS[3] + HOSTILE_TEXT[:200]
    )
    return {
        "client": client,
        "mallory": mallory_client,
        "manager": await client_for(manager),
        "conversations": [c.id for c in conversations],
        "outbox": reply.id,
    }


async def fetch(client: TestClient, url: str, *, partial: bool = False, headers: dict | None = None) -> str:
    """The body of a 200 answer; its headers go into `headers` when given."""
    response = await client.get(url, headers={"HX-Request": "true"} if partial else {})
    body = await response.text()
    assert response.status == 200, (url, response.status, body[:300])
    if headers is not None:
        headers.update(response.headers)
    return body


def assert_script_policy(headers: dict, where: str) -> None:
    """A Content-Security-Policy whose script-src is exactly 'self' (no inline script, no eval)."""
    policy = headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (where, policy)
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (where, policy)


async def test_pages_and_partials_render_the_corpus_as_text(
    client_for, operator, manager, community, world, vk_settings
) -> None:
    seeded = await seed(client_for, operator, manager, community, world, vk_settings)
    edited = await Item.get(key__endswith=":501")
    seen_literally = 0
    for client in (seeded["client"], seeded["manager"]):
        urls = [("/", False), ("/", True)]
        for cid in seeded["conversations"]:
            urls.append((f"/conversations/{cid}", False))
            urls += [(f"/conversations/{cid}/{part}", True) for part in PARTS]
        urls.append((f"/conversations/{edited.conversation_id}/items/{edited.id}/versions", True))  # type: ignore[attr-defined]
        urls.append((f"/outbox/{seeded['outbox']}", True))
        pages = {}
        for url, partial in urls:
            headers: dict = {}
            html = await fetch(client, url, partial=partial, headers=headers)
            where = f"{url}{' (partial)' if partial else ''}"
            pages[where] = html
            assert_inert_page(html, where)
            assert_script_policy(headers, where)
            # Template syntax from content stays literal text: nothing evaluated it.
            if "{{7*7}}" in html:
                seen_literally += 1
        conversation_page = pages[f"/conversations/{seeded['conversations'][0]}"]
        assert "&lt;script&gt;alert(&#39;x1&#39;)&lt;/script&gt;" in conversation_page
        assert "{% for x in range(3) %}x9{% endfor %}" in conversation_page
        assert (
            "&lt;div hx-get=&#34;/logout&#34; hx-trigger=&#34;load&#34;&gt;x5&lt;/div&gt;"
            in conversation_page
        )
    assert seen_literally >= 4, "the corpus did not reach the pages: the test would prove nothing"


def test_templates_hold_no_inline_script_and_no_hx_on() -> None:
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<script\b[^>]*>", text):
            assert "src=" in match.group(0), f"{path.name}: inline script {match.group(0)}"
        assert not re.search(r"<script\b[^>]*>\s*[^<\s]", text), f"{path.name}: script with a body"
        assert not re.search(r"\bhx-on\b|hx-on[:-]", text), f"{path.name}: hx-on runs inline code"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{path.name}: an inline event handler"
        assert "|safe" not in text.replace(" ", ""), f"{path.name}: |safe turns escaping off"
        assert "sse-swap" not in text, f"{path.name}: SSE data must never be swapped in as HTML"


async def test_sse_frames_are_json_and_carry_no_markup_outside_it(
    client_for, operator, manager, community, world, vk_settings
) -> None:
    seeded = await seed(client_for, operator, manager, community, world, vk_settings)
    cid = seeded["conversations"][0]
    stream = await seeded["client"].get(f"/live?conversation={cid}")
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    frames: list[str] = []

    def pushed(target: str, containing: str = "") -> bool:
        return any(
            f'"target": "{target}"' in frame and containing in frame for frame in frames if "event: part" in frame
        )

    async def read_frames() -> None:
        buffer = ""
        # Mallory's arrival (presence names her) and the member's new message (its timeline entry).
        while not (pushed("presence", "evil.example") and any('"action": "upsert"' in frame for frame in frames)):
            chunk = await stream.content.readany()
            buffer += chunk.decode()
            *done, buffer = buffer.split("\n\n")
            frames.extend(f for f in done if not f.startswith(":"))

    reader = asyncio.create_task(read_frames())
    # The hostile-named operator opens the same conversation; a member writes hostile text again.
    other = await seeded["mallory"].get(f"/live?conversation={cid}")
    await deliver(seeded["client"], message_new(world.group.id, world.members[0].id, HOSTILE_TEXT, cmid=2))
    await asyncio.wait_for(reader, 10)
    other.close()
    stream.close()
    for frame in frames:
        lines = frame.split("\n")
        assert len(lines) == 3, f"a field was injected into the stream: {frame!r}"
        event_id, event, data = lines
        assert re.fullmatch(r"id: [0-9a-f]+\.[0-9]+", event_id), frame
        assert re.fullmatch(r"event: [a-z_]+", event), frame
        assert data.startswith("data: ")
        payload = json.loads(data[len("data: ") :])
        assert isinstance(payload, dict)
        # Pushed partials are escaped like the pages they replace parts of.
        if event == "event: part":
            assert_inert_page(payload["html"], f"pushed {payload['target']}")
            assert "alert('x1')" not in payload["html"]


async def test_every_csv_neutralises_formulas(
    client_for, operator, manager, community, world, vk_settings
) -> None:
    seeded = await seed(client_for, operator, manager, community, world, vk_settings)
    client = seeded["manager"]
    exports = {}
    for name in STATS_CSVS:
        for dialect in ("csv", "excel"):
            exports[f"/stats/{name}.csv?dialect={dialect}"] = await fetch(
                client, f"/stats/{name}.csv?dialect={dialect}"
            )
    for url in ("/audit/journal.csv", "/audit/deleted.csv", "/audit/journal.csv?dialect=excel"):
        exports[url] = await fetch(client, url)
    for url, text in exports.items():
        assert_neutral_csv(text, url)
    # The hostile cells were there, and went out neutralised rather than dropped.
    assert "'-2+3" in exports["/stats/conversations.csv?dialect=csv"]
    assert "'@SUM(1+1)" in exports["/stats/conversations.csv?dialect=excel"]
    assert "'+1+cmd|' /C calc'!A0" in exports["/audit/deleted.csv"]
    assert "'@SUM(1+1)<script>" in exports["/audit/journal.csv"]
    assert "'+1+cmd|' /C calc'!A0" in exports["/audit/deleted.csv"]
    assert "'@SUM(1+1)" in exports["/audit/journal.csv"]


async def test_attachment_links_never_use_javascript_urls(client_for, operator, community, world) -> None:
    client = await client_for(operator)
    attachment = {"type": "doc", "url": "javascript:alert('a3')", "title": "<img src=x onerror=alert(4)>"}
    await deliver(
        client, message_new(world.group.id, world.members[0].id, "see file", cmid=1, attachments=[attachment])
    )
    conversation = await Conversation.get(community_id=community.id)
    for url, partial in [
        (f"/conversations/{conversation.id}", False),
        (f"/conversations/{conversation.id}/timeline", True),
    ]:
        assert_inert_page(await fetch(client, url, partial=partial), url)


async def test_author_names_are_bidi_isolated(client_for, operator, community, world) -> None:
    client = await client_for(operator)
    await deliver(client, message_new(world.group.id, world.members[0].id, "hello", cmid=1))
    await Author.filter(vk_id=world.members[0].id).update(name="\u202eevil")
    conversation = await Conversation.get(community_id=community.id)
    html = await fetch(client, f"/conversations/{conversation.id}")
    assert re.search(r"<bdi>\s*\u202eevil|dir=\"auto\"[^>]*>\s*\u202eevil", html)
