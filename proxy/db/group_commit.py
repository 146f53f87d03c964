"""Group commit: one-row statements that arrive together are written together (PostgreSQL).

Ingest's common event is one statement in autocommit (`ingest._new_incoming_item`). At a busy
community's peak, dozens of those are waiting at any moment, and each paid for itself what a group
can share: a round trip, the pool's acquire and release, its own commit and WAL flush. Here a
statement that arrives while a group is being written waits for the next group, which is written as
one transaction with its statements pipelined (asyncpg's `fetchmany`: one round trip per run of the
same text). A statement that finds nothing being written is written at once, alone, in autocommit,
exactly as before: a quiet community sees no delay and no difference. At 64 concurrent senders this
took the machine's CPU per event from 1.65 to 0.93 ms (docs/benchmarks.md).

Each caller gets its own statement's row once the group has committed, or the error its own
statement raises. When a group fails (a unique key a concurrent writer took first, a deadlock, a lost
connection) nothing of it was committed, and each of its statements is run again alone, so an error
reaches only the caller whose statement causes it.

Statements in a group are run in the order of the key their callers give (ingest gives the
conversation), so two groups lock the rows they share in the same order rather than deadlocking.
Within each statement the project's lock order holds (docs/architecture.md, "Lock order";
proxy/locks.py): ingest's statement locks its conversation and then inserts the item, and takes no
outbox row, ban or journal lock. A group therefore holds conversations, in key order, and rows it
inserted itself: nothing that another transaction takes before a conversation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from proxy import metrics
from proxy.db.sql import SqlQuery

log = logging.getLogger(__name__)

# Groups written at the same time at most, each on a pooled connection of its own (of five by default).
WRITERS = 2
# Statements in one group at most: a group holds the locks it takes until it commits.
MAX_GROUP = 64


@dataclass
class _Pending:
    query: SqlQuery
    sql: str
    order: str
    result: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """The groups of one database connection (see the module's docstring)."""

    def __init__(self) -> None:
        self._pending: list[_Pending] = []
        self._writing = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def fetch_row(self, query: SqlQuery, sql: str, order: str = "") -> dict[str, Any]:
        """The one row `sql` (with `query`'s parameters) returns, after it has committed."""
        pending = _Pending(query, sql, order)
        self._pending.append(pending)
        self._start_writers()
        # The statement is written whether or not this caller is still waiting for it.
        return await asyncio.shield(pending.result)

    def _start_writers(self) -> None:
        # A second writer only for a full group: while one writer keeps up, statements wait for it
        # and go in its next group, the cheapest way to write them (a writer taking whatever single
        # statement came in made most groups a group of one).
        while self._pending and (
            self._writing == 0 or (self._writing < WRITERS and len(self._pending) >= MAX_GROUP)
        ):
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            self._writing += 1
            task = asyncio.create_task(self._write(group), name="group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, group: list[_Pending]) -> None:
        metrics.GROUP_COMMIT_STATEMENTS.observe(len(group))
        try:
            if len(group) == 1:
                await _alone(group[0])
            else:
                try:
                    written = await _together(group)
                except Exception as exc:
                    # Nothing of the group was committed: each statement on its own, for its own error.
                    metrics.GROUP_COMMIT_FAILED.inc()
                    log.info("a group of %d statements failed (%s); writing them one by one", len(group), exc)
                    for pending in group:
                        await _alone(pending)
                else:
                    for pending, row in written:
                        pending.result.set_result(row)
        finally:
            for pending in group:
                if not pending.result.done():
                    pending.result.cancel()
            self._writing -= 1
            self._start_writers()


def _order(pending: _Pending) -> str:
    return pending.order


async def _alone(pending: _Pending) -> None:
    try:
        rows = await pending.query.rows(pending.sql)
    except Exception as exc:
        pending.result.set_exception(exc)
    else:
        pending.result.set_result(rows[0])


async def _together(group: list[_Pending]) -> list[tuple[_Pending, dict[str, Any]]]:
    """Each statement of the group with its row, from one transaction; raises when any fails."""
    ordered = sorted(group, key=_order)  # stable: callers with the same key keep their arrival order
    runs: list[tuple[str, list[list[Any]]]] = []
    for pending in ordered:
        if runs and runs[-1][0] == pending.sql:
            runs[-1][1].append(pending.query.params)
        else:
            runs.append((pending.sql, [pending.query.params]))
    rows: list[dict[str, Any]] = []
    async with ordered[0].query.connection.acquire_connection() as connection, connection.transaction():
        for sql, parameters in runs:
            rows += [dict(record) for record in await connection.fetchmany(sql, parameters)]
        if len(rows) != len(ordered):  # each statement returns one row; rolled back otherwise
            raise RuntimeError(f"a group of {len(ordered)} statements returned {len(rows)} rows")
    return list(zip(ordered, rows, strict=True))


# The attribute of a database client that holds its groups: they live and end with the client (a new
# database opened in the same process starts with groups of its own), and no module keeps them.
_ATTRIBUTE = "_proxy_group_commit"


def group_commit(query: SqlQuery) -> GroupCommit:
    """The groups of `query`'s connection (one per database client), kept on the client itself."""
    groups = getattr(query.connection, _ATTRIBUTE, None)
    if groups is None:
        groups = GroupCommit()
        setattr(query.connection, _ATTRIBUTE, groups)
    return groups
