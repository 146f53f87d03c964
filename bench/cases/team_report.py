"""The live team case's figures: each level's views checked against the database, and the report."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from bench.cases.team_clients import ClientResult
from bench.cases.team_traffic import GROUPS, SEED_CONVERSATIONS, Change
from bench.load import percentile
from bench.results import BenchResult, Figure


@dataclass
class LevelResult:
    operators: int
    instances: int
    pages: bool
    events: int = 0
    sending_seconds: float = 0.0
    drain_seconds: float = 0.0  # after the settle time, until the clients had nothing left coming
    dropped: int = 0  # live updates the servers dropped for streams that did not keep up
    callback: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # proxy, postgres, senders, clients: CPU seconds
    requests: int = 0
    heard: dict[str, int] = field(default_factory=dict)  # SSE events heard by all clients, by name
    visible: list[float] = field(default_factory=list)
    missed: int = 0
    checked: int = 0
    errors: list[str] = field(default_factory=list)

    async def check(self, conn: Any, number: int, changes: list[Change], clients: list[ClientResult]) -> None:
        """Visibility and misses of every client, from what it saw and the database's final state."""
        self.requests = sum(c.requests for c in clients)
        for client in clients:
            for name, count in client.events.items():
                self.heard[name] = self.heard.get(name, 0) + count
        self.errors = sorted({c.error for c in clients if c.error})
        if not clients:
            return
        records = await conn.fetch(
            "SELECT c.id, c.key, m.vk_group_id, c.preview, c.waiting_since FROM conversation c "
            "JOIN community m ON m.id = c.community_id WHERE m.vk_group_id = ANY($1) AND c.key = ANY($2)",
            list(GROUPS),
            sorted({c.conversation_key for c in changes}),
        )
        by_key = {(r["vk_group_id"], r["key"]): r for r in records}
        per_conversation: dict[int, list[Change]] = {}
        for change in changes:
            record = by_key.get((change.group_id, change.conversation_key))
            if record is not None:
                per_conversation.setdefault(record["id"], []).append(change)
        if self.pages:
            await self._check_pages(conn, number, per_conversation, clients)
        else:
            self._check_inboxes(per_conversation, {r["id"]: r for r in records}, clients)

    def _check_inboxes(
        self, per_conversation: dict[int, list[Change]], records: dict[int, Any], clients: list[ClientResult]
    ) -> None:
        for client in clients:
            for conversation, changes in per_conversation.items():
                for position, change in enumerate(changes):
                    if change.ok_at is None:
                        continue
                    if change.marker is None:  # a deletion: a whole thread's shows as its wait ending
                        seen = client.wait_ended.get(conversation) if change.whole_thread else None
                    else:  # its text, or a later event's, in the row's preview
                        times = [client.first_seen.get(c.marker) for c in changes[position:] if c.marker]
                        seen = min((t for t in times if t is not None), default=None)
                    if seen is not None:
                        self.visible.append(seen - change.ok_at)
                # The final view: the last row pushed shows the database's state.
                record = records[conversation]
                waiting = (
                    ""
                    if record["waiting_since"] is None
                    else str(int(record["waiting_since"].timestamp() * 1000))
                )
                self.checked += 1
                if client.rows.get(conversation) != (html.escape(record["preview"]), waiting):
                    self.missed += 1

    async def _check_pages(
        self, conn: Any, number: int, per_conversation: dict[int, list[Change]], clients: list[ClientResult]
    ) -> None:
        items = await conn.fetch(
            "SELECT conversation_id, text, is_deleted FROM item WHERE conversation_id = ANY($1) AND text LIKE $2",
            list(per_conversation),
            f"L{number}E%",
        )
        expected: dict[int, dict[str, bool]] = {}
        for item in items:
            expected.setdefault(item["conversation_id"], {})[item["text"]] = item["is_deleted"]
        for client in clients:
            conversation = client.spec.conversation_id
            for change in per_conversation.get(conversation, []):  # type: ignore[arg-type]
                if change.ok_at is None:
                    continue
                key = change.marker if change.marker is not None else f"deleted:{change.deleted_text}"
                seen = client.first_seen.get(key)
                if seen is not None:
                    self.visible.append(seen - change.ok_at)
            # The final view: every item of this level in the timeline, with the database's text and state.
            for text, deleted in expected.get(conversation, {}).items():  # type: ignore[arg-type]
                self.checked += 1
                if client.timeline.get(html.escape(text)) != deleted:
                    self.missed += 1

    def per_event_ms(self, name: str) -> float | None:
        return self.cpu[name] / self.events * 1000 if self.events and name in self.cpu else None


