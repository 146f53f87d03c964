"""Admin pages for operator accounts: list, create, edit, communities, (de)activate, password."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy import accounts
from proxy.admin_access import InputError
from proxy.models import ApiToken, Community, Operator, Role
from web.auth import OPERATOR, log_in
from web.i18n import gettext as _
from web.views import admin_forms as forms
from web.views.admin_common import admin_only, done, refusal, row_id, show


async def _operators_context(**extra: Any) -> dict[str, Any]:
    rows = await Operator.all().order_by("-is_active", "login").prefetch_related("communities")
    return {
        "operators": rows,
        "roles": [r.value for r in Role],
        "values": {"login": "", "display_name": "", "role": Role.OPERATOR.value},
        "error": None,
        **extra,
    }


@admin_only
async def operators_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/operators: every account, and the form to create one."""
    return await show(request, "admin/operators.html", "admin/_operators.html", await _operators_context())


@admin_only
async def operator_create(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators: create an account."""
    form = await request.post()
    values = {k: forms.text(form, k) for k in ("login", "display_name", "role")}
    try:
        created = await accounts.create_operator(
            values["login"],
            str(form.get("password", "")),
            forms.role(form),
            display_name=values["display_name"],
            created_by=request[OPERATOR],
        )
    except InputError as exc:
        context = await _operators_context(values=values, **refusal(exc, "create"))
        return await show(request, "admin/operators.html", "admin/_operators.html", context, status=422)
    message = _(
        "Account %(login)s created. Give them their password; they can log in now.", login=created.login
    )
    if created.role == Role.OPERATOR:
        # An operator reaches only the communities given to them, and a new one has none.
        message += " " + _(
            "They have no community yet, so their inbox is empty: choose theirs under Community access."
        )
    return await done(request, f"/admin/operators/{created.id}", message)


async def _account(request: web.Request) -> Operator:
    account = await Operator.get_or_none(id=row_id(request))
    if account is None:
        raise web.HTTPNotFound(text=_("No such account."))
    return account


async def _operator_context(account: Operator, **extra: Any) -> dict[str, Any]:
    await account.fetch_related("communities")
    member_of = {c.id for c in account.communities}
    tokens = await ApiToken.filter(operator_id=account.id).order_by("-created_at", "-id")
    return {
        "account": account,
        "roles": [r.value for r in Role],
        "all_communities": await Community.all().order_by("-is_active", "name"),
        "member_of": extra.pop("member_of", member_of),
        "values": {
            "display_name": account.display_name,
            "role": str(account.role),
            "vk_user_id": "" if account.vk_user_id is None else str(account.vk_user_id),
            "telegram_user_id": "" if account.telegram_user_id is None else str(account.telegram_user_id),
        },
        "tokens": tokens,
        "error": None,
        "new_password": None,
        **extra,
    }


@admin_only
async def operator_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/operators/{id}: profile, role, linked VK and Telegram ids, community access, status, password."""
    account = await _account(request)
    return await show(
        request, "admin/operator.html", "admin/_operator.html", await _operator_context(account)
    )


async def _operator_refused(
    request: web.Request, account: Operator, exc: Exception, form: str, **extra: Any
) -> web.StreamResponse:
    context = await _operator_context(account, **extra, **refusal(exc, form))
    return await show(request, "admin/operator.html", "admin/_operator.html", context, status=422)


@admin_only
async def operator_update(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}: display name, role, linked VK and Telegram user ids."""
    account = await _account(request)
    form = await request.post()
    values = {k: forms.text(form, k) for k in ("display_name", "role", "vk_user_id", "telegram_user_id")}
    try:
        changed = await accounts.update_account(
            account.id,
            by=request[OPERATOR],
            display_name=values["display_name"],
            role=forms.role(form),
            vk_user_id=forms.optional_int(form, "vk_user_id", "a VK user id is a positive number"),
            telegram_user_id=forms.optional_int(
                form, "telegram_user_id", "a Telegram user id is a positive number"
            ),
        )
    except InputError as exc:
        return await _operator_refused(request, account, exc, "profile", values=values)
    return await done(
        request, f"/admin/operators/{account.id}", _("Saved.") if changed else _("Nothing changed.")
    )


@admin_only
async def operator_communities(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/communities: the communities the operator works on."""
    account = await _account(request)
    form = await request.post()
    try:
        chosen = forms.int_list(form, "communities")
        result = await accounts.set_account_communities(account.id, chosen, by=request[OPERATOR])
    except InputError as exc:
        return await _operator_refused(request, account, exc, "communities")
    changed = result["added"] or result["removed"]
    return await done(
        request, f"/admin/operators/{account.id}", _("Saved.") if changed else _("Nothing changed.")
    )


@admin_only
async def operator_active(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/active: active=0 disables the account (its sessions end at once)."""
    account = await _account(request)
    form = await request.post()
    active = forms.text(form, "active") == "1"
    try:
        await accounts.set_account_active(account.id, active, by=request[OPERATOR])
    except InputError as exc:
        return await _operator_refused(request, account, exc, "status")
    message = (
        _("Account enabled: they can log in again.")
        if active
        else _("Account disabled: their sessions and API tokens stopped working at once.")
    )
    return await done(request, f"/admin/operators/{account.id}", message)


@admin_only
async def operator_password(request: web.Request) -> web.StreamResponse:
    """POST /admin/operators/{id}/password: a new password (typed, or generated and shown once)."""
    account = await _account(request)
    form = await request.post()
    admin = request[OPERATOR]
    try:
        account, password = await accounts.reset_password(
            account.id, by=admin, password=str(form.get("password", "")) or None
        )
    except InputError as exc:
        return await _operator_refused(request, account, exc, "password")
    if account.id == admin.id:
        # The reset ended every session of the account, this one too: keep this one.
        await log_in(request, account)
    context = await _operator_context(
        account,
        new_password=password if not form.get("password") else None,
        flash=_("Password changed: every session of %(login)s has ended.", login=account.login),
    )
    response = await show(request, "admin/operator.html", "admin/_operator.html", context)
    response.headers["Cache-Control"] = "no-store"  # it may carry the new password
    return response
