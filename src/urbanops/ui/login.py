"""The staff sign-in page (``/login``), shared by the console and the officer's phone page.

A plain server-rendered form whose small script posts to ``/api/auth/login``; the answer's
session cookie is what the console and the officer's page recognise.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from urbanops.ui import messages
from urbanops.ui.web import LANG_COOKIE, LANG_COOKIE_MAX_AGE, page_language, render

router = APIRouter(include_in_schema=False)

DEFAULT_NEXT = "/console/"


def safe_next(value: str | None) -> str:
    """A path on this server to go to after signing in; anything else goes to the console."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return DEFAULT_NEXT


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    lang, remember = page_language(request)
    context = {
        "next": safe_next(request.query_params.get("next")),
        "script_messages": messages.subset(lang, ("login.",)),
    }
    return render(request, "login.html", context, lang=lang, remember=remember)


@router.get("/lang")
def choose_language(request: Request) -> RedirectResponse:
    """Remember the language in ``set`` and go back to ``next`` (the console's language switch)."""
    lang = messages.normalise(request.query_params.get("set")) or messages.DEFAULT_LANGUAGE
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax")
    return response
