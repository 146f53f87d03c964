"""The CSV every export writes, defined once: dialects, line ends, cell formatting, formula neutralising.

Two writers follow it: web/csv_stream.py, which formats rows in Python, and journal.csv on PostgreSQL,
which the database writes with COPY (proxy/audit/exports.py, built from `sql_text_cell` and
`copy_options` below). tests/test_audit_csv_copy.py checks that both give the same bytes.

- a header row, then one line per row, every line ending in ``\\r\\n`` (RFC 4180); a cell is quoted only
  when it holds the delimiter, a quote or a line break, a quote doubled inside it;
- ``csv``: ``,`` between cells, a decimal point; ``excel``: ``;``, the body starts with a UTF-8 BOM and
  decimal numbers use a comma (what Excel expects in a Russian locale); UTF-8 either way;
- cells: ``None`` -> empty, ``int``/``float``/``Decimal`` -> the number (floats without a trailing ``.0``
  when whole), ``bool`` -> ``true``/``false``, ``datetime`` -> ``YYYY-MM-DD HH:MM:SS`` in ``tz`` when
  given (ISO 8601 with its offset otherwise), anything else -> ``str(value)``;
- spreadsheet formula injection: a *text* cell (header names included) starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a spreadsheet shows it as text instead
  of evaluating it. Numbers are formatted here, so a negative number stays a number.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, TextIO

LINE_END = "\r\n"
ENCODING = "utf-8"
UTF8_BOM = "\ufeff"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvDialect:
    name: str
    delimiter: str
    bom: bool
    decimal_comma: bool


CSV = CsvDialect("csv", delimiter=",", bom=False, decimal_comma=False)
EXCEL = CsvDialect("excel", delimiter=";", bom=True, decimal_comma=True)
DIALECTS = {d.name: d for d in (CSV, EXCEL)}


def dialect_named(name: str) -> CsvDialect:
    """The dialect called `name`; ValueError for another name."""
    if name not in DIALECTS:
        raise ValueError(f"unknown CSV dialect {name!r}")
    return DIALECTS[name]


def csv_writer(out: TextIO, dialect: CsvDialect) -> Any:
    """A `csv.writer` writing `dialect`'s lines to `out` (cells already formatted by `format_cell`)."""
    return csv.writer(out, delimiter=dialect.delimiter, lineterminator=LINE_END)


def neutralise_text(text: str) -> str:
    """Prefix a text that a spreadsheet would run as a formula with a single quote."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def format_number(value: int | float | Decimal, *, decimal_comma: bool = False) -> str:
    """A number as a CSV cell: integers as is, whole floats without '.0', the shortest exact repr else."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        text = str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    else:
        text = str(value)
    return text.replace(".", ",") if decimal_comma else text


def format_cell(value: Any, *, decimal_comma: bool = False, tz: tzinfo | None = None) -> str:
    """One value as the text of a CSV cell (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return format_number(value, decimal_comma=decimal_comma)
    if isinstance(value, datetime):
        if tz is not None and value.tzinfo is not None:
            return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return neutralise_text(str(value))


# -- the same rules for PostgreSQL's COPY ... TO STDOUT (FORMAT csv) ---------------------------------


def copy_options(dialect: CsvDialect) -> dict[str, str]:
    """asyncpg `copy_from_query` options giving `dialect`'s cells (COPY quotes as the csv module does:
    only cells holding the delimiter, a quote or a line break). COPY ends lines in LF and writes no
    BOM: its caller turns line ends into LINE_END and writes the BOM with the header."""
    return {"format": "csv", "delimiter": dialect.delimiter}


def sql_text_cell(expr: str, value: str | None = None) -> str:
    """SQL (PostgreSQL) for a text cell of `expr`: NULL and '' give an empty cell, a text a spreadsheet
    would run gets a leading quote (`neutralise_text`). `value` is what to write when it is not `expr`
    itself (an escaped form of it)."""
    value = value or expr
    triggers = ", ".join(f"chr({ord(c)})" for c in FORMULA_TRIGGERS)
    return f"CASE WHEN left({expr}, 1) IN ({triggers}) THEN chr(39) || {value} ELSE NULLIF({value}, '') END"
