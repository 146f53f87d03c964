"""Check the journal's hash chain from the first entry to the last, in constant memory.

What it proves: every entry still has the content it was written with, none was removed from the
middle, and none was inserted out of order. Given the journal key, also that every entry with a MAC was
written by someone holding the key, and that none without one follows the first that has one. What
it cannot prove on its own: that nothing was cut off the end or rewritten from some entry on with fresh
hashes. Signed checkpoints kept outside the database catch that (proxy/audit/checkpoints.py).

After the walk, every outcome is compared with its chained outcome record (proxy/audit/outcomes.py):
an outcome changed, emptied or filled behind the triggers is found without any key.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections

from proxy.audit.immutability import missing_guards
from proxy.audit.journal import (
    GENESIS_HASH,
    entry_hash,
    entry_mac,
    outcome_in_hash,
    outcome_mac,
)
from proxy.audit.outcomes import OutcomeWatch
from proxy.audit.signing import JournalKey
from proxy.models import JournalEntry, Outcome

DEFAULT_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ChainBreak:
    """The first entry that does not match, and what is wrong with it."""

    entry_id: int
    reason: str
    # Found after the walk: the chain itself matched; an outcome differs from its chained record.
    outcome: bool = False


@dataclass(frozen=True)
class ChainReport:
    """The result of a walk: how many entries matched, the last good hash, the first break."""

    count: int
    head_hash: str
    broken: ChainBreak | None = None
    missing_guards: list[str] = field(default_factory=list)
    # The id of the first entry with a MAC (every later one must have one), None if no entry has one.
    keyed_from: int | None = None
    macs_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.missing_guards


async def verify_chain(
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    start_hash: str = GENESIS_HASH,
    key: JournalKey | None = None,
    observe: Callable[[JournalEntry], None] | None = None,
    connection: Any = None,
) -> ChainReport:
    """Walk the journal in id order, recompute every hash and check every link; stop at the first break.

    `start_hash` is what the first entry must link to: the genesis hash, or, after old months were
    archived (docs/audit.md), the hash of the last archived entry. With `key`, every MAC is checked too.
    `observe` sees each entry that passed, in order (checkpoints build their Merkle tree with it).
    """
    conn = connection or connections.get("default")
    guards = await missing_guards(conn)
    secret = key.mac_secret() if key is not None else None
    expected_prev = start_hash
    count = 0
    keyed_from: int | None = None
    last_id: int | None = None
    outcomes = OutcomeWatch()
    while True:
        query = JournalEntry.all().using_db(conn)
        if last_id is not None:
            query = query.filter(id__gt=last_id)
        page = await query.order_by("id").limit(page_size)
        for entry in page:
            hashed = outcome_in_hash(entry)  # one hash more, only for an entry written with its outcome
            problem = _check(entry, expected_prev, first=count == 0, outcome_hashed=hashed) or _check_mac(
                entry, secret, keyed=keyed_from is not None
            )
            if problem is not None:
                return ChainReport(
                    count,
                    expected_prev,
                    ChainBreak(entry.id, problem),
                    guards,
                    keyed_from,
                    secret is not None,
                )
            if keyed_from is None and entry.mac is not None:
                keyed_from = entry.id
            outcomes(entry, outcome_hashed=hashed)
            if observe is not None:
                observe(entry)
            expected_prev = entry.hash
            count += 1
        if len(page) < page_size:
            found = await outcomes.check(conn)
            broken = ChainBreak(found[0], found[1], outcome=True) if found is not None else None
            return ChainReport(count, expected_prev, broken, guards, keyed_from, secret is not None)
        last_id = page[-1].id


def _check_mac(entry: JournalEntry, secret: bytes | None, *, keyed: bool) -> str | None:
    if entry.mac is None:
        if keyed:
            return (
                "it has no MAC although the entries before it have one: it was written without the journal"
                " key (inserted by hand?)"
            )
        return None
    if secret is None:
        return None
    if not hmac.compare_digest(entry.mac, entry_mac(entry, secret)):
        return "its MAC is not the journal key's: it was written without the key (forged) or with another key"
    if entry.outcome_at is None and entry.outcome in (None, Outcome.PENDING) and entry.outcome_mac is None:
        return None  # still pending
    expected = (
        outcome_mac(secret, entry.hash, entry.outcome, entry.outcome_detail, entry.outcome_at)
        if entry.outcome_at is not None
        else None
    )
    if expected is None or entry.outcome_mac is None or not hmac.compare_digest(entry.outcome_mac, expected):
        return (
            f"its outcome ({entry.outcome}: {entry.outcome_detail or 'no detail'}) does not carry the journal"
            " key's MAC: the outcome was changed behind the triggers"
        )
    return None


def _check(entry: JournalEntry, expected_prev: str, *, first: bool, outcome_hashed: bool) -> str | None:
    if entry.prev_hash != expected_prev:
        if first:
            return f"the first entry must link to {expected_prev}, it links to {entry.prev_hash}"
        return (
            f"prev_hash {entry.prev_hash} does not link to the entry before it (hash {expected_prev}):"
            " an entry was removed, inserted or reordered"
        )
    if outcome_hashed:
        return None
    computed = entry_hash(entry)
    if computed != entry.hash:
        return f"content does not match its hash (stored {entry.hash}, computed {computed}): the entry was altered"
    return None


# What the report says, in the words `proxy journal verify` prints (and the checkpoints page shows).


def problem_lines(report: ChainReport, *, with_break: bool = True) -> list[str]:
    """The first break (and how much matched before it) and any missing guard, one line each."""
    lines = []
    if with_break and report.broken is not None:
        lines.append(f"journal entry {report.broken.entry_id}: {report.broken.reason}")
        if not report.broken.outcome:
            lines.append(f"{report.count} entries before it match")
    if report.missing_guards:
        lines.append(
            "database guards missing or disabled: "
            + ", ".join(report.missing_guards)
            + " (history can be rewritten; run `proxy migrate` or restore them)"
        )
    return lines


def mac_coverage_lines(report: ChainReport) -> list[str]:
    if report.keyed_from is None:
        return []  # no entry has a MAC: the output is what it always was
    checked = (
        "checked with the journal key" if report.macs_checked else "not checked (no journal key configured)"
    )
    return [f"entries from {report.keyed_from} on carry MACs, {checked}"]


def digest_lines(count: int) -> list[str]:
    if not count:
        return []
    return [
        f"item versions, raw events and tombstones match the {count} digest{'s' if count != 1 else ''} in the journal"
    ]
