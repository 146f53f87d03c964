"""SQL that means the same on PostgreSQL and SQLite: parameters, epochs, local-time buckets, percentiles.

Statistics run as one aggregate query each (docs/conventions.md, "Measure when it happens"), and ingest,
the audit trail and the conversation state machine write some statements by hand; this module hides the few
places where the two dialects differ, so that every figure is computed by the same arithmetic on both
databases.

Timestamps: tortoise stores them on SQLite as UTC text ``YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`` (which sorts
in time order) and on PostgreSQL as ``timestamptz``. Parameters are passed in the same form.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

HOUR = 3600
DAY = 86400


class SqlQuery:
    """One statement's parameters for the current connection's dialect.

    `p(value)` returns a numbered placeholder (``$n`` on PostgreSQL, ``?n`` on SQLite), so that pieces of
    SQL can be assembled in any order.
    """

    def __init__(self, connection: Any = None) -> None:
        self.connection = connection or connections.get("default")
        self.postgres = self.connection.capabilities.dialect == "postgres"
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        if isinstance(value, datetime) and not self.postgres:
            value = sqlite_timestamp(value)
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else f"?{len(self.params)}"

    def one_of(self, column: str, values: Iterable[Any]) -> str:
        """A condition: `column` is one of `values` (false for none)."""
        placeholders = [self.p(value) for value in values]
        return f"{column} IN ({', '.join(placeholders)})" if placeholders else "1 = 0"

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        return await self.connection.execute_query_dict(sql, self.params)

    async def execute(self, sql: str) -> int:
        """Run a statement that changes rows; the number of rows changed."""
        count, _ = await self.connection.execute_query(sql, self.params)
        return count

    # -- time ---------------------------------------------------------------------------------------

    def epoch(self, column: str) -> str:
        """Seconds since 1970 as a float, microseconds included."""
        if self.postgres:
            return f"CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)"
        # strftime('%s') drops the fraction; the stored text carries it as ".ffffff" after the seconds.
        return (
            f"(CAST(strftime('%s', {column}) AS INTEGER) + "
            f"CASE WHEN substr({column}, 20, 1) = '.' THEN CAST(substr({column}, 20, 7) AS REAL) ELSE 0.0 END)"
        )

    def whole_epoch(self, column: str) -> str:
        """Whole seconds since 1970 (the fraction dropped), as an integer."""
        if self.postgres:
            return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
        return f"CAST(strftime('%s', {column}) AS INTEGER)"

    def plus_days(self, column: str, days: int) -> str:
        """`column` + `days` days, comparable with other timestamp columns."""
        if self.postgres:
            return f"({column} + INTERVAL '{int(days)} days')"
        # Adding whole days keeps the fraction and the +00:00 suffix, which start at character 20.
        return f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '+{int(days)} days') || substr({column}, 20))"

    def local_bucket(self, column: str, tz: ZoneInfo, start: datetime, end: datetime, size: int) -> str:
        """The number of the local hour (size=HOUR) or day (size=DAY) `column` falls in, in `tz`.

        Bucket n starts at local wall time 1970-01-01 + n*size; see `bucket_start`. The zone's UTC
        offsets over [start, end) are written into the SQL as a CASE, so both databases bucket the same
        way without time-zone support of their own (SQLite has none).
        """
        epoch = self.whole_epoch(column)
        changes = offset_changes(tz, start, end)
        if len(changes) == 1:
            offset = str(changes[0][1])
        else:
            whens = " ".join(f"WHEN {epoch} < {at} THEN {before}" for (at, _), (_, before) in _pairs(changes))
            offset = f"(CASE {whens} ELSE {changes[-1][1]} END)"
        return f"(({epoch} + {offset}) / {int(size)})"


def _pairs(changes: list[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(next change, current offset) pairs: before change i+1 the offset of change i applies."""
    return [(changes[i + 1], changes[i]) for i in range(len(changes) - 1)]


def sqlite_timestamp(value: datetime) -> str:
    """A datetime in the text form tortoise stores on SQLite (UTC, microseconds only when non-zero)."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(sep=" ")


def bucket_start(bucket: int, size: int) -> datetime:
    """The local wall time (naive) at which bucket number `bucket` of `size` seconds starts."""
    return datetime(1970, 1, 1) + timedelta(seconds=int(bucket) * size)


def _offset(tz: ZoneInfo, at: datetime) -> int:
    offset = at.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def offset_changes(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[int, int]]:
    """[(epoch second from which it applies, UTC offset in seconds)] over [start, end).

    The first entry applies from `start`; the rest are the zone's transitions inside the interval.
    """
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    changes = [(int(start_utc.timestamp()), _offset(tz, start_utc))]
    probe = start_utc
    while probe < end_utc:
        step = min(probe + timedelta(days=1), end_utc)
        if _offset(tz, step) != changes[-1][1]:
            # Narrow the change down to the second: zone transitions fall on whole seconds.
            low, high = int(probe.timestamp()), int(step.timestamp())
            while high - low > 1:
                mid = (low + high) // 2
                if _offset(tz, datetime.fromtimestamp(mid, UTC)) == changes[-1][1]:
                    low = mid
                else:
                    high = mid
            changes.append((high, _offset(tz, datetime.fromtimestamp(high, UTC))))
        probe = step
    return changes


def percentile(value: str, rank: str, count: str, numerator: int, denominator: int) -> str:
    """An aggregate expression: the (numerator/denominator) quantile of `value`, linear interpolation.

    Same definition as PostgreSQL's percentile_cont, Excel's PERCENTILE.INC and numpy's default: with
    the n values sorted as v[0..n-1], h = q*(n-1), result = v[floor h] + (h - floor h) * (v[floor h + 1]
    - v[floor h]). `rank` is the value's 0-based ROW_NUMBER in its group ordered by value and `count` the
    group's number of values (window columns computed beforehand); q is rational so that floor(h) is
    integer arithmetic, identical on both databases. NULL for a group without values.
    """
    scaled = f"(({count}) - 1) * {int(numerator)}"
    low = f"({scaled}) / {int(denominator)}"
    v_low = f"MAX(CASE WHEN {rank} = {low} THEN {value} END)"
    v_high = f"MAX(CASE WHEN {rank} = {low} + 1 THEN {value} END)"
    fraction = f"(CAST(MAX(({scaled}) % {int(denominator)}) AS DOUBLE PRECISION) / {int(denominator)})"
    return f"({v_low} + {fraction} * (COALESCE({v_high}, {v_low}) - {v_low}))"
