"""Admin pages for communities: list, connect, edit, (de)activate, test the VK connection."""

from __future__ import annotations

import secrets
import string
from typing import Any

from aiohttp import web
from babel.dates import get_day_names

from proxy import communities
from proxy.admin_access import InputError
from proxy.admin_vk_check import check_connection
from proxy.appkeys import CONNECTIONS, SETTINGS
from proxy.inbound import CALLBACK_ROUTE
from proxy.models import Community, CommunityMode, Network
from web.auth import OPERATOR
from web.i18n import current_locale
from web.i18n import gettext as _
from web.partials import render, wants_partial
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, isolated, refusal, row_id, show, take_flash

SECRET_ALPHABET = string.ascii_letters + string.digits


def callback_url(request: web.Request, group_id: int | str) -> str:
    """The address to paste into VK's Callback API settings."""
    base = request.app[SETTINGS].public_url.rstrip("/")
    return base + CALLBACK_ROUTE.format(group_id=group_id)


@admin_only
async def communities_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities."""
    rows = await Community.all().order_by("-is_active", "name")
    context = {"communities": rows, "flash": await take_flash(request)}
    return render(request, "admin/communities.html", context)


async def _community_context(
    request: web.Request, community: Community | None, **extra: Any
) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    if "values" not in extra:
        fresh_secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(32))
        extra["values"] = forms.community_values(community, settings.timezone, fresh_secret)
    typed = str(extra["values"].get("vk_group_id", ""))
    group_id = (
        community.vk_group_id if community else (typed if typed.isascii() and typed.isdigit() else "GROUP_ID")
    )
    day_names = get_day_names("abbreviated", locale=current_locale())
    return {
        "community": community,
        "callback_url": callback_url(request, group_id),
        "timezones": forms.timezones(),
        "weekdays": [(day, day_names[day]) for day in range(7)],
        "modes": [m.value for m in CommunityMode],
        "error": None,
        "checks": None,
        **extra,
    }


async def _community(request: web.Request, *, any_network: bool = False) -> Community:
    """The community of the path; a Telegram bot's settings are its own pages' (web/views/admin_bots.py)."""
    community = await Community.get_or_none(id=row_id(request))
    if community is None or (community.network != Network.VK and not any_network):
        raise web.HTTPNotFound(text=_("No such community."))
    return community


@admin_only
async def community_new(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities/new: the form of a new community, with a fresh secret key."""
    context = await _community_context(request, None)
    return await show(request, "admin/community.html", "admin/_community.html", context)


@admin_only
async def community_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities: add a community, then show its callback settings."""
    form = await request.post()
    values = forms.submitted_values(form)
    try:
        parsed = forms.parse_community_form(form, values, new=True)
        assert parsed.vk_group_id is not None
        community = await communities.add_community(
            request.app[SETTINGS],
            vk_group_id=parsed.vk_group_id,
            name=parsed.name,
            secret=parsed.secret,
            confirmation=parsed.confirmation,
            mode=parsed.mode,
            community_token=parsed.community_token,
            admin_token=parsed.admin_token,
            admin_vk_user_id=parsed.admin_vk_user_id,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            created_by=request[OPERATOR],
        )
    except InputError as exc:
        context = await _community_context(
            request,
            None,
            values=values,
            tokens_dropped=forms.tokens_entered(form),
            **refusal(exc, "community"),
        )
        return await show(request, "admin/community.html", "admin/_community.html", context, status=422)
    message = _(
        "Community %(name)s added. Paste the callback settings below into VK.", name=isolated(community.name)
    )
    return await done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/communities/{id}: callback settings, the settings form, token presence, test button."""
    community = await _community(request, any_network=True)
    if community.network == Network.TELEGRAM:
        raise web.HTTPSeeOther(f"/admin/bots/{community.id}")
    context = await _community_context(request, community)
    return await show(request, "admin/community.html", "admin/_community.html", context)


@admin_only
async def community_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}: save the settings (tokens only when a new one is pasted)."""
    community = await _community(request)
    form = await request.post()
    values = forms.submitted_values(form)
    values["vk_group_id"] = str(community.vk_group_id)
    try:
        parsed = forms.parse_community_form(form, values, new=False)
        changed = await communities.update_community(
            request.app[SETTINGS],
            community.id,
            by=request[OPERATOR],
            name=parsed.name,
            mode=parsed.mode,
            secret=parsed.secret,
            confirmation=parsed.confirmation,
            sla_seconds=parsed.sla_seconds,
            business_hours=parsed.business_hours,
            admin_vk_user_id=parsed.admin_vk_user_id,
            community_token=parsed.community_token,
            admin_token=parsed.admin_token,
            remove_community_token=parsed.remove_community_token,
            remove_admin_token=parsed.remove_admin_token,
        )
    except InputError as exc:
        context = await _community_context(
            request,
            community,
            values=values,
            tokens_dropped=forms.tokens_entered(form),
            **refusal(exc, "community"),
        )
        return await show(request, "admin/community.html", "admin/_community.html", context, status=422)
    message = _("Saved.") if changed else _("Nothing changed.")
    return await done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}/active: active=1 serves the community (or bot) again, active=0 stops."""
    community = await _community(request, any_network=True)
    form = await request.post()
    active = forms.text(form, "active") == "1"
    await communities.set_community_active(community.id, active, by=request[OPERATOR])
    if community.network == Network.TELEGRAM:
        message = (
            _("The bot is served again.")
            if active
            else _("The bot is no longer served: Telegram's requests for it are refused, its history stays.")
        )
    else:
        message = (
            _("The community is served again.")
            if active
            else _("The community is no longer served: VK's requests for it are refused, its history stays.")
        )
    return await done(request, f"/admin/communities/{community.id}", message)


@admin_only
async def community_test(request: web.Request) -> web.StreamResponse:
    """POST /admin/communities/{id}/test: call VK with the saved tokens and say what it answered."""
    community = await _community(request)
    checks = await check_connection(
        request.app[SETTINGS], community.id, by=request[OPERATOR], opened=request.app[CONNECTIONS]
    )
    context = await _community_context(request, community, checks=checks)
    if wants_partial(request):
        return render(request, "admin/_connection_test.html", context)
    return render(request, "admin/community.html", {**context, "flash": None})
