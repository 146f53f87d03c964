"""Signed checkpoints of the journal: commitments that leave the database, and checking it against them.

A checkpoint is a C2SP tlog-checkpoint note: the origin (the journal key's name), the number of
entries, and the base64 root hash of the RFC 9162 Merkle tree whose leaves are the entries' hashes (32
bytes each, in id order), signed with the journal key (proxy/audit/signing.py). Files go into a
directory the database's owners cannot rewrite, and may be posted to a webhook. The background task that
issues them, and its alarm when it cannot, is proxy/audit/checkpoint_task.py.

`verify_against_checkpoints` walks the journal once (constant memory), recomputing the tree as it goes:
every kept checkpoint's root must equal the root of the journal's first `size` entries. That shows in
one pass that nothing was removed, changed or inserted before any checkpoint, and that successive
checkpoints are consistent (both roots come from the same entries). Entries after the last checkpoint
are covered by their MACs (given the key) and by the next checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from tortoise.transactions import in_transaction

from proxy.audit import history, merkle
from proxy.audit.journal import GENESIS_HASH
from proxy.audit.signing import JournalKey, NoteError, Verifier, open_note, sign_note, strict_b64decode
from proxy.audit.verify import (
    DEFAULT_PAGE_SIZE,
    ChainReport,
    digest_lines,
    mac_coverage_lines,
    problem_lines,
    verify_chain,
)
from proxy.models import JournalEntry

log = logging.getLogger(__name__)

FILE_PATTERN = re.compile(r"^checkpoint-(\d+)(-\d+)?\.txt$")
WEBHOOK_SECONDS = 30


class CheckpointError(Exception):
    """A checkpoint cannot be made or read; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("not a checkpoint: origin, size and root hash lines expected")
        origin, size, root = lines[:3]  # later lines are extensions, which this journal does not write
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(f"not a checkpoint: the size {size!r} is not a decimal number")
        try:
            raw = strict_b64decode(root)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise CheckpointError("not a checkpoint: the root hash is not 32 bytes of base64")
        return cls(origin, int(size), raw)


def leaf(entry_hash: str) -> bytes:
    """A journal entry's leaf in the tree: its SHA-256 hash (which covers its content, link and MAC)."""
    return bytes.fromhex(entry_hash)


async def signed_checkpoint(
    key: JournalKey, *, page_size: int = DEFAULT_PAGE_SIZE, connection: Any = None
) -> tuple[Checkpoint, str]:
    """The current checkpoint and its signed note, after checking the whole chain and its MACs.

    Signing what is there without checking would turn an entry forged since the last checkpoint into
    signed history; so a broken chain, or an entry without the key's MAC, is refused here.
    """
    if connection is None:
        async with in_transaction() as tx:
            return await signed_checkpoint(key, page_size=page_size, connection=tx)
    tree = merkle.TreeBuilder()
    report = await verify_chain(
        page_size=page_size, key=key, observe=lambda entry: tree.append(leaf(entry.hash)), connection=connection
    )
    if report.broken is not None:
        raise CheckpointError(
            f"checkpoint refused: journal entry {report.broken.entry_id}: {report.broken.reason}"
            " (`proxy journal verify` tells more)"
        )
    checkpoint = Checkpoint(key.name, tree.size, tree.root())
    return checkpoint, sign_note(checkpoint.text(), key)


