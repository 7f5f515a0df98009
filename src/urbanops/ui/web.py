"""Plumbing of the server-rendered pages: templates, static files, the page's language.

Pages are Jinja2 templates under ``ui/templates`` with small scripts and styles under
``ui/static`` (served at ``/static``, cached, addressed with a content hash so a new version is
fetched at once). The language comes from ``?lang=`` (remembered in a cookie), else the cookie,
else Chinese.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from urbanops.ui import messages

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_PATH = "/static"
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
#: Nothing but this server: no CDN, no tiles, no fonts from elsewhere (a slow 4G phone and
#: privacy both gain); photos picked on the phone show as blob: previews.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

templates = Jinja2Templates(directory=TEMPLATES_DIR)


@cache
def _static_hash(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: cache it for ever, a new version has a new address."""
    return f"{STATIC_PATH}/{name}?v={_static_hash(name)}"


templates.env.globals["static_url"] = static_url


def install_static(app: FastAPI) -> None:
    """Serve ``ui/static`` at ``/static`` (once, however many modules ask)."""
    if not any(getattr(route, "path", None) == STATIC_PATH for route in app.routes):
        app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")


def page_language(request: Request) -> tuple[str, bool]:
    """The page's language, and whether the request chose it now (then it is remembered)."""
    chosen = messages.normalise(request.query_params.get("lang"))
    if chosen is not None:
        return chosen, True
    remembered = messages.normalise(request.cookies.get(LANG_COOKIE))
    return remembered or messages.DEFAULT_LANGUAGE, False


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    lang: str,
    remember: bool,
    status_code: int = 200,
) -> HTMLResponse:
    """A page in ``lang``: ``t(key)`` in the template speaks it; no referrer leaves the page."""

    def t(key: str) -> str:
        return messages.t(key, lang)

    response = templates.TemplateResponse(
        request,
        template,
        {"lang": lang, "t": t, **context},
        status_code=status_code,
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    if remember:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, httponly=False, samesite="lax"
        )
    return response
