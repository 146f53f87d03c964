"""Digests of the history tables in the journal's chain: a rewritten item version or raw event is found.

`item_version` rows are never updated and a `raw_event`'s delivered content (everything but its
processing status) never changes, but the chain covers neither: with the triggers disabled, someone could
rewrite them unnoticed. So each checkpoint is preceded by a chained `audit.digest` journal entry holding,
per table, the number of rows, the last id and the RFC 9162 Merkle root over the rows up to it (each leaf
one row's covered columns as canonical JSON, as the backup writes them). The entry is covered by the
chain, its MAC and the checkpoints; `verify_digests` recomputes every digest from the rows.

Rows are digested only once they are `SETTLE_SECONDS` old: on PostgreSQL, ids are handed out before
their transactions commit, so a younger row may still be joined by one with a smaller id.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tortoise.models import Model
from tortoise.transactions import in_transaction

from proxy.audit import journal, merkle
from proxy.audit.backup import canonical_value
from proxy.clock import utcnow
from proxy.models import ActorKind, ItemTombstone, ItemVersion, JournalEntry, Outcome, RawEvent

DIGEST_ACTION = "audit.digest"
OUTCOMES = "journal_outcomes"  # the digest's part about the journal's own outcomes
SETTLE_SECONDS = 300
PAGE_SIZE = 1000


@dataclass(frozen=True)
class Covered:
    """A history table, the columns that never change after insert, and its time column (None: the table
    has no recording time; its rows settle through the digests themselves, see _settled_last_id)."""

    name: str
    model: type[Model]
    columns: tuple[str, ...]
    time_column: str | None


COVERED = (
    Covered(
        "item_version",
        ItemVersion,
        ("id", "item_id", "number", "text", "attachments", "forwarded", "forwarded_text", "valid_from", "recorded_at"),
        "recorded_at",
    ),
    # status and detail are the processing result, filled after insert.
    Covered(
        "raw_event",
        RawEvent,
        ("id", "community_id", "vk_group_id", "event_id", "type", "payload", "source", "received_at"),
        "received_at",
    ),
    # A deletion's own facts. Filled later, legitimately, once each: last_text (a placeholder's text
    # arrives), deleted_via and deleted_by_id (the deletion is found to be an operator's or a VK admin's),
    # restored_at and restored_by_id (the restoration). last_text is checked against the item's versions
    # instead (tombstone_text_not_in_versions); the others are journaled where they happen.
    Covered("item_tombstone", ItemTombstone, ("id", "item_id", "deleted_at", "deleter_vk_id"), None),
)


def row_body(table: Covered, row: Model) -> dict[str, Any]:
    """A row's covered columns as JSON values (the backup's encoding)."""
    return {column: canonical_value(getattr(row, column)) for column in table.columns}


def leaf_bytes(body: dict[str, Any]) -> bytes:
    """A row's leaf in its table's tree: its body as compact JSON with sorted keys."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def row_leaf(table: Covered, row: Model) -> bytes:
    return leaf_bytes(row_body(table, row))


def covered(name: str) -> Covered:
    return next(table for table in COVERED if table.name == name)


async def leaves_and_rows(
    table: Covered, up_to_id: int, wanted: set[int], *, connection: Any
) -> tuple[list[bytes], dict[int, tuple[int, dict[str, Any]]]]:
    """The leaf hashes of the table's rows up to `up_to_id` (id order), and for each wanted row id
    found there its position in the tree and its body: what inclusion proofs are made from."""
    hashed: list[bytes] = []
    found: dict[int, tuple[int, dict[str, Any]]] = {}

    def visit(row: Model, leaf: bytes) -> None:
        if row.id in wanted:
            found[row.id] = (len(hashed), row_body(table, row))
        hashed.append(merkle.leaf_hash(leaf))

    last_id = 0
    while True:
        page = (
            await table.model.filter(id__gt=last_id, id__lte=up_to_id)
            .using_db(connection)
            .order_by("id")
            .limit(PAGE_SIZE)
        )
        for row in page:
            visit(row, row_leaf(table, row))
            last_id = row.id
        if len(page) < PAGE_SIZE:
            return hashed, found


async def _walk(table: Covered, conn: Any, up_to_id: int | None, stops: list[int], on_stop: Any) -> merkle.TreeBuilder:
    """Feed the table's rows (id order, up to `up_to_id`) to a tree; call on_stop(last_id, tree) at each stop."""
    tree = merkle.TreeBuilder()
    pending = sorted(stops)
    last_id = 0
    while True:
        query = table.model.filter(id__gt=last_id).using_db(conn)
        if up_to_id is not None:
            query = query.filter(id__lte=up_to_id)
        page = await query.order_by("id").limit(PAGE_SIZE)
        for row in page:
            while pending and pending[0] < row.id:
                on_stop(pending.pop(0), tree)
            tree.append(row_leaf(table, row))
            last_id = row.id
        if len(page) < PAGE_SIZE:
            break
    for stop in pending:
        on_stop(stop, tree)
    return tree


