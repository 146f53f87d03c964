"""Shared pieces of the security tests: the hostile corpus, callback events built around it, and checks that a
page, an SSE frame or a CSV treated it as inert text.

Import with `from tests.security_fixtures import ...`; the fixtures of tests/browser_fixtures.py (app wired to
the VK emulator, a community, operators) are imported by the test modules themselves.
"""

from __future__ import annotations

import csv
import io
import json
import time
from html.parser import HTMLParser
from itertools import count
from typing import Any

from aiohttp.test_utils import TestClient

CALLBACK_SECRET = "callback-secret"  # tests/actions_fixtures.py: the community's callback secret

# Each entry is something a commenter, a member's VK profile or a careless colleague could type.
XSS_CORPUS = [
    "<script>alert('x1')</script>",
    "<img src=x onerror=\"alert('x2')\">",
    "<svg onload=alert('x3')>",
    "<a href=\"javascript:alert('x4')\">click</a>",
    '<div hx-get="/logout" hx-trigger="load">x5</div>',
    '<button hx-post="/conversations/1/close" hx-trigger="load">x6</button>',
    '"><script src=//evil.example/x7.js></script>',
    "' onmouseover='alert(8)' x='",
    "{{7*7}} {{ config }}",
    "{% for x in range(3) %}x9{% endfor %}",
    "<iframe src=\"javascript:alert('x10')\"></iframe>",
    "\u202eevil\u202c \u2066x11\u2069 \u200f",
    "</textarea><script>alert('x12')</script>",
    '<form action="https://evil.example"><input name=x13></form>',
]
HOSTILE_TEXT = "\n".join(XSS_CORPUS)
FORMULA_CELLS = ['=HYPERLINK("https://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)"]
# Attachments as VK sends them, plus the flat shape (url/title at the top) in case a page reads that.
HOSTILE_ATTACHMENTS = [
    {"type": "link", "link": {"url": "javascript:alert('a1')", "title": "<script>alert('a2')</script>"}},
    {"type": "link", "url": "https://vk.com/away.php?to=x", "title": '{{7*7}}<b hx-get="/logout">a5</b>'},
]

_event_ids = count(1)


def next_event_id() -> str:
    return f"{next(_event_ids):040x}"


def message_new(
    group_id: int, from_id: int, text: str, *, cmid: int, attachments: list[Any] | None = None
) -> dict:
    return {
        "type": "message_new",
        "group_id": group_id,
        "event_id": next_event_id(),
        "v": "5.199",
        "object": {
            "message": {
                "id": 9000 + cmid,
                "date": int(time.time()),
                "peer_id": from_id,
                "from_id": from_id,
                "text": text,
                "conversation_message_id": cmid,
                "attachments": attachments or [],
                "out": 0,
            },
            "client_info": {},
        },
    }


def wall_reply(
    kind: str,
    group_id: int,
    from_id: int,
    text: str,
    *,
    comment_id: int,
    post_id: int,
    attachments: list[Any] | None = None,
) -> dict:
    """wall_reply_new / _edit / _delete (the delete carries no text, as in VK)."""
    if kind == "wall_reply_delete":
        obj: dict[str, Any] = {
            "owner_id": -group_id,
            "id": comment_id,
            "post_id": post_id,
            "deleter_id": from_id,
        }
    else:
        obj = {
            "id": comment_id,
            "from_id": from_id,
            "post_id": post_id,
            "owner_id": -group_id,
            "parents_stack": [],
            "date": int(time.time()),
            "text": text,
            "attachments": attachments or [],
            "post_owner_id": -group_id,
        }
    return {"type": kind, "group_id": group_id, "event_id": next_event_id(), "v": "5.199", "object": obj}


async def deliver(client: TestClient, event: dict) -> None:
    """POST an event to the real callback endpoint, as VK would; it must be acknowledged."""
    body = json.dumps({**event, "secret": CALLBACK_SECRET}, ensure_ascii=False).encode()
    response = await client.post(f"/callback/vk/{event['group_id']}", data=io.BytesIO(body))
    assert (response.status, await response.text()) == (200, "ok")


# --- checks -----------------------------------------------------------------------------------------------

SCRIPT_SOURCES_ALLOWED = "/static/"
FORBIDDEN_TAGS = {"iframe", "svg", "object", "embed", "base"}


class _Markup(HTMLParser):
    """Every element and attribute the browser would build from a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def markup_problems(html: str) -> list[str]:
    """What in a page could run or act: scripts not from /static/, event handlers, javascript: URLs,
    htmx attributes pointing where no template points, elements no template uses."""
    parser = _Markup()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.tags:
        if tag == "script" and not str(attrs.get("src") or "").startswith(SCRIPT_SOURCES_ALLOWED):
            problems.append(f"<script {attrs}>")
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            text = (value or "").strip().lower()
            if name.startswith("on"):
                problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and text.startswith(
                ("javascript:", "data:text")
            ):
                problems.append(f"<{tag} {name}={value!r}>")
            if name.startswith(("hx-", "data-hx-")) and (
                "logout" in text or "evil" in text or text == "load"
            ):
                problems.append(f"<{tag} {name}={value!r}> from content")
            if name == "action" and "evil" in text:
                problems.append(f"<{tag} action={value!r}>")
    return problems


def assert_inert_page(html: str, where: str) -> None:
    problems = markup_problems(html)
    assert not problems, f"{where}: {problems}"


def assert_neutral_csv(text: str, where: str) -> list[list[str]]:
    """Every cell a spreadsheet would run as a formula is neutralised (numbers are numbers, not formulas)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                try:
                    float(cell.replace(",", "."))
                except ValueError:
                    raise AssertionError(f"{where}: formula cell {cell!r}") from None
    return rows
