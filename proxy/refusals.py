"""Refused requests: counted in memory, journaled once per minute window with their count.

Anyone who can reach the callback URL can send wrong secrets, and an operator can reload a page they may
not see. With one journal row per refusal they could grow the append-only journal without bound (nobody
can delete its rows), and every refusal took a database write and the journal's lock from the valid
traffic. So a refusal is only counted here, in memory: per journal action ("callback.bad_secret",
"access.denied"), community, operator, attempted action, reason and minute window. Each window is
journaled once, with its count, the window and a few examples (remote addresses, targets), when it has
ended (a task of the app wakes at every window's end) and, for the windows still open, when the app
stops. Every refusal is also counted in ``proxy_refusals_total{action, reason}`` at once.

Each instance counts and journals its own refusals: with several instances one window can have one entry
per instance, and their counts add up.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from proxy import metrics
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.models import ActorKind

__all__ = [
    "REFUSALS",
    "WINDOW",
    "RefusalCounter",
    "callback_refused",
    "flush",
    "flush_at_stop",
    "flush_each_window",
    "operator_refused",
]

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=1)
# Distinct remote addresses (callbacks) or targets (operators) kept per window as examples.
SAMPLES = 10
# A window is journaled this long after it ends, so that a refusal counted at its last instant is in.
FLUSH_DELAY_SECONDS = 1.0
# Attempts to journal one window (one per window's end while the database is away) before its count
# is given up; it is logged then.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RefusalKey:
    """What one journal entry aggregates."""

    window_start: datetime
    action: str  # the journal action
    actor_kind: ActorKind
    community_id: int | None
    operator_id: int | None
    attempted: str  # access.denied: what the operator tried ("audit.view"); "" for callbacks
    reason: str


@dataclass
class Tally:
    count: int = 0
    samples: list[str] = field(default_factory=list)
    attempts: int = 0

    def add(self, sample: str, count: int = 1) -> None:
        self.count += count
        if sample and sample not in self.samples and len(self.samples) < SAMPLES:
            self.samples.append(sample)

    def merge(self, other: Tally) -> None:
        self.count += other.count
        for sample in other.samples:
            self.add(sample, 0)
        self.attempts = max(self.attempts, other.attempts)


def window_start(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class RefusalCounter:
    """Counts by window and writes each window's count to the journal once."""

    def __init__(self) -> None:
        self._tallies: dict[RefusalKey, Tally] = {}

    def count(
        self,
        action: str,
        *,
        actor_kind: ActorKind,
        reason: str,
        community_id: int | None = None,
        operator_id: int | None = None,
        attempted: str = "",
        sample: str = "",
    ) -> None:
        """One refusal: in memory only."""
        key = RefusalKey(
            window_start(utcnow()), action, actor_kind, community_id, operator_id, attempted, reason
        )
        self._tallies.setdefault(key, Tally()).add(sample)
        metrics.REFUSALS.labels(action, reason).inc()

    def pending(self) -> dict[RefusalKey, int]:
        """The counts not journaled yet."""
        return {key: tally.count for key, tally in self._tallies.items()}

    def discard(self) -> None:
        """Forget every count (they belong to a database that is gone)."""
        self._tallies.clear()

    async def flush(self, until: datetime | None = None) -> int:
        """Journal every window that ended by `until` (every window, the open ones too, when None).

        Returns the number of entries written. A window that cannot be written stays counted and is
        tried again at the next flush; the ones after it wait too (the database is likely away).
        """
        # In the order their first refusal came.
        due = [key for key in self._tallies if until is None or key.window_start + WINDOW <= until]
        # Taken out before the first await: refusals counted meanwhile go to tallies of their own.
        taken = [(key, self._tallies.pop(key)) for key in due]
        written = 0
        for index, (key, tally) in enumerate(taken):
            try:
                await _journal(key, tally)
            except Exception as exc:
                tally.attempts += 1
                if tally.attempts >= MAX_ATTEMPTS:
                    log.error("giving up journaling %s refusals (%s): %s", tally.count, key, exc)
                    taken_back = taken[index + 1 :]
                else:
                    log.warning("cannot journal refusals yet (%s); will try again", exc)
                    taken_back = taken[index:]
                for back_key, back_tally in taken_back:
                    self._tallies.setdefault(back_key, Tally()).merge(back_tally)
                return written
            written += 1
        return written


async def _journal(key: RefusalKey, tally: Tally) -> None:
    params: dict[str, object] = {
        "reason": key.reason,
        "count": tally.count,
        "window_start": key.window_start.isoformat(),
        "window_end": (key.window_start + WINDOW).isoformat(),
    }
    if key.attempted:
        params["action"] = key.attempted
    if tally.samples:
        params["targets" if key.operator_id is not None else "remotes"] = tally.samples
    await journal.record(
        key.action,
        actor_kind=key.actor_kind,
        operator_id=key.operator_id,
        community_id=key.community_id,
        params=params,
    )


REFUSALS = RefusalCounter()


def callback_refused(community_id: int, reason: str, remote: str | None) -> None:
    """A Callback API request for a served community refused (a wrong or missing secret)."""
    REFUSALS.count(
        "callback.bad_secret",
        actor_kind=ActorKind.SYSTEM,
        community_id=community_id,
        reason=reason,
        sample=remote or "",
    )


def operator_refused(
    operator_id: int, *, community_id: int | None, attempted: str, target: str, reason: str
) -> None:
    """An operator refused `attempted` (the journal name of the action or page, e.g. "audit.view") on
    `target` ("conversation:12")."""
    REFUSALS.count(
        "access.denied",
        actor_kind=ActorKind.OPERATOR,
        operator_id=operator_id,
        community_id=community_id,
        attempted=attempted,
        reason=reason,
        sample=target,
    )


async def flush(until: datetime | None = None) -> int:
    """Journal the counted refusals (see RefusalCounter.flush)."""
    return await REFUSALS.flush(until)


async def flush_each_window() -> None:
    """Journal each window just after it ends, forever (the runtime runs it while workers are on)."""
    while True:
        now = utcnow()
        ends = window_start(now) + WINDOW
        await asyncio.sleep((ends - now).total_seconds() + FLUSH_DELAY_SECONDS)
        try:
            await REFUSALS.flush(utcnow())
        except Exception:
            log.exception("journaling refusals failed")


async def flush_at_stop() -> None:
    """Journal every count, the open windows' too (the app is stopping; the database is still open)."""
    await REFUSALS.flush()
    for key, count in REFUSALS.pending().items():
        log.error("%s refusals not journaled (%s)", count, key)
