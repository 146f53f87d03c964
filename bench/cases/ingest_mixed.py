"""Ingest of VK callbacks and Telegram updates together: one proxy serving a VK community and a Telegram
bot, 64 senders, half posting Callback API events to /callback/vk/{group_id}, half posting Bot API updates
to /callback/telegram/{bot_id} with the webhook's secret header. Judged against the ingest ceiling at 64
senders of the same run, and checked afterwards: every event sent is stored once, raw and as an item.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import aiohttp

from bench.cases.common import cpu_snapshot, load_row, ms
from bench.dataset import BENCH_BOT_ID, BENCH_GROUP_ID, BENCH_SECRET
from bench.events import callback_body
from bench.load import LoadResult, RequestFn, client_session
from bench.processes import cpu_used, postgres_pids
from bench.results import Figure
from bench.telegram_events import telegram_update_body

SENDERS = 64
NETWORKS = ("vk", "telegram")  # each gets half the senders
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Above every index the VK-only levels use (bench/cases/ingest.py LEVEL_BASE), so no event repeats one.
MIXED_BASE = 4_000_000
WARMUP_BASE = 14_000_000
SETTLE_SECONDS = 10.0


@dataclass
class MixedRound:
    """One round: each network's part and both together, with what was sent and stored of each."""

    parts: dict[str, LoadResult]
    both: LoadResult
    sent: dict[str, int] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    # Rows added during the round, per network: (raw events, items).
    stored: dict[str, tuple[int, int]] = field(default_factory=dict)


def telegram_request(base_url: str) -> RequestFn:
    url = f"{base_url}/callback/telegram/{BENCH_BOT_ID}"
    headers = {"Content-Type": "application/json", SECRET_HEADER: BENCH_SECRET}

    async def post(session: aiohttp.ClientSession, index: int) -> bool:
        async with session.post(url, data=telegram_update_body(index), headers=headers) as response:
            return response.status == 200 and await response.text() == "ok"

    return post


def vk_request(base_url: str, run: str) -> RequestFn:
    url = f"{base_url}/callback/vk/{BENCH_GROUP_ID}"

    async def post(session: aiohttp.ClientSession, index: int) -> bool:
        body = callback_body(index, BENCH_GROUP_ID, BENCH_SECRET, run=run)
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            return response.status == 200 and await response.text() == "ok"

    return post


async def split_load(
    session: aiohttp.ClientSession,
    requests: dict[str, RequestFn],
    *,
    max_requests: int,
    max_seconds: float,
    first_index: int,
) -> dict[str, LoadResult]:
    """SENDERS senders, an equal share per network, drawing from one budget of `max_requests` and one
    deadline, so neither network's senders go on alone once the other's are done."""
    per_network = SENDERS // len(requests)
    results = {network: LoadResult(per_network) for network in requests}
    counter = itertools.count(first_index)
    last_index = first_index + max_requests
    deadline = time.perf_counter() + max_seconds

    async def sender(network: str) -> None:
        request, result = requests[network], results[network]
        while True:
            index = next(counter)
            if index >= last_index or time.perf_counter() >= deadline:
                return
            started = time.perf_counter()
            try:
                ok = await request(session, index)
            except (TimeoutError, aiohttp.ClientError) as exc:
                ok = False
                if len(result.errors) < 5:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
            if ok:
                result.completed += 1
                result.latencies.append(time.perf_counter() - started)
            else:
                result.failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender(network) for network in requests for _ in range(per_network)))
    elapsed = time.perf_counter() - started
    for result in results.values():
        result.elapsed = elapsed
    return results


def combined(parts: dict[str, LoadResult]) -> LoadResult:
    both = LoadResult(sum(part.concurrency for part in parts.values()))
    for part in parts.values():
        both.completed += part.completed
        both.failed += part.failed
        both.latencies += part.latencies
        both.errors += part.errors
        both.elapsed = max(both.elapsed, part.elapsed)
    return both


async def stored_rows(dsn: str, communities: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Raw events and items each network's community holds now, once two readings in a row agree (an
    answer is sent after its commit, so they should agree at once; the wait only rules out a lag)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        previous: dict[str, tuple[int, int]] | None = None
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            counts = {}
            for network, community_id in communities.items():
                raw = await conn.fetchval(
                    "SELECT count(*) FROM raw_event WHERE community_id = $1", community_id
                )
                items = await conn.fetchval("SELECT count(*) FROM item WHERE community_id = $1", community_id)
                counts[network] = (int(raw), int(items))
            if counts == previous or time.monotonic() >= deadline:
                return counts
            previous = counts
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def mixed_round(
    base_url: str,
    round_number: int,
    server_pid: int,
    *,
    dsn: str,
    communities: dict[str, int],
    max_requests: int,
    max_seconds: float,
    warmup: int,
) -> MixedRound:
    """Warm-up, then the measured load, both counted in what was sent; the CPU per answer as
    bench/cases/ingest.py measures it."""
    requests = {"vk": vk_request(base_url, f"m{SENDERS}"), "telegram": telegram_request(base_url)}
    base = MIXED_BASE + round_number * (max_requests + warmup)
    before = await stored_rows(dsn, communities)
    async with client_session(SENDERS) as session:
        warm = await split_load(
            session, requests, max_requests=warmup, max_seconds=5, first_index=WARMUP_BASE + base
        )
        database = postgres_pids()
        cpu_before = cpu_snapshot(server_pid, database)
        parts = await split_load(
            session, requests, max_requests=max_requests, max_seconds=max_seconds, first_index=base
        )
        cpu_after = cpu_snapshot(server_pid, database)
    after = await stored_rows(dsn, communities)
    both = combined(parts)
    if both.completed:
        both.cpu_ms = {
            who: cpu_used(cpu_before[who], cpu_after[who]) * 1000 / both.completed for who in cpu_after
        }
    result = MixedRound(parts, both)
    for network in NETWORKS:
        runs = (warm[network], parts[network])
        result.sent[network] = sum(run.completed + run.failed for run in runs)
        result.answered[network] = sum(run.completed for run in runs)
        result.stored[network] = (
            after[network][0] - before[network][0],
            after[network][1] - before[network][1],
        )
    return result


