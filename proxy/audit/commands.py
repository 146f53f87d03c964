"""Audit commands: `proxy journal verify|checkpoint|key`, `proxy export backup DIR`, `proxy import backup DIR`."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any

from proxy import db
from proxy.audit.journal import GENESIS_HASH
from proxy.cli_errors import CommandError
from proxy.settings import JOURNAL_KEY_HINT, Settings


async def cmd_journal_verify(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.checkpoints import verify_history
    from proxy.audit.history import Watch
    from proxy.audit.verify import verify_chain

    if args.page_size < 1:
        raise CommandError("--page-size must be at least 1")
    start = args.start_hash.lower()
    if len(start) != 64 or any(c not in "0123456789abcdef" for c in start):
        raise CommandError("--start-hash must be a SHA-256 hash: 64 hexadecimal digits")
    key = settings.journal_key
    if args.checkpoints is not None:
        return await _verify_with_checkpoints(args, settings, start)
    watch = Watch(from_first_entry=start == GENESIS_HASH)
    async with db.database(settings.database_url):
        report = await verify_chain(page_size=args.page_size, start_hash=start, key=key, observe=watch)
        breach = await verify_history(watch) if report.broken is None else None
    _print_chain_problems(report)
    if breach is not None:
        print(str(breach), file=sys.stderr)
    if not report.ok or breach is not None:
        return 1
    print(f"journal verified: {report.count} entries, head {report.head_hash}")
    _print_mac_coverage(report)
    _print_digests(len(watch.digests))
    return 0


async def _verify_with_checkpoints(args: argparse.Namespace, settings: Settings, start: str) -> int:
    from proxy.audit.checkpoints import CheckpointError, verify_against_checkpoints

    verifier = _verifier(args.public_key, settings)
    async with db.database(settings.database_url):
        try:
            report = await verify_against_checkpoints(
                Path(args.checkpoints), verifier, key=settings.journal_key, page_size=args.page_size, start_hash=start
            )
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
    stream = sys.stdout if report.ok else sys.stderr
    for line in report.lines():
        print(line, file=stream)
    return 0 if report.ok else 1


def _print_chain_problems(report: Any, *, with_break: bool = True) -> None:
    from proxy.audit.verify import problem_lines

    for line in problem_lines(report, with_break=with_break):
        print(line, file=sys.stderr)


def _print_mac_coverage(report: Any) -> None:
    from proxy.audit.verify import mac_coverage_lines

    for line in mac_coverage_lines(report):
        print(line)


def _print_digests(count: int) -> None:
    from proxy.audit.verify import digest_lines

    for line in digest_lines(count):
        print(line)


def _verifier(public_key: str | None, settings: Settings) -> Any:
    """The public key to check signatures with: --public-key (the key or a file holding it), else the configured key's."""
    if public_key is None:
        if settings.journal_key is None:
            raise CommandError(
                "no public key to check checkpoints with: give --public-key, or configure the journal key"
                f" (PROXY_JOURNAL_KEY_FILE; {JOURNAL_KEY_HINT})"
            )
        return settings.journal_key.verifier
    return _public_key_argument(public_key)


def _public_key_argument(public_key: str) -> Any:
    """--public-key: the key's text, or a file holding it."""
    from proxy.audit.signing import KeyFormatError, parse_verifier

    text = public_key
    if "+" not in public_key or Path(public_key).is_file():
        try:
            text = Path(public_key).read_text()
        except OSError as exc:
            raise CommandError(f"--public-key: cannot read {public_key}: {exc.strerror}") from None
    try:
        return parse_verifier(text)
    except KeyFormatError as exc:
        raise CommandError(f"--public-key: {exc}") from None


def _require_key(settings: Settings) -> Any:
    if settings.journal_key is None:
        raise CommandError(
            "no journal key configured, so no checkpoint can be signed: set PROXY_JOURNAL_KEY_FILE"
            f" ({JOURNAL_KEY_HINT})"
        )
    return settings.journal_key


async def cmd_journal_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.checkpoint_task import note_success
    from proxy.audit.checkpoints import CheckpointError, issue

    key = _require_key(settings)
    webhook = args.webhook or settings.journal_checkpoint_webhook
    async with db.database(settings.database_url):
        try:
            issued = await issue(key, directory=Path(args.directory), webhook=webhook)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        await note_success(issued.checkpoint.size)  # ends the checkpoints page's alarm, if one is up
    state = "written to" if issued.new_file else "unchanged since the last one, kept in"
    print(f"checkpoint of {issued.checkpoint.size} entries {state} {issued.path}")
    return 0


async def cmd_journal_evidence(args: argparse.Namespace, settings: Settings) -> int:
    from proxy.audit.checkpoints import CheckpointError
    from proxy.audit.evidence import EvidenceError, build_package, serialize, sign_package

    verifier = _verifier(args.public_key, settings)
    if args.conversation is not None:
        scope = {"conversation_id": args.conversation}
    elif args.operator is not None:
        scope = {"operator_id": args.operator}
    else:
        scope = {"author_id": args.author}
    out = Path(args.file)
    if out.exists():
        raise CommandError(f"{out} exists already; an evidence package is never overwritten")
    async with db.database(settings.database_url):
        try:
            package = await build_package(Path(args.checkpoints), verifier, scope=scope)
        except (EvidenceError, CheckpointError) as exc:
            raise CommandError(str(exc)) from None
    if settings.journal_key is not None and settings.journal_key.verifier == verifier:
        package = sign_package(package, settings.journal_key)
    out.write_bytes(serialize(package))
    size = package["checkpoint"].split("\n")[1]
    print(f"{len(package['entries'])} entries proven against the checkpoint of {size} entries, written to {out}")
    return 0


