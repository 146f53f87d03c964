"""Admin pages for Telegram bots: add one, edit it, connect it (set the webhook) and test the connection.

A bot is a community of the Telegram network (proxy/communities.py `add_bot`); the communities list shows
both, and serving on/off is the communities' (`/admin/communities/{id}/active`).
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web
from babel.dates import get_day_names

from proxy import communities
from proxy.admin_access import InputError
from proxy.admin_telegram_check import check_bot, connect_bot, webhook_url
from proxy.appkeys import CONNECTIONS, SETTINGS
from proxy.connectors.base import Check
from proxy.models import Community, CommunityMode, Network
from web.auth import OPERATOR
from web.i18n import current_locale
from web.i18n import gettext as _
from web.partials import render, wants_partial
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, isolated, refusal, row_id, show
from web.views.admin_communities import SECRET_ALPHABET


async def _bot_context(request: web.Request, community: Community | None, **extra: Any) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    if "values" not in extra:
        fresh_secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
        extra["values"] = forms.bot_values(community, settings.timezone, fresh_secret)
    day_names = get_day_names("abbreviated", locale=current_locale())
    return {
        "community": community,
        "webhook_url": webhook_url(settings, community) if community else None,
        "timezones": forms.timezones(),
        "weekdays": [(day, day_names[day]) for day in range(7)],
        "modes": [m.value for m in CommunityMode],
        "error": None,
        "connect_checks": None,
        "test_checks": None,
        "connect_idle": _(
            "Tells Telegram to post the bot's updates to the address above with the secret (webhook), "
            "or removes the webhook so that the proxy asks for them (polling)."
        ),
        "test_idle": _(
            "Asks Telegram whether the saved token works and where it delivers the updates (nothing is "
            "changed in Telegram)."
        ),
        **extra,
    }


async def _bot(request: web.Request) -> Community:
    community = await Community.get_or_none(id=row_id(request), network=Network.TELEGRAM)
    if community is None:
        raise web.HTTPNotFound(text=_("No such bot."))
    return community


def _refused(exc: InputError) -> dict[str, Any]:
    return refusal(exc, "bot")


@admin_only
async def bot_new(request: web.Request) -> web.StreamResponse:
    """GET /admin/bots/new: the form of a new bot, with a fresh webhook secret."""
    context = await _bot_context(request, None)
    return await show(request, "admin/bot.html", "admin/_bot.html", context)


@admin_only
async def bot_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/bots: add a bot (nothing is sent to Telegram), then show its page."""
    form = await request.post()
    values = forms.submitted_values(form)
    try:
        parsed = forms.parse_bot_form(form, values)
        community = await communities.add_bot(
            request.app[SETTINGS],
            name=parsed.name,
            bot_token=parsed.bot_token or "",
            secret=parsed.secret,
            mode=parsed.mode,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            created_by=request[OPERATOR],
        )
    except InputError as exc:
        context = await _bot_context(
            request, None, values=values, tokens_dropped=bool(forms.text(form, "bot_token")), **_refused(exc)
        )
        return await show(request, "admin/bot.html", "admin/_bot.html", context, status=422)
    message = _(
        'Bot %(name)s added. Press "Connect", then "Test the connection".', name=isolated(community.name)
    )
    return await done(request, f"/admin/bots/{community.id}", message)


@admin_only
async def bot_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/bots/{id}: the settings form, Connect, Test the connection, serving on/off."""
    community = await _bot(request)
    context = await _bot_context(request, community)
    return await show(request, "admin/bot.html", "admin/_bot.html", context)


@admin_only
async def bot_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/bots/{id}: save the settings (the token only when a new one is pasted)."""
    community = await _bot(request)
    form = await request.post()
    values = forms.submitted_values(form)
    try:
        parsed = forms.parse_bot_form(form, values)
        changed = await communities.update_bot(
            request.app[SETTINGS],
            community.id,
            by=request[OPERATOR],
            name=parsed.name,
            mode=parsed.mode,
            secret=parsed.secret,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            bot_token=parsed.bot_token,
        )
    except InputError as exc:
        context = await _bot_context(
            request,
            community,
            values=values,
            tokens_dropped=bool(forms.text(form, "bot_token")),
            **_refused(exc),
        )
        return await show(request, "admin/bot.html", "admin/_bot.html", context, status=422)
    if not changed:
        message = _("Nothing changed.")
    elif {"callback_secret", "mode", "bot_token"} & set(changed):
        message = _('Saved. Press "Connect" so that Telegram gets the new settings.')
    else:
        message = _("Saved.")
    return await done(request, f"/admin/bots/{community.id}", message)


async def _answer(
    request: web.Request, community: Community, which: str, checks: list[Check]
) -> web.StreamResponse:
    context = await _bot_context(request, community, **{f"{which}_checks": checks})
    if wants_partial(request):
        box = {"result_id": f"bot-{which}", "checks": checks, "idle": None}
        return render(request, "admin/_connection_test.html", {**context, **box})
    return render(request, "admin/bot.html", {**context, "flash": None})


@admin_only
async def bot_connect(request: web.Request) -> web.StreamResponse:
    """POST /admin/bots/{id}/connect: set the webhook to this proxy (or remove it for polling)."""
    community = await _bot(request)
    checks = await connect_bot(
        request.app[SETTINGS], community.id, by=request[OPERATOR], opened=request.app[CONNECTIONS]
    )
    return await _answer(request, community, "connect", checks)


@admin_only
async def bot_test(request: web.Request) -> web.StreamResponse:
    """POST /admin/bots/{id}/test: ask Telegram about the token and the webhook."""
    community = await _bot(request)
    checks = await check_bot(
        request.app[SETTINGS], community.id, by=request[OPERATOR], opened=request.app[CONNECTIONS]
    )
    return await _answer(request, community, "test", checks)
