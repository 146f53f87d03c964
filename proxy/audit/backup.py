"""A full backup as JSON lines, and its import into an empty database.

Layout of a backup directory: one `<table>.jsonl` per table (every model table and the operator /
community link table), rows in primary-key order, one canonical JSON object per line (keys sorted,
datetimes as ISO 8601 UTC with microseconds, JSON columns as JSON); and `manifest.json` with the
schema (applied migrations), the table order, and each file's row count and SHA-256. The same data
gives the same bytes from PostgreSQL and from SQLite, so a backup can move between them.

Export reads one consistent snapshot (a repeatable-read transaction). Import refuses a database that
is not empty or not at the backup's schema, checks every checksum before writing anything, inserts in
foreign-key order in batches inside one transaction, and moves PostgreSQL's id sequences past the
imported ids. The history triggers refuse UPDATE and DELETE only, so an import passes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.fields import DatetimeField
from tortoise.fields.base import Field
from tortoise.models import Model
from tortoise.transactions import in_transaction

FORMAT = 1
MANIFEST = "manifest.json"
DEFAULT_PAGE_SIZE = 1000
DEFAULT_BATCH_SIZE = 500


class BackupError(Exception):
    """A backup cannot be written or read as asked; the message says why, in one line."""


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]  # sorted, as written in each line
    fields: dict[str, Field | None]  # column -> model field (None: a plain id of a link table)
    order_by: tuple[str, ...]
    model: type[Model] | None  # None for a many-to-many link table
    generated_pk: str | None  # the id column PostgreSQL numbers with a sequence


def _tables() -> list[_Table]:
    """Every table in an order where each comes after the tables it references."""
    models = {m._meta.db_table: m for m in Tortoise.apps["models"].values()}
    depends: dict[str, set[str]] = {}
    tables: dict[str, _Table] = {}
    for name, model in models.items():
        meta = model._meta
        depends[name] = {
            meta.fields_map[fk].related_model._meta.db_table  # type: ignore[attr-defined]
            for fk in (*meta.fk_fields, *meta.o2o_fields)
        } - {name}
        fields = {column: meta.fields_map[field] for field, column in meta.fields_db_projection.items()}
        pk_field = meta.fields_map[meta.pk_attr]
        tables[name] = _Table(
            name=name,
            columns=tuple(sorted(fields)),
            fields=fields,  # type: ignore[arg-type]
            order_by=(meta.db_pk_column,),
            model=model,
            generated_pk=meta.db_pk_column if getattr(pk_field, "generated", False) else None,
        )
        for m2m in meta.m2m_fields:
            field = meta.fields_map[m2m]
            if getattr(field, "_generated", False) or field.through in tables:  # type: ignore[attr-defined]
                continue  # the reverse side of a relation declared on the other model
            keys = (field.backward_key, field.forward_key)  # type: ignore[attr-defined]
            tables[field.through] = _Table(  # type: ignore[attr-defined]
                name=field.through,  # type: ignore[attr-defined]
                columns=tuple(sorted(keys)),
                fields=dict.fromkeys(keys),
                order_by=keys,
                model=None,
                generated_pk=None,
            )
            depends[field.through] = {name, field.related_model._meta.db_table}  # type: ignore[attr-defined]
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = sorted(t for t in tables if t not in ordered and depends[t] <= set(ordered))
        if not ready:
            raise BackupError("the tables reference each other in a cycle: no order to import them in")
        ordered.append(ready[0])
    return [tables[name] for name in ordered]


def canonical_value(value: Any) -> Any:
    """A column value as the backup writes it: the same from PostgreSQL and SQLite."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode()


async def _schema(conn: Any) -> list[str]:
    rows = await conn.execute_query_dict(
        "SELECT name FROM tortoise_migrations WHERE app = 'models' ORDER BY name"
    )
    return [row["name"] for row in rows]


# -- export ----------------------------------------------------------------------------------------------