def _ms(values: list[float], q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else value * 1000


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def label(level: LevelResult) -> str:
    what = "open conversation pages" if level.pages else "open inboxes"
    if level.instances == 1:
        return f"{level.operators} {what}"
    return f"{level.operators} {what}, {level.operators // level.instances} on each of {level.instances} instances"


def report(result: BenchResult, levels: list[LevelResult], *, rate: float, seconds: float, senders: int,
           settle: float) -> None:  # fmt: skip
    base = levels[0]
    base_p99 = _ms(base.callback, 0.99)
    base_cpu = base.per_event_ms("proxy")
    header = ["level", "events sent (s to send; + s until the views were quiet)", "callback p50 ms", "callback p99 ms", "proxy CPU ms / event",
              "PostgreSQL CPU ms / event", "bench CPU ms / event (senders + clients)", "requests / event",
              "SSE events heard", "ok -> in view p50 ms", "ok -> in view p99 ms", "changes missed (of checked)",
              "live updates dropped by the server"]  # fmt: skip
    rows = [header]
    for level in levels:
        events = level.events or 1
        heard = ", ".join(f"{name} {count:,}" for name, count in sorted(level.heard.items())) or "-"
        rows.append([
            label(level), f"{level.events} ({level.sending_seconds:.1f}; +{level.drain_seconds:.1f})",
            _f(_ms(level.callback, 0.5)), _f(_ms(level.callback, 0.99)),
            _f(level.per_event_ms("proxy"), 2), _f(level.per_event_ms("postgres"), 2),
            f"{_f(level.per_event_ms('senders'), 2)} + {_f(level.per_event_ms('clients'), 2)}",
            f"{level.requests / events:.2f}", heard,
            "-" if not level.operators else _f(_ms(level.visible, 0.5), 0),
            "-" if not level.operators else _f(_ms(level.visible, 0.99), 0),
            "-" if not level.operators else f"{level.missed} of {level.checked}",
            str(level.dropped),
        ])  # fmt: skip
    result.tables.append(("Per level, in one run (the first level is the baseline)", rows))
    for level in levels[1:]:
        p99 = _ms(level.callback, 0.99)
        cpu = level.per_event_ms("proxy")
        visible_p99 = _ms(level.visible, 0.99)
        name = label(level)
        result.figures += [
            Figure(f"callback p99, {name}", p99, "ms", ceiling=None if base_p99 is None else 2 * base_p99,
                   ceiling_name="2x the p99 with none open", target="<= 2x the p99 with none open",
                   met=None if p99 is None or base_p99 is None else p99 <= 2 * base_p99),
            Figure(f"proxy CPU per event, {name}", cpu, "ms", ceiling=None if base_cpu is None else 2 * base_cpu,
                   ceiling_name="2x that with none open", target="<= 2x that with none open",
                   met=None if cpu is None or base_cpu is None else cpu <= 2 * base_cpu),
            Figure(f"PostgreSQL CPU per event, {name}", level.per_event_ms("postgres"), "ms"),
            Figure(f"requests per event, {name}", level.requests / (level.events or 1), "requests"),
            Figure(f'"ok" to the change in every view p99, {name}', visible_p99, "ms", target="<= 1,000 ms",
                   met=None if visible_p99 is None else visible_p99 <= 1000),
            Figure(f"changes missed, {name}", float(level.missed), "changes", target="0",
                   met=level.missed == 0 and not level.errors, note="; ".join(level.errors)),
        ]  # fmt: skip
    result.notes.append(
        f"The issue's scale: {rate:.0f} events a second for {seconds:.0f} s per level over "
        f"{SEED_CONVERSATIONS:,} open conversations in {len(GROUPS)} communities, from {senders} concurrent "
        "senders; half the events are messages into existing dialogs (three in four to 30 hot ones), the "
        "rest replies in 10 busy wall threads, new dialogs, new wall comments, edits and deletions (of new "
        "comments and of replies in the busy threads). Each operator is its own account and session, "
        "assigned to both communities, and its page is replayed in a process apart from the senders "
        "(the bench's CPU is shown apart: senders, and the clients' process). The inbox: GET /, then "
        "/live?since=<the list's position>, and on `resync` one GET of the list partial; pushed rows cause "
        "no request. A conversation page (one on each hot conversation, the rest on the 8 hottest): GET "
        "the page, /live?conversation=ID, and per live event what htmx does: GET each partial whose "
        "hx-trigger lists the event, one in flight per partial and one more queued; a `part` event is "
        "swapped without a request, `resync` fetches each partial once. A change is in view when the "
        "inbox row of its conversation shows it (its text or a later event's; a deleted thread: its wait "
        "ended) or the page's timeline shows its text (a deletion: the item marked deleted); replies "
        "deleted from a thread are checked in the inbox's final view only. Missed: an inbox's last row of "
        "a changed conversation differs from the database (preview and wait), or a page's last timeline "
        "lacks an item of the level or shows its text or deletion otherwise than the database. CPU is "
        f"measured from the first event to {settle:.0f} s after the last, and on until no view has a "
        "request in flight or heard anything for a second (a loaded server still owes them); the "
        "PostgreSQL figure counts every postgres process of the machine, which other work shares. "
        "Dropped: the servers' log lines for a live update dropped because a stream's queue was full "
        "(proxy/live.py; the page is not told)."
    )
