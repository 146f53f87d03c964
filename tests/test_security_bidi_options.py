"""Names inside `<option>` are bidi-isolated (U+2068 ... U+2069, since no element may go there): a U+202E in a
canned response's title or a community's name cannot reverse the rest of the option's text.

The reply form's canned responses and the statistics' community choice showed them bare.
"""

from __future__ import annotations

import re

from proxy.models import CannedResponse, Community, Conversation, Operator
from tests.browser_fixtures import *  # noqa: F403
from tests.security_fixtures import deliver, message_new

RLO = "\u202e"
OPTION = re.compile(r"<option\b[^>]*>(.*?)</option>", re.S)


def options_with_overrides(html: str) -> list[str]:
    return [text for text in OPTION.findall(html) if RLO in text]


def bare(options: list[str]) -> list[str]:
    """Options whose override is not inside an isolate."""
    return [text for text in options if not re.search("\u2068[^\u2069]*" + RLO + "[^\u2069]*\u2069", text)]


async def test_canned_response_titles_are_isolated_in_the_reply_form(
    client_for, operator: Operator, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    await CannedResponse.create(title=f"{RLO}evil title", text="hello")
    client = await client_for(operator)
    await deliver(client, message_new(world.group.id, world.members[0].id, "hi", cmid=1))
    conversation = await Conversation.get(community_id=community.id)
    response = await client.get(f"/conversations/{conversation.id}")
    assert response.status == 200
    options = options_with_overrides(await response.text())
    assert options, "the hostile title did not reach the page, the test would prove nothing"
    assert bare(options) == [], options


async def test_community_names_are_isolated_in_the_statistics_choice(
    client_for, manager: Operator, community: Community
) -> None:  # type: ignore[no-untyped-def]
    await Community.filter(id=community.id).update(name=f"{RLO}evil community")
    client = await client_for(manager)
    for url, headers in [("/stats", {}), ("/stats", {"HX-Request": "true"})]:
        response = await client.get(url, headers=headers)
        assert response.status == 200
        options = options_with_overrides(await response.text())
        assert options, "the hostile name did not reach the page, the test would prove nothing"
        assert bare(options) == [], (url, options)
