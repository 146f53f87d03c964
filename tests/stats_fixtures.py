"""The worked example of docs/metrics.md, built row by row as the conversation state machine would.

Team time zone Europe/Moscow (UTC+3, no DST). Community "Shop", SLA 900 s. Operators anna (VK id 501)
and boris; a manager maria with no activity; a VK admin 777 linked to nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from proxy.models import (
    Author,
    Ban,
    Channel,
    ClosingKind,
    Community,
    Conversation,
    ConversationClose,
    ConversationStatus,
    DeletedVia,
    Direction,
    Item,
    ItemTombstone,
    Operator,
    ReactionSample,
    Role,
)

MSK = ZoneInfo("Europe/Moscow")
# "Now" for the queue figures: Wednesday 2024-03-06 09:30 Moscow time.
NOW = datetime(2024, 3, 6, 9, 30, tzinfo=MSK).astimezone(UTC)


def msk(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of March 2024, Moscow time, as UTC."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=MSK).astimezone(UTC)


async def make_operator(login: str, role: Role = Role.OPERATOR, vk_user_id: int | None = None) -> Operator:
    return await Operator.create(
        login=login, display_name=login.title(), password_hash="x", role=role, vk_user_id=vk_user_id
    )


class Example:
    """Handles to the rows of the worked example."""

    community: Community
    anna: Operator
    boris: Operator
    maria: Operator
    a: Conversation
    b: Conversation
    c: Conversation


async def build_worked_example() -> Example:
    ex = Example()
    shop = ex.community = await Community.create(vk_group_id=1001, name="Shop", sla_seconds=900)
    ex.anna = await make_operator("anna", vk_user_id=501)
    ex.boris = await make_operator("boris")
    ex.maria = await make_operator("maria", Role.MANAGER)
    ivan = await Author.create(vk_id=11, name="Ivan Petrov")
    olga = await Author.create(vk_id=12, name="Olga Smirnova")
    petr = await Author.create(vk_id=13, name="=Petr")

    counter = iter(range(1, 1000))

    async def item(conv: Conversation, direction: Direction, at: datetime, **extra) -> Item:
        n = next(counter)
        return await Item.create(
            community=shop,
            conversation=conv,
            channel=conv.channel,
            key=f"{conv.key}:{n}",
            vk_id=n,
            direction=direction,
            author=conv.author if direction == Direction.IN else None,
            created_at=at,
            **extra,
        )

    async def sample(conv, operator, start, end, *, first=False, ended_by="reply", outside=False):
        await ReactionSample.create(
            community=shop,
            conversation=conv,
            channel=conv.channel,
            operator=operator,
            outside_proxy=outside,
            ended_by=ended_by,
            is_first=first,
            started_at=start,
            ended_at=end,
            seconds=(end - start).total_seconds(),
        )

    async def close(conv, operator, kind, opened, closed):
        await ConversationClose.create(
            community=shop,
            conversation=conv,
            operator=operator,
            kind=kind,
            opened_at=opened,
            closed_at=closed,
            duration_seconds=(closed - opened).total_seconds(),
        )

    # Conversation A (messages, Ivan): answered twice by anna, closed with reply, reopened on the 6th.
    a = ex.a = await Conversation.create(
        community=shop,
        channel=Channel.MESSAGE,
        key="message:11",
        author=ivan,
        opened_at=msk(6, 9),
        status=ConversationStatus.OPEN,
        waiting_since=msk(6, 9),
    )
    await item(a, Direction.IN, msk(4, 10, 0))
    await item(a, Direction.OUT, msk(4, 10, 5), sent_by=ex.anna)
    await sample(a, ex.anna, msk(4, 10, 0), msk(4, 10, 5), first=True)
    await item(a, Direction.IN, msk(4, 10, 20))
    await item(a, Direction.OUT, msk(4, 10, 40), sent_by=ex.anna)
    await sample(a, ex.anna, msk(4, 10, 20), msk(4, 10, 40))
    await close(a, ex.anna, ClosingKind.WITH_REPLY, msk(4, 10, 0), msk(4, 10, 50))
    await item(a, Direction.IN, msk(6, 9, 0))  # Ivan again, 1 day 22 h 10 min after the close

    # Conversation B (wall, Olga): comments deleted and restored, Olga banned, closed without reply.
    b = ex.b = await Conversation.create(
        community=shop,
        channel=Channel.WALL,
        key="wall:-1001_5:100",
        author=olga,
        opened_at=msk(4, 11),
        status=ConversationStatus.CLOSED,
        closed_at=msk(4, 11, 30),
        closing_kind=ClosingKind.WITHOUT_REPLY,
        closed_by=ex.boris,
    )
    comment = await item(b, Direction.IN, msk(4, 11, 0))
    spam = await item(b, Direction.IN, msk(4, 11, 10))
    # anna removes the second comment directly in VK; boris restores it through the proxy.
    await ItemTombstone.create(
        item=spam,
        deleted_at=msk(4, 11, 12),
        deleted_via=DeletedVia.VK_ADMIN,
        deleter_vk_id=501,
        restored_at=msk(4, 11, 20),
        restored_by=ex.boris,
    )
    await ItemTombstone.create(
        item=comment, deleted_at=msk(4, 11, 25), deleted_via=DeletedVia.PROXY, deleted_by=ex.boris
    )
    await Ban.create(community=shop, author=olga, banned_at=msk(4, 11, 26), banned_by=ex.boris)
    await sample(b, ex.boris, msk(4, 11, 0), msk(4, 11, 30), first=True, ended_by="close")
    await close(b, ex.boris, ClosingKind.WITHOUT_REPLY, msk(4, 11, 0), msk(4, 11, 30))

    # Conversation C (messages, Petr): anna answers directly in VK, then an unlinked VK admin does.
    c = ex.c = await Conversation.create(
        community=shop,
        channel=Channel.MESSAGE,
        key="message:13",
        author=petr,
        opened_at=msk(4, 12),
        status=ConversationStatus.OPEN,
        assignee=ex.anna,
    )
    await item(c, Direction.IN, msk(4, 12, 0))
    await item(c, Direction.OUT, msk(4, 12, 10), admin_author_vk_id=501)
    await sample(c, ex.anna, msk(4, 12, 0), msk(4, 12, 10), first=True, outside=True)
    await item(c, Direction.IN, msk(4, 12, 30))
    await item(c, Direction.OUT, msk(4, 12, 32), admin_author_vk_id=777)
    await sample(c, None, msk(4, 12, 30), msk(4, 12, 32), outside=True)
    return ex
