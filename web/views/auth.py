"""Log in and log out."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from proxy import accounts
from proxy.audit import journal
from proxy.models import ActorKind
from web.auth import OPERATOR, current_operator, log_in, log_out


def _safe_next(value: str | None) -> str:
    # Only local paths, so the login form cannot be used to bounce users to another site.
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


@aiohttp_jinja2.template("auth/login.html")
async def login_page(request: web.Request) -> dict[str, object]:
    if await current_operator(request) is not None:
        raise web.HTTPFound(_safe_next(request.query.get("next")))
    return {"next": _safe_next(request.query.get("next")), "error": None, "login": ""}


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", "")).strip()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    operator = await accounts.authenticate(login, password)
    if operator is None:
        await journal.record(
            "auth.login_failed", actor_kind=ActorKind.SYSTEM, params={"login": login[:64], "ip": request.remote}
        )
        context = {"next": target, "error": "Wrong login or password.", "login": login}
        return aiohttp_jinja2.render_template("auth/login.html", request, context, status=401)
    await log_in(request, operator)
    await journal.record(
        "auth.login", actor_kind=ActorKind.OPERATOR, operator_id=operator.id, params={"ip": request.remote}
    )
    raise web.HTTPFound(target)


async def logout(request: web.Request) -> web.StreamResponse:
    operator = request[OPERATOR]
    await journal.record("auth.logout", actor_kind=ActorKind.OPERATOR, operator_id=operator.id)
    await log_out(request)
    raise web.HTTPFound("/login")
