"""Feedback after an action on the conversation page (the answers of the action views and the partials
pushed after VK's outcome): a ban, a delete and a restore show at once that they are on their way, then
done or refused with VK's reason; a restored comment keeps the mark of its deletion; the reply-queued
notice names its row; closing without a reply asks for an optional reason, kept in the journal entry and
counted in the statistics."""

from __future__ import annotations

import re

import pytest

from proxy import actions
from proxy.access import ActionError
from proxy.audit import journal, signing
from proxy.audit.verify import verify_chain
from proxy.clock import utcnow
from proxy.models import Conversation, ConversationClose, ConversationStatus, JournalEntry, OutboxRow
from proxy.stats import drill as stats_drill
from proxy.stats.period import parse_period
from tests.actions_fixtures import drain
from tests.browser_fixtures import *  # noqa: F403
from tests.browser_fixtures import csrf_token
from web.views.conversation_live import AFFECTS

HX = {"HX-Request": "true"}
KEY = signing.JournalKey.generate("test.example/journal")


@pytest.fixture
async def english(inbox_client, operator):
    operator.locale = "en"
    await operator.save(update_fields=["locale"])
    return {**HX, "X-CSRF-Token": await csrf_token(inbox_client)}


async def _part(client, conversation_id: int, part: str) -> str:
    return await (await client.get(f"/conversations/{conversation_id}/{part}", headers=HX)).text()


async def test_a_ban_shows_at_once_then_its_outcome(
    inbox_client, english, mirror, world, vk_settings
) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "buy cheap followers")
    answer = await inbox_client.post(
        f"/conversations/{conversation.id}/ban", data={"reason": "1"}, headers=english
    )
    body = await answer.text()
    row = await OutboxRow.get(method="groups.ban")
    assert answer.status == 200 and f'id="ban-action-{row.id}"' in body
    assert "Banning in VK…" in body and 'action="/conversations/' + str(conversation.id) + '/ban"' not in body
    # VK's answer is pushed as the author card (web/views/live.py author_outcome_publisher).
    assert AFFECTS["author_changed"] == {"author"}
    assert await drain(vk_settings) == 1
    card = await _part(inbox_client, conversation.id, "author")
    assert "Banned" in card and "Banning in VK" not in card and "ban-action-" not in card


async def test_a_ban_vk_refuses_says_why(inbox_client, english, mirror, world, vk_settings) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "spam")
    world.state.faults.error("groups.ban", 15, message="Access denied: user is a community manager")
    await inbox_client.post(f"/conversations/{conversation.id}/ban", data={"reason": "1"}, headers=english)
    await drain(vk_settings)
    card = await _part(inbox_client, conversation.id, "author")
    assert "Ban failed: access denied" in card
    assert 'action="/conversations/' + str(conversation.id) + '/ban"' in card  # it can be tried again


async def test_a_delete_is_marked_at_once_then_confirmed(
    inbox_client, english, mirror, world, vk_settings
) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "rude words")
    answer = await inbox_client.post(f"/items/{item.id}/delete", headers=english)
    body = await answer.text()
    assert answer.status == 200
    classes = re.search(rf'<article class="([^"]*)" id="item-{item.id}"', body)
    assert classes and "moderating" in classes.group(1).split() and "Deleting in VK…" in body
    assert f'hx-post="/items/{item.id}/delete"' not in body  # nothing to click twice meanwhile
    assert await drain(vk_settings) == 1
    timeline = await _part(inbox_client, conversation.id, "timeline")
    assert "Deleted by an operator" in timeline and "Deleting in VK" not in timeline
    assert f'hx-post="/items/{item.id}/restore"' in timeline


async def test_a_delete_vk_refuses_says_why(inbox_client, english, mirror, world, vk_settings) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "rude words")
    world.state.faults.error("wall.deleteComment", 15, message="Access denied")
    await inbox_client.post(f"/items/{item.id}/delete", headers=english)
    await drain(vk_settings)
    timeline = await _part(inbox_client, conversation.id, "timeline")
    assert "Not deleted: access denied" in timeline
    assert f'hx-post="/items/{item.id}/delete"' in timeline


async def test_a_restored_comment_keeps_its_deletion_mark(
    inbox_client, english, mirror, world, vk_settings, operator
) -> None:
    conversation, item, _ = await mirror.comment(world.members[0], world.post, "keep me")
    await inbox_client.post(f"/items/{item.id}/delete", headers=english)
    await drain(vk_settings)
    answer = await inbox_client.post(f"/items/{item.id}/restore", headers=english)
    assert "Restoring in VK…" in await answer.text()
    await drain(vk_settings)
    timeline = await _part(inbox_client, conversation.id, "timeline")
    mark = timeline[timeline.index('class="restored-note"') :]
    mark = mark[: mark.index("</p>")]
    assert "Deleted" in mark and "restored" in mark and mark.count("Olga") == 2 and mark.count("<time>") == 2
    assert "Restoring in VK" not in timeline and f'hx-post="/items/{item.id}/delete"' in timeline


async def test_the_reply_notice_names_its_row(inbox_client, english, mirror, world) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "question")
    answer = await inbox_client.post(
        f"/conversations/{conversation.id}/reply", data={"text": "answer"}, headers=english
    )
    row = await OutboxRow.get(method="wall.createComment")
    assert f'data-queued-outbox="{row.id}"' in await answer.text()


