"""The append-only, hash-chained journal: record an entry, fill its outcome once, read it.

Each entry's hash covers its content and the previous entry's hash, so altering or removing any
entry breaks the chain from there on (`proxy journal verify` finds the first break). The code offers
only these functions; database triggers refuse everything else (see proxy/audit/immutability.py).

With a journal key configured (`use_key`, docs/audit.md "Checkpoints"), each new entry also carries a
MAC: an HMAC of its content with a secret derived from the key, which the database does not hold. Its
hash covers the MAC, so an entry inserted by hand, with a correct SHA-256 but without the key, is found
by `proxy journal verify` when it is given the key.

An outcome filled after its entry (`set_outcome`: an action's pending entry becomes done or failed) is
written twice in one transaction: into the entry's outcome columns, the readable copy, and as an entry of
its own appended to the chain (`OUTCOME_ACTION`, naming the entry it completes, with the outcome, its
detail and its time). The chain, and so the signed checkpoints, cover that record: `proxy journal verify`
finds an outcome changed or emptied behind the triggers with the public key alone (proxy/audit/outcomes.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from proxy.audit.signing import JournalKey
from proxy.clock import utcnow
from proxy.models import ActorKind, JournalEntry, Outcome

GENESIS_HASH = "0" * 64
# The chained record of an outcome filled after its entry (set_outcome); params name the entry and the outcome.
OUTCOME_ACTION = "journal.outcome"
# Any constant works; it names the one lock every journal writer takes on PostgreSQL.
_JOURNAL_LOCK_ID = 7_240_118_001


class JournalError(Exception):
    """A journal rule was broken (an outcome set twice, say)."""


# The MAC secret new entries are written with; set once at start from the settings (use_key).
_mac_secret: bytes | None = None


def use_key(key: JournalKey | None) -> None:
    """Give new entries a MAC made with this key's derived secret from now on (None: no MAC)."""
    global _mac_secret
    _mac_secret = key.mac_secret() if key is not None else None


def canonical_body(
    entry: JournalEntry, *, with_mac: bool = True, with_outcome: bool = False
) -> dict[str, Any]:
    """What an entry's hash covers: everything but its id, outcome and own hash.

    The MAC is covered when the entry has one; entries without one hash exactly as they always did.
    The MAC itself covers the same body without the MAC. An outcome written with its entry
    (`record(outcome=done)`) is covered too (`with_outcome`, see `outcome_in_hash`); entries written
    before that hash without it.
    """
    body = {
        "created_at": _iso(entry.created_at),
        "actor_kind": str(entry.actor_kind),
        "operator_id": entry.operator_id,  # type: ignore[attr-defined]
        "vk_user_id": entry.vk_user_id,
        "action": entry.action,
        "community_id": entry.community_id,  # type: ignore[attr-defined]
        "conversation_id": entry.conversation_id,  # type: ignore[attr-defined]
        "item_id": entry.item_id,  # type: ignore[attr-defined]
        "text": entry.text,
        "params": entry.params,
        "prev_hash": entry.prev_hash,
    }
    mac = getattr(entry, "mac", None)  # bench/dataset.py builds entries without one
    if with_mac and mac is not None:
        body["mac"] = mac
    if with_outcome:
        body["outcome"] = str(entry.outcome)
        body["outcome_detail"] = entry.outcome_detail
    return body


def canonical_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def canonical_content(entry: JournalEntry, *, with_mac: bool = True, with_outcome: bool = False) -> bytes:
    """The bytes an entry's hash covers (canonical_body as compact JSON with sorted keys)."""
    return canonical_bytes(canonical_body(entry, with_mac=with_mac, with_outcome=with_outcome))


def entry_hash(entry: JournalEntry, *, with_outcome: bool = False) -> str:
    return hashlib.sha256(canonical_content(entry, with_outcome=with_outcome)).hexdigest()


def written_with_outcome(entry: JournalEntry) -> bool:
    """Its outcome reads as written with it: done or failed, at its own creation time."""
    return (
        entry.outcome_at is not None
        and entry.outcome_at == entry.created_at
        and entry.outcome not in (None, Outcome.PENDING)
    )


def outcome_in_hash(entry: JournalEntry) -> bool:
    """Its hash covers its outcome: written with the entry since outcomes are chained (`record`)."""
    return written_with_outcome(entry) and entry_hash(entry, with_outcome=True) == entry.hash


def hash_matches(entry: JournalEntry) -> bool:
    """Its stored hash is its content's, in either form (with its outcome, or without as before)."""
    return outcome_in_hash(entry) or entry_hash(entry) == entry.hash


