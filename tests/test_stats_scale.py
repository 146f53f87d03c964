"""operators.csv over 100 operators and 200,000 reaction samples, against a computation in Python."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from tortoise import connections

from proxy import accounts
from proxy.db.sql import sqlite_timestamp
from proxy.models import (
    Channel,
    ClosingKind,
    Community,
    Conversation,
    Operator,
    ReactionSample,
    Role,
)

OPERATORS = 100
SAMPLES = 200_000
CLOSES = 20_000
CONVERSATIONS = 2_000
BATCH = 5_000
# The period asked for is March 2024 in Moscow time; a tenth of the rows fall outside it.
PERIOD_START = datetime(2024, 2, 29, 21, 0, tzinfo=UTC)
PERIOD_END = datetime(2024, 3, 31, 21, 0, tzinfo=UTC)


async def insert_many(table: str, columns: str, rows: list[tuple]) -> None:
    """Plain batched inserts (COPY on PostgreSQL): building 200,000 ORM objects would take most of the
    test's time."""
    connection = connections.get("default")
    names = [c.strip() for c in columns.split(",")]
    if connection.capabilities.dialect == "postgres":
        async with connection.acquire_connection() as raw:
            await raw.copy_records_to_table(table, records=rows, columns=names)
        return
    # SQLite keeps timestamps as tortoise's UTC text.
    rows = [tuple(sqlite_timestamp(v) if isinstance(v, datetime) else v for v in row) for row in rows]
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in names)})"
    await connection.execute_many(sql, rows)


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    value = round(float(value), 1)
    return str(int(value)) if value.is_integer() else repr(value)


def _expected_row(label: str, reactions: list[dict], closes: list[dict], sla: int) -> str:
    """One operators.csv line computed here, independently of the SQL."""
    seconds = sorted(s["seconds"] for s in reactions)
    firsts = [s["seconds"] for s in reactions if s["is_first"]]
    with_reply = sum(1 for c in closes if c["kind"] == ClosingKind.WITH_REPLY)
    cells = [label, "0", "0", str(len({c["conversation"] for c in closes})), str(len(seconds))]
    if seconds:
        p90 = statistics.quantiles(seconds, n=10, method="inclusive")[8] if len(seconds) > 1 else seconds[0]
        cells += [_cell(statistics.fmean(seconds)), _cell(statistics.median(seconds)), _cell(p90)]
        cells += [_cell(seconds[0]), _cell(seconds[-1]), _cell(statistics.fmean(firsts) if firsts else None)]
    else:
        cells += [""] * 6
    cells += [str(with_reply), str(len(closes) - with_reply), "0", "0", "0"]
    met = sum(1 for s in seconds if s <= sla)
    cells.append(_cell(100.0 * met / len(seconds)) if seconds else "")
    cells.append(_cell(statistics.fmean(c["duration"] for c in closes)) if closes else "")
    return ",".join(cells)


async def test_operators_csv_matches_an_independent_computation(client) -> None:
    rng = random.Random(20240301)
    shop = await Community.create(vk_group_id=1, name="Shop", sla_seconds=900)
    await Operator.bulk_create(
        [Operator(login=f"op{n:03d}", password_hash="x", role=Role.OPERATOR) for n in range(OPERATORS)]
    )
    operators = await Operator.all().order_by("login")
    manager = await accounts.create_operator("boss", "correct horse", Role.MANAGER)
    await Conversation.bulk_create(
        [
            Conversation(community=shop, channel=Channel.MESSAGE, key=f"message:{n}", opened_at=PERIOD_START)
            for n in range(CONVERSATIONS)
        ],
        batch_size=BATCH,
    )
    conversation_ids = [c["id"] for c in await Conversation.all().values("id")]
    span = int((PERIOD_END - PERIOD_START).total_seconds())

    def moment() -> datetime:
        # A tenth before or after the period; the rest inside it.
        offset = rng.randrange(-span // 20, span + span // 20)
        return PERIOD_START + timedelta(seconds=offset)

    in_period = defaultdict(list)
    samples, closes = [], []
    for n in range(SAMPLES):
        operator = None if n % 97 == 0 else operators[rng.randrange(OPERATORS)]
        ended_at = moment()
        seconds = rng.randrange(1, 5000)
        is_first = rng.random() < 0.3
        ended_by = "close" if n % 13 == 0 else "reply"
        started_at = ended_at - timedelta(seconds=seconds)
        samples.append(
            (
                shop.id,
                rng.choice(conversation_ids),
                "message",
                operator.id if operator else None,
                operator is None,
                ended_by,
                is_first,
                started_at,
                ended_at,
                float(seconds),
            )
        )
        if PERIOD_START <= ended_at < PERIOD_END and ended_by == "reply":
            in_period[operator.login if operator else None].append({"seconds": seconds, "is_first": is_first})
    closes_in_period = defaultdict(list)
    for _ in range(CLOSES):
        operator = operators[rng.randrange(OPERATORS)]
        closed_at = moment()
        duration = rng.randrange(60, 86400)
        kind = ClosingKind.WITH_REPLY if rng.random() < 0.8 else ClosingKind.WITHOUT_REPLY
        conversation = rng.choice(conversation_ids)
        closes.append(
            (
                shop.id,
                conversation,
                operator.id,
                str(kind),
                closed_at - timedelta(seconds=duration),
                closed_at,
                float(duration),
            )
        )
        if PERIOD_START <= closed_at < PERIOD_END:
            closes_in_period[operator.login].append(
                {"kind": kind, "duration": duration, "conversation": conversation}
            )
    sample_columns = (
        "community_id, conversation_id, channel, operator_id, outside_proxy, ended_by, is_first, started_at, "
        "ended_at, seconds"
    )
    await insert_many("reaction_sample", sample_columns, samples)
    close_columns = "community_id, conversation_id, operator_id, kind, opened_at, closed_at, duration_seconds"
    await insert_many("conversation_close", close_columns, closes)
    assert await ReactionSample.all().count() == SAMPLES

    token = await accounts.create_api_token(manager.login)
    resp = await client.get(
        "/stats/operators.csv?from=2024-03-01&to=2024-03-31", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 200
    lines = (await resp.text()).split("\r\n")
    expected = [_expected_row(o.login, in_period[o.login], closes_in_period[o.login], 900) for o in operators]
    expected.append(_expected_row("(outside the proxy)", in_period[None], [], 900))
    assert lines[1:-1] == expected
    # Totals: every in-period reply sample is counted exactly once across the rows.
    counts = [int(line.split(",")[4]) for line in lines[1:-1]]
    assert sum(counts) == sum(len(v) for v in in_period.values())
    assert 150_000 < sum(counts) < SAMPLES
