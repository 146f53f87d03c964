"""Evidence packages: journal entries of one incident, with proofs that a signed checkpoint holds them.

A package is one JSON file: the journal's public key, a signed checkpoint (its note, verbatim), and each
entry concerned with its content (exactly the bytes its hash covers), its hash, its position in the
journal and its RFC 9162 inclusion proof against the checkpoint's root. `verify_package` needs nothing
else (no database, no private key): it checks the signature, recomputes every hash and proof, and
refuses a file any byte of which was changed (the file must be in its canonical form).

It also holds every version of the items concerned (those its entries name, and the conversation's or
author's items), each row with its SHA-256 and, for a row the newest history digest before the checkpoint
covers, its inclusion proof against that digest's item_version root; the digest is a journal entry of the
package, so it is proven by the checkpoint in turn. A version recorded after that digest is listed, not
proven.

What it proves: the checkpoint's signer had, at that size, a journal holding these entries at these
positions, with this content, and had digested these item versions with exactly these texts. The package as a whole (ids, outcomes, the scope) is signed too, with the
same key, when it is made where the key is configured: then no byte of it can change unnoticed. An
outcome filled after its entry's hash is proven by its chained outcome record (an entry of its own,
proxy/audit/outcomes.py), which the package holds with the record's inclusion proof; one written with its
entry is in the entry's own hashed content. Legacy outcomes (before outcomes were chained) are vouched
for only by the package signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.expressions import Q

from proxy.audit import history, merkle
from proxy.audit.checkpoints import Checkpoint, CheckpointError, read_checkpoints
from proxy.audit.journal import OUTCOME_ACTION, canonical_body, canonical_bytes, hash_matches, outcome_in_hash
from proxy.audit.outcomes import filled_later
from proxy.audit.signing import (
    JournalKey,
    KeyFormatError,
    NoteError,
    Verifier,
    open_note,
    parse_verifier,
    sign_note,
    strict_b64decode,
)
from proxy.models import Conversation, Item, ItemVersion, JournalEntry

FORMAT = "proxy-journal-evidence/1"
FIELDS = frozenset({"format", "public_key", "checkpoint", "scope", "entries", "item_versions", "package_signature"})
VERSIONS = history.covered("item_version")
PAGE_SIZE = 5000


class EvidenceError(Exception):
    """A package cannot be made, or does not prove what it says; the message says why."""


def serialize(package: dict[str, Any]) -> bytes:
    """The one byte form of a package: what is written, and what a verified file must be."""
    return (json.dumps(package, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()


def _package_note_text(package: dict[str, Any]) -> str:
    body = {k: v for k, v in package.items() if k != "package_signature"}
    return f"{FORMAT}\n{hashlib.sha256(serialize(body)).hexdigest()}\n"


def sign_package(package: dict[str, Any], key: JournalKey) -> dict[str, Any]:
    """The package with a signed note over the SHA-256 of everything else in it."""
    return {**package, "package_signature": sign_note(_package_note_text(package), key)}


async def build_package(
    directory: Path, verifier: Verifier, *, scope: dict[str, int], connection: Any = None
) -> dict[str, Any]:
    """A package of the entries in `scope` ({"conversation_id": 5}, {"operator_id": 3} or {"author_id": 7},
    as the incident timelines choose them), proven against the largest checkpoint in `directory`; entries
    journaled after it are left out."""
    conn = connection or connections.get("default")
    kept, breach = read_checkpoints(directory, verifier)
    if breach is not None:
        raise EvidenceError(str(breach))
    if not kept or kept[-1].checkpoint.size == 0:
        raise EvidenceError(f"no checkpoint of a non-empty journal in {directory}: make one first")
    newest = kept[-1]
    checkpoint = newest.checkpoint
    ids, hashed = await _leaves(conn, checkpoint.size)
    if len(hashed) != checkpoint.size or merkle.TreeBuilder.of_hashes(hashed).root() != checkpoint.root:
        raise EvidenceError(
            f"the journal does not match {newest.name}: run `proxy journal verify --checkpoints` to see why"
        )
    position = {entry_id: index for index, entry_id in enumerate(ids)}
    entries = await JournalEntry.filter(await _scope_filter(scope, conn), id__lte=ids[-1]).using_db(conn).order_by("id")
    digest = (
        await JournalEntry.filter(action=history.DIGEST_ACTION, id__lte=ids[-1]).using_db(conn).order_by("-id").first()
    )
    entries = sorted([*entries, *await _outcome_records(entries, ids[-1], conn)], key=lambda e: e.id)
    item_versions = await _item_versions(entries, scope, digest, conn)
    if digest is not None and item_versions["digest_entry"] == digest.id and all(e.id != digest.id for e in entries):
        entries = sorted([*entries, digest], key=lambda e: e.id)  # the versions' proofs lead to its root
    for e in entries:
        if not hash_matches(e):
            raise EvidenceError(f"journal entry {e.id} does not match its hash: run `proxy journal verify` to see why")
    proofs = merkle.inclusion_proofs(hashed, [position[e.id] for e in entries])
    return {
        "format": FORMAT,
        "public_key": verifier.text(),
        "checkpoint": (directory / newest.name).read_text(encoding="utf-8"),
        "scope": scope,
        "entries": [
            {
                "id": e.id,
                "index": position[e.id],
                "content": canonical_body(e, with_outcome=outcome_in_hash(e)),
                "hash": e.hash,
                "proof": [base64.b64encode(p).decode() for p in proofs[position[e.id]]],
                "outcome": {
                    "outcome": str(e.outcome) if e.outcome is not None else None,
                    "detail": e.outcome_detail,
                    "at": _iso_or_none(e.outcome_at),
                },
            }
            for e in entries
        ],
        "item_versions": item_versions,
    }


async def _outcome_records(entries: list[JournalEntry], last_id: int, conn: Any) -> list[JournalEntry]:
    """The chained outcome records of the entries (up to the checkpoint's last entry): each was written at
    its entry's outcome time, which finds it by the (action, created_at) index."""
    wanted = {e.id: e.outcome_at for e in entries if filled_later(e)}
    times = sorted(set(wanted.values()))
    found: list[JournalEntry] = []
    for start in range(0, len(times), PAGE_SIZE):
        records = await JournalEntry.filter(
            action=OUTCOME_ACTION, created_at__in=times[start : start + PAGE_SIZE], id__lte=last_id
        ).using_db(conn)
        found.extend(r for r in records if isinstance(r.params, dict) and r.params.get("entry") in wanted)
    return found


async def _item_versions(
    entries: list[JournalEntry], scope: dict[str, int], digest: JournalEntry | None, conn: Any
) -> dict[str, Any]:
    """Every version of the items concerned (those the entries name, and the conversation's or author's),
    each with its inclusion proof in the item versions digested by `digest` (a journal entry the package
    holds), or none for a version recorded after it."""
    item_ids = {e.item_id for e in entries if e.item_id is not None}  # type: ignore[attr-defined]
    if set(scope) in ({"conversation_id"}, {"author_id"}):
        item_ids |= set(await Item.filter(**scope).using_db(conn).values_list("id", flat=True))
    versions = await ItemVersion.filter(item_id__in=sorted(item_ids)).using_db(conn).order_by("id") if item_ids else []
    part = digest.params.get(VERSIONS.name) if digest is not None and isinstance(digest.params, dict) else None
    found: dict[int, tuple[int, dict[str, Any]]] = {}
    proofs: dict[int, list[bytes]] = {}
    if part and part.get("rows"):
        hashed, found = await history.leaves_and_rows(
            VERSIONS, int(part["last_id"]), {v.id for v in versions}, connection=conn
        )
        if (
            len(hashed) != part["rows"]
            or base64.b64encode(merkle.TreeBuilder.of_hashes(hashed).root()).decode() != part["root"]
        ):
            raise EvidenceError(
                f"the item versions no longer match their digest in journal entry {digest.id if digest else '?'}:"
                " run `proxy journal verify` to see why"
            )
        proofs = merkle.inclusion_proofs(hashed, [index for index, _ in found.values()])
    listed = []
    for version in versions:
        index, body = found.get(version.id, (None, history.row_body(VERSIONS, version)))
        listed.append(
            {
                "row": body,
                "digest": hashlib.sha256(history.leaf_bytes(body)).hexdigest(),
                "index": index,
                "proof": [base64.b64encode(p).decode() for p in proofs[index]] if index is not None else None,
            }
        )
    proving = digest is not None and any(v["index"] is not None for v in listed)
    return {"digest_entry": digest.id if proving and digest else None, "versions": listed}


async def _scope_filter(scope: dict[str, int], conn: Any) -> Q:
    """The journal entries of one conversation or operator; or an author's: about their items or conversations
    (the same choice as the incident timeline, proxy/audit/incidents.py)."""
    if set(scope) == {"author_id"}:
        author_id = scope["author_id"]
        items = await Item.filter(author_id=author_id).using_db(conn).values_list("id", flat=True)
        conversations = await Conversation.filter(author_id=author_id).using_db(conn).values_list("id", flat=True)
        return Q(item_id__in=list(items)) | Q(conversation_id__in=list(conversations))
    if set(scope) in ({"conversation_id"}, {"operator_id"}):
        return Q(**scope)
    raise EvidenceError(f"an evidence package is for one conversation, operator or author, not {scope}")


def _iso_or_none(value: Any) -> str | None:
    return value.isoformat(timespec="microseconds") if value is not None else None


async def _leaves(conn: Any, size: int) -> tuple[list[int], list[bytes]]:
    ids: list[int] = []
    hashed: list[bytes] = []
    last_id = 0
    while len(ids) < size:
        rows = await (
            JournalEntry.filter(id__gt=last_id)
            .using_db(conn)
            .order_by("id")
            .limit(min(PAGE_SIZE, size - len(ids)))
            .values_list("id", "hash")
        )
        if not rows:
            break
        for entry_id, stored_hash in rows:
            ids.append(entry_id)
            hashed.append(merkle.leaf_hash(bytes.fromhex(stored_hash)))
        last_id = rows[-1][0]
    return ids, hashed


@dataclass(frozen=True)
class Proven:
    signer: str
    key_id: str
    checkpoint: Checkpoint
    entries: list[dict[str, Any]]
    whole_file_signed: bool
    versions: ProvenVersions | None = None
    # entry id -> the id of its chained outcome record in the package, which proves its outcome
    outcomes: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProvenVersions:
    """Item versions of a package: those proven to be rows of a digest the checkpoint holds, and the rest."""

    digest_entry: dict[str, Any] | None
    proven: list[dict[str, Any]]
    unproven: list[dict[str, Any]]


def verify_package(data: bytes, trusted: Verifier | None = None) -> Proven:
    """Check a package byte for byte; what it proves, or EvidenceError naming what fails."""
    try:
        package = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceError(f"not an evidence package: {exc}") from None
    if not isinstance(package, dict) or package.get("format") != FORMAT:
        raise EvidenceError(f"not an evidence package of format {FORMAT}")
    unknown = set(package) - FIELDS
    if unknown:
        raise EvidenceError(f"not an evidence package: unknown fields {', '.join(sorted(unknown))}")
    if serialize(package) != data:
        raise EvidenceError("the file is not byte for byte as it was written: it was edited")
    try:
        verifier = parse_verifier(package["public_key"])
        if trusted is not None and trusted != verifier:
            raise EvidenceError(f"it is signed by {verifier.text()}, not by the key you trust ({trusted.text()})")
        checkpoint = Checkpoint.parse(open_note(package["checkpoint"], verifier))
        for entry in package["entries"]:
            _check_entry(entry, checkpoint)
        versions = _check_versions(package.get("item_versions"), package["entries"])
        outcomes = _check_outcomes(package["entries"])
        signed = "package_signature" in package
        if signed and open_note(package["package_signature"], verifier) != _package_note_text(package):
            raise EvidenceError("the package's own signature is for other contents: it was edited")
    except (KeyFormatError, NoteError, CheckpointError) as exc:
        raise EvidenceError(str(exc)) from None
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise EvidenceError(f"malformed package: {exc}") from None
    return Proven(verifier.name, verifier.key_id.hex(), checkpoint, package["entries"], signed, versions, outcomes)


def _check_outcomes(entries: list[dict[str, Any]]) -> dict[int, int]:
    """Each outcome record of the package says exactly the outcome its entry lists; entry id -> record id."""
    by_id = {entry["id"]: entry for entry in entries}
    proven: dict[int, int] = {}
    for entry in entries:  # an outcome written with its entry is in the entry's own hashed content
        content, listed = entry["content"], entry["outcome"]
        if "outcome" in content and (listed["outcome"], listed["detail"]) != (
            content["outcome"],
            content["outcome_detail"],
        ):
            raise EvidenceError(
                f"entry {entry['id']}: its outcome ({listed['outcome']}: {listed['detail'] or 'no detail'}) is not"
                f" the one its own content says ({content['outcome']}: {content['outcome_detail'] or 'no detail'}):"
                " it was changed"
            )
    for record in entries:
        content = record["content"]
        if content["action"] != OUTCOME_ACTION:
            continue
        params = content["params"]
        entry = by_id.get(params["entry"])
        if entry is None:
            continue  # a record whose entry is not in the package proves nothing here
        listed = entry["outcome"]
        said = {"outcome": params["outcome"], "detail": params["detail"], "at": content["created_at"]}
        if listed != said:
            raise EvidenceError(
                f"entry {entry['id']}: its outcome ({listed['outcome']}: {listed['detail'] or 'no detail'}) is not"
                f" what its chained outcome record (entry {record['id']}) says ({said['outcome']}:"
                f" {said['detail'] or 'no detail'}): it was changed"
            )
        proven[entry["id"]] = record["id"]
    return proven


def _check_entry(entry: dict[str, Any], checkpoint: Checkpoint) -> None:
    computed = hashlib.sha256(canonical_bytes(entry["content"])).hexdigest()
    if computed != entry["hash"]:
        raise EvidenceError(f"entry {entry['id']}: its content does not match its hash: it was changed")
    proof = [strict_b64decode(p) for p in entry["proof"]]
    leaf = merkle.leaf_hash(bytes.fromhex(entry["hash"]))
    if not merkle.verify_inclusion(int(entry["index"]), checkpoint.size, leaf, proof, checkpoint.root):
        raise EvidenceError(
            f"entry {entry['id']}: its inclusion proof does not lead to the checkpoint's root: it is not"
            f" entry number {int(entry['index']) + 1} of that journal"
        )


def _check_versions(section: Any, entries: list[dict[str, Any]]) -> ProvenVersions | None:
    """Each version's digest is its row's, and each with a proof is a row of the item versions digested in
    the package's digest entry (itself proven against the checkpoint)."""
    if section is None:
        return None
    digest_entry = None
    root, size = b"", 0
    if section["digest_entry"] is not None:
        digest_entry = next((e for e in entries if e["id"] == section["digest_entry"]), None)
        if digest_entry is None or digest_entry["content"]["action"] != history.DIGEST_ACTION:
            raise EvidenceError(f"the item versions' digest entry {section['digest_entry']} is not in the package")
        part = digest_entry["content"]["params"][VERSIONS.name]
        root, size = strict_b64decode(part["root"]), int(part["rows"])
    proven, unproven = [], []
    for version in section["versions"]:
        row = version["row"]
        leaf = history.leaf_bytes(row)
        if hashlib.sha256(leaf).hexdigest() != version["digest"]:
            raise EvidenceError(f"item version {row.get('id')}: its row does not match its digest: it was changed")
        if version["index"] is None:
            unproven.append(row)
            continue
        if digest_entry is None:
            raise EvidenceError(f"item version {row.get('id')}: a proof but no digest to prove it against")
        proof = [strict_b64decode(p) for p in version["proof"]]
        if not merkle.verify_inclusion(int(version["index"]), size, merkle.leaf_hash(leaf), proof, root):
            raise EvidenceError(
                f"item version {row.get('id')}: its proof does not lead to the root digested in journal entry"
                f" {digest_entry['id']}: it is not a row the journal digested"
            )
        proven.append(row)
    return ProvenVersions(digest_entry, proven, unproven)


def describe(proven: Proven) -> list[str]:
    """What a verified package proves, in plain words."""
    lines = [
        f"The checkpoint is validly signed by {proven.signer} (key id {proven.key_id}): a journal of"
        f" {proven.checkpoint.size} entries.",
        f"Each of these {len(proven.entries)} entries is, byte for byte, the entry at its position in that journal:",
    ]
    positions = {entry["id"]: entry["index"] + 1 for entry in proven.entries}
    for entry in proven.entries:
        content = entry["content"]
        who = f"operator {content['operator_id']}" if content.get("operator_id") else str(content.get("actor_kind"))
        target = ", ".join(
            f"{name} {content[f'{name}_id']}"
            for name in ("community", "conversation", "item")
            if content.get(f"{name}_id")
        )
        text = f": {content['text']!r}" if content.get("text") else ""
        lines.append(
            f"  #{entry['index'] + 1} (id {entry['id']}) {content['created_at']} {who} {content['action']}"
            f"{' on ' + target if target else ''}{text}{_outcome_words(entry, proven.outcomes, positions)}"
        )
    lines.extend(_describe_versions(proven.versions))
    if proven.whole_file_signed:
        lines.append(
            "The whole file (entry ids, outcomes, the scope) is signed by the same key: it is as the journal"
            " gave it when the package was made. Outcomes not proven by a chained outcome record are vouched for"
            " by that signature, not by the checkpoint."
        )
    else:
        lines.append(
            "The file itself is not signed: entry ids, the scope and outcomes without a chained outcome record"
            " are not proven, only the entries' content and positions (and the outcomes said proven)."
        )
    return lines


def _outcome_words(entry: dict[str, Any], proven: dict[int, int], positions: dict[int, int]) -> str:
    content = entry["content"]
    if content["action"] == OUTCOME_ACTION:
        params = content["params"]
        return f" (the outcome of entry id {params.get('entry')}: {params.get('outcome')})"
    if "outcome" in content:
        return (
            f"; outcome {content['outcome']} ({content['outcome_detail'] or 'no detail'}), written with it and"
            " proven by its own hash"
        )
    record = proven.get(entry["id"])
    if record is None:
        return ""
    listed = entry["outcome"]
    return (
        f"; outcome {listed['outcome']} ({listed['detail'] or 'no detail'}) at {listed['at']}, proven by its"
        f" chained outcome record #{positions[record]} (id {record})"
    )


def _describe_versions(versions: ProvenVersions | None) -> list[str]:
    if versions is None or not (versions.proven or versions.unproven):
        return []
    lines = []
    if versions.proven and versions.digest_entry is not None:
        lines.append(
            f"These {len(versions.proven)} item versions are, byte for byte, rows of the item versions digested in"
            f" entry #{versions.digest_entry['index'] + 1} (id {versions.digest_entry['id']}) above: each text is"
            " what the proxy had recorded for that version, unchanged since that digest:"
        )
        lines.extend(_version_line(row) for row in versions.proven)
    if versions.unproven:
        lines.append(
            f"These {len(versions.unproven)} item versions were recorded after the last digest the checkpoint holds:"
            " they are listed, not proven (make a checkpoint later for a package that proves them):"
        )
        lines.extend(_version_line(row) for row in versions.unproven)
    return lines


def _version_line(row: dict[str, Any]) -> str:
    return f"  item {row.get('item_id')} version {row.get('number')} ({row.get('valid_from')}): {row.get('text')!r}"