def round_rows(run: MixedRound, round_number: int) -> list[list[str]]:
    label = f"(round {round_number + 1})"
    return [
        load_row(f"proxy: VK and Telegram together {label}", run.both),
        load_row(f"of them VK, POST /callback/vk/{{group_id}} {label}", run.parts["vk"]),
        load_row(f"of them Telegram, POST /callback/telegram/{{bot_id}} {label}", run.parts["telegram"]),
    ]


def not_stored_once(rounds: list[MixedRound]) -> int:
    """Events sent but not stored exactly once, raw or as an item, over every round and both networks."""
    missing = 0
    for run in rounds:
        for network in NETWORKS:
            raw, items = run.stored[network]
            missing += abs(raw - run.sent[network]) + abs(items - run.sent[network])
    return missing


def figures(
    median: MixedRound | None,
    rounds: list[MixedRound],
    ceiling: LoadResult,
    *,
    target_ratio: float,
    patience_ms: int,
    missing: str,
) -> list[Figure]:
    """Both networks together against the ceiling at 64 senders, each network's own latency, and the
    exactly-once check; the VK-only run's targets apply to both together."""
    ceiling_name = "aiohttp + asyncpg INSERT"
    where = f"VK and Telegram, {SENDERS} senders"
    rate = median.both.rate if median else None
    p99 = median.both.p99_ms if median else None
    note = "" if median else missing
    result = [
        Figure(
            f"events/s, {where}", rate, "events/s", ceiling=ceiling.rate, ceiling_name=ceiling_name,
            target=f">= {target_ratio} of ceiling",
            met=rate / ceiling.rate >= target_ratio if rate is not None else None, note=note,
        ),
        Figure(
            f"p99 latency, {where}", p99, "ms", ceiling=ceiling.p99_ms, ceiling_name=ceiling_name,
            target=f"< {patience_ms} ms", met=p99 < patience_ms if p99 is not None else None, note=note,
        ),
    ]  # fmt: skip
    for network, label in (("vk", "VK"), ("telegram", "Telegram")):
        part = median.parts[network] if median else None
        result.append(
            Figure(
                f"p99 latency of the {label} half, {where}",
                part.p99_ms if part else None,
                "ms",
                note=note,
            )
        )
    unstored = not_stored_once(rounds) if rounds else None
    result.append(
        Figure(
            f"events not stored exactly once, {where}",
            unstored,
            "events",
            target="0",
            met=unstored == 0 if unstored is not None else None,
            note=note,
        )
    )
    return result


def side_by_side(vk_only: LoadResult | None, median: MixedRound, ceiling: LoadResult) -> list[list[str]]:
    """The median rounds at 64 senders: VK alone, then VK beside Telegram, against the same ceiling."""
    rows = [["what", "events/s", "ratio to the ceiling", "p50 ms", "p99 ms"]]

    def row(label: str, run: LoadResult, ratio: bool = True) -> list[str]:
        share = f"{run.rate / ceiling.rate:.2f}" if ratio and ceiling.rate else "—"
        return [label, f"{run.rate:,.0f}", share, ms(run.p50_ms), ms(run.p99_ms)]

    rows.append(row("ceiling: aiohttp + one asyncpg INSERT", ceiling))
    if vk_only is not None:
        rows.append(row("proxy, VK alone (64 VK senders)", vk_only))
    rows.append(row("proxy, VK and Telegram (32 + 32 senders)", median.both))
    rows.append(row("of them VK (32 senders)", median.parts["vk"], ratio=False))
    rows.append(row("of them Telegram (32 senders)", median.parts["telegram"], ratio=False))
    return rows


def exactly_once_rows(rounds: list[MixedRound]) -> list[list[str]]:
    rows = [["network", "sent", 'answered "ok"', "raw events stored", "items stored", "each stored once"]]
    for network, label in (("vk", "VK"), ("telegram", "Telegram")):
        sent = sum(run.sent[network] for run in rounds)
        answered = sum(run.answered[network] for run in rounds)
        raw = sum(run.stored[network][0] for run in rounds)
        items = sum(run.stored[network][1] for run in rounds)
        verdict = "yes" if raw == sent and items == sent else "**no**"
        rows.append([label, f"{sent:,}", f"{answered:,}", f"{raw:,}", f"{items:,}", verdict])
    return rows


NOTE = (
    f"VK and Telegram together: one more proxy round at {SENDERS} senders, in the same alternation (ceiling, "
    f"VK alone, both), against the same proxy, which serves the bench community and a Telegram bot "
    f"registered beside it (`proxy community add --network telegram`, webhook mode). {SENDERS // 2} senders "
    "post Callback API events as the VK-only rounds do; the other "
    f"{SENDERS // 2} post Bot API updates to /callback/telegram/{{bot_id}} with the webhook's secret header, each "
    "with its own update_id: three in five a private message to the bot, two in five a message in one of "
    "50 supergroups, from 5,000 distinct users (the shapes of the Telegram samples in tests/fixtures). Both "
    "halves draw on one budget (the same warm-up, requests and seconds as a VK-only round), so neither goes "
    "on alone. The rate and p99 of both together are judged by the VK-only targets against the ceiling at "
    f"{SENDERS} senders. Exactly once: after each round, the raw events and items each community gained are "
    "counted and compared with what was sent to it."
)