def cmd_evidence_verify(args: argparse.Namespace, settings: object) -> int:
    from proxy.audit.evidence import EvidenceError, describe, verify_package

    trusted = _public_key_argument(args.public_key) if args.public_key is not None else None
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        proven = verify_package(data, trusted)
    except EvidenceError as exc:
        print(f"NOT PROVEN: {exc}", file=sys.stderr)
        return 1
    print("\n".join(describe(proven)))
    if trusted is None:
        print(
            f"Check that {proven.signer}'s key id {proven.key_id} is the journal key you were given"
            " (or pass it with --public-key): anyone can sign a package with a key of their own.",
        )
    return 0


def cmd_journal_key_generate(args: argparse.Namespace, settings: object) -> int:
    from proxy.audit.signing import JournalKey, KeyFormatError

    try:
        key = JournalKey.generate(args.name)
    except KeyFormatError as exc:
        raise CommandError(f"--name: {exc}") from None
    path = Path(args.file)
    try:
        # Created readable by its owner only, from the first byte.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
            out.write(key.text() + "\n")
    except FileExistsError:
        raise CommandError(f"{path} exists already; a journal key is never overwritten") from None
    print(key.verifier.text())
    print(
        f"Journal signing key written to {path}. Keep it outside the database and its backups, readable only by"
        " the service; set PROXY_JOURNAL_KEY_FILE to it. The line above is the public key: give it to whoever"
        " verifies checkpoints (`proxy journal verify --checkpoints DIR --public-key ...`).",
        file=sys.stderr,
    )
    return 0


def cmd_journal_key_public(args: argparse.Namespace, settings: Settings) -> int:
    print(_require_key(settings).verifier.text())
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
    p.add_argument("--checkpoints", metavar="DIR", help="also check the journal against every signed checkpoint in DIR")
    p.add_argument(
        "--public-key",
        help="the journal's public key (or a file holding it) to check checkpoints with; default: the configured key's",
    )
    p.set_defaults(func=cmd_journal_verify, time_limit=None)

    p = journal.add_parser("checkpoint", help="sign the journal's current state into a new file in DIR")
    p.add_argument("directory", help="where checkpoints are kept (created if missing); files are never overwritten")
    p.add_argument("--webhook", help="also POST the checkpoint here (default: PROXY_JOURNAL_CHECKPOINT_WEBHOOK)")
    p.set_defaults(func=cmd_journal_checkpoint, time_limit=None)

    key = journal.add_parser("key", help="the journal's signing key").add_subparsers(
        dest="journal_key_command", required=True
    )
    p = key.add_parser("generate", help="write a new Ed25519 signing key to FILE and print its public key")
    p.add_argument("file", help="a new file (never overwritten)")
    p.add_argument(
        "--name",
        default=f"{socket.gethostname()}/proxy-journal",
        help="the key's name, which is also the checkpoints' origin (default: <host name>/proxy-journal)",
    )
    # Needs no settings: it is what makes PROXY_JOURNAL_KEY_FILE right.
    p.set_defaults(func=cmd_journal_key_generate, needs_settings=False)
    p = key.add_parser("public", help="print the configured journal key's public key")
    p.set_defaults(func=cmd_journal_key_public)

    p = journal.add_parser(
        "evidence", help="write one file with an incident's entries and their proofs against the newest checkpoint"
    )
    p.add_argument("file", help="a new file (JSON)")
    p.add_argument("--checkpoints", metavar="DIR", required=True, help="the kept checkpoints")
    subject = p.add_mutually_exclusive_group(required=True)
    subject.add_argument("--conversation", type=int, help="every entry about this conversation id")
    subject.add_argument("--operator", type=int, help="every entry by this operator id")
    subject.add_argument("--author", type=int, help="every entry about this author's items or conversations (author id)")
    p.add_argument("--public-key", help="the journal's public key (or a file); default: the configured key's")
    p.set_defaults(func=cmd_journal_evidence, time_limit=None)

    evidence = sub.add_parser("evidence", help="evidence packages").add_subparsers(
        dest="evidence_command", required=True
    )
    p = evidence.add_parser("verify", help="check an evidence package offline and say what it proves")
    p.add_argument("file")
    p.add_argument("--public-key", help="the journal public key you trust (or a file holding it)")
    # Offline: no settings, no database.
    p.set_defaults(func=cmd_evidence_verify, needs_settings=False)

    export = sub.add_parser("export", help="export data").add_subparsers(dest="export_command", required=True)
    p = export.add_parser("backup", help="every table as JSON lines, with a manifest of counts and checksums")
    p.add_argument("directory", help="an empty or new directory")
    p.set_defaults(func=cmd_export_backup, time_limit=None)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="import_command", required=True)
    p = imp.add_parser("backup", help="load a backup into an empty, migrated database")
    p.add_argument("directory")
    p.set_defaults(func=cmd_import_backup, time_limit=None)
