"""Attachments are linked only to web addresses, and names people write themselves are bidi-isolated.

A commenter controls an attachment's URL and title (a `link` attachment can say `javascript:...`), a
member controls their VK name, a colleague their display name, a community admin the community's name.
URLs in any scheme but http(s) are shown as text; every such short text shown inline sits in a <bdi>
(or, where no element may go, between U+2068 and U+2069), so a U+202E in it cannot reverse the page text
around it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from aiohttp.test_utils import TestClient

from proxy.clock import utcnow
from proxy.models import Author, Ban, Community, Conversation, Note, Operator, Role
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import screenshot_path
from tests.ingest_samples import load_event
from tests.security_fixtures import deliver, markup_problems, message_new
from web.attachments import attachment_views, safe_url


def sample_attachments(name: str) -> list[dict]:
    return load_event(name)["object"]["message"]["attachments"]


RLO = "\u202e"

SAFE = [
    ("https://vk.com/away.php?to=x", "https://vk.com/away.php?to=x"),
    ("http://example.org/a b", "http://example.org/a b"),
    ("  https://example.org/\n", "https://example.org/"),
    ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"),
]
REFUSED = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " \x01javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:image/svg+xml;base64,PHN2Zz4=",
    "file:///etc/passwd",
    "//evil.example/x",
    "/logout",
    "https://",
    "http:///path-without-host",
    "https://[::1",  # urlsplit raises on it
    "",
    None,
    42,
]


@pytest.mark.parametrize(("url", "expected"), SAFE)
def test_web_addresses_are_kept(url: str, expected: str) -> None:
    assert safe_url(url) == expected


@pytest.mark.parametrize("url", REFUSED)
def test_other_addresses_are_refused(url: object) -> None:
    assert safe_url(url) is None


def test_vk_shapes_become_views() -> None:
    photo = sample_attachments("message_new-4.json")
    wall_reply = sample_attachments("message_new-7.json")
    views = attachment_views(
        [
            *photo,
            *wall_reply,
            {"type": "link", "link": {"url": "javascript:alert(1)", "title": "click"}},
            {"type": "doc", "doc": {"url": "https://vk.com/doc1_2", "title": "report.pdf"}},
            {"type": "video", "video": {"owner_id": -5, "id": 7, "title": "clip"}},
            {"type": "audio", "audio": {"artist": "A", "title": "B"}},
            {"type": "poll", "poll": {"question": "Why?"}},
            {"type": "photo", "photo": {"sizes": "not a list"}},
            "not an attachment",
            {"type": ["odd"]},
        ]
    )
    first = views[0]
    assert first.kind == "photo"
    # The largest size is the link; the thumbnail is the "x" size (604 px), both VK's own https URLs.
    assert first.url == "https://sun9-13.userapi.com/Bue-eUHzRJ-awcwbYWQYyC_cfyYn2aV1pjwjmw/eBjFGonNLMg.jpg"
    assert first.image == "https://sun9-27.userapi.com/uG0dCKSfxdeYtcEe-R2bOKaMBpQQChJ-b-sTEA/C7cD6Zv-slI.jpg"
    assert (views[1].kind, views[1].url, views[1].title) == (
        "wall_reply",
        "https://vk.com/wall-666_555?reply=333",
        "abc",
    )
    assert (views[2].url, views[2].title, views[2].refused_url) == (None, "click", "javascript:alert(1)")
    assert (views[3].url, views[3].title) == ("https://vk.com/doc1_2", "report.pdf")
    assert views[4].url == "https://vk.com/video-5_7"
    assert views[5].title == "A — B"
    assert views[6].title == "Why?"
    assert (views[7].url, views[7].image) == (None, None)
    assert [v.kind for v in views[8:]] == ["", ""]
    assert attachment_views("not a list") == [] and attachment_views(None) == []


HOSTILE_LINKS = [
    {"type": "link", "link": {"url": url, "title": f"link {n}"}} for n, url in enumerate(REFUSED[:9])
]


async def test_refused_addresses_are_shown_as_text_on_the_page(
    inbox_client: TestClient, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    photo = sample_attachments("message_new-4.json")
    good = {"type": "link", "link": {"url": "https://example.org/page", "title": "good link"}}
    await deliver(
        inbox_client,
        message_new(
            world.group.id, world.members[0].id, "files", cmid=1, attachments=[*photo, good, *HOSTILE_LINKS]
        ),
    )
    conversation = await Conversation.get(community_id=community.id)
    for partial in (False, True):
        url = f"/conversations/{conversation.id}" + ("/timeline" if partial else "")
        response = await inbox_client.get(url, headers={"HX-Request": "true"} if partial else {})
        html = await response.text()
        assert response.status == 200
        assert markup_problems(html) == []
        hrefs = _attribute_values(html, "href") + _attribute_values(html, "src")
        for attachment in HOSTILE_LINKS:
            # Shown, as its title and the address in words, but never in an attribute.
            assert f"<bdi>{attachment['link']['title']}</bdi>" in html
            assert attachment["link"]["url"].strip() not in hrefs
        assert "javascript:alert(1)</code>" in html
        assert (
            '<a href="https://example.org/page" rel="noopener noreferrer" target="_blank"><bdi>good link</bdi></a>'
            in html
        )
        assert "https://sun9-27.userapi.com/uG0dCKSfxdeYtcEe-R2bOKaMBpQQChJ-b-sTEA/C7cD6Zv-slI.jpg" in hrefs


def _attribute_values(html: str, name: str) -> list[str]:
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(value or "" for key, value in attrs if key == name)

    Parser(convert_charrefs=True).feed(html)
    return found


# --- bidi isolation ------------------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Isolation(HTMLParser):
    """Text nodes holding U+202E that no <bdi> (or dir=auto) encloses, and where they were."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.loose: list[str] = []
        self.isolated = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append((tag, tag == "bdi" or ("dir", "auto") in attrs))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if RLO not in data:
            return
        where = [tag for tag, _ in self.stack]
        if any(isolating for _, isolating in self.stack):
            self.isolated += 1
        elif (
            where
            and where[-1] in ("title", "option")
            and all(_between_isolates(data, at) for at in _positions(data, RLO))
        ):
            self.isolated += 1
        else:
            self.loose.append(f"{'>'.join(where)}: {data.strip()!r}")