async def test_closing_without_a_reply_asks_for_a_reason(inbox_client, english, mirror, world) -> None:
    journal.use_key(KEY)
    try:
        conversation, _, _ = await mirror.comment(world.members[0], world.post, "duplicate question")
        header = await _part(inbox_client, conversation.id, "header")
        assert '<details class="close-form"' in header
        assert "<legend>Why close without a reply? (optional)</legend>" in header
        for value, label in (("spam", "Spam"), ("duplicate", "Duplicate"),
                             ("no_answer_needed", "No answer needed"), ("other", "Other")):  # fmt: skip
            assert f'name="close_reason" value="{value}"> {label}' in header

        bad = await inbox_client.post(
            f"/conversations/{conversation.id}/close", data={"close_reason": "bored"}, headers=english
        )
        text = await bad.text()
        assert (
            bad.status == 422
            and "close_reason must be one of: spam, duplicate, no_answer_needed, other" in text
        )
        assert '<details class="close-form" open' in text
        assert await ConversationClose.all().count() == 0
        assert not await JournalEntry.filter(action="conversation.close").exists()
        assert (await Conversation.get(id=conversation.id)).status == ConversationStatus.OPEN

        closed = await inbox_client.post(
            f"/conversations/{conversation.id}/close", data={"close_reason": "duplicate"}, headers=english
        )
        assert closed.status == 200 and "Closed without a reply" in await closed.text()
        entry = await JournalEntry.get(action="conversation.close")
        closing = await ConversationClose.get()
        assert entry.params["reason"] == "duplicate" and closing.reason == "duplicate"
        report = await verify_chain(key=KEY)
        assert report.ok and report.macs_checked
    finally:
        journal.use_key(None)


async def test_a_bad_reason_is_refused_by_the_action_too(mirror, world, operator, vk_settings) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "x")
    entries = await JournalEntry.all().count()
    with pytest.raises(ActionError, match="the reason for closing is one of: spam, duplicate"):
        await actions.close_conversation(vk_settings, operator, conversation.id, reason="bored")
    assert await ConversationClose.all().count() == 0 and await JournalEntry.all().count() == entries


async def test_closing_with_a_reply_is_one_click_and_keeps_no_reason(
    mirror, world, operator, vk_settings
) -> None:
    conversation, _, _ = await mirror.comment(world.members[0], world.post, "x")
    await Conversation.filter(id=conversation.id).update(waiting_since=None)
    closing = await actions.close_conversation(vk_settings, operator, conversation.id, reason="spam")
    assert closing.reason is None
    assert "reason" not in (await JournalEntry.get(action="conversation.close")).params


async def test_closings_without_a_reply_are_counted_by_reason(
    client_for, mirror, world, operator, manager, vk_settings
) -> None:
    for n, reason in enumerate(["spam", "spam", None, "duplicate"]):
        conversation, _, _ = await mirror.comment(world.members[0], world.post, f"question {n}")
        await actions.close_conversation(vk_settings, operator, conversation.id, reason=reason)
    today = (await ConversationClose.first()).closed_at.astimezone(vk_settings.tz).date().isoformat()
    period = parse_period(today, today, vk_settings.tz)
    assert await stats_drill.close_reasons(period) == [("spam", 2), ("duplicate", 1), (None, 1)]
    assert await stats_drill.close_reasons(period, stats_drill.Who(operator_id=manager.id)) == []
    found = await stats_drill.drill(period, "closed_without_reply")
    assert found.figure == 4 and sum(n for _, n in found.reasons) == 4
    assert (await stats_drill.drill(period, "closings")).reasons == []

    manager.locale = "en"
    await manager.save(update_fields=["locale"])
    client = await client_for(manager)
    page = await (
        await client.get(f"/stats/drill?metric=closed_without_reply&from={today}&to={today}")
    ).text()
    table = page[page.index('id="close-reasons"') : page.index("</table>", page.index('id="close-reasons"'))]
    for reason, label, count in (
        ("spam", "Spam", 2),
        ("duplicate", "Duplicate", 1),
        ("", "no reason given", 1),
    ):
        assert re.search(
            rf'data-reason="{reason}"><td>(<span class="muted">)?{label}.*?<td class="num">{count}</td>',
            table,
        )
    csv = await (await client.get(f"/stats/conversations.csv?from={today}&to={today}")).text()
    header, *rows = csv.splitlines()
    column = header.split(",").index("close_reason")
    assert sorted(row.split(",")[column] for row in rows) == ["", "duplicate", "spam", "spam"]


async def test_a_ban_s_outcome_tells_the_author_card_and_a_reply_s_does_not(
    mirror, world, operator, vk_settings
) -> None:
    from proxy import outbox

    conversation, _, _ = await mirror.comment(world.members[0], world.post, "spam")
    await actions.reply(vk_settings, operator, conversation.id, "please stop")
    told: list[tuple[str, int | None]] = []
    for _ in range(2):  # one row of a conversation at a time: the reply, then the ban
        if _ == 1:
            await actions.ban_author(vk_settings, operator, conversation.id, reason=1, comment="", until=None)
        ids = await outbox.claim()
        await outbox.deliver_claimed(
            vk_settings,
            ids,
            now=utcnow(),
            on_change=lambda cid: told.append(("changed", cid)),
            on_author_change=lambda cid: told.append(("author", cid)),
        )
    assert told == [("changed", conversation.id), ("changed", conversation.id), ("author", conversation.id)]
