"""Operator accounts: passwords (argon2), roles, linked VK ids, community access, personal API tokens.

The functions taking `by` are the admin pages' operations: admins only, journaled with the admin as the
actor. Passwords and tokens never reach the journal.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from proxy.admin_access import InputError, require_admin
from proxy.audit import journal
from proxy.clock import utcnow
from proxy.crypto import hash_api_token, new_api_token
from proxy.models import (
    OPERATOR_ACCOUNT_COLUMN,
    ActorKind,
    ApiToken,
    Community,
    Network,
    Operator,
    Outcome,
    Role,
)
from proxy.password_policy import password_problem

_hasher = PasswordHasher()
LOGIN_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
DISPLAY_NAME_MAX_CHARS = 128
TOKEN_NAME_MAX_CHARS = 128


class AccountError(InputError):
    """A request about accounts that cannot be done; the message says why in plain words."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# argon2 spends tens of milliseconds of CPU by design (it releases the GIL): on the event loop, 30
# logins at once stalled every other request, VK's callbacks included, for seconds. In a thread, not.
async def hash_password_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def password_matches_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(password_matches, password_hash, password)


async def create_operator(
    login: str,
    password: str,
    role: Role = Role.OPERATOR,
    *,
    display_name: str = "",
    created_by: Operator | None = None,
) -> Operator:
    """Create an account and journal it; `created_by` is the admin doing it (None: the command line)."""
    if created_by is not None:
        await require_admin(created_by, action="account.create", target="account:new")
    if not LOGIN_RE.match(login):
        raise AccountError("login must be 2-64 characters: letters, digits, and . _ @ -", field="login")
    _check_password(password)
    display_name = display_name.strip()
    if len(display_name) > DISPLAY_NAME_MAX_CHARS:
        raise AccountError(
            "the display name is too long: at most %(max)s characters",
            field="display_name",
            max=DISPLAY_NAME_MAX_CHARS,
        )
    if await Operator.filter(login=login).exists():
        raise AccountError("an account named %(login)s already exists", field="login", login=login)
    password_hash = await hash_password_off_loop(password)
    async with in_transaction() as conn:
        operator = await Operator.create(
            login=login,
            password_hash=password_hash,
            role=role,
            display_name=display_name or login,
            using_db=conn,
        )
        await journal.record(
            "account.create",
            actor_kind=ActorKind.OPERATOR if created_by else ActorKind.SYSTEM,
            operator_id=created_by.id if created_by else None,
            params={"login": login, "role": str(role), "account_id": operator.id},
            outcome=Outcome.DONE if created_by else None,
            connection=conn,
        )
    return operator


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        message, params = problem
        raise AccountError(message, field="password", **params)


async def authenticate(login: str, password: str) -> Operator | None:
    """The active operator with this login and password, or None."""
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        # Spend the same time as a real check, so timing does not reveal which logins exist.
        await password_matches_off_loop(_DUMMY_HASH, password)
        return None
    # The hash is checked for a disabled account too: answering sooner would tell that it is disabled.
    if not await password_matches_off_loop(operator.password_hash, password) or not operator.is_active:
        return None
    return operator


async def end_sessions(operator: Operator) -> int:
    """End every session of the account at once (web/auth.py compares the version on every request).

    One UPDATE, so two browsers ending their sessions together both move the version on; the new
    version is returned for the session that asked to stay (`web/auth.py: end_other_sessions`).
    """
    await Operator.filter(id=operator.id).update(session_version=F("session_version") + 1)
    operator.session_version = (await Operator.get(id=operator.id)).session_version
    return operator.session_version


async def link_vk_user(login: str, vk_user_id: int) -> Operator:
    """Link an account to its VK user id (the command line; the admin pages use update_account)."""
    return await link_network_user(login, Network.VK, vk_user_id)


async def link_network_user(login: str, network: Network, user_id: int) -> Operator:
    """Link an account to its own user id on a network (`proxy user link-vk` / `link-telegram`): what that
    account does in a community outside the proxy is credited to the operator. Journaled as
    "account.link_vk" / "account.link_telegram"."""
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        raise AccountError("no account named %(login)s", login=login)
    column = OPERATOR_ACCOUNT_COLUMN[network.value]
    await _check_user_free(network, user_id, operator.id)
    setattr(operator, column, user_id)
    await operator.save(update_fields=[column])
    await journal.record(
        f"account.link_{network.value}",
        actor_kind=ActorKind.SYSTEM,
        params={"login": login, column: user_id, "account_id": operator.id},
    )
    return operator


# The columns are bigint: a larger number is no one's id (and the database would refuse it, not in words).
_USER_ID_MAX = 2**63 - 1