def write_checkpoint(directory: Path, checkpoint: Checkpoint, note: str) -> tuple[Path, bool]:
    """Write the note as checkpoint-<size>.txt, never over another file; (its path, whether it is new).

    The same checkpoint written twice (no new entries since) is one file. A different one of the same
    size gets a suffix, and verify then reports the two disagree.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = directory / f"checkpoint-{checkpoint.size:012d}{suffix}.txt"
        try:
            with path.open("x", encoding="utf-8") as out:
                out.write(note)
            return path, True
        except FileExistsError:
            if path.read_text(encoding="utf-8") == note:
                return path, False
    raise CheckpointError(f"too many checkpoints of size {checkpoint.size} in {directory}")


async def post_checkpoint(http: aiohttp.ClientSession, url: str, note: str) -> None:
    """POST the signed note as text/plain; CheckpointError unless the webhook answers 2xx."""
    try:
        async with http.post(
            url,
            data=note.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=WEBHOOK_SECONDS),
        ) as response:
            if response.status // 100 != 2:
                raise CheckpointError(f"the checkpoint webhook answered HTTP {response.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CheckpointError(f"the checkpoint webhook failed: {exc or type(exc).__name__}") from None


@dataclass(frozen=True)
class Issued:
    checkpoint: Checkpoint
    path: Path | None
    new_file: bool


async def issue(
    key: JournalKey,
    *,
    directory: Path | None,
    webhook: str | None,
    http: aiohttp.ClientSession | None = None,
    settle_seconds: float = history.SETTLE_SECONDS,
) -> Issued:
    """Digest the history tables into the journal, sign its current state and send it out: into the
    directory, then to the webhook."""
    await history.record_digest(settle_seconds=settle_seconds)
    checkpoint, note = await signed_checkpoint(key)
    path, new_file = write_checkpoint(directory, checkpoint, note) if directory is not None else (None, True)
    if webhook is not None and new_file:
        if http is None:
            async with aiohttp.ClientSession() as session:
                await post_checkpoint(session, webhook, note)
        else:
            await post_checkpoint(http, webhook, note)
    return Issued(checkpoint, path, new_file)


# Checking the database against kept checkpoints.


@dataclass(frozen=True)
class KeptCheckpoint:
    name: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Breach:
    """The first thing found wrong: which checkpoint file, which entry if known, what."""

    checkpoint: str | None
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = [f"checkpoint {self.checkpoint}"] if self.checkpoint else []
        if self.entry_id is not None:
            where.append(f"journal entry {self.entry_id}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass(frozen=True)
class CheckpointReport:
    chain: ChainReport
    checkpoints: int
    breach: Breach | None
    digests: int = 0

    @property
    def ok(self) -> bool:
        return self.breach is None and self.chain.ok

    def lines(self) -> list[str]:
        """What `proxy journal verify --checkpoints` prints of it, line by line (on stderr unless ok)."""
        if self.breach is not None:
            lines = [str(self.breach)]
            if self.chain.broken is not None and not self.chain.broken.outcome:
                lines.append(f"{self.chain.count} entries before it match")
            return lines + problem_lines(self.chain, with_break=False)
        if not self.chain.ok:
            return problem_lines(self.chain)
        matched = "1 signed checkpoint matches" if self.checkpoints == 1 else f"{self.checkpoints} signed checkpoints match"
        return [
            f"journal verified: {self.chain.count} entries, head {self.chain.head_hash}; {matched}",
            *mac_coverage_lines(self.chain),
            *digest_lines(self.digests),
        ]


def checkpoint_files(directory: Path) -> Iterator[Path]:
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory")
    for path in sorted(directory.iterdir()):
        if FILE_PATTERN.match(path.name):
            yield path


def read_checkpoints(directory: Path, verifier: Verifier) -> tuple[list[KeptCheckpoint], Breach | None]:
    """Every checkpoint file in the directory whose signature holds, ordered by size; or the first that fails."""
    kept = []
    for path in checkpoint_files(directory):
        try:
            text = open_note(path.read_text(encoding="utf-8"), verifier)
            checkpoint = Checkpoint.parse(text)
        except (NoteError, CheckpointError, UnicodeDecodeError) as exc:
            return kept, Breach(path.name, None, f"not a valid signed checkpoint: {exc}")
        if checkpoint.origin != verifier.name:
            return kept, Breach(path.name, None, f"its origin is {checkpoint.origin!r}, not {verifier.name!r}")
        kept.append(KeptCheckpoint(path.name, checkpoint))
    kept.sort(key=lambda k: k.checkpoint.size)
    for earlier, later in zip(kept, kept[1:], strict=False):
        if earlier.checkpoint.size == later.checkpoint.size and earlier.checkpoint.root != later.checkpoint.root:
            return kept, Breach(
                later.name, None, f"signed with the same size as {earlier.name} but another root: the key was misused"
            )
    return kept, None


async def verify_against_checkpoints(
    directory: Path,
    verifier: Verifier,
    *,
    key: JournalKey | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    start_hash: str = GENESIS_HASH,
    connection: Any = None,
) -> CheckpointReport:
    """Check every signature, then the journal against every checkpoint; the first breach found."""
    kept, breach = read_checkpoints(directory, verifier)
    if breach is not None:
        return CheckpointReport(ChainReport(0, start_hash), len(kept), breach)
    if start_hash != GENESIS_HASH and kept:
        raise CheckpointError("checkpoints cover the journal from its first entry; they cannot be checked from --start-hash")
    tree = merkle.TreeBuilder()
    found: list[Breach] = []
    for empty in (k for k in kept if k.checkpoint.size == 0):  # made before the first entry
        if empty.checkpoint.root != merkle.EMPTY_ROOT:
            found.append(Breach(empty.name, None, "it signs an empty journal with a root that is not the empty tree's"))
            break
    pending = [k for k in kept if k.checkpoint.size > 0]
    matched: list[tuple[str, int]] = []  # (file, id of its last entry) of each checkpoint that matched
    last_entry: list[int] = []
    watch = history.Watch(from_first_entry=start_hash == GENESIS_HASH)

    def observe(entry: JournalEntry) -> None:
        watch(entry)
        tree.append(leaf(entry.hash))
        last_entry[:] = [entry.id]
        while pending and pending[0].checkpoint.size == tree.size and not found:
            current = pending.pop(0)
            if tree.root() == current.checkpoint.root:
                matched.append((current.name, entry.id))
                continue
            where = f"entry {entry.id} or before it"
            if matched:
                where = f"an entry after entry {matched[-1][1]} (which {matched[-1][0]} covers) up to entry {entry.id}"
            found.append(
                Breach(
                    current.name,
                    None,
                    f"the journal's first {tree.size} entries do not match it: {where} was changed, inserted"
                    " or removed",
                )
            )

    chain = await verify_chain(page_size=page_size, start_hash=start_hash, key=key, observe=observe, connection=connection)
    if chain.broken is not None and not chain.broken.outcome:
        # The chain itself is broken: that entry is the first breach; a checkpoint past it is named too.
        covering = next((k.name for k in pending), None)
        reason = chain.broken.reason + (" (inside a signed checkpoint)" if covering else "")
        return CheckpointReport(chain, len(kept), found[0] if found else Breach(covering, chain.broken.entry_id, reason))
    if found:
        return CheckpointReport(chain, len(kept), found[0])
    if pending:
        current = pending[0]
        return CheckpointReport(
            chain,
            len(kept),
            Breach(
                current.name,
                None,
                f"it signs {current.checkpoint.size} entries but the journal has {chain.count}: "
                + (f"entries after entry {last_entry[0]} were removed" if last_entry else "every entry was removed"),
            ),
        )
    if chain.broken is not None:  # an outcome that is not what its chained (and checkpointed) record says
        return CheckpointReport(chain, len(kept), Breach(None, chain.broken.entry_id, chain.broken.reason))
    breach = await verify_history(watch, connection=connection)
    return CheckpointReport(chain, len(kept), breach, len(watch.digests))


async def verify_history(watch: history.Watch, *, connection: Any = None) -> Breach | None:
    """The history tables and the journal's outcomes against the digests the verified chain holds (`watch`
    saw its walk), and items and tombstones against their versions."""
    found = await history.verify_digests(watch.digests, connection=connection) or await history.verify_outcomes(
        watch, connection=connection
    )
    if found is not None:
        return Breach(None, None, str(found))
    item_id = await history.item_text_not_in_versions(connection=connection)
    if item_id is not None:
        return Breach(None, None, f"item {item_id}: its text is none of its versions': it was rewritten in place")
    tombstone_id = await history.tombstone_text_not_in_versions(connection=connection)
    if tombstone_id is not None:
        reason = f"item tombstone {tombstone_id}: its last text is none of its item's versions': it was rewritten"
        return Breach(None, None, reason)
    return None