async def _settled_last_id(table: Covered, conn: Any, settle_seconds: float, previous: JournalEntry | None) -> int:
    cutoff = utcnow() - timedelta(seconds=settle_seconds)
    if table.time_column is None:
        # No recording time (a tombstone's deleted_at is VK's, possibly hours old): the ids a digest saw
        # are settled once that digest is settle_seconds old, as no transaction holding one is still open.
        part = previous.params.get(table.name) if previous is not None and isinstance(previous.params, dict) else None
        if not isinstance(part, dict):
            return 0
        return int(part.get("seen", 0) if previous.created_at <= cutoff else part.get("last_id", 0))
    row = (
        await table.model.filter(**{f"{table.time_column}__lte": cutoff})
        .using_db(conn)
        .order_by("-id")
        .first()
        .values_list("id", flat=True)
    )
    return int(row or 0)


async def record_digest(*, settle_seconds: float = SETTLE_SECONDS, connection: Any = None) -> JournalEntry | None:
    """Journal a digest of every covered table up to its settled rows, unless nothing changed since the last."""
    from tortoise import connections

    conn = connection or connections.get("default")
    previous = await JournalEntry.filter(action=DIGEST_ACTION).using_db(conn).order_by("-id").first()
    digest: dict[str, Any] = {}
    for table in COVERED:
        last_id = await _settled_last_id(table, conn, settle_seconds, previous)
        tree = await _walk(table, conn, last_id, [], lambda *_: None)
        digest[table.name] = {
            "rows": tree.size,
            "last_id": last_id,
            "root": base64.b64encode(tree.root()).decode(),
        }
        if table.time_column is None:
            seen = await table.model.all().using_db(conn).order_by("-id").first().values_list("id", flat=True)
            digest[table.name]["seen"] = max(int(seen or 0), last_id)
    if previous is None and not any(part["rows"] for part in digest.values()):
        return None  # nothing to digest yet (tombstone ids seen are noted by the first digest with rows)
    if connection is not None:
        return await _record_with_outcomes(digest, previous, connection)
    async with in_transaction() as tx:
        return await _record_with_outcomes(digest, previous, tx)


async def _record_with_outcomes(
    digest: dict[str, Any], previous: JournalEntry | None, conn: Any
) -> JournalEntry | None:
    """Add the journal's outcomes to the digest and journal it, holding the chain's lock so that the
    counted entries are exactly those before the digest entry.

    A filled outcome never becomes pending again, so the digest notes how many entries before it have one
    and which are pending: `verify_outcomes` then finds an outcome emptied behind the triggers. Counted
    first, pending listed second: an outcome filled between the two is in neither, which can only make
    the later count higher than expected, never lower.
    """
    await journal.lock_chain(conn)
    filled = await JournalEntry.filter(outcome_at__isnull=False).using_db(conn).count()
    pending = await (
        JournalEntry.filter(outcome=Outcome.PENDING, outcome_at__isnull=True)
        .using_db(conn)
        .order_by("id")
        .values_list("id", flat=True)
    )
    digest = {**digest, OUTCOMES: {"filled": filled, "pending": list(pending)}}
    if previous is not None and previous.params == digest:
        return None
    return await journal.record(DIGEST_ACTION, actor_kind=ActorKind.SYSTEM, params=digest, connection=conn)


class Watch:
    """Sees every entry of a verified walk in order: keeps the digests, and for each the number of entries
    before it whose outcome is filled now (what verify_outcomes compares with the digest's count)."""

    def __init__(self, *, from_first_entry: bool = True) -> None:
        # A walk from an archived entry's hash (--start-hash) cannot count the entries before it.
        self.from_first_entry = from_first_entry
        self.digests: list[JournalEntry] = []
        self.filled_before: dict[int, int] = {}
        self._filled = 0

    def __call__(self, entry: JournalEntry) -> None:
        if entry.action == DIGEST_ACTION:
            self.digests.append(entry)
            self.filled_before[entry.id] = self._filled
        if entry.outcome_at is not None:
            self._filled += 1


