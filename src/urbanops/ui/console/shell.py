"""What every console page shares: who is signed in, the page's language, the frame.

A page is a function of a ``ConsoleContext`` registered with ``@console_page(path, ...)``. The
decorator signs the user in from the session cookie (``/login`` otherwise), refuses a role that
may not open the page (403, in the user's language), and draws the frame (title bar, the
navigation the role may use, language switch, sign-out) before the page's own content.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from urbanops.config import Settings
from urbanops.kit.actor import Actor, Role
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work
from urbanops.ui import messages
from urbanops.ui.web import page_language

MOUNT_PATH = "/console"
#: Roles of the command centre's staff (everyone but grid officers, devices and integrations).
STAFF: tuple[Role, ...] = (
    Role.OPERATOR,
    Role.DISPATCHER,
    Role.SHIFT_LEADER,
    Role.SQUAD_LEADER,
    Role.LEGAL_REVIEWER,
    Role.LEADER,
)
#: Who may open each part of the console (admin always may).
HOME_ROLES = STAFF
INTAKE_ROLES: tuple[Role, ...] = (Role.OPERATOR, Role.DISPATCHER, Role.SHIFT_LEADER)
CASE_ROLES = STAFF
BOARD_ROLES: tuple[Role, ...] = (Role.LEADER, Role.SHIFT_LEADER, Role.SQUAD_LEADER)
ADMIN_ROLES: tuple[Role, ...] = (Role.ADMIN,)


@dataclass(frozen=True)
class NavItem:
    key: str  # message key
    path: str  # under /console, or an absolute page such as /officer/
    roles: tuple[Role, ...]


NAV: tuple[NavItem, ...] = (
    NavItem("console.nav.home", "/console/", HOME_ROLES),
    NavItem("console.nav.intake", "/console/intake", INTAKE_ROLES),
    NavItem("console.nav.board", "/console/board", BOARD_ROLES),
    NavItem("console.nav.admin", "/console/admin", ADMIN_ROLES),
)


@dataclass
class _State:
    """The app the console is mounted on (one per process)."""

    app: FastAPI | None = None


STATE = _State()


def allowed(actor: Actor, roles: tuple[Role, ...]) -> bool:
    return Role.ADMIN in actor.roles or actor.has(*roles)


@dataclass
class ConsoleContext:
    """One page view: the signed-in actor, the language, and the app's services."""

    actor: Actor
    lang: str
    request: Request
    app: FastAPI
    path: str
    extra: dict[str, Any] = field(default_factory=dict)

    def t(self, key: str) -> str:
        """The message ``key`` in the page's language."""
        return messages.t(key, self.lang)

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

    @property
    def clock(self) -> Clock:
        clock: Clock = self.app.state.clock
        return clock

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction of the app's database (committed at the end when ``write``)."""
        with unit_of_work(self.app.state.sessionmaker, write=write) as session:
            yield session

    def may(self, *roles: Role) -> bool:
        return allowed(self.actor, roles)


PageBuilder = Callable[[ConsoleContext], Awaitable[None] | None]


def _app() -> FastAPI:
    if STATE.app is None:
        raise RuntimeError("the console is not mounted")
    return STATE.app


def _actor(app: FastAPI, request: Request) -> Actor | None:
    from urbanops.auth import service as auth

    with unit_of_work(app.state.sessionmaker) as session:
        return auth.authenticate_request(session, request=request, now=app.state.clock.now())


def _forbidden(lang: str) -> HTMLResponse:
    title = escape(messages.t("console.forbidden.title", lang))
    text = escape(messages.t("console.forbidden.text", lang))
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f'</head><body><main id="forbidden"><h1>{title}</h1><p>{text}</p>'
        f'<p><a href="/login?next=/console/">{escape(messages.t("login.title", lang))}</a></p>'
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=403)


def context_for(request: Request, path: str, roles: tuple[Role, ...]) -> ConsoleContext | Response:
    """The page's context, or the answer instead of the page (sign in first, or 403)."""
    app = _app()
    lang, _ = page_language(request)
    actor = _actor(app, request)
    if actor is None:
        query = f"?{request.url.query}" if request.url.query else ""
        target = quote(str(request.url.path) + query)
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if not allowed(actor, roles):
        return _forbidden(lang)
    return ConsoleContext(actor=actor, lang=lang, request=request, app=app, path=path)


def inside(path: str) -> str:
    """A console path (``/console/...``) as NiceGUI wants it: it adds the mount path itself."""
    return path.removeprefix(MOUNT_PATH) or "/"


def link_out(text: str, path: str, *, element_id: str = "", classes: str = "") -> None:
    """A link to a page outside the console (``/login``, ``/officer/``, ``/lang``).

    ``ui.link`` would put ``/console`` in front of any path starting with ``/``; a plain anchor
    keeps it as written.
    """
    from nicegui import ui

    attrs = f' id="{escape(element_id)}"' if element_id else ""
    ui.html(
        f'<a href="{escape(path)}"{attrs} class="{escape(classes)}">{escape(text)}</a>',
        sanitize=False,
    )


def frame(ctx: ConsoleContext) -> None:
    """The title bar: name, the navigation this role may use, the user, language, sign-out."""
    from nicegui import ui

    ui.page_title(ctx.t("console.name"))
    ui.query("body").classes("bg-grey-1")
    with ui.header(elevated=True).classes("items-center gap-4 px-4 py-1 bg-blue-9"):
        ui.label(ctx.t("console.name")).classes("text-lg font-bold").props('id="console-title"')
        with ui.row().classes("gap-1").props('id="console-nav"'):
            for item in NAV:
                if allowed(ctx.actor, item.roles):
                    link = ui.link(ctx.t(item.key), inside(item.path)).classes(
                        "text-white no-underline px-2 py-1 rounded"
                        + (" bg-blue-7" if item.path.rstrip("/") == ctx.path.rstrip("/") else "")
                    )
                    link.props(f'data-nav="{item.path}"')
        ui.space()
        ui.label(f"{ctx.t('console.signed_in_as')}: {ctx.actor.name}").classes("text-sm").props(
            'id="console-user"'
        )
        other = messages.t("lang.other_code", ctx.lang)
        here = quote(str(ctx.request.url.path))
        link_out(
            messages.t("lang.other", ctx.lang),
            f"/lang?set={other}&next={here}",
            element_id="lang-switch",
            classes="text-white text-sm",
        )
        ui.button(
            ctx.t("console.sign_out"),
            on_click=lambda: ui.run_javascript(
                "fetch('/api/auth/logout',{method:'POST',credentials:'same-origin'})"
                ".finally(()=>location.assign('/login'))"
            ),
        ).props('flat dense color=white id="sign-out"')


def console_page(
    path: str, *, roles: tuple[Role, ...] = STAFF
) -> Callable[[PageBuilder], PageBuilder]:
    """Register ``build`` as the console page at ``/console{path}`` for ``roles`` (and admin)."""
    from nicegui import ui

    def decorate(build: PageBuilder) -> PageBuilder:
        full = "/console" + (path if path != "/" else "/")

        @ui.page(path)
        async def page(request: Request) -> Response | None:
            ctx = context_for(request, full, roles)
            if isinstance(ctx, Response):
                return ctx
            ctx.extra["params"] = dict(request.path_params)
            frame(ctx)
            result = build(ctx)
            if inspect.isawaitable(result):
                await result
            return None

        return build

    return decorate
