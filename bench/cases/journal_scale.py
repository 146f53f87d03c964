"""Journal at scale: signed checkpoints and their verification over 1,000,000 keyed entries, a full backup
and its restore with 1,000,000 journal entries and 1,000,000 items, and what the keyed chain costs ingest.

The commands run as the operator runs them, each in its own process (`python -m proxy ...`), so the time
is the command's from start to exit and the peak memory (its maximum resident set, read by GNU time)
is its own: `proxy journal checkpoint DIR`, `proxy journal verify --checkpoints DIR`,
`proxy export backup DIR`, then `proxy import backup DIR` into a new, migrated database, and verify
again there against the same checkpoints (a restore that no longer verifies would be no restore).

The targets are the issue's promise in numbers. The journal is evidence to be checked years later
on an ordinary server, so checking a million entries must take minutes, not an evening, in the memory
of a small machine: checkpoint and verify each under 5 minutes and 500 MiB. "Restoring years of history
in minutes is the promise": export and import of 1M entries + 1M items each under 10 minutes and
500 MiB (the CLI also cuts every command off after 10 minutes). The keyed chain (an HMAC per entry
besides the SHA-256, docs/audit.md) must cost ingest no more than 10%: events/s with a journal key
>= 0.9 of events/s without one, alternating rounds on the same database, both for the ingest benchmark's
own mix (message_new and wall_reply_new, which journal nothing) and for replies written in VK (every
event a `vk.reply` journal entry).

The data is generated in bulk on a database of its own (so the figures do not depend on which cases
ran before): entries chained and MAC'd with the proxy's own functions (bench/dataset.py
append_journal), items and their first versions by generate_series, recorded before the digest's
settling time so the checkpoint digests all of them. BENCH_JOURNAL_ENTRIES and BENCH_JOURNAL_ITEMS
set smaller sizes for a quick run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bench.cases import ingest
from bench.cases.common import LOAD_HEADER, load_row, table_sizes
from bench.context import Context
from bench.database import BenchDatabase
from bench.dataset import Dataset, append_journal, period
from bench.events import callback_body, reply_body
from bench.load import LoadResult
from bench.processes import REPO, proxy_env, proxy_server
from bench.results import BenchResult, FeatureMissing, Figure
from proxy.audit.journal import GENESIS_HASH, entry_hash, entry_mac
from proxy.audit.signing import JournalKey

JOURNAL_ENTRIES = int(os.environ.get("BENCH_JOURNAL_ENTRIES", "1000000"))
ITEMS = int(os.environ.get("BENCH_JOURNAL_ITEMS", "1000000"))
CONVERSATIONS = 10_000  # the items' and entries' conversations, from 1,000 authors
AUTHORS = 1_000
KEY_NAME = "bench/proxy-journal"

CHECK_SECONDS = 300  # checkpoint, verify
CHECK_MIB = 500
BACKUP_SECONDS = 600  # export, import
BACKUP_MIB = 500
INGEST_RATIO = 0.9
INGEST_SENDERS = 64  # the level the ingest benchmark's target applies at
INGEST_ROUNDS = 4  # per load; which variant goes first alternates too
INGEST_SECONDS = 8.0
# Each load and each variant numbers its events from its own base: none re-sends what another stored.
INDEX_BASE = {
    ("mix", False): 0,
    ("mix", True): 20_000_000,
    ("replies", False): 40_000_000,
    ("replies", True): 60_000_000,
}
HASH_SAMPLE = 20_000  # entries hashed in-process to time one entry's chain work
TIME = "/usr/bin/time"  # GNU time: the peak memory of a command, its own


@dataclass
class Measured:
    seconds: float
    peak_mib: float
    returncode: int
    output: str

    @property
    def last_line(self) -> str:
        lines = self.output.strip().splitlines()
        return lines[-1] if lines else ""


def _measure_command(argv: list[str], env: dict[str, str]) -> Measured:
    """Run a command to its end; its wall time and its own peak resident set.

    The peak comes from /usr/bin/time (GNU time's %M, the child's ru_maxrss in KiB): read with wait4
    here instead, it would start at this process's own peak, which a child spawned from it inherits.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        started = time.perf_counter()
        completed = subprocess.run(
            [TIME, "-f", "%M", "-o", rss.name, *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
        seconds = time.perf_counter() - started
        kib = rss.read().strip().splitlines()
    # GNU time writes "Command exited with non-zero status N" before the figure when the command failed.
    peak = int(kib[-1]) / 1024 if kib and kib[-1].isdigit() else 0.0
    return Measured(seconds, peak, completed.returncode, completed.stdout.decode(errors="replace"))


async def _proxy_command(database: BenchDatabase, key: JournalKey, *args: str) -> Measured:
    env = proxy_env(database.dsn, PROXY_JOURNAL_KEY=key.text())
    measured = await asyncio.to_thread(_measure_command, [sys.executable, "-m", "proxy", *args], env)
    print(f"[bench] journal_scale: proxy {' '.join(args[:2])}: {measured.seconds:.1f} s, "
          f"{measured.peak_mib:.0f} MiB, exit {measured.returncode}: {measured.last_line}", flush=True)  # fmt: skip
    return measured


async def _seed(database: BenchDatabase, key: JournalKey, timings: dict[str, float]) -> None:
    """Accounts and the community (bench/dataset.py), then authors, conversations, items with their first
    versions, and the keyed journal."""
    dataset = Dataset(database)
    ids = await dataset.base()
    start, end = period()
    span = (end - start).total_seconds()
    conn = await database.connect()
    try:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO author (vk_id, name, screen_name, photo_url, first_seen_at) "
                "SELECT 100000000 + g, 'Автор ' || g, 'id' || (100000000 + g), '', $1 FROM generate_series(1, $2) g",
                start,
                AUTHORS,
            )
            first_author = await conn.fetchval("SELECT min(id) FROM author")
            await conn.execute(
                """
                INSERT INTO conversation (community_id, channel, key, author_id, vk_owner_id, vk_object_id,
                    status, opened_at, waiting_since, awaiting_first_reaction, last_item_at, preview, created_at)
                SELECT $1, 'message', 'message:' || (100000000 + g), $2 + (g % $3), -200000001, 100000000 + g,
                    'open', $4, $4, true, $4, 'Здравствуйте', $4
                FROM generate_series(1, $5) g
                """,
                ids.community_id, first_author, AUTHORS, start, CONVERSATIONS,
            )  # fmt: skip
            first_conversation = await conn.fetchval("SELECT min(id) FROM conversation")
            # Items one per 2.5 s over the period, each with its first (and only) version.
            await conn.execute(
                """
                INSERT INTO item (community_id, conversation_id, channel, key, vk_id, direction, author_id,
                    from_vk_id, text, attachments, forwarded, created_at, version_count, is_deleted, recorded_at)
                SELECT $1, $2 + (g % $3), 'message', 'message:' || (100000000 + g % $3) || ':' || g, g, 'in',
                    $4 + (g % $5), 100000000 + g % $5,
                    'Сообщение ' || g || ': здравствуйте, где мой заказ? Номер заказа ' || (g::bigint * 7919 % 1000000),
                    '[]', '[]', t, 1, false, t
                FROM generate_series(1, $6) g,
                     LATERAL (SELECT $7::timestamptz + make_interval(secs => g::float8 * $8 / $6) AS t) AS at
                """,
                ids.community_id, first_conversation, CONVERSATIONS, first_author, AUTHORS, ITEMS, start, span,
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO item_version (item_id, number, text, attachments, forwarded, forwarded_text, "
                "valid_from, recorded_at) SELECT id, 1, text, '[]', '[]', '', created_at, recorded_at FROM item"
            )
        timings["items and versions"] = time.perf_counter() - started
        started = time.perf_counter()
        ids = dataclasses.replace(ids, first_conversation_id=first_conversation)
        await append_journal(
            conn, ids, start, 0, JOURNAL_ENTRIES, secret=key.mac_secret(), conversations=CONVERSATIONS
        )
        timings["keyed journal"] = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE")  # as autovacuum would have on a live server
    finally:
        await conn.close()


def _hash_cost_us(key: JournalKey) -> tuple[float, float]:
    """Microseconds of one entry's chain work in-process: SHA-256 alone, and MAC + SHA-256 (the keyed chain)."""
    secret = key.mac_secret()
    start, _ = period()
    entries = [
        SimpleNamespace(
            created_at=start,
            actor_kind="outside",
            operator_id=None,
            vk_user_id=400_000_001,
            action="vk.reply",
            community_id=1,
            conversation_id=i,
            item_id=i,
            text=f"Ответ {i}: заказ передан в доставку",
            params={"key": f"message:300000000:{i}"},
            prev_hash=GENESIS_HASH,
            mac=None,
        )  # fmt: skip
        for i in range(HASH_SAMPLE)
    ]
    started = time.perf_counter()
    for entry in entries:
        entry_hash(entry)  # type: ignore[arg-type]
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for entry in entries:
        entry.mac = entry_mac(entry, secret)  # type: ignore[arg-type]
        entry_hash(entry)  # type: ignore[arg-type]
    keyed = time.perf_counter() - started
    return plain * 1e6 / HASH_SAMPLE, keyed * 1e6 / HASH_SAMPLE


async def _ingest_ratio(
    context: Context, database: BenchDatabase, key: JournalKey, rows: list[list[str]]
) -> dict[tuple[str, bool], LoadResult]:
    """Each load at INGEST_SENDERS senders, rounds alternating between a proxy without a journal key and one
    with it (both up the whole time, on the same database); the median round of each."""
    loads = {"mix": callback_body, "replies": reply_body}
    medians: dict[tuple[str, bool], LoadResult] = {}
    async with (
        proxy_server(database.dsn, context.log_dir) as plain,
        proxy_server(database.dsn, context.log_dir, PROXY_JOURNAL_KEY=key.text()) as keyed,
    ):
        for load, body_of in loads.items():
            rounds: dict[bool, list[LoadResult]] = {False: [], True: []}
            for round_number in range(INGEST_ROUNDS):
                # The one that goes first alternates: the second of a pair can meet the first's
                # after-effects (autovacuum, checkpoints of PostgreSQL's own).
                order = ((False, plain), (True, keyed))
                for with_key, server in order if round_number % 2 == 0 else order[::-1]:
                    run = await ingest._load(
                        server.base_url, INGEST_SENDERS, f"{load[0]}{int(with_key)}", round_number, server.pid,
                        body_of=body_of, first_index=INDEX_BASE[(load, with_key)], max_seconds=INGEST_SECONDS,
                    )  # fmt: skip
                    rounds[with_key].append(run)
                    label = f"{load}, {'with' if with_key else 'without'} a journal key (round {round_number + 1})"
                    rows.append(load_row(label, run))
            for with_key, runs in rounds.items():
                medians[(load, with_key)] = ingest.median_round(runs)
    return medians


def _short(count: int) -> str:
    """1000000 -> "1M", 100000 -> "100k": figure names stay short, and say the size they were measured at."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    return f"{count // 1000}k" if count % 1000 == 0 else f"{count:,}"


def _timed(name: str, measured: Measured | None, seconds: float, mib: float, what: str) -> list[Figure]:
    ok = measured is not None and measured.returncode == 0
    note = (
        "" if ok else ("not run" if measured is None else f"exit {measured.returncode}: {measured.last_line}")
    )
    value = measured.seconds if ok else None
    peak = measured.peak_mib if ok else None
    return [
        Figure(f"{name}, time", value, "s", target=f"< {seconds} s ({what})",
               met=value < seconds if value is not None else None, note=note),
        Figure(f"{name}, peak memory", peak, "MiB", target=f"< {mib} MiB",
               met=peak < mib if peak is not None else None, note=note),
    ]  # fmt: skip


async def run(context: Context) -> BenchResult:
    if not Path(TIME).exists():
        raise FeatureMissing(f"{TIME} (GNU time) is needed to read a command's own peak memory")
    result = BenchResult("journal_scale", "")
    base = context.database
    database = dataclasses.replace(base, name=f"{base.name}_journal")
    restored = dataclasses.replace(base, name=f"{base.name}_restore")
    key = JournalKey.generate(KEY_NAME)
    timings: dict[str, float] = {}
    steps = [["step", "seconds", "peak RSS (MiB)", "exit", "last line of output"]]
    measured: dict[str, Measured] = {}
    load_rows = [LOAD_HEADER]
    await database.create()
    try:
        await _seed(database, key, timings)
        conn = await database.connect()
        try:
            sizes = await table_sizes(conn, ["journal_entry", "item", "item_version"])
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory(prefix="bench-journal-", dir=context.log_dir) as work:
            checkpoints, backup = Path(work) / "checkpoints", Path(work) / "backup"
            plan = [
                ("checkpoint", database, ("journal", "checkpoint", str(checkpoints))),
                ("verify", database, ("journal", "verify", "--checkpoints", str(checkpoints))),
                ("export backup", database, ("export", "backup", str(backup))),
                ("import backup", restored, ("import", "backup", str(backup))),
                (
                    "verify the restored database",
                    restored,
                    ("journal", "verify", "--checkpoints", str(checkpoints)),
                ),
            ]
            for step, where, args in plan:
                if step == "import backup":
                    await restored.create()
                measured[step] = run_ = await _proxy_command(where, key, *args)
                steps.append([step, f"{run_.seconds:.1f}", f"{run_.peak_mib:.0f}", str(run_.returncode),
                              f"`{run_.last_line.replace(work + '/', '')[:160]}`"])  # fmt: skip
                if run_.returncode != 0 and step != "verify the restored database":
                    break
            backup_mb = sum(p.stat().st_size for p in backup.glob("*")) / 1e6 if backup.exists() else 0.0
        plain_us, keyed_us = _hash_cost_us(key)
        ingest_runs = await _ingest_ratio(context, database, key, load_rows)
    finally:
        if not os.environ.get("BENCH_KEEP_JOURNAL_DATABASES"):
            await restored.drop()
            await database.drop()

    entries, items = _short(JOURNAL_ENTRIES), _short(ITEMS)
    for name, step, seconds, mib, what in (
        (f"checkpoint of {entries} entries", "checkpoint", CHECK_SECONDS, CHECK_MIB, "minutes, not an evening"),
        (f"verify of {entries} entries", "verify", CHECK_SECONDS, CHECK_MIB, "minutes, not an evening"),
        (f"export backup, {entries} entries + {items} items", "export backup", BACKUP_SECONDS, BACKUP_MIB,
         "years of history in minutes"),
        (f"import backup, {entries} entries + {items} items", "import backup", BACKUP_SECONDS, BACKUP_MIB,
         "years of history in minutes"),
    ):  # fmt: skip
        result.figures += _timed(name, measured.get(step), seconds, mib, what)
    for load, what in (("mix", "ingest mix"), ("replies", "replies written in VK")):
        with_key, without = ingest_runs.get((load, True)), ingest_runs.get((load, False))
        ratio_met = (
            with_key.rate / without.rate >= INGEST_RATIO if with_key and without and without.rate else None
        )
        result.figures.append(
            Figure(
                f"events/s with a journal key, {what}, {INGEST_SENDERS} senders",
                with_key.rate if with_key else None,
                "events/s",
                ceiling=without.rate if without else None,
                ceiling_name="the same load without a journal key",
                target=f">= {INGEST_RATIO} of the rate without a key",
                met=ratio_met,
            )
        )
    result.figures.append(
        Figure("chain work per journal entry, with a key (MAC + SHA-256)", keyed_us, "µs",
               ceiling=plain_us, ceiling_name="SHA-256 alone (no key)")
    )  # fmt: skip

    result.tables.append(("The commands, each in its own process", steps))
    result.tables.append(
        (f"Storage of the generated database (backup: {backup_mb:.0f} MB of JSON lines)", sizes)
    )
    result.tables.append((f"Ingest at {INGEST_SENDERS} senders, without and with a journal key", load_rows))
    cpu_rows = [["load", "journal key", "server", "PostgreSQL", "whole machine"]]
    for (load, with_key), run_ in sorted(ingest_runs.items()):
        cpu = run_.cpu_ms or {}
        cpu_rows.append([load, "with" if with_key else "without"]
                        + [f"{cpu[who]:.2f}" for who in ("server", "PostgreSQL", "machine") if who in cpu])  # fmt: skip
    result.tables.append(("CPU milliseconds per answered request (the median round)", cpu_rows))
    result.notes.append(
        f"Generated in bulk ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}): {JOURNAL_ENTRIES:,} "
        f"journal entries chained and MAC'd with a fresh journal key by the proxy's own functions, {ITEMS:,} items "
        f"with one version each over {CONVERSATIONS:,} conversations of {AUTHORS:,} authors, all dated in "
        "the last 30 days before today (older than the digest's settling time, so the checkpoint digests "
        "every version). Peak memory is the command process's maximum resident set (GNU time's %M), PostgreSQL's "
        "own memory not included. The import goes into a new database migrated by `proxy migrate`."
    )
    result.notes.append(
        f"Ingest: {INGEST_ROUNDS} rounds per load at {INGEST_SENDERS} senders, alternating a proxy without a "
        "journal key and one with it, which one goes first alternating too (both up the whole time, on the "
        "generated database), each round "
        f"{ingest.WARMUP} warm-up requests then up to {ingest.MAX_REQUESTS:,} requests or {INGEST_SECONDS:.0f} "
        "s; a figure is the round with the median rate. The ingest mix (message_new, wall_reply_new) journals "
        "nothing; each reply written in VK (message_reply naming an admin) is one `vk.reply` entry, its MAC "
        "computed under the journal's lock. The in-process figure times entry_mac and entry_hash over "
        f"{HASH_SAMPLE:,} entries."
    )
    return result