async def export_backup(directory: Path, *, page_size: int = DEFAULT_PAGE_SIZE) -> dict[str, Any]:
    """Write every table to `directory` (new or empty) and return the manifest written with them."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} is not an empty directory: a backup never overwrites files")
    directory.mkdir(parents=True, exist_ok=True)
    tables = _tables()
    manifest: dict[str, Any] = {"format": FORMAT, "order": [t.name for t in tables], "tables": {}}
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            # One snapshot for every table, so references between them hold in the backup.
            await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        manifest["schema"] = await _schema(conn)
        for table in tables:
            digest = hashlib.sha256()
            rows = 0
            # A command-line task with the event loop to itself: plain blocking file writes are fine.
            with open(directory / f"{table.name}.jsonl", "wb") as out:  # noqa: ASYNC230
                async for row in _read(conn, table, page_size):
                    line = _line(row)
                    out.write(line)
                    digest.update(line)
                    rows += 1
            manifest["tables"][table.name] = {
                "file": f"{table.name}.jsonl",
                "rows": rows,
                "sha256": digest.hexdigest(),
            }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


async def _read(conn: Any, table: _Table, page_size: int) -> AsyncIterator[dict[str, Any]]:
    if table.model is None:
        async for row in _read_link_table(conn, table, page_size):
            yield row
        return
    model, pk = table.model, table.model._meta.pk_attr
    attrs = {column: field.model_field_name for column, field in table.fields.items()}  # type: ignore[union-attr]
    last: Any = None
    while True:
        query = model.all().using_db(conn)
        if last is not None:
            query = query.filter(**{f"{pk}__gt": last})
        page = await query.order_by(pk).limit(page_size)
        for instance in page:
            yield {column: canonical_value(getattr(instance, attr)) for column, attr in attrs.items()}
        if len(page) < page_size:
            return
        last = getattr(page[-1], pk)


async def _read_link_table(conn: Any, table: _Table, page_size: int) -> AsyncIterator[dict[str, Any]]:
    first, second = table.order_by
    offset = 0
    while True:
        # Link tables hold a few rows per operator: OFFSET paging is cheap enough here.
        page = await conn.execute_query_dict(
            f'SELECT "{first}", "{second}" FROM "{table.name}" ORDER BY "{first}", "{second}"'
            f" LIMIT {int(page_size)} OFFSET {int(offset)}"
        )
        for row in page:
            yield {first: row[first], second: row[second]}
        if len(page) < page_size:
            return
        offset += page_size


# -- import ----------------------------------------------------------------------------------------------


async def import_backup(directory: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, int]:
    """Load a backup into the empty, migrated database; the number of rows per table."""
    manifest = _read_manifest(directory)
    tables = _tables()
    if set(manifest.get("tables", {})) != {t.name for t in tables}:
        raise BackupError("the backup's tables differ from this database's: was it made by another version?")
    conn = connections.get("default")
    schema = await _schema(conn)
    if manifest.get("schema") != schema:
        raise BackupError(
            f"the backup was made at schema {manifest.get('schema', ['?'])[-1]}, the database is at "
            f"{schema[-1] if schema else 'no schema'}: migrate to the same version first"
        )
    for table in tables:
        count = (await conn.execute_query_dict(f'SELECT COUNT(*) AS n FROM "{table.name}"'))[0]["n"]
        if count:
            raise BackupError(
                f"the database is not empty ({table.name} has {count} rows): import only into a new one"
            )
    for table in tables:  # every file checked before anything is written
        _check_file(directory, table.name, manifest["tables"][table.name])
    counts: dict[str, int] = {}
    async with in_transaction() as tx:
        for table in tables:
            counts[table.name] = await _insert(tx, table, directory / f"{table.name}.jsonl", batch_size)
        if tx.capabilities.dialect == "postgres":
            await _reset_sequences(tx, tables)
    return counts


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory / MANIFEST} not found: not a backup directory") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {directory / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not a backup manifest of format {FORMAT}")
    return manifest


def _check_file(directory: Path, name: str, entry: dict[str, Any]) -> None:
    path = directory / f"{name}.jsonl"
    digest = hashlib.sha256()
    rows = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                digest.update(line)
                rows += 1
    except FileNotFoundError:
        raise BackupError(f"{path} is missing") from None
    if digest.hexdigest() != entry["sha256"]:
        raise BackupError(f"{path} does not match its checksum in the manifest: the backup is damaged")
    if rows != entry["rows"]:
        raise BackupError(f"{path} has {rows} rows, the manifest says {entry['rows']}")


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        for line in f:
            yield json.loads(line)


def _db_value(field: Field | None, value: Any) -> Any:
    if field is None or value is None:
        return value
    if isinstance(field, DatetimeField):
        value = datetime.fromisoformat(value)
    return field.to_db_value(value, None)  # type: ignore[arg-type]


async def _insert(conn: Any, table: _Table, path: Path, batch_size: int) -> int:
    postgres = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${n}" if postgres else "?" for n in range(1, len(table.columns) + 1))
    names = ", ".join(f'"{c}"' for c in table.columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    batch: list[list[Any]] = []
    count = 0
    for row in _rows(path):
        batch.append([_db_value(table.fields[c], row.get(c)) for c in table.columns])
        if len(batch) >= batch_size:
            await conn.execute_many(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        await conn.execute_many(sql, batch)
        count += len(batch)
    return count


async def _reset_sequences(conn: Any, tables: list[_Table]) -> None:
    # Rows came with their ids, so the sequences never moved: the next insert would reuse id 1.
    for table in tables:
        if table.generated_pk is None:
            continue
        pk = table.generated_pk
        await conn.execute_query(
            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{pk}'),"
            f' COALESCE(MAX("{pk}"), 1), MAX("{pk}") IS NOT NULL) FROM "{table.name}"'
        )
