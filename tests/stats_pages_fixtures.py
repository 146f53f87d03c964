"""Data for the stats page tests: a random team's work over ten days, and a year of hourly traffic.

The rows are written directly (as the conversation state machine would leave them): the pages only
aggregate them, so what matters is that every kind of row and every kind of attribution is present.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
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
from tests.test_stats_scale import insert_many

# The random world spans 2024-03-01 .. 2024-03-10 (UTC); the tests ask for 2024-03-03 .. 2024-03-07
# in Moscow time, so rows fall before, inside and after the period.
WORLD_START = datetime(2024, 3, 1, tzinfo=UTC)
WORLD_DAYS = 10


async def build_random_world(seed: int) -> dict[str, list]:
    """Three communities, six operators (three linked to VK admins), a VK admin nobody is linked to,
    and 45 conversations with replies both ways, reaction samples, closings, deletions and bans."""
    rng = random.Random(seed)
    communities = [
        await Community.create(vk_group_id=2000 + n, name=f"Community {n}", sla_seconds=sla)
        for n, sla in enumerate((600, 900, 1800))
    ]
    operators = []
    for n in range(6):
        operators.append(
            await Operator.create(
                login=f"op{n}",
                display_name=f"Op {n}",
                password_hash="x",
                role=Role.OPERATOR,
                vk_user_id=9000 + n if n < 3 else None,
            )
        )
    unlinked_admin = 9999

    def moment() -> datetime:
        return WORLD_START + timedelta(seconds=rng.randrange(WORLD_DAYS * 86400))

    counter = 0
    for n in range(45):
        community = communities[n % 3]
        author = await Author.create(vk_id=100 + n, name=f"Author {n}")
        channel = rng.choice([Channel.MESSAGE, Channel.WALL])
        opened = moment()
        waiting = rng.random() < 0.3
        conversation = await Conversation.create(
            community=community,
            channel=channel,
            key=f"{channel}:{n}",
            author=author,
            opened_at=opened,
            status=ConversationStatus.OPEN,
            waiting_since=opened if waiting else None,
        )
        items = []
        for _ in range(rng.randrange(2, 9)):
            counter += 1
            direction = rng.choice([Direction.IN, Direction.OUT])
            extra: dict = {}
            if direction == Direction.OUT:
                how = rng.random()
                if how < 0.6:
                    extra["sent_by"] = rng.choice(operators)
                elif how < 0.8:
                    extra["admin_author_vk_id"] = 9000 + rng.randrange(3)
                elif how < 0.9:
                    extra["admin_author_vk_id"] = unlinked_admin
            items.append(
                await Item.create(
                    community=community,
                    conversation=conversation,
                    channel=channel,
                    key=f"{channel}:{n}:{counter}",
                    vk_id=counter,
                    direction=direction,
                    author=author if direction == Direction.IN else None,
                    created_at=moment(),
                    **extra,
                )
            )
        for _ in range(rng.randrange(0, 4)):
            end = moment()
            seconds = float(rng.choice([30, 300, 599, 600, 601, 899, 900, 1200, 1800, 1801, 7200]))
            await ReactionSample.create(
                community=community,
                conversation=conversation,
                channel=channel,
                operator=rng.choice([*operators, None]),
                outside_proxy=False,
                ended_by=rng.choice(["reply", "reply", "reply", "close"]),
                is_first=rng.random() < 0.4,
                started_at=end - timedelta(seconds=seconds),
                ended_at=end,
                seconds=seconds,
                business_seconds=seconds / 2 if rng.random() < 0.2 else None,
            )
        for _ in range(rng.randrange(0, 3)):
            closed = moment()
            duration = float(rng.randrange(60, 20000))
            await ConversationClose.create(
                community=community,
                conversation=conversation,
                operator=rng.choice([*operators, None]),
                kind=rng.choice([ClosingKind.WITH_REPLY, ClosingKind.WITHOUT_REPLY]),
                opened_at=closed - timedelta(seconds=duration),
                closed_at=closed,
                duration_seconds=duration,
            )
        for item in items:
            if item.direction == Direction.IN and rng.random() < 0.3:
                via = rng.choice(list(DeletedVia))
                by_operator = via == DeletedVia.PROXY
                restored = rng.random() < 0.5
                await ItemTombstone.create(
                    item=item,
                    deleted_at=moment(),
                    deleted_via=via,
                    deleter_vk_id=rng.choice([9000, 9001, unlinked_admin])
                    if via == DeletedVia.VK_ADMIN
                    else None,
                    deleted_by=rng.choice(operators) if by_operator else None,
                    restored_at=moment() if restored else None,
                    restored_by=rng.choice([*operators, None]) if restored else None,
                )
        if rng.random() < 0.25:
            how = rng.random()
            await Ban.create(
                community=community,
                author=author,
                banned_at=moment(),
                banned_by=rng.choice(operators) if how < 0.5 else None,
                admin_vk_id=rng.choice([9001, unlinked_admin]) if how >= 0.5 else None,
            )
    return {"communities": communities, "operators": operators}


async def seed_year_of_hours(year: int, community: Community, tz: ZoneInfo) -> int:
    """A year (in `tz`) of traffic in `community`: a few incoming messages in most hours, a reaction
    sample for each busy hour; returns the number of incoming items. Inserted in batches (an ORM object
    per row would take most of a browser test's time)."""
    rng = random.Random(year)
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    hours = int((end - start).total_seconds()) // 3600
    await Conversation.create(
        community=community, channel=Channel.MESSAGE, key="message:year", opened_at=start
    )
    conversation = await Conversation.get(key="message:year")
    items, samples = [], []
    incoming = 0
    for hour in range(hours):
        at = start + timedelta(hours=hour)
        # Busier by day than by night, busier on some days than others.
        local_hour = at.astimezone(tz).hour
        load = rng.randrange(0, 6 if 9 <= local_hour < 21 else 2)
        for k in range(load):
            items.append(
                (
                    community.id,
                    conversation.id,
                    "message",
                    f"message:year:{hour}:{k}",
                    "in",
                    at + timedelta(minutes=k),
                    "",
                    "[]",
                    1,
                    False,
                    at,
                )
            )
            incoming += 1
        if load:
            seconds = float(rng.randrange(60, 600) * (1 + load))
            ended = at + timedelta(seconds=seconds)
            if ended < end:
                samples.append(
                    (community.id, conversation.id, "message", None, True, "reply", False, at, ended, seconds)
                )
    await insert_many(
        "item",
        "community_id, conversation_id, channel, key, direction, created_at, text, attachments, version_count, is_deleted, recorded_at",
        items,
    )
    await insert_many(
        "reaction_sample",
        "community_id, conversation_id, channel, operator_id, outside_proxy, ended_by, is_first, started_at, ended_at, seconds",
        samples,
    )
    return incoming
