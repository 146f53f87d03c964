"""Communities the proxy serves: add, configure, activate, read their tokens.

Changes are journaled with who made them; the journal names which settings changed but never holds a
token or the callback secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from proxy.admin_access import InputError, require_admin
from proxy.audit import journal
from proxy.business_hours import BusinessHoursError, parse_business_hours
from proxy.connectors.registry import connector_for
from proxy.crypto import SecretError, decrypt_token, encrypt_token
from proxy.models import ActorKind, Community, CommunityMode, Network, Operator, Outcome
from proxy.settings import Settings

NAME_MAX_CHARS = 255
# VK takes a callback secret key of at most 50 characters (groups.setCallbackSettings, secret_key).
SECRET_MAX_CHARS = 50
# Telegram takes a webhook secret_token of at most 256 characters (setWebhook); the column holds 255.
TELEGRAM_SECRET_MAX_CHARS = 255
CONFIRMATION_MAX_CHARS = 64  # the column; VK's strings are 8 characters
TOKEN_MAX_CHARS = 1000  # VK's tokens are a few hundred characters at most
SLA_MIN_SECONDS = 60
SLA_MAX_SECONDS = 30 * 24 * 3600
_NO_SPACE = re.compile(r"^\S+$")


class CommunityError(InputError):
    """A community cannot be added, changed or used as asked; the message says why."""


class MissingToken(CommunityError):
    """An action needs a VK token the community does not have."""


# Per field: the messages for a missing value, a value too long, and a value with spaces.
_TEXT_MESSAGES = {
    "secret": (
        "the secret key is required in callback mode",
        "the secret key is too long: at most %(max)s characters",
        "the secret key cannot contain spaces",
    ),
    "confirmation": (
        "the confirmation string is required in callback mode",
        "the confirmation string is too long: at most %(max)s characters",
        "the confirmation string cannot contain spaces",
    ),
}


def _check_text(value: str, *, field: str, max_chars: int, required: bool) -> None:
    missing, too_long, spaces = _TEXT_MESSAGES[field]
    if not value:
        if required:
            raise CommunityError(missing, field=field)
        return
    if len(value) > max_chars:
        raise CommunityError(too_long, field=field, max=max_chars)
    if not _NO_SPACE.match(value):
        raise CommunityError(spaces, field=field)


def check_token(token: str | None, *, field: str) -> None:
    """A pasted token must look like one (no spaces, not huge); VK itself says whether it works."""
    if token is None:
        return
    if not token or len(token) > TOKEN_MAX_CHARS or not _NO_SPACE.match(token):
        raise CommunityError(
            "this does not look like a VK access token: paste the token alone, without spaces", field=field
        )


def check_community_settings(
    *,
    name: str,
    mode: CommunityMode,
    secret: str,
    confirmation: str,
    has_community_token: bool,
    sla_seconds: int,
    business_hours: Mapping[str, Any] | None,
    admin_vk_user_id: int | None,
    secret_max_chars: int = SECRET_MAX_CHARS,
) -> None:
    """Raise CommunityError (naming the field) unless these settings can serve a community."""
    if not name.strip():
        raise CommunityError("a community needs a name", field="name")
    if len(name.strip()) > NAME_MAX_CHARS:
        raise CommunityError(
            "the name is too long: at most %(max)s characters", field="name", max=NAME_MAX_CHARS
        )
    callback = mode == CommunityMode.CALLBACK
    _check_text(secret, field="secret", max_chars=secret_max_chars, required=callback)
    _check_text(confirmation, field="confirmation", max_chars=CONFIRMATION_MAX_CHARS, required=callback)
    if mode == CommunityMode.LONGPOLL and not has_community_token:
        raise CommunityError("long poll mode needs the community token", field="community_token")
    if not SLA_MIN_SECONDS <= sla_seconds <= SLA_MAX_SECONDS:
        raise CommunityError(
            "the SLA target must be between %(min)s minute and %(max)s days",
            field="sla",
            min=SLA_MIN_SECONDS // 60,
            max=SLA_MAX_SECONDS // 86400,
        )
    if business_hours is not None:
        try:
            parse_business_hours(business_hours)
        except BusinessHoursError as exc:
            raise CommunityError(str(exc), field="business_hours") from None
    if admin_vk_user_id is not None and admin_vk_user_id <= 0:
        raise CommunityError("a VK user id is a positive number", field="admin_vk_user_id")


async def add_community(
    settings: Settings,
    *,
    vk_group_id: int,
    name: str,
    secret: str,
    confirmation: str,
    mode: CommunityMode = CommunityMode.CALLBACK,
    community_token: str | None = None,
    admin_token: str | None = None,
    admin_vk_user_id: int | None = None,
    sla_seconds: int = 900,
    business_hours: Mapping[str, Any] | None = None,
    created_by: Operator | None = None,
) -> Community:
    """Register a community and journal it; tokens are stored encrypted.

    `created_by` is the admin who adds it from the admin pages (None: the command line).
    """
    if created_by is not None:
        await require_admin(created_by, action="community.add", target="community:new")
    if vk_group_id <= 0:
        raise CommunityError(
            "the VK group id is a positive number (the digits of club123456)", field="vk_group_id"
        )
    check_token(community_token, field="community_token")
    check_token(admin_token, field="admin_token")
    check_community_settings(
        name=name,
        mode=mode,
        secret=secret,
        confirmation=confirmation,
        has_community_token=bool(community_token),
        sla_seconds=sla_seconds,
        business_hours=business_hours,
        admin_vk_user_id=admin_vk_user_id,
    )
    already = CommunityError(
        "community %(group_id)s is already served", field="vk_group_id", group_id=vk_group_id
    )
    community_token_enc = encrypt_token(settings.secret_key, community_token) if community_token else None
    return await _register(
        Community(
            vk_group_id=vk_group_id,
            name=name.strip(),
            mode=mode,
            callback_secret=secret,
            confirmation_code=confirmation,
            community_token_enc=community_token_enc,
            admin_token_enc=encrypt_token(settings.secret_key, admin_token) if admin_token else None,
            admin_vk_user_id=admin_vk_user_id,
            sla_seconds=sla_seconds,
            business_hours=dict(business_hours) if business_hours is not None else None,
        ),
        {
            "vk_group_id": vk_group_id,
            "community_token": bool(community_token),
            "admin_token": bool(admin_token),
        },
        created_by,
        already,
    )


async def _register(
    community: Community, params: dict[str, Any], created_by: Operator | None, already: CommunityError
) -> Community:
    """Store a new community and journal it ("community.add") in one transaction; `already` is the
    refusal when its network already serves its id, whether found first or met at the unique index
    (two admins adding the same community at the same moment: one is added, the other told so)."""
    served = Community.filter(network=community.network, vk_group_id=community.vk_group_id)
    if await served.exists():
        raise already
    try:
        async with in_transaction() as conn:
            await community.save(using_db=conn)
            await journal.record(
                "community.add",
                actor_kind=ActorKind.OPERATOR if created_by else ActorKind.SYSTEM,
                operator_id=created_by.id if created_by else None,
                community_id=community.id,
                params={
                    **params,
                    "name": community.name,
                    "mode": str(community.mode),
                    "sla_seconds": community.sla_seconds,
                    "business_hours": community.business_hours,
                },
                outcome=Outcome.DONE if created_by else None,
                connection=conn,
            )
    except IntegrityError:
        if await served.exists():
            raise already from None
        raise
    return community


def _refused_field(message: str) -> str:
    # The connector refuses a token and a secret in one call; its message says which it was.
    return "secret" if message.startswith("the secret") else "bot_token"


def _check_bot_settings(
    name: str, mode: CommunityMode, secret: str, sla_seconds: int, business_hours: Mapping[str, Any] | None
) -> None:
    """A bot's settings as a community's (no confirmation string; Telegram's longer secret)."""
    check_community_settings(
        name=name,
        mode=mode,
        secret=secret,
        confirmation="-",
        has_community_token=True,
        sla_seconds=sla_seconds,
        business_hours=business_hours,
        admin_vk_user_id=None,
        secret_max_chars=TELEGRAM_SECRET_MAX_CHARS,
    )


async def add_bot(
    settings: Settings,
    *,
    name: str,
    bot_token: str,
    secret: str,
    mode: CommunityMode = CommunityMode.CALLBACK,
    sla_seconds: int = 900,
    business_hours: Mapping[str, Any] | None = None,
    created_by: Operator | None = None,
) -> Community:
    """Register a Telegram bot as a community, without calling Telegram: its id is the number its token
    begins with. Connecting it (setting the webhook, or removing it for polling) and testing the
    connection are separate steps (`proxy community connect` / `check`, the admin pages). The token is
    stored encrypted, as VK's are; `mode` callback is the webhook, longpoll is getUpdates."""
    if created_by is not None:
        await require_admin(created_by, action="community.add", target="community:new")
    try:
        bot_id = connector_for(Network.TELEGRAM).registration_id(bot_token, secret)
    except ValueError as exc:
        raise CommunityError(str(exc), field=_refused_field(str(exc))) from None
    assert bot_id is not None
    _check_bot_settings(name, mode, secret, sla_seconds, business_hours)
    return await _register(
        Community(
            network=Network.TELEGRAM,
            vk_group_id=bot_id,
            name=name.strip(),
            mode=mode,
            callback_secret=secret,
            confirmation_code="",
            community_token_enc=encrypt_token(settings.secret_key, bot_token),
            sla_seconds=sla_seconds,
            business_hours=dict(business_hours) if business_hours is not None else None,
        ),
        {"network": Network.TELEGRAM.value, "bot_id": bot_id},
        created_by,
        CommunityError("bot %(group_id)s is already served", field="bot_token", group_id=bot_id),
    )


async def update_bot(
    settings: Settings,
    community_id: int,
    *,
    by: Operator,
    name: str,
    mode: CommunityMode,
    secret: str,
    sla_seconds: int,
    business_hours: Mapping[str, Any] | None,
    bot_token: str | None = None,
) -> list[str]:
    """Change a Telegram bot's settings (admins only); the names of the settings that changed.

    `bot_token` None keeps the saved token; a new one must be the same bot's (its id is the bot's
    identity here, as the group id is a VK community's). A new secret or mode takes effect at Telegram
    only when the bot is connected again. Journaled as "community.update", never with the token or the
    secret."""
    await require_admin(by, action="community.update", target=f"community:{community_id}")
    async with in_transaction() as conn:
        community = await Community.filter(id=community_id).select_for_update().using_db(conn).first()
        if community is None or community.network != Network.TELEGRAM:
            raise CommunityError("this community does not exist")
        try:
            token = bot_token or decrypt_token(settings.secret_key, community.community_token_enc or "")
        except SecretError:
            raise CommunityError(
                "the saved bot token cannot be decrypted (was PROXY_SECRET_KEY changed?): paste it again",
                field="bot_token",
            ) from None
        try:
            bot_id = connector_for(Network.TELEGRAM).registration_id(token, secret)
        except ValueError as exc:
            raise CommunityError(str(exc), field=_refused_field(str(exc))) from None
        if bot_id != community.vk_group_id:
            raise CommunityError(
                "this token is bot %(other)s's, not this bot's (%(group_id)s): add that bot separately",
                field="bot_token",
                other=bot_id,
                group_id=community.vk_group_id,
            )
        _check_bot_settings(name, mode, secret, sla_seconds, business_hours)
        wanted: dict[str, Any] = {
            "name": name.strip(),
            "mode": mode,
            "sla_seconds": sla_seconds,
            "business_hours": dict(business_hours) if business_hours is not None else None,
        }
        changes: dict[str, Any] = {}
        for field_name, new in wanted.items():
            old = getattr(community, field_name)
            if old != new:
                changes[field_name] = {"from": _plain(old), "to": _plain(new)}
                setattr(community, field_name, new)
        if secret != community.callback_secret:
            changes["callback_secret"] = "changed"
            community.callback_secret = secret
        if bot_token:
            changes["bot_token"] = "replaced"
            community.community_token_enc = encrypt_token(settings.secret_key, bot_token)
        if not changes:
            return []
        await community.save(using_db=conn)
        await journal.record(
            "community.update",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            community_id=community.id,
            params={"network": Network.TELEGRAM.value, "bot_id": community.vk_group_id, "changes": changes},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return list(changes)


# Settings whose values the journal may hold; the callback secret and the tokens are named only.
_PLAIN_FIELDS = ("name", "mode", "confirmation_code", "sla_seconds", "business_hours", "admin_vk_user_id")


async def update_community(
    settings: Settings,
    community_id: int,
    *,
    by: Operator,
    name: str,
    mode: CommunityMode,
    secret: str,
    confirmation: str,
    sla_seconds: int,
    business_hours: Mapping[str, Any] | None,
    admin_vk_user_id: int | None,
    community_token: str | None = None,
    admin_token: str | None = None,
    remove_community_token: bool = False,
    remove_admin_token: bool = False,
) -> list[str]:
    """Change a community's settings (admins only); the names of the settings that changed.

    A token argument of None keeps the stored token; `remove_*` drops it. The VK group id never changes:
    everything mirrored belongs to it. The journal entry ("community.update") lists what changed, with
    old and new values except for the secret and the tokens.
    """
    await require_admin(by, action="community.update", target=f"community:{community_id}")
    check_token(community_token, field="community_token")
    check_token(admin_token, field="admin_token")
    async with in_transaction() as conn:
        community = await Community.filter(id=community_id).select_for_update().using_db(conn).first()
        if community is None:
            raise CommunityError("this community does not exist")
        has_community_token = bool(community_token) or (
            bool(community.community_token_enc) and not remove_community_token
        )
        check_community_settings(
            name=name,
            mode=mode,
            secret=secret,
            confirmation=confirmation,
            has_community_token=has_community_token,
            sla_seconds=sla_seconds,
            business_hours=business_hours,
            admin_vk_user_id=admin_vk_user_id,
        )
        wanted: dict[str, Any] = {
            "name": name.strip(),
            "mode": mode,
            "confirmation_code": confirmation,
            "sla_seconds": sla_seconds,
            "business_hours": dict(business_hours) if business_hours is not None else None,
            "admin_vk_user_id": admin_vk_user_id,
        }
        changes: dict[str, Any] = {}
        for field in _PLAIN_FIELDS:
            old, new = getattr(community, field), wanted[field]
            if old != new:
                changes[field] = {"from": _plain(old), "to": _plain(new)}
                setattr(community, field, new)
        if secret != community.callback_secret:
            changes["callback_secret"] = "changed"
            community.callback_secret = secret
        for kind, token, remove in (
            ("community_token", community_token, remove_community_token),
            ("admin_token", admin_token, remove_admin_token),
        ):
            column = f"{kind}_enc"
            if token:
                changes[kind] = "replaced" if getattr(community, column) else "set"
                setattr(community, column, encrypt_token(settings.secret_key, token))
            elif remove and getattr(community, column):
                changes[kind] = "removed"
                setattr(community, column, None)
        if not changes:
            return []
        await community.save(using_db=conn)
        await journal.record(
            "community.update",
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            community_id=community.id,
            params={"vk_group_id": community.vk_group_id, "changes": changes},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return list(changes)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, CommunityMode) else value


async def set_community_active(community_id: int, active: bool, *, by: Operator) -> Community:
    """Serve a community again, or stop serving it (admins only; journaled).

    An inactive community's callback requests are answered "unknown community" and its long poll stops
    at the next scan; what was mirrored stays.
    """
    action = "community.activate" if active else "community.deactivate"
    await require_admin(by, action=action, target=f"community:{community_id}")
    async with in_transaction() as conn:
        community = await Community.filter(id=community_id).select_for_update().using_db(conn).first()
        if community is None:
            raise CommunityError("this community does not exist")
        if community.is_active == active:
            return community
        community.is_active = active
        await community.save(update_fields=["is_active"], using_db=conn)
        await journal.record(
            action,
            actor_kind=ActorKind.OPERATOR,
            operator_id=by.id,
            community_id=community.id,
            params={"vk_group_id": community.vk_group_id, "name": community.name},
            outcome=Outcome.DONE,
            connection=conn,
        )
    return community


def community_token(settings: Settings, community: Community) -> str:
    if not community.community_token_enc:
        raise MissingToken(
            f"community {community.name} has no community token: add it in the admin pages "
            "(VK: community settings, API usage, access tokens)"
        )
    return decrypt_token(settings.secret_key, community.community_token_enc)


def admin_token(settings: Settings, community: Community) -> str:
    if not community.admin_token_enc:
        raise MissingToken(
            f"community {community.name} has no admin user token: deleting and restoring comments and "
            "banning need a VK user token of a community admin"
        )
    return decrypt_token(settings.secret_key, community.admin_token_enc)