def _positions(text: str, char: str) -> list[int]:
    return [i for i, c in enumerate(text) if c == char]


def _between_isolates(text: str, at: int) -> bool:
    return text.rfind("\u2068", 0, at) > text.rfind("\u2069", 0, at) and text.find("\u2069", at) != -1


def loose_overrides(html: str) -> tuple[list[str], int]:
    parser = _Isolation()
    parser.feed(html)
    return parser.loose, parser.isolated


async def test_names_and_titles_are_isolated_everywhere(
    client_for, operator: Operator, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    member = world.members[0]
    rtl = await Operator.create(
        login="rtl", display_name=f"{RLO}evil op", password_hash="x", role=Role.OPERATOR
    )
    await rtl.communities.add(community)
    client = await client_for(operator)
    attachment = {"type": "doc", "doc": {"url": "https://vk.com/doc1_2", "title": f"{RLO}fdp.exe"}}
    refused = {"type": "link", "link": {"url": "javascript:x", "title": f"{RLO}lnk"}}
    await deliver(
        client, message_new(world.group.id, member.id, "hello", cmid=1, attachments=[attachment, refused])
    )
    await deliver(client, message_new(world.group.id, world.members[1].id, "other", cmid=1))
    await Author.filter(vk_id=member.id).update(name=f"{RLO}evil name")
    await Community.filter(id=community.id).update(name=f"{RLO}evil community")
    conversation = await Conversation.get(community_id=community.id, author__vk_id=member.id)
    await Conversation.filter(id=conversation.id).update(assignee_id=rtl.id)
    await Note.create(conversation_id=conversation.id, operator_id=rtl.id, text="a note")
    author = await Author.get(vk_id=member.id)
    await Ban.create(
        community_id=community.id,
        author_id=author.id,
        banned_at=utcnow() - timedelta(days=2),
        comment=f"{RLO}spam",
        banned_by_id=rtl.id,
        lifted_at=utcnow() - timedelta(days=1),
    )
    # The hostile-named operator has the conversation open, so the other one sees their name in presence.
    rtl_client = await client_for(rtl)
    stream = await rtl_client.get(f"/live?conversation={conversation.id}")
    seen = b""
    async with asyncio.timeout(10):
        while b'"target": "presence"' not in seen:  # their arrival is pushed: they are in
            seen += await stream.content.readany()
    pages = {
        "inbox": ("/", False),
        "inbox list": ("/", True),
        "conversation": (f"/conversations/{conversation.id}", False),
        **{
            part: (f"/conversations/{conversation.id}/{part}", True)
            for part in ("header", "timeline", "author", "presence")
        },
        "own name in the top bar": ("/", False),
    }
    isolated_total = 0
    for label, (url, partial) in pages.items():
        viewer = rtl_client if label == "own name in the top bar" else client
        response = await viewer.get(url, headers={"HX-Request": "true"} if partial else {})
        html = await response.text()
        assert response.status == 200, (label, html[:300])
        loose, isolated = loose_overrides(html)
        assert loose == [], label
        assert isolated > 0, f"{label}: no hostile name reached the page, the test would prove nothing"
        isolated_total += isolated
    stream.close()
    # Author, assignee, community, note author, ban author and comment, both attachment titles, the
    # presence line, the page title and the assignee option: each at least once.
    assert isolated_total >= 20


@pytest.mark.browser
async def test_screenshot_of_attachments_and_isolated_names(
    browser, live_server, operator: Operator, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    from tests.browser_fixtures import log_in_page

    photo = sample_attachments("message_new-4.json")
    # The photo's URLs point at VK's servers; a page on loopback should not fetch them.
    for size in photo[0]["photo"]["sizes"]:
        size["url"] = "https://vk.invalid/" + size["type"] + ".jpg"
    attachments = [
        *photo,
        {"type": "doc", "doc": {"url": "https://vk.invalid/doc", "title": f"{RLO}fdp.exe"}},
        {"type": "link", "link": {"url": "javascript:alert(1)", "title": "click me"}},
    ]
    world.members[0].first_name = f"{RLO}Анна evil"  # what users.get will say
    world.scenario.member_writes_message(
        world.group, world.members[0], "see attached", attachments=attachments
    )
    base_url = str(live_server.make_url("/"))
    page = await browser.new_page()
    try:
        await log_in_page(page, base_url, operator)
        await page.wait_for_selector("#conversation-list a[href^='/conversations/']", timeout=20_000)
        await page.click("#conversation-list a[href^='/conversations/']")
        await page.wait_for_selector(".attachments")
        # The name comes from the member's VK profile, read by a background worker: wait for it.
        async with asyncio.timeout(20):
            while not (await page.locator("#author-card h2").inner_text()).startswith(RLO):
                await asyncio.sleep(0.2)
                await page.reload()
        assert await page.locator(".attachments a[href^='javascript:']").count() == 0
        assert await page.locator(".attachments code.refused-url").inner_text() == "javascript:alert(1)"
        await page.screenshot(path=screenshot_path("attachments-and-bidi.png"), full_page=True)
    finally:
        await page.close()
