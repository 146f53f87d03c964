"""Incident timelines merge content and actions in time order; search finds content and journal text."""

from __future__ import annotations

import pytest

from proxy.audit import journal
from proxy.audit.incidents import (
    EventKind,
    HitSource,
    TimelineScope,
    group_by_conversation,
    iter_timeline,
    search,
    timeline,
)
from proxy.audit.search import SearchError
from proxy.models import ActorKind, Author, Channel, Conversation
from tests.audit_fixtures import at, fill_every_table, make_base


def _lines(events) -> list[tuple]:
    return [(e.at, e.kind, e.detail, e.text) for e in events]


async def test_conversation_timeline(db: str) -> None:
    base = await make_base()
    await fill_every_table(base)
    events = await timeline(TimelineScope(conversation_id=base.conversation.id))
    reply_text = 'Ответ с "кавычками", запятой\nи переводом строки'
    assert _lines(events) == [
        (at(2, 9), EventKind.ITEM, "in", "Хлеб черствый"),
        (at(2, 9, 10), EventKind.EDIT, "edit", "Хлеб черствый, верните деньги"),
        (at(2, 9, 20), EventKind.EDIT, "edit", "Хлеб черствый, верните деньги!!!"),
        (at(2, 9, 30), EventKind.JOURNAL, "reply.send", reply_text),
        (at(2, 9, 30, 15, 123456), EventKind.ITEM, "out", reply_text),
        (at(2, 10), EventKind.DELETE, "vk_admin", "Хлеб черствый, верните деньги!!!"),
        (at(2, 10), EventKind.JOURNAL, "vk.delete", "Хлеб черствый, верните деньги!!!"),
        (at(2, 11), EventKind.RESTORE, "restore", "Хлеб черствый, верните деньги!!!"),
        (at(2, 11), EventKind.JOURNAL, "comment.restore", ""),
        (at(3, 12), EventKind.ITEM, "in", "spam spam"),
        (at(3, 12, 5), EventKind.DELETE, "proxy", "spam spam"),
    ]
    # Pages of three continue exactly where the previous one stopped.
    paged = [e async for e in iter_timeline(TimelineScope(conversation_id=base.conversation.id), page_size=3)]
    assert paged == events


async def test_operator_author_and_period_timelines(db: str) -> None:
    base = await make_base()
    await fill_every_table(base)
    await journal.record(
        "auth.login", actor_kind=ActorKind.OPERATOR, operator_id=base.operator.id, at=at(2, 8)
    )

    olga = await timeline(TimelineScope(operator_id=base.operator.id))
    assert [(e.at, e.kind, e.detail) for e in olga] == [
        (at(2, 8), EventKind.JOURNAL, "auth.login"),
        (at(2, 9, 30), EventKind.JOURNAL, "reply.send"),
        (at(2, 9, 30, 15, 123456), EventKind.ITEM, "out"),
        # Deleted in VK from the VK account linked to olga: hers, though not through the proxy.
        (at(2, 10), EventKind.DELETE, "vk_admin"),
        (at(2, 10), EventKind.JOURNAL, "vk.delete"),
        (at(3, 12, 5), EventKind.DELETE, "proxy"),
    ]
    maxim = await timeline(TimelineScope(operator_id=base.manager.id))
    assert [(e.kind, e.detail) for e in maxim] == [
        (EventKind.RESTORE, "restore"),
        (EventKind.JOURNAL, "comment.restore"),
    ]

    # Another author's conversation stays out of this author's timeline.
    other = await Author.create(vk_id=9009, name="Other")
    other_conv = await Conversation.create(
        community=base.community,
        channel=Channel.MESSAGE,
        key="message:9009",
        author=other,
        opened_at=at(4, 9),
    )
    await journal.record(
        "note.add", actor_kind=ActorKind.OPERATOR, conversation_id=other_conv.id, text="x", at=at(4, 9)
    )
    ivan = await timeline(TimelineScope(author_id=base.author.id))
    assert len(ivan) == 11 and all(e.conversation_id == base.conversation.id for e in ivan)

    window = await timeline(TimelineScope(since=at(2, 10), until=at(3, 0)))
    assert [(e.kind, e.detail) for e in window] == [
        (EventKind.DELETE, "vk_admin"),
        (EventKind.JOURNAL, "vk.delete"),
        (EventKind.RESTORE, "restore"),
        (EventKind.JOURNAL, "comment.restore"),
    ]
    assert await timeline(TimelineScope(community_ids=())) == []
    with pytest.raises(ValueError, match="one conversation, one author or one operator"):
        TimelineScope(author_id=1, operator_id=2)


async def test_search_content_and_journal(db: str) -> None:
    base = await make_base()
    await fill_every_table(base)
    await journal.record(
        "note.add",
        actor_kind=ActorKind.OPERATOR,
        operator_id=base.operator.id,
        conversation_id=base.conversation.id,
        text="Клиент просит вернуть деньги за хлеб",
        at=at(4, 9),
    )
    hits = await search("деньги")
    # The story's comment matches in two versions but is listed once, with its newest matching one.
    assert [(h.source, h.at, h.detail) for h in hits] == [
        (HitSource.JOURNAL, at(4, 9), "note.add"),
        (HitSource.JOURNAL, at(2, 10), "vk.delete"),
        (HitSource.CONTENT, at(2, 9, 20), "3"),
    ]
    assert list(group_by_conversation(hits)) == [base.conversation.id]
    assert [h.source for h in await search("деньги", since=at(3, 0))] == [HitSource.JOURNAL]
    assert await search("деньги", community_ids=()) == []
    assert [h.text for h in await search("SPAM")] == ["spam spam"]
    with pytest.raises(SearchError):
        await search("   ")
