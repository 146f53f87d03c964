"""Outcomes against their chained records: an outcome changed or emptied behind the triggers is found.

`set_outcome` fills an entry's outcome columns and, in the same transaction, appends an outcome record
(`journal.OUTCOME_ACTION`) to the chain. The chain and the signed checkpoints cover the record, not the
columns; so verify compares the two, which needs no key:

- every outcome record's entry has filled outcome columns equal to the record (outcome, detail, time):
  otherwise the outcome was rewritten, or emptied back to pending;
- from the first outcome record (or the first entry whose hash covers its outcome) on, every entry whose
  outcome its hash does not cover has a record: otherwise the outcome was filled by hand.

An outcome written with its entry (`record(outcome=done)`) is covered by the entry's own hash
(`journal.outcome_in_hash`): changed or emptied, the entry no longer matches its hash.

Outcomes filled, or written with their entry, before outcomes were chained (by earlier versions) are
legacy: covered only by their `outcome_mac` (checked given the private key) and by the digests' counts
(proxy/audit/history.py).

The walk counts (constant memory); the records are then read again by pages and compared with their
entries.
"""

from __future__ import annotations

from typing import Any

from proxy.audit.journal import OUTCOME_ACTION, outcome_in_hash
from proxy.models import JournalEntry

PAGE_SIZE = 1000


class OutcomeWatch:
    """Sees every entry of a verified walk in order; counts what `check` compares afterwards."""

    def __init__(self) -> None:
        self.first_record: int | None = None  # where outcomes are chained from: a record or a hashed one
        self.last_id: int | None = None
        self.filled_later = 0  # entries after the first record whose outcome was filled after them
        self.records_after = 0  # records (after the first) completing an entry after the first record

    def __call__(self, entry: JournalEntry, *, outcome_hashed: bool) -> None:
        self.last_id = entry.id
        if entry.action == OUTCOME_ACTION:
            if self.first_record is None:
                self.first_record = entry.id
            target = _target(entry)
            if target is not None and target > self.first_record:
                self.records_after += 1
            return
        if self.first_record is None and outcome_hashed:
            self.first_record = entry.id  # outcomes are in the chain from here on, as from a first record
            return
        if (
            self.first_record is not None
            and entry.id > self.first_record
            and filled_later(entry, outcome_hashed)
        ):
            self.filled_later += 1

    async def check(self, conn: Any) -> tuple[int, str] | None:
        """The first entry whose outcome does not match its record, or that has none: (its id, why)."""
        if self.first_record is None or self.last_id is None:
            return None
        found = await _records_against_entries(self.first_record, self.last_id, conn)
        if found is None and self.filled_later > self.records_after:
            found = await _filled_without_record(self.first_record, self.last_id, conn)
        return found


def filled_later(entry: JournalEntry, outcome_hashed: bool | None = None) -> bool:
    """Its outcome was filled after it was written (set_outcome), not with it: its hash does not cover it.

    One that reads as written with its entry (its time the entry's own) but is not in its hash was filled
    later too: by hand, with the entry's creation time as its time, or before outcomes were chained.
    """
    if entry.outcome_at is None:
        return False
    return not (outcome_in_hash(entry) if outcome_hashed is None else outcome_hashed)


def _target(entry: JournalEntry) -> int | None:
    target = entry.params.get("entry") if isinstance(entry.params, dict) else None
    return target if isinstance(target, int) else None


def describe(outcome: Any, detail: Any) -> str:
    return f"{outcome} ({detail or 'no detail'})"


def mismatch(entry: JournalEntry, record: JournalEntry) -> str | None:
    """Why the entry's outcome columns are not what its chained record says, or None if they are."""
    said = describe(record.params.get("outcome"), record.params.get("detail"))
    if entry.outcome_at is None:
        return (
            f"its outcome is empty ({entry.outcome or 'none'}) but the chained outcome record (entry {record.id})"
            f" says {said}: the outcome was emptied behind the triggers"
        )
    reads = describe(entry.outcome, entry.outcome_detail)
    if reads != said:
        return (
            f"its outcome reads {reads} but the chained outcome record (entry {record.id}) says {said}:"
            " the outcome was changed behind the triggers"
        )
    if entry.outcome_at != record.created_at:
        return (
            f"its outcome time {entry.outcome_at.isoformat()} is not the chained outcome record's (entry"
            f" {record.id}: {record.created_at.isoformat()}): the outcome was changed behind the triggers"
        )
    return None


async def _records_against_entries(first: int, last: int, conn: Any) -> tuple[int, str] | None:
    after = first - 1
    while True:
        records = (
            await JournalEntry.filter(action=OUTCOME_ACTION, id__gt=after, id__lte=last)
            .using_db(conn)
            .order_by("id")
            .limit(PAGE_SIZE)
        )
        targets = {t for t in (_target(r) for r in records) if t is not None}
        entries = (
            {e.id: e for e in await JournalEntry.filter(id__in=sorted(targets)).using_db(conn)}
            if targets
            else {}
        )
        for record in records:
            target = _target(record)
            if target is None:
                return record.id, "it is an outcome record that names no journal entry"
            entry = entries.get(target)
            if entry is None:
                continue  # archived (a walk from --start-hash): nothing left to compare
            problem = mismatch(entry, record)
            if problem is not None:
                return entry.id, problem
        if len(records) < PAGE_SIZE:
            return None
        after = records[-1].id


async def _filled_without_record(first: int, last: int, conn: Any) -> tuple[int, str] | None:
    """Only when the counts differ: the entry filled after the first record that has no record."""
    completed: set[int] = set()
    after = first
    while True:
        page = await (
            JournalEntry.filter(action=OUTCOME_ACTION, id__gt=after, id__lte=last)
            .using_db(conn)
            .order_by("id")
            .limit(PAGE_SIZE)
            .values_list("id", "params")
        )
        completed |= {p["entry"] for _, p in page if isinstance(p, dict) and isinstance(p.get("entry"), int)}
        if len(page) < PAGE_SIZE:
            break
        after = page[-1][0]
    after = first
    while True:
        entries = (
            await JournalEntry.filter(id__gt=after, id__lte=last, outcome_at__isnull=False)
            .exclude(action=OUTCOME_ACTION)
            .using_db(conn)
            .order_by("id")
            .limit(PAGE_SIZE)
        )
        for entry in entries:
            if filled_later(entry) and entry.id not in completed:
                return entry.id, (
                    f"its outcome reads {describe(entry.outcome, entry.outcome_detail)}, filled after it was written,"
                    " but no chained outcome record says so: the outcome was filled behind the triggers"
                )
        if len(entries) < PAGE_SIZE:
            return None
        after = entries[-1].id