async def verify_outcomes(watch: Watch, *, connection: Any = None) -> DigestBreach | None:
    """Every outcome filled when a digest was made is still filled: the entries before each digest with a
    filled outcome now number at least its count plus those of its pending ones filled since."""
    from tortoise import connections

    if not watch.from_first_entry:
        return None
    conn = connection or connections.get("default")
    parts = [(d, d.params.get(OUTCOMES)) for d in watch.digests if isinstance(d.params, dict)]
    parts = [(d, part) for d, part in parts if isinstance(part, dict)]
    asked = sorted({entry_id for _, part in parts for entry_id in part.get("pending", [])})
    filled_since: set[int] = set()
    for start in range(0, len(asked), PAGE_SIZE):
        chunk = asked[start : start + PAGE_SIZE]
        filled_since |= set(
            await JournalEntry.filter(id__in=chunk, outcome_at__isnull=False).using_db(conn).values_list("id", flat=True)
        )
    for digest, part in parts:
        filled, since = int(part.get("filled", 0)), len(set(part.get("pending", [])) & filled_since)
        now = watch.filled_before.get(digest.id, 0)
        if now < filled + since:
            return DigestBreach(
                "journal outcomes",
                digest.id,
                f"{filled} entries before it had a filled outcome (done or failed) when it was made and {since} of"
                f" those pending then have one since, but only {now} have one now: {filled + since - now}"
                " outcome(s) were emptied back to pending behind the triggers",
            )
    return None


@dataclass(frozen=True)
class DigestBreach:
    table: str
    entry_id: int
    reason: str

    def __str__(self) -> str:
        return f"{self.table} (digest in journal entry {self.entry_id}): {self.reason}"


async def verify_digests(digests: list[JournalEntry], *, connection: Any = None) -> DigestBreach | None:
    """Recompute every digest (entries of the verified chain, in order) from the rows; the first mismatch."""
    from tortoise import connections

    conn = connection or connections.get("default")
    for table in COVERED:
        breach = await _verify_table(table, digests, conn)
        if breach is not None:
            return breach
    return None


async def _verify_table(table: Covered, digests: list[JournalEntry], conn: Any) -> DigestBreach | None:
    stops: dict[int, tuple[JournalEntry, dict[str, Any]]] = {}
    for entry in digests:
        part = entry.params.get(table.name) if isinstance(entry.params, dict) else None
        if isinstance(part, dict) and isinstance(part.get("last_id"), int):
            stops.setdefault(part["last_id"], (entry, part))
    if not stops:
        return None
    found: list[DigestBreach] = []
    matched: list[int] = []

    def on_stop(last_id: int, tree: merkle.TreeBuilder) -> None:
        if found:
            return
        entry, part = stops[last_id]
        if tree.size == part.get("rows") and base64.b64encode(tree.root()).decode() == part.get("root"):
            matched.append(last_id)
            return
        since = f"after id {matched[-1]}" if matched else "from the first row"
        found.append(
            DigestBreach(
                table.name,
                entry.id,
                f"its {tree.size} rows up to id {last_id} do not match the {part.get('rows')} digested: a row"
                f" {since} up to id {last_id} was changed, inserted or removed",
            )
        )

    await _walk(table, conn, max(stops), list(stops), on_stop)
    return found[0] if found else None


async def tombstone_text_not_in_versions(*, connection: Any = None) -> int | None:
    """The first tombstone whose last text is none of its item's versions' texts (rewritten), or None.

    A tombstone's last_text is the item's text when it was deleted (so one of its versions'), or empty for
    a placeholder whose text has not arrived, or the text that arrived (the item's, then).
    """
    from tortoise import connections

    conn = connection or connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT t.id FROM item_tombstone t JOIN item i ON i.id = t.item_id WHERE NOT (t.last_text = ''"
        " OR t.last_text = i.text OR EXISTS (SELECT 1 FROM item_version v WHERE v.item_id = t.item_id"
        " AND v.text = t.last_text)) ORDER BY t.id LIMIT 1"
    )
    return int(rows[0]["id"]) if rows else None


async def item_text_not_in_versions(*, connection: Any = None) -> int | None:
    """The first item whose current text is none of its versions' texts (rewritten in place), or None.

    `item` is updated legitimately (an edit makes a new version current), so it cannot be digested; but
    its text is always one of its versions' (or empty, for a deletion of an item never seen).
    """
    from tortoise import connections

    conn = connection or connections.get("default")
    rows = await conn.execute_query_dict(
        "SELECT i.id FROM item i WHERE NOT ((i.version_count = 0 AND i.text = '') OR EXISTS "
        "(SELECT 1 FROM item_version v WHERE v.item_id = i.id AND v.text = i.text)) ORDER BY i.id LIMIT 1"
    )
    return int(rows[0]["id"]) if rows else None
