"""Operator accounts: passwords (argon2), roles, linked VK ids, personal API tokens."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from proxy.audit import journal
from proxy.clock import utcnow
from proxy.crypto import hash_api_token, new_api_token
from proxy.models import ActorKind, ApiToken, Operator, Role

_hasher = PasswordHasher()
LOGIN_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD_LENGTH = 8


class AccountError(Exception):
    """A request about accounts that cannot be done; the message says why in plain words."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_operator(
    login: str,
    password: str,
    role: Role = Role.OPERATOR,
    *,
    display_name: str = "",
    created_by: Operator | None = None,
) -> Operator:
    """Create an account and journal it."""
    if not LOGIN_RE.match(login):
        raise AccountError("login must be 2-64 characters: letters, digits, and . _ @ -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if await Operator.filter(login=login).exists():
        raise AccountError(f"an account named {login!r} already exists")
    operator = await Operator.create(
        login=login, password_hash=hash_password(password), role=role, display_name=display_name or login
    )
    await journal.record(
        "account.create",
        actor_kind=ActorKind.OPERATOR if created_by else ActorKind.SYSTEM,
        operator_id=created_by.id if created_by else None,
        params={"login": login, "role": str(role), "account_id": operator.id},
    )
    return operator


async def authenticate(login: str, password: str) -> Operator | None:
    """The active operator with this login and password, or None."""
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        # Spend the same time as a real check, so timing does not reveal which logins exist.
        password_matches(_DUMMY_HASH, password)
        return None
    if not operator.is_active or not password_matches(operator.password_hash, password):
        return None
    return operator


async def link_vk_user(login: str, vk_user_id: int) -> Operator:
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        raise AccountError(f"no account named {login!r}")
    other = await Operator.get_or_none(vk_user_id=vk_user_id)
    if other is not None and other.id != operator.id:
        raise AccountError(f"VK user {vk_user_id} is already linked to {other.login!r}")
    operator.vk_user_id = vk_user_id
    await operator.save(update_fields=["vk_user_id"])
    await journal.record(
        "account.link_vk",
        actor_kind=ActorKind.SYSTEM,
        params={"login": login, "vk_user_id": vk_user_id, "account_id": operator.id},
    )
    return operator


async def create_api_token(login: str, name: str = "") -> str:
    """Create a personal read-only API token; the token is returned once and stored hashed."""
    operator = await Operator.get_or_none(login=login)
    if operator is None:
        raise AccountError(f"no account named {login!r}")
    token = new_api_token()
    row = await ApiToken.create(operator=operator, name=name, token_hash=hash_api_token(token))
    await journal.record(
        "token.create",
        actor_kind=ActorKind.SYSTEM,
        params={"login": login, "token_id": row.id, "name": name},
    )
    return token


async def operator_for_api_token(token: str) -> Operator | None:
    """The active owner of an unrevoked API token, or None."""
    row = await ApiToken.get_or_none(token_hash=hash_api_token(token), revoked_at__isnull=True).prefetch_related(
        "operator"
    )
    if row is None or not row.operator.is_active:
        return None
    row.last_used_at = utcnow()
    await row.save(update_fields=["last_used_at"])
    return row.operator


_DUMMY_HASH = hash_password("not-a-real-password-0")