def entry_mac(entry: JournalEntry, secret: bytes) -> str:
    return hmac.new(secret, canonical_content(entry, with_mac=False), hashlib.sha256).hexdigest()


def outcome_mac(
    secret: bytes, entry_hash: str, outcome: Outcome | str | None, detail: str | None, outcome_at: datetime
) -> str:
    """The MAC binding an outcome to its entry: the outcome is filled after the entry's hash is fixed."""
    body = {"entry": entry_hash, "outcome": str(outcome), "detail": detail, "at": _iso(outcome_at)}
    content = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hmac.new(secret, content, hashlib.sha256).hexdigest()


def _iso(value: datetime) -> str:
    # Microseconds always written, so a value read back from either database hashes the same.
    return value.isoformat(timespec="microseconds")


async def lock_chain(connection: Any) -> None:
    """Serialise writers so that two concurrent entries never claim the same predecessor."""
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_advisory_xact_lock($1)", [_JOURNAL_LOCK_ID])
    # SQLite: tortoise runs every transaction on one connection under a lock; writers are serial.


async def record(
    action: str,
    *,
    actor_kind: ActorKind,
    operator_id: int | None = None,
    vk_user_id: int | None = None,
    community_id: int | None = None,
    conversation_id: int | None = None,
    item_id: int | None = None,
    text: str = "",
    params: dict[str, Any] | None = None,
    outcome: Outcome | None = None,
    outcome_detail: str | None = None,
    at: datetime | None = None,
    connection: Any = None,
) -> JournalEntry:
    """Append one entry. Call inside the transaction of the change it describes, or alone."""
    if connection is None:
        async with in_transaction() as conn:
            return await record(
                action,
                actor_kind=actor_kind,
                operator_id=operator_id,
                vk_user_id=vk_user_id,
                community_id=community_id,
                conversation_id=conversation_id,
                item_id=item_id,
                text=text,
                params=params,
                outcome=outcome,
                outcome_detail=outcome_detail,
                at=at,
                connection=conn,
            )
    await lock_chain(connection)
    last = await JournalEntry.all().using_db(connection).order_by("-id").only("hash").first()
    created_at = at or utcnow()
    entry = JournalEntry(
        created_at=created_at,
        actor_kind=actor_kind,
        operator_id=operator_id,
        vk_user_id=vk_user_id,
        action=action,
        community_id=community_id,
        conversation_id=conversation_id,
        item_id=item_id,
        text=text,
        params=params or {},
        outcome=outcome,
        outcome_detail=outcome_detail,
        outcome_at=created_at if outcome and outcome != Outcome.PENDING else None,
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    secret = _mac_secret
    entry.mac = entry_mac(entry, secret) if secret is not None else None
    entry.hash = entry_hash(entry, with_outcome=written_with_outcome(entry))
    if secret is not None and entry.outcome_at is not None:
        entry.outcome_mac = outcome_mac(
            secret, entry.hash, entry.outcome, entry.outcome_detail, entry.outcome_at
        )
    await entry.save(using_db=connection)
    return entry


async def set_outcome(
    entry_id: int, outcome: Outcome, detail: str | None = None, *, connection: Any = None
) -> JournalEntry:
    """Fill an entry's outcome, once: a pending entry becomes done or failed, and stays so.

    In the same transaction, the outcome is appended to the chain as an entry of its own (returned),
    which `proxy journal verify` compares with the entry's outcome columns.
    """
    if connection is None:
        async with in_transaction() as conn:
            return await set_outcome(entry_id, outcome, detail, connection=conn)
    at = utcnow()
    values: dict[str, Any] = dict(outcome=outcome, outcome_detail=detail, outcome_at=at)
    secret = _mac_secret
    if secret is not None:
        entry_hash_ = (
            await JournalEntry.filter(id=entry_id).using_db(connection).first().values_list("hash", flat=True)
        )
        if entry_hash_ is not None:
            values["outcome_mac"] = outcome_mac(secret, str(entry_hash_), outcome, detail, at)
    updated = (
        await JournalEntry.filter(id=entry_id, outcome_at__isnull=True).using_db(connection).update(**values)
    )
    if not updated:
        raise JournalError(f"journal entry {entry_id} has no pending outcome to fill")
    return await record(
        OUTCOME_ACTION,
        actor_kind=ActorKind.SYSTEM,
        params=outcome_params(entry_id, outcome, detail),
        at=at,
        connection=connection,
    )


def outcome_params(entry_id: int, outcome: Outcome | str | None, detail: str | None) -> dict[str, Any]:
    """What an outcome record holds (its time is its created_at, the entry's outcome_at)."""
    return {"entry": entry_id, "outcome": str(outcome) if outcome is not None else None, "detail": detail}
