"""Bulk data for the benchmarks, generated inside PostgreSQL (generate_series) in the migrated schema.

Sizes follow the issue: 100 operators, 200,000 conversations (100,000 of them open), 1,000,000 reaction
samples, and a journal of up to 1,000,000 entries. Journal entries are chained with the proxy's own hash
function (proxy.audit.journal.entry_hash), continuing from the last entry already there, so the
bench journal is hash-valid, not just the right size.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import asyncpg

from bench.database import BenchDatabase
from bench.processes import proxy_env, run_command
from proxy.audit.journal import GENESIS_HASH, entry_hash, entry_mac, outcome_mac

OPERATORS = 100
CONVERSATIONS = 200_000
OPEN_CONVERSATIONS = 100_000
SAMPLES = 1_000_000
AUTHORS = 1_000
BENCH_GROUP_ID = 200_000_001
SECOND_GROUP_ID = 200_000_002  # a second bench community (the live team case), same secret
BENCH_SECRET = "bench-callback-secret"
# A Telegram bot served beside the bench community (the mixed ingest load); its id begins its token.
BENCH_BOT_ID = 7_000_000_001
BENCH_BOT_TOKEN = f"{BENCH_BOT_ID}:AAbench-bot-token-not-for-production"
BENCH_CONFIRMATION = "c0nf1rm"
BENCH_LOGIN = "bench"
BENCH_PASSWORD = "bench-password-0123456789"
JOURNAL_BATCH = 50_000
JOURNAL_COLUMNS = [
    "created_at", "actor_kind", "operator_id", "vk_user_id", "action", "community_id",
    "conversation_id", "item_id", "text", "params", "outcome", "outcome_detail", "outcome_at",
    "prev_hash", "hash", "mac", "outcome_mac",
]  # fmt: skip


def period() -> tuple[datetime, datetime]:
    """The 30 whole days before today (UTC) that all generated history falls in."""
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=30), end


@dataclass
class Ids:
    community_id: int
    first_operator_id: int
    bench_operator_id: int
    first_conversation_id: int | None = None


class Dataset:
    """Creates what a benchmark needs once per run, in the order the tables depend on each other."""

    def __init__(self, database: BenchDatabase) -> None:
        self.database = database
        self.ids: Ids | None = None
        self.history = False
        self.journal_entries = 0
        self.second_community_id: int | None = None
        self.bot_community_id: int | None = None
        self.timings: dict[str, float] = {}

    async def base(self) -> Ids:
        """The bench community (with a callback secret), the bench admin login and 100 operators."""
        if self.ids is not None:
            return self.ids
        started = time.perf_counter()
        env = proxy_env(self.database.dsn)
        await run_command(
            [
                sys.executable,
                "-m",
                "proxy",
                "user",
                "add",
                BENCH_LOGIN,
                "--role",
                "admin",
                "--password-stdin",
            ],
            env,
            stdin=(BENCH_PASSWORD + "\n").encode(),
        )
        await run_command(
            [sys.executable, "-m", "proxy", "community", "add", "--group-id", str(BENCH_GROUP_ID),
             "--name", "Bench community", "--secret", BENCH_SECRET, "--confirmation", BENCH_CONFIRMATION],
            env,
        )  # fmt: skip
        conn = await self.database.connect()
        try:
            community_id = await conn.fetchval(
                "SELECT id FROM community WHERE vk_group_id = $1", BENCH_GROUP_ID
            )
            bench_id = await conn.fetchval("SELECT id FROM operator WHERE login = $1", BENCH_LOGIN)
            await conn.execute(
                "INSERT INTO operator_community (operator_id, community_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                bench_id,
                community_id,
            )
            password_hash = await conn.fetchval("SELECT password_hash FROM operator WHERE id = $1", bench_id)
            first = await conn.fetchval(
                """
                INSERT INTO operator (login, display_name, password_hash, role, is_active, locale,
                                      created_at, session_version)
                SELECT 'op' || g, 'Operator ' || g, $1, 'operator', true, 'ru', now(), 1
                FROM generate_series(1, $2) AS g
                RETURNING id
                """,
                password_hash,
                OPERATORS,
            )
            first = await conn.fetchval("SELECT min(id) FROM operator WHERE login LIKE 'op%'")
            await conn.execute(
                "INSERT INTO operator_community (operator_id, community_id) "
                "SELECT id, $1 FROM operator WHERE login LIKE 'op%'",
                community_id,
            )
        finally:
            await conn.close()
        self.ids = Ids(community_id, first, bench_id)
        self.timings["accounts and community"] = time.perf_counter() - started
        return self.ids

    async def second_community(self) -> int:
        """A second bench community every bench account is assigned to (the accounts come first)."""
        await self.base()
        if self.second_community_id is not None:
            return self.second_community_id
        env = proxy_env(self.database.dsn)
        await run_command(
            [sys.executable, "-m", "proxy", "community", "add", "--group-id", str(SECOND_GROUP_ID),
             "--name", "Bench community 2", "--secret", BENCH_SECRET, "--confirmation", BENCH_CONFIRMATION],
            env,
        )  # fmt: skip
        conn = await self.database.connect()
        try:
            community_id = await conn.fetchval(
                "SELECT id FROM community WHERE vk_group_id = $1", SECOND_GROUP_ID
            )
            await conn.execute(
                "INSERT INTO operator_community (operator_id, community_id) "
                "SELECT id, $1 FROM operator WHERE login LIKE 'op%' OR login = $2 ON CONFLICT DO NOTHING",
                community_id,
                BENCH_LOGIN,
            )
        finally:
            await conn.close()
        self.second_community_id = int(community_id)
        return self.second_community_id

    async def telegram_bot(self, token_dir: Path) -> int:
        """The bench Telegram bot (webhook mode, the bench secret), registered as `proxy community add
        --network telegram` does it; its token file is written to `token_dir`. Connecting it would call
        Telegram, and a webhook needs nothing of it but the registration. No operator is assigned to it, so
        the cases after ingest see the bench community's work only."""
        await self.base()
        if self.bot_community_id is not None:
            return self.bot_community_id
        token_file = token_dir / "bench-bot-token"
        token_file.write_text(BENCH_BOT_TOKEN + "\n")
        await run_command(
            [sys.executable, "-m", "proxy", "community", "add", "--network", "telegram", "--name", "Bench bot",
             "--secret", BENCH_SECRET, "--bot-token-file", str(token_file), "--mode", "webhook"],
            proxy_env(self.database.dsn),
        )  # fmt: skip
        conn = await self.database.connect()
        try:
            community_id = await conn.fetchval(
                "SELECT id FROM community WHERE network = 'telegram' AND vk_group_id = $1", BENCH_BOT_ID
            )
        finally:
            await conn.close()
        self.bot_community_id = int(community_id)
        return self.bot_community_id

    async def conversations_and_samples(self) -> Ids:
        """200,000 conversations (100,000 open and waiting), 1,000,000 reaction samples, 100,000 closes."""
        ids = await self.base()
        if self.history:
            return ids
        start, end = period()
        span = (end - start).total_seconds()
        started = time.perf_counter()
        conn = await self.database.connect()
        try:
            async with conn.transaction():
                await conn.execute(
                    """
                    INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at)
                    SELECT 100000000 + g, 'Автор ' || g, 'id' || (100000000 + g), '', $1
                    FROM generate_series(1, $2) AS g
                    """,
                    start,
                    AUTHORS,
                )
                # Ingest may have run first and made authors and conversations of its own: find ours.
                first_author = await conn.fetchval(
                    "SELECT min(id) FROM author WHERE vk_id BETWEEN 100000001 AND $1", 100_000_000 + AUTHORS
                )
                # Open conversations wait since a moment spread over the period; closed ones were closed.
                await conn.execute(
                    """
                    INSERT INTO conversation (community_id, channel, key, author_id, vk_owner_id, vk_object_id,
                        status, opened_at, waiting_since, awaiting_first_reaction, last_item_at, preview,
                        closed_at, closing_kind, closed_by_id, created_at)
                    SELECT $1, 'message', 'message:' || (100000000 + g), $2 + (g % $3),
                        -$4::bigint, 100000000 + g,
                        CASE WHEN g <= $5 THEN 'open' ELSE 'closed' END,
                        t - interval '1 hour',
                        CASE WHEN g <= $5 THEN t END,
                        g <= $5,
                        t,
                        'Здравствуйте, у меня вопрос по заказу №' || g,
                        CASE WHEN g > $5 THEN t END,
                        CASE WHEN g > $5 THEN (CASE WHEN g % 3 = 0 THEN 'without_reply' ELSE 'with_reply' END) END,
                        CASE WHEN g > $5 THEN $6 + (g % $7) END,
                        t - interval '1 hour'
                    FROM generate_series(1, $8) AS g,
                         LATERAL (SELECT $9::timestamptz + make_interval(secs => (g::float8 * $10 / $8)) AS t) AS at
                    """,
                    ids.community_id, first_author, AUTHORS, BENCH_GROUP_ID, OPEN_CONVERSATIONS,
                    ids.first_operator_id, OPERATORS, CONVERSATIONS, start, span,
                )  # fmt: skip
                first_conversation = await conn.fetchval(
                    "SELECT min(id) FROM conversation WHERE community_id = $1 AND channel = 'message' "
                    "AND vk_object_id BETWEEN 100000001 AND $2",
                    ids.community_id,
                    100_000_000 + CONVERSATIONS,
                )
                await conn.execute(
                    """
                    INSERT INTO reaction_sample (community_id, conversation_id, channel, operator_id,
                        outside_proxy, ended_by, is_first, started_at, ended_at, seconds, business_seconds)
                    SELECT $1, $2 + (g % $3), 'message',
                        CASE WHEN g % 20 = 0 THEN NULL ELSE $4 + (g % $5) END,
                        g % 20 = 0,
                        CASE WHEN g % 10 = 0 THEN 'close' ELSE 'reply' END,
                        g % 5 = 0,
                        t - make_interval(secs => s), t, s, NULL
                    FROM generate_series(1, $6) AS g,
                         LATERAL (SELECT $7::timestamptz + make_interval(secs => (g::float8 * $8 / $6)) AS t,
                                         (5 + (g::bigint * 7919) % 3600)::float8 AS s) AS v
                    """,
                    ids.community_id, first_conversation, CONVERSATIONS, ids.first_operator_id, OPERATORS,
                    SAMPLES, start, span,
                )  # fmt: skip
                await conn.execute(
                    """
                    INSERT INTO conversation_close (community_id, conversation_id, operator_id, kind,
                        opened_at, closed_at, duration_seconds)
                    SELECT community_id, id, closed_by_id, closing_kind, opened_at, closed_at,
                        extract(epoch FROM closed_at - opened_at)
                    FROM conversation WHERE status = 'closed'
                    """
                )
            # A month of history on a live server has been vacuumed by autovacuum long since, which
            # also marks its pages all-visible (index-only scans read no table pages then). Rows
            # loaded a second ago have not: without this, reads would be measured against a table
            # state production does not have.
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        ids.first_conversation_id = first_conversation
        self.history = True
        self.timings["conversations, samples, closes"] = time.perf_counter() - started
        return ids

    async def journal(self, entries: int) -> int:
        """Grow the journal to `entries` generated entries (hash-chained), return how many there are."""
        ids = await self.conversations_and_samples()
        if self.journal_entries >= entries:
            return self.journal_entries
        started = time.perf_counter()
        start, end = period()
        conn = await self.database.connect()
        try:
            await append_journal(conn, ids, start, self.journal_entries, entries)
            await conn.execute("VACUUM ANALYZE journal_entry")  # as autovacuum would have (see above)
        finally:
            await conn.close()
        self.journal_entries = entries
        self.timings[f"journal to {entries:,} entries"] = time.perf_counter() - started
        return entries