# Per network: the refusals of an id that is not one, and of an id another account has (the messages are
# the catalog's keys).
_NOT_AN_ID = {
    Network.VK: "a VK user id is a positive number",
    Network.TELEGRAM: "a Telegram user id is a positive number",
}
_TAKEN = {
    Network.VK: "VK user %(user_id)s is already linked to %(login)s",
    Network.TELEGRAM: "Telegram user %(user_id)s is already linked to %(login)s",
}


async def _check_user_free(network: Network, user_id: int, account_id: int) -> None:
    """What a linked account does in a community is credited to its operator: one owner each."""
    column = OPERATOR_ACCOUNT_COLUMN[network.value]
    if not 0 < user_id <= _USER_ID_MAX:
        raise AccountError(_NOT_AN_ID[network], field=column)
    other = await Operator.get_or_none(**{column: user_id})
    if other is not None and other.id != account_id:
        raise AccountError(_TAKEN[network], field=column, user_id=user_id, login=other.login)


async def create_api_token(login: str, name: str = "") -> str:
    """Create a personal read-only API token; the token is returned once and stored hashed."""
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        raise AccountError("no account named %(login)s", login=login)
    _, token = await _new_api_token(operator, name, by=None)
    return token


async def issue_api_token(account_id: int, name: str, *, by: Operator) -> tuple[ApiToken, str]:
    """An admin creates a read-only API token for an account: the row, and the token (shown once)."""
    await require_admin(by, action="token.create", target=f"account:{account_id}")
    operator = await _account(account_id)
    if not operator.is_active:
        raise AccountError("this account is disabled: enable it first", field="operator")
    return await _new_api_token(operator, name, by=by)


async def _new_api_token(operator: Operator, name: str, *, by: Operator | None) -> tuple[ApiToken, str]:
    name = name.strip()
    if len(name) > TOKEN_NAME_MAX_CHARS:
        raise AccountError(
            "the token name is too long: at most %(max)s characters", field="name", max=TOKEN_NAME_MAX_CHARS
        )
    token = new_api_token()
    async with in_transaction() as conn:
        row = await ApiToken.create(
            operator=operator, name=name, token_hash=hash_api_token(token), using_db=conn
        )
        await journal.record(
            "token.create",
            actor_kind=ActorKind.OPERATOR if by else ActorKind.SYSTEM,
            operator_id=by.id if by else None,
            params={"login": operator.login, "account_id": operator.id, "token_id": row.id, "name": name},
            outcome=Outcome.DONE if by else None,
            connection=conn,
        )
    return row, token


