"""Admin page for API tokens: list, issue (shown once), revoke."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import accounts
from proxy.admin_access import InputError
from proxy.models import ApiToken, Operator
from web import params
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, isolated, query_value, refusal, row_id, show


async def _tokens_context(owner_id: int | None, **extra: Any) -> dict[str, Any]:
    """The tokens page, listing one account's tokens (`?operator=`, read by the handler first) or all."""
    query = ApiToken.all().prefetch_related("operator").order_by("-created_at", "-id")
    if owner_id is not None:
        query = query.filter(operator_id=owner_id)
    return {
        "tokens": await query,
        "operators": await Operator.all().order_by("-is_active", "login"),
        "owner_id": owner_id,
        "values": {"operator": str(owner_id or ""), "name": ""},
        "error": None,
        "new_token": None,
        **extra,
    }


@admin_only
async def tokens_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/tokens[?operator=ID]: API tokens (all, or one account's), and the form to create one."""
    context = await _tokens_context(query_value(request, params.OPERATOR))
    return await show(request, "admin/tokens.html", "admin/_tokens.html", context)


@admin_only
async def token_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/tokens: create a read-only API token for an account; the token is shown this once."""
    listed = query_value(request, params.OPERATOR)  # read before the change: a 400 must change nothing
    form = await request.post()
    values = {"operator": forms.text(form, "operator"), "name": forms.text(form, "name")}
    try:
        owner_id = forms.optional_int(form, "operator", "choose whose token it is", high=params.INT32_MAX)
        if owner_id is None:
            raise InputError("choose whose token it is", field="operator")
        row, token = await accounts.issue_api_token(owner_id, values["name"], by=request[OPERATOR])
    except InputError as exc:
        context = await _tokens_context(listed, values=values, **refusal(exc, "create"))
        return await show(request, "admin/tokens.html", "admin/_tokens.html", context, status=422)
    await row.fetch_related("operator")
    context = await _tokens_context(listed, new_token={"row": row, "token": token}, flash=None)
    response = await show(request, "admin/tokens.html", "admin/_tokens.html", context)
    # The token is in this answer only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_only
async def token_revoke(request: web.Request) -> web.StreamResponse:
    """POST /admin/tokens/{id}/revoke: the token stops working at once."""
    token_id = row_id(request)
    back = query_value(request, params.OPERATOR)  # read before the change: a 400 must change nothing
    try:
        row = await accounts.revoke_api_token(token_id, by=request[OPERATOR])
    except InputError as exc:
        context = await _tokens_context(back, **refusal(exc, "list"))
        return await show(request, "admin/tokens.html", "admin/_tokens.html", context, status=422)
    url = "/admin/tokens" + (f"?operator={back}" if back is not None else "")
    return await done(request, url, _("Token %(name)s revoked.", name=isolated(row.name or f"#{row.id}")))
