"""Admin pages for canned responses: list, create, edit, delete."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import canned
from proxy.access import ActionError
from proxy.admin_access import InputError
from proxy.models import CannedResponse, Community
from web import params
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, isolated, query_value, refusal, row_id, show


async def _canned_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    scope = query_value(request, params.CANNED_SCOPE)
    return {
        "responses": await canned.canned_for_admin(scope),
        "communities": await Community.all().order_by("-is_active", "name"),
        "scope": "" if scope is None else str(scope),
        "values": {"title": "", "text": "", "community": "" if not isinstance(scope, int) else str(scope)},
        "error": None,
        **extra,
    }


def _canned_values(form: Any) -> dict[str, str]:
    return {
        "title": forms.text(form, "title"),
        "text": str(form.get("text", "")).strip(),
        "community": forms.text(form, "community"),
    }


def _canned_community(form: Any) -> int | None:
    return forms.optional_int(form, "community", "choose a community from the list", high=params.INT32_MAX)


@admin_only
async def canned_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/canned[?community=ID|team]: the templates, and the form to add one."""
    return await show(request, "admin/canned.html", "admin/_canned.html", await _canned_context(request))


@admin_only
async def canned_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned: add a template, team-wide or for one community."""
    form = await request.post()
    values = _canned_values(form)
    try:
        saved = await canned.save_canned(
            request[OPERATOR],
            title=values["title"],
            text=values["text"],
            community_id=_canned_community(form),
        )
    except (InputError, ActionError) as exc:
        context = await _canned_context(request, values=values, **refusal(exc, "create"))
        return await show(request, "admin/canned.html", "admin/_canned.html", context, status=422)
    return await done(request, "/admin/canned", _("Template %(title)s added.", title=isolated(saved.title)))


async def _canned_item(request: web.Request) -> CannedResponse:
    found = await CannedResponse.get_or_none(id=row_id(request)).prefetch_related("community")
    if found is None:
        raise web.HTTPNotFound(text=_("No such template."))
    return found


async def _canned_edit_context(item: CannedResponse, **extra: Any) -> dict[str, Any]:
    return {
        "item": item,
        "communities": await Community.all().order_by("-is_active", "name"),
        "values": {
            "title": item.title,
            "text": item.text,
            "community": "" if item.community_id is None else str(item.community_id),  # type: ignore[attr-defined]
        },
        "error": None,
        **extra,
    }


@admin_only
async def canned_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/canned/{id}: edit or delete a template."""
    item = await _canned_item(request)
    context = await _canned_edit_context(item)
    return await show(request, "admin/canned_edit.html", "admin/_canned_form.html", context)


@admin_only
async def canned_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned/{id}: save a template."""
    item = await _canned_item(request)
    form = await request.post()
    values = _canned_values(form)
    try:
        await canned.save_canned(
            request[OPERATOR],
            id=item.id,
            title=values["title"],
            text=values["text"],
            community_id=_canned_community(form),
        )
    except (InputError, ActionError) as exc:
        context = await _canned_edit_context(item, values=values, **refusal(exc, "edit"))
        return await show(request, "admin/canned_edit.html", "admin/_canned_form.html", context, status=422)
    return await done(
        request, "/admin/canned", _("Template %(title)s saved.", title=isolated(values["title"]))
    )


@admin_only
async def canned_delete(request: web.Request) -> web.StreamResponse:
    """POST /admin/canned/{id}/delete: remove a template (the journal keeps its text)."""
    item = await _canned_item(request)
    await canned.delete_canned(request[OPERATOR], item.id)
    return await done(request, "/admin/canned", _("Template %(title)s deleted.", title=isolated(item.title)))
