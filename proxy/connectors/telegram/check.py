"""Connecting a bot and testing the connection: separate steps (the admin pages and `proxy community`).

Connecting sets the webhook (``setWebhook`` with the secret and the list of updates wanted:
``chat_member`` and ``message_reaction`` come only when listed) or, for a polling bot, removes it.
Testing asks ``getMe`` (the token is the bot's) and ``getWebhookInfo`` (where Telegram delivers, and the
last delivery error it saw), and ``getChatMember`` for the bot's own rights in each group the proxy saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from proxy.connectors.base import Check

from . import bot_api
from .bot_api import TelegramError
from .polling import ALLOWED_UPDATES

# The rights a bot needs in a group to do what operators ask of it there.
NEEDED_RIGHTS = ("can_delete_messages", "can_restrict_members")


def _refused(exc: TelegramError, name: str, refused: str) -> Check:
    """A failed call in words that blame the right thing: Telegram unreachable, the token, or `refused`."""
    if exc.code is None:
        return Check(name, "failed", "Telegram could not be reached", detail=str(exc))
    if exc.code in (
        401,
        404,
    ):  # Telegram answers a token it does not know with 401 (or 404 for a malformed one)
        return Check(name, "failed", "Telegram refused the bot's token", detail=str(exc))
    return Check(name, "failed", refused, detail=str(exc))


async def connect(base: str, token: str, *, webhook_url: str | None, secret: str) -> list[Check]:
    """Set the webhook (None: remove it, for polling)."""
    async with aiohttp.ClientSession() as http:
        try:
            if webhook_url is None:
                await bot_api.call(http, base, token, "deleteWebhook", {"drop_pending_updates": False})
                return [Check("webhook", "ok", "webhook removed: the proxy polls the bot with getUpdates")]
            params = {"url": webhook_url, "secret_token": secret, "allowed_updates": list(ALLOWED_UPDATES)}
            await bot_api.call(http, base, token, "setWebhook", params)
        except TelegramError as exc:
            return [_refused(exc, "webhook", "Telegram refused the webhook")]
    return [Check("webhook", "ok", "Telegram delivers to %(url)s", {"url": webhook_url})]


async def check(base: str, token: str, *, groups: Sequence[int] = ()) -> list[Check]:
    """getMe, getWebhookInfo, and the bot's rights in each group."""
    checks: list[Check] = []
    async with aiohttp.ClientSession() as http:
        try:
            me = await bot_api.call(http, base, token, "getMe", {})
        except TelegramError as exc:
            return [_refused(exc, "community_token", "Telegram refused the bot's token")]
        username = me.get("username", "") if isinstance(me, dict) else ""
        checks.append(Check("community_token", "ok", "the token is the bot @%(name)s's", {"name": username}))
        checks.append(await _webhook_check(http, base, token))
        bot_id = me.get("id") if isinstance(me, dict) else None
        for chat_id in groups:
            checks.append(await _rights_check(http, base, token, chat_id, bot_id))
    return checks


async def _webhook_check(http: aiohttp.ClientSession, base: str, token: str) -> Check:
    try:
        info: Any = await bot_api.call(http, base, token, "getWebhookInfo", {})
    except TelegramError as exc:
        return Check("webhook", "failed", "Telegram did not say where it delivers", detail=str(exc))
    info = info if isinstance(info, dict) else {}
    if info.get("last_error_message"):
        return Check(
            "webhook",
            "warning",
            "Telegram's last delivery failed: %(error)s",
            {"error": info["last_error_message"]},
        )
    if not info.get("url"):
        return Check("webhook", "ok", "no webhook: updates are read with getUpdates")
    return Check("webhook", "ok", "Telegram delivers to %(url)s", {"url": info["url"]})


async def _rights_check(
    http: aiohttp.ClientSession, base: str, token: str, chat_id: int, bot_id: Any
) -> Check:
    try:
        member: Any = await bot_api.call(
            http, base, token, "getChatMember", {"chat_id": chat_id, "user_id": bot_id}
        )
    except TelegramError as exc:
        return Check(
            "rights", "failed", "the bot's rights in chat %(chat)s are unknown", {"chat": chat_id}, str(exc)
        )
    member = member if isinstance(member, dict) else {}
    if member.get("status") == "creator":
        return Check("rights", "ok", "the bot owns chat %(chat)s", {"chat": chat_id})
    missing = [right for right in NEEDED_RIGHTS if member.get(right) is not True]
    if member.get("status") != "administrator" or missing:
        return Check(
            "rights",
            "warning",
            "the bot is not an administrator of chat %(chat)s who may delete messages and ban members",
            {"chat": chat_id},
        )
    return Check(
        "rights", "ok", "the bot may delete messages and ban members in chat %(chat)s", {"chat": chat_id}
    )