async def revoke_api_token(token_id: int, *, by: Operator) -> ApiToken:
    """Revoke an API token at once (admins only; journaled). It stays listed, marked revoked."""
    await require_admin(by, action="token.revoke", target=f"token:{token_id}")
    async with in_transaction() as conn:
        row = await ApiToken.filter(id=token_id).select_for_update().using_db(conn).first()
        if row is None:
            raise AccountError("this API token does not exist")
        if row.revoked_at is not None:
            raise AccountError("this API token is already revoked")
        owner = await Operator.get(id=row.operator_id).using_db(conn)  # type: ignore[attr-defined]
        row.revoked_at = utcnow()
        await row.save(update_fields=["revoked_at"], using_db=conn)
        await journal.record(
            "token.revoke",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            params={"login": owner.login, "account_id": owner.id, "token_id": row.id, "name": row.name},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return row


# --- the admin pages' account operations ------------------------------------------------------


async def _account(account_id: int, conn: object = None) -> Operator:
    query = Operator.filter(id=account_id)
    if conn is not None:
        query = query.select_for_update().using_db(conn)
    operator = await query.first()
    if operator is None:
        raise AccountError("this account does not exist")
    return operator


async def _other_active_admins(account_id: int, conn: object) -> int:
    admins = Operator.filter(role=Role.ADMIN, is_active=True).exclude(id=account_id)
    return await admins.using_db(conn).count()


async def update_account(
    account_id: int,
    *,
    by: Operator,
    display_name: str,
    role: Role,
    vk_user_id: int | None,
    telegram_user_id: int | None,
) -> list[str]:
    """Change an account's display name, role and linked VK and Telegram user ids (None unlinks); the
    names of what changed.

    The last active admin keeps the admin role, so the team is never locked out of these pages.
    """
    await require_admin(by, action="account.update", target=f"account:{account_id}")
    display_name = display_name.strip()
    if len(display_name) > DISPLAY_NAME_MAX_CHARS:
        raise AccountError(
            "the display name is too long: at most %(max)s characters",
            field="display_name",
            max=DISPLAY_NAME_MAX_CHARS,
        )
    async with in_transaction() as conn:
        operator = await _account(account_id, conn)
        if vk_user_id is not None:
            await _check_user_free(Network.VK, vk_user_id, operator.id)
        if telegram_user_id is not None:
            await _check_user_free(Network.TELEGRAM, telegram_user_id, operator.id)
        if operator.role == Role.ADMIN and role != Role.ADMIN and operator.is_active:
            if not await _other_active_admins(operator.id, conn):
                raise AccountError("the last active admin must stay an admin", field="role")
        wanted = {
            "display_name": display_name or operator.login,
            "role": role,
            "vk_user_id": vk_user_id,
            "telegram_user_id": telegram_user_id,
        }
        changes = {}
        for field, new in wanted.items():
            old = getattr(operator, field)
            if old != new:
                changes[field] = {"from": _plain(old), "to": _plain(new)}
                setattr(operator, field, new)
        if not changes:
            return []
        fields_changed = list(changes)
        if "role" in changes:
            # What the old role's sessions hold (pages, forms, tokens of a wider scope) ends with them.
            operator.session_version += 1
            fields_changed.append("session_version")
        await operator.save(update_fields=fields_changed, using_db=conn)
        await journal.record(
            "account.update",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            params={"login": operator.login, "account_id": operator.id, "changes": changes},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return list(changes)


async def set_account_active(account_id: int, active: bool, *, by: Operator) -> Operator:
    """Enable or disable an account (admins only; journaled).

    Disabling ends the account's sessions at once (web/auth.py checks is_active and session_version on
    every request) and stops its API tokens; enabling does not revive the old sessions.
    """
    action = "account.enable" if active else "account.disable"
    await require_admin(by, action=action, target=f"account:{account_id}")
    async with in_transaction() as conn:
        operator = await _account(account_id, conn)
        if operator.is_active == active:
            return operator
        if not active:
            if operator.id == by.id:
                raise AccountError("you cannot disable your own account")
            if operator.role == Role.ADMIN and not await _other_active_admins(operator.id, conn):
                raise AccountError("the last active admin cannot be disabled")
            operator.session_version += 1
        operator.is_active = active
        await operator.save(update_fields=["is_active", "session_version"], using_db=conn)
        await journal.record(
            action,
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            params={"login": operator.login, "account_id": operator.id},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return operator


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Role) else value


def generate_password() -> str:
    """A random password to hand over once (16 characters, URL-safe)."""
    return secrets.token_urlsafe(12)


async def reset_password(
    account_id: int, *, by: Operator, password: str | None = None
) -> tuple[Operator, str]:
    """Set a new password (a generated one when None) and end every session of the account.

    Returns the account and the password, to be shown once; the journal records only that it was reset.
    """
    await require_admin(by, action="account.password_reset", target=f"account:{account_id}")
    generated = not password
    password = password or generate_password()
    _check_password(password)
    password_hash = await hash_password_off_loop(password)
    async with in_transaction() as conn:
        operator = await _account(account_id, conn)
        operator.password_hash = password_hash
        operator.session_version += 1
        await operator.save(update_fields=["password_hash", "session_version"], using_db=conn)
        await journal.record(
            "account.password_reset",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            params={"login": operator.login, "account_id": operator.id, "generated": generated},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return operator, password


async def set_account_communities(
    account_id: int, community_ids: Iterable[int], *, by: Operator
) -> dict[str, list[int]]:
    """Set which communities an operator works on (managers and admins reach all of them anyway).

    Returns the ids added and removed; journaled ("account.communities") when anything changed.
    """
    await require_admin(by, action="account.communities", target=f"account:{account_id}")
    wanted = set(community_ids)
    async with in_transaction() as conn:
        operator = await _account(account_id, conn)
        known = set(await Community.filter(id__in=wanted).using_db(conn).values_list("id", flat=True))
        if known != wanted:
            raise AccountError("one of the chosen communities does not exist", field="communities")
        current = set(
            await Community.filter(operators__id=operator.id).using_db(conn).values_list("id", flat=True)
        )
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if not added and not removed:
            return {"added": [], "removed": []}
        if added:
            await operator.communities.add(
                *await Community.filter(id__in=added).using_db(conn), using_db=conn
            )
        if removed:
            await operator.communities.remove(
                *await Community.filter(id__in=removed).using_db(conn), using_db=conn
            )
        await journal.record(
            "account.communities",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            params={
                "login": operator.login,
                "account_id": operator.id,
                "added": added,
                "removed": removed,
            },
            outcome=Outcome.DONE,
            connection=conn,
        )
    return {"added": added, "removed": removed}


async def operator_for_api_token(token: str) -> Operator | None:
    """The active owner of an unrevoked API token, or None."""
    row = await ApiToken.get_or_none(
        token_hash=hash_api_token(token), revoked_at__isnull=True
    ).prefetch_related("operator")
    if row is None or not row.operator.is_active:
        return None
    row.last_used_at = utcnow()
    await row.save(update_fields=["last_used_at"])
    return row.operator


_DUMMY_HASH = hash_password("not-a-real-password-0")
