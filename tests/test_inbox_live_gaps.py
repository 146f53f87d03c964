"""Three gaps of the live inbox (issue 19): an "over SLA" list learns when its next row crosses the SLA with
no event of its own; a page pushed past its size hands its last row on to the next page; and a withdrawn
wait is neither "Answered" nor closed "with a reply" in words (the figures count it as docs/metrics.md says).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from proxy import actions, conversations, inbox
from proxy.access import scope_of
from proxy.clock import utcnow
from proxy.models import Author, Channel, ClosingKind, Conversation, JournalEntry
from tests.browser_fixtures import *  # noqa: F403

SLA = 900


async def _waiting(community, key: str, minutes: float) -> Conversation:
    author, _ = await Author.get_or_create(vk_id=7000 + len(key), defaults={"name": f"Author {key}"})
    now = utcnow()
    return await Conversation.create(
        community=community, channel=Channel.WALL, key=key, author=author, opened_at=now - timedelta(hours=2),
        waiting_since=now - timedelta(minutes=minutes), last_item_at=now - timedelta(minutes=minutes),
        preview=f"preview {key}",
    )  # fmt: skip


def _attribute(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, f"{name} missing"
    return found.group(1)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def test_an_over_sla_list_knows_when_its_next_row_crosses(client_for, operator, community) -> None:
    community.sla_seconds = SLA
    await community.save()
    over = await _waiting(community, "wall:1_1:1", 30)
    soon = await _waiting(community, "wall:1_1:2", 10)
    await _waiting(community, "wall:1_1:3", 2)
    now = utcnow()
    page = await inbox.inbox_page(await scope_of(operator), inbox.InboxFilter(over_sla=True), now=now)
    assert [row.conversation.id for row in page.rows] == [over.id]
    assert page.next_sla_at is not None
    assert _ms(page.next_sla_at) == _ms(soon.waiting_since + timedelta(seconds=SLA))
    # No other view needs it: its rows tick into "over SLA" in place.
    assert (await inbox.inbox_page(await scope_of(operator), inbox.InboxFilter(), now=now)).next_sla_at is None

    client = await client_for(operator)
    html = await (await client.get("/", params={"over_sla": "1"})).text()
    assert int(_attribute(html, "data-next-sla-at")) == _ms(soon.waiting_since + timedelta(seconds=SLA))
    assert _attribute(await (await client.get("/")).text(), "data-next-sla-at") == ""


async def test_a_full_page_can_hand_its_last_row_on(client_for, operator, community) -> None:
    rows = [await _waiting(community, f"wall:1_2:{n}", 50 - n) for n in range(3)]
    client = await client_for(operator)
    html = await (await client.get("/")).text()
    assert _attribute(html, "data-page-size") == str(inbox.PAGE_SIZE)
    assert _attribute(html, "data-first-url") == "/"
    # The next-page link is there, hidden, for app.js to show when pushed rows fill the page.
    assert re.search(r'<a data-next-page [^>]*hidden', html)
    # Each row carries the server's cursor after it: the page after row 1 starts at row 2.
    cursor = re.findall(r'data-cursor="([^"]*)"', html)[0]
    after = await (await client.get("/", params={"after": cursor})).text()
    assert re.findall(r'id="conversation-(\d+)"', after) == [str(rows[1].id), str(rows[2].id)]


async def test_a_withdrawn_wait_is_not_called_answered_nor_closed_with_a_reply(
    client_for, operator, community, vk_settings
) -> None:
    operator.locale = "en"
    await operator.save()
    conversation = await _waiting(community, "wall:1_3:1", 20)
    async with in_transaction() as conn:
        locked = await conversations.lock(conversation.id, conn)
        await conversations.waiting_withdrawn(locked, at=utcnow(), conn=conn)
    client = await client_for(operator)
    html = await (await client.get("/")).text()
    row = html[html.index(f'id="conversation-{conversation.id}"') :]
    row = row[: row.index("</tr>")]
    assert "Answered" not in row and "Nothing to answer" in row

    closing = await actions.close_conversation(vk_settings, operator, conversation.id)
    assert closing.kind == ClosingKind.WITH_REPLY  # the figures count it so (docs/metrics.md)
    entry = await JournalEntry.get(action="conversation.close")
    assert entry.params["nothing_to_answer"] is True
    journal = await (await client.get("/journal")).text()
    assert "with nothing to answer" in journal and "with a reply" not in journal


async def test_an_answered_wait_is_still_answered(client_for, operator, community, vk_settings) -> None:
    operator.locale = "en"
    await operator.save()
    conversation = await _waiting(community, "wall:1_4:1", 20)
    async with in_transaction() as conn:
        locked = await conversations.lock(conversation.id, conn)
        await conversations.community_replied(locked, at=utcnow(), operator_id=operator.id, outside_proxy=False, conn=conn)
    client = await client_for(operator)
    html = await (await client.get("/")).text()
    row = html[html.index(f'id="conversation-{conversation.id}"') :]
    assert "Answered" in row[: row.index("</tr>")]
    await actions.close_conversation(vk_settings, operator, conversation.id)
    entry = await JournalEntry.get(action="conversation.close")
    assert "nothing_to_answer" not in entry.params
    assert "closed the conversation with" in (journal := await (await client.get("/journal")).text())
    assert "with a reply" in journal and "with nothing to answer" not in journal
