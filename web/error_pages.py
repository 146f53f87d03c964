"""One error page for the people using the UI, and short answers for everyone else.

A browser that navigates (it asks for text/html, and is not htmx) gets `error.html` for 400, 403, 404,
429 and 500: what happened and what to do, in the reader's language, with a way back. An htmx request
gets the same message as one line of text, which app.js shows in #flash. Scripts (exports, JSON, SSE,
the callback endpoint, metrics) keep the answer the view gave, byte for byte: they read status codes,
and the VK callback endpoint answers exactly as VK expects.

The middleware sits inside the locale middleware (the reader's language is known) and outside CSRF, the
parameter check and `web/refusal.py`, so their refusals get the page too; the security headers
middleware, further out, adds its headers to whatever this one answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

from proxy.access import NOT_FOUND
from web.auth import OPERATOR, SCOPE
from web.csrf import CSRF_TOKEN
from web.i18n import gettext as _
from web.params import N_, ParamError

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths whose answers are for programs, not people.
SHORT_ANSWER_PREFIXES = ("/callback/", "/live", "/metrics", "/healthz", "/static/", "/api/")
SHORT_ANSWER_SUFFIXES = (".csv", ".json")

TITLES = {
    400: N_("This request cannot be used"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
}
WHAT_TO_DO = {
    400: N_("Check the address or the form and try again; the filters can be reset."),
    403: N_("Your account does not give access to this. Ask a manager or an admin if you need it."),
    404: N_(
        "The address may be mistyped, or the conversation or item is not among the communities you work in."
    ),
    429: N_("Wait a minute and try again."),
    500: N_("The error is logged. Try again in a moment; if it happens again, tell your admin."),
}
# The default texts aiohttp gives an exception raised without one ("404: Not Found").
_DEFAULT_TEXTS = {f"{status}: {reason}" for status, reason in ((400, "Bad Request"), (403, "Forbidden"),
                  (404, "Not Found"), (429, "Too Many Requests"), (500, "Internal Server Error"))}  # fmt: skip


def wants_page(request: web.Request) -> bool:
    """A person's browser navigating, as opposed to htmx or a program."""
    path = request.path
    if path.startswith(SHORT_ANSWER_PREFIXES) or path.endswith(SHORT_ANSWER_SUFFIXES):
        return False
    if request.headers.get("HX-Request") or request.headers.get("Authorization"):
        return False
    return "text/html" in request.headers.get("Accept", "")


def is_short_answer(request: web.Request) -> bool:
    path = request.path
    return path.startswith(SHORT_ANSWER_PREFIXES) or path.endswith(SHORT_ANSWER_SUFFIXES)


def explained(text: str | None, cause: BaseException | None) -> str:
    """The reason in the reader's language: a parameter error translated with its values, a known
    message from the catalog, nothing for aiohttp's bare default text."""
    if isinstance(cause, ParamError):
        return _(cause.message, **cause.params)
    text = (text or "").strip()
    if not text or text in _DEFAULT_TEXTS or text == NOT_FOUND:
        return ""  # the title says it
    return _(text)


def error_page(request: web.Request, status: int, reason: str) -> web.Response:
    context = {
        "status": status,
        "title": _(TITLES.get(status, TITLES[500])),
        "reason": reason,
        "what_to_do": _(WHAT_TO_DO.get(status, WHAT_TO_DO[500])),
        "operator": request.get(OPERATOR),
        "access": request.get(SCOPE),
        "csrf_token": request.get(CSRF_TOKEN, ""),
        "back": request.headers.get("Referer", "") if _same_site(request) else "",
    }
    response = aiohttp_jinja2.render_template("error.html", request, context, status=status)
    response.headers["Vary"] = "HX-Request"
    return response


def _same_site(request: web.Request) -> bool:
    referer = request.headers.get("Referer", "")
    return referer.startswith(f"{request.scheme}://{request.host}/")


def flash_text(status: int, reason: str) -> str:
    """The one line an htmx request gets (app.js shows it in #flash): the reason, else what happened."""
    return reason or _(TITLES.get(status, TITLES[500]))


def _is_error_text(response: web.StreamResponse) -> bool:
    return (
        isinstance(response, web.Response)
        and response.status in TITLES
        and (response.content_type == "text/plain" or response.body is None)
    )


@web.middleware
async def error_pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_short_answer(request):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status not in TITLES:
            raise
        return _answer(request, exc.status, explained(exc.text, exc.__context__), exc) or _reraise(exc)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        answer = _answer(request, 500, "", None)
        if answer is None:
            raise
        return answer
    if _is_error_text(response):
        text = response.text if isinstance(response, web.Response) and response.body is not None else ""
        answer = _answer(request, response.status, explained(text, None), None)
        if answer is not None:
            return answer
    return response


def _reraise(exc: web.HTTPException) -> web.StreamResponse:
    raise exc


def _answer(
    request: web.Request, status: int, reason: str, exc: web.HTTPException | None
) -> web.StreamResponse | None:
    """The page, the htmx line, or None (the answer stays as the view gave it)."""
    if wants_page(request):
        response = error_page(request, status, reason)
    elif request.headers.get("HX-Request"):
        response = web.Response(status=status, text=flash_text(status, reason))
        response.headers["Vary"] = "HX-Request"
    else:
        return None
    if exc is not None:
        for name in ("Retry-After", "Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    return response