ACTIONS = ("reply.send", "conversation.close", "comment.delete", "note.add", "vk.reply")


async def append_journal(
    conn: asyncpg.Connection,
    ids: Ids,
    start: datetime,
    first: int,
    entries: int,
    *,
    secret: bytes | None = None,
    conversations: int = CONVERSATIONS,
) -> None:
    """Generated entries number `first` to `entries` - 1, chained on the last entry there, by COPY.

    With `secret` (a journal key's MAC secret) each entry carries its MAC and its outcome's, as the
    proxy writes them with a key configured; entries refer to `conversations` conversations from
    ids.first_conversation_id on.
    """
    prev_hash = await conn.fetchval("SELECT hash FROM journal_entry ORDER BY id DESC LIMIT 1") or GENESIS_HASH
    index = first
    while index < entries:
        batch: list[tuple] = []
        for i in range(index, min(entries, index + JOURNAL_BATCH)):
            record, prev_hash = _journal_record(i, ids, start, prev_hash, secret, conversations)
            batch.append(record)
        await conn.copy_records_to_table("journal_entry", records=batch, columns=JOURNAL_COLUMNS)
        index += len(batch)


def _journal_record(
    i: int,
    ids: Ids,
    start: datetime,
    prev_hash: str,
    secret: bytes | None = None,
    conversations: int = CONVERSATIONS,
) -> tuple[tuple, str]:
    """Entry number i and its hash: one per 2.5 s from the period's start, the text and params varied."""
    action = ACTIONS[i % len(ACTIONS)]
    outside = action == "vk.reply"
    entry = SimpleNamespace(
        created_at=start + timedelta(microseconds=i * 2_500_000 + 17),
        actor_kind="outside" if outside else "operator",
        operator_id=None if outside else ids.first_operator_id + i % OPERATORS,
        vk_user_id=100_500 + i % 7 if outside else None,
        action=action,
        community_id=ids.community_id,
        conversation_id=(ids.first_conversation_id or 0) + i % conversations
        if ids.first_conversation_id
        else None,
        item_id=None,
        text=f'Добрый день! Ответ на обращение №{i}: заказ передан в доставку, "трек" пришлём, ok',
        params={"random_id": 1_000_000_000 + i, "channel": "message"},
        prev_hash=prev_hash,
        mac=None,
    )
    if secret is not None:
        entry.mac = entry_mac(entry, secret)  # type: ignore[arg-type]
    digest = entry_hash(entry)  # type: ignore[arg-type]
    outcome = "done"
    done_mac = outcome_mac(secret, digest, outcome, None, entry.created_at) if secret is not None else None
    record = (
        entry.created_at, entry.actor_kind, entry.operator_id, entry.vk_user_id, entry.action,
        entry.community_id, entry.conversation_id, None, entry.text, json.dumps(entry.params), outcome,
        None, entry.created_at, prev_hash, digest, entry.mac, done_mac,
    )  # fmt: skip
    return record, digest


async def count_rows(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
