"""Audit commands: `proxy journal verify`, `proxy export backup DIR`, `proxy import backup DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from proxy import db
from proxy.audit.journal import GENESIS_HASH
from proxy.cli_errors import CommandError
from proxy.settings import Settings


async def cmd_journal_verify(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.verify import verify_chain

    if args.page_size < 1:
        raise CommandError("--page-size must be at least 1")
    start = args.start_hash.lower()
    if len(start) != 64 or any(c not in "0123456789abcdef" for c in start):
        raise CommandError("--start-hash must be a SHA-256 hash: 64 hexadecimal digits")
    async with db.database(settings.database_url):
        report = await verify_chain(page_size=args.page_size, start_hash=start)
    if report.broken is not None:
        print(f"journal entry {report.broken.entry_id}: {report.broken.reason}", file=sys.stderr)
        print(f"{report.count} entries before it match", file=sys.stderr)
    if report.missing_guards:
        print(
            "database guards missing or disabled: "
            + ", ".join(report.missing_guards)
            + " (history can be rewritten; run `proxy migrate` or restore them)",
            file=sys.stderr,
        )
    if not report.ok:
        return 1
    print(f"journal verified: {report.count} entries, head {report.head_hash}")
    return 0


async def cmd_export_backup(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.backup import BackupError, export_backup

    async with db.database(settings.database_url):
        try:
            manifest = await export_backup(Path(args.directory))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
    total = sum(t["rows"] for t in manifest["tables"].values())
    print(f"exported {total} rows from {len(manifest['tables'])} tables to {args.directory}")
    return 0


async def cmd_import_backup(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.backup import BackupError, import_backup

    async with db.database(settings.database_url):
        try:
            counts = await import_backup(Path(args.directory))
        except BackupError as exc:
            raise CommandError(str(exc)) from None
    print(f"imported {sum(counts.values())} rows into {len(counts)} tables from {args.directory}")
    return 0


def register(sub: Any) -> None:
    """Add the audit commands to the CLI's subparsers."""
    # Nested subparsers inherit the CLI's parser class (one-line errors) from their parent.
    journal = sub.add_parser("journal", help="the action journal").add_subparsers(
        dest="journal_command", required=True
    )
    p = journal.add_parser("verify", help="check the journal's hash chain and the database guards")
    p.add_argument("--page-size", type=int, default=1000, help="entries read per query (default 1000)")
    p.add_argument(
        "--start-hash",
        default=GENESIS_HASH,
        help="the hash the first entry links to (the last archived entry's, after archiving old months)",
    )
    p.set_defaults(func=cmd_journal_verify)

    export = sub.add_parser("export", help="export data").add_subparsers(dest="export_command", required=True)
    p = export.add_parser("backup", help="every table as JSON lines, with a manifest of counts and checksums")
    p.add_argument("directory", help="an empty or new directory")
    p.set_defaults(func=cmd_export_backup)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="import_command", required=True)
    p = imp.add_parser("backup", help="load a backup into an empty, migrated database")
    p.add_argument("directory")
    p.set_defaults(func=cmd_import_backup)
