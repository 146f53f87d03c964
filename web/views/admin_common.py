"""What every admin page shares: the admin-only guard, refusals, the flash message, page or partial."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp_session import get_session

from proxy.access import AccessDenied, ActionError
from proxy.admin_access import InputError, require_admin
from web import params
from web.auth import OPERATOR
from web.i18n import gettext as _
from web.partials import render, wants_partial

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FLASH_KEY = "admin_flash"
T = TypeVar("T")



def admin_only(handler: Handler) -> Handler:
    """Let only active admins through; a refusal is journaled and answered 403."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            await require_admin(
                request[OPERATOR],
                action="admin.view" if request.method in ("GET", "HEAD") else "admin.change",
                target=request.path,
            )
        except AccessDenied:
            raise web.HTTPForbidden(text=_("Only admins may open the settings pages.")) from None
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def explain(exc: Exception) -> str:
    """A refusal in the reader's language (the English text when the catalog has none)."""
    if isinstance(exc, InputError):
        return _(exc.message, **exc.params)
    if isinstance(exc, ActionError):
        return _(exc.message)
    return str(exc)


def row_id(request: web.Request) -> int:
    # Communities, accounts, API tokens and canned responses have 32-bit ids.
    return params.path_id(request, "id", high=params.INT32_MAX)


def query_value(request: web.Request, param: params.Param[T]) -> T | None:
    try:
        return params.query_of(request)(param)
    except params.ParamError as exc:
        raise web.HTTPBadRequest(text=_(exc.message, **exc.params)) from None


async def set_flash(request: web.Request, message: str) -> None:
    session = await get_session(request)
    session[FLASH_KEY] = message


async def take_flash(request: web.Request) -> str | None:
    session = await get_session(request)
    return session.pop(FLASH_KEY, None)


async def done(request: web.Request, url: str, message: str) -> web.StreamResponse:
    """After a change: say what was done on the next page, and go there."""
    await set_flash(request, message)
    if request.headers.get("HX-Request"):
        # htmx loads the page whole (a 3xx would be followed inside the swap).
        return web.Response(status=200, headers={"HX-Redirect": url})
    raise web.HTTPSeeOther(url)


async def show(
    request: web.Request, page: str, partial: str, context: dict[str, Any], *, status: int = 200
) -> web.StreamResponse:
    """The page, or its partial for htmx; a refused change is answered 422 (htmx swaps it in)."""
    if "flash" not in context:
        context["flash"] = await take_flash(request) if status == 200 else None
    return render(request, partial if wants_partial(request) else page, context, status=status)


def refusal(exc: Exception, form: str) -> dict[str, Any]:
    return {
        "error": {"form": form, "text": explain(exc), "field": getattr(exc, "field", None)},
    }


def isolated(text: str) -> str:
    """Text people typed, inside a sentence: Unicode isolates keep its direction marks to itself."""
    return f"\u2068{text}\u2069"
