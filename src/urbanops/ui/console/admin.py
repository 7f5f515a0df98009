"""Administration (系统管理): grids, users and roles, catalogue standards, channel profiles, the
working calendar and devices.

Admins only (the shell refuses everyone else with a 403). Every change goes through the owning
module's service inside one write transaction of the page; a ``Problem`` the service raises (or
a form value its schema refuses) rolls that transaction back and is shown as a notification
with the service's own text, so a bad input changes nothing. Services that keep no audit row of
their own (areas import, SLA rules, case standards, calendar overrides) get one here, written in
the same transaction as the change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from html import escape
from typing import Any, TypeVar

import shapely
from nicegui import events, ui
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.areas import service as areas
from urbanops.areas.models import Area, ResponsibilityGrid
from urbanops.auth import service as auth
from urbanops.auth.models import User, UserGridScope, UserRole
from urbanops.catalog import channels
from urbanops.catalog import service as catalog
from urbanops.catalog.channel_models import SLA_STAGES
from urbanops.catalog.schemas import StandardPatch
from urbanops.kit import calendar
from urbanops.kit.actor import Role
from urbanops.kit.calendar import DayKind, LimitUnit
from urbanops.kit.calendar_models import OverrideKind
from urbanops.kit.errors import Problem
from urbanops.kit.geo import Crs
from urbanops.ui import messages
from urbanops.ui.console.shell import ADMIN_ROLES, ConsoleContext, console_page
from urbanops.workforce import service as workforce
from urbanops.workforce.models import Device

T = TypeVar("T")

SECTIONS = ("grids", "users", "catalog", "channels", "calendar", "devices")
#: Roles an administrator hands out to people (devices and integrations get API keys instead).
PERSON_ROLES = (
    Role.OPERATOR,
    Role.DISPATCHER,
    Role.SHIFT_LEADER,
    Role.SQUAD_LEADER,
    Role.LEGAL_REVIEWER,
    Role.LEADER,
    Role.GRID_OFFICER,
    Role.ADMIN,
)
MAP_WIDTH, MAP_HEIGHT = 640, 420


# --- shared --------


def attempt(
    ctx: ConsoleContext, change: Callable[[Session], T], *, done: str = "admin.saved"
) -> T | None:
    """Run ``change`` in one write transaction; tell the user how it went, never crash.

    A service's ``Problem`` or a schema's ``ValidationError`` rolls the transaction back (nothing
    changed) and shows the service's text beside "not done" in the user's language.
    """
    try:
        with ctx.session(write=True) as session:
            result = change(session)
    except Problem as exc:
        _tell(ctx, f"{ctx.t('admin.failed')}: {refusal(ctx, exc)}", ok=False)
        return None
    except ValidationError as exc:
        comma = "、" if ctx.lang == messages.ZH else ", "
        fields = comma.join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))
        reason = ctx.t("problem.invalid_fields").format(fields=fields)
        _tell(ctx, f"{ctx.t('admin.failed')}: {reason}", ok=False)
        return None
    _tell(ctx, ctx.t(done), ok=True)
    return result


def refusal(ctx: ConsoleContext, exc: Problem) -> str:
    """Why a service refused, in the page's language (``messages.problem_text``)."""
    return messages.problem_text(exc.code, exc.detail or exc.title, ctx.lang, area="admin")


def _tell(ctx: ConsoleContext, text: str, *, ok: bool) -> None:
    """A notification, and the same words in the page's status line (it stays; numbered)."""
    ui.notify(text, type="positive" if ok else "negative")
    status = ctx.extra.get("status")
    if isinstance(status, ui.label):
        seq = int(status.props.get("data-seq", 0)) + 1
        status.set_text(text)
        status.classes(replace="text-sm " + ("text-positive" if ok else "text-negative"))
        status.props(f'data-seq="{seq}" data-ok="{int(ok)}"')


def _audit(
    ctx: ConsoleContext,
    session: Session,
    action: str,
    entity: str,
    entity_id: object,
    detail: dict[str, Any],
) -> None:
    auth.audit(
        session,
        actor=ctx.actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        detail=detail,
        now=ctx.clock.now(),
    )


def _subnav(ctx: ConsoleContext, current: str) -> None:
    """The row of links between the administration pages."""
    with ui.row().classes("w-full items-center gap-2").props('id="admin-subnav"'):
        ui.link(ctx.t("admin.title"), "/admin").classes("text-lg font-bold no-underline mr-4")
        for section in SECTIONS:
            link = ui.link(ctx.t(f"admin.nav.{section}"), f"/admin/{section}")
            link.classes(
                "px-2 py-1 rounded no-underline"
                + (" bg-blue-1 text-blue-10" if section == current else "")
            ).props(f'data-admin="{section}"')


def _title(ctx: ConsoleContext, key: str, section: str) -> None:
    ui.label(ctx.t(key)).classes("text-xl font-bold").props(f'id="admin-{section}-title"')


def _page(ctx: ConsoleContext, section: str) -> ui.column:
    column = ui.column().classes("w-full p-4 gap-4").props(f'id="admin-{section}"')
    with column:
        _subnav(ctx, section)
        ctx.extra["status"] = (
            ui.label("").classes("text-sm").props('id="admin-status" data-seq="0" role="status"')
        )
    return column


# --- index --------


@console_page("/admin", roles=ADMIN_ROLES)
def admin_home(ctx: ConsoleContext) -> None:
    with _page(ctx, "home"):
        _title(ctx, "admin.title", "home")
        ui.label(ctx.t("admin.intro")).classes("text-grey-8")
        with ui.row().classes("gap-4"):
            for section in SECTIONS:
                with ui.link(target=f"/admin/{section}").classes("no-underline"):
                    card = ui.card().classes("w-48 h-20 items-center justify-center")
                    with card.props(f'data-admin-card="{section}"'):
                        ui.label(ctx.t(f"admin.nav.{section}")).classes("text-base font-bold")


# --- grids --------


def grid_map_svg(
    outlines: list[tuple[str, str, bytes]], *, width: int = MAP_WIDTH, height: int = MAP_HEIGHT
) -> str:
    """The outlines (code, name, WKB in WGS84) drawn as one SVG on a plain background.

    No tiles and no script: a flat equirectangular projection scaled by the cosine of the
    middle latitude is exact enough for a street's few kilometres.
    """
    shapes = [(code, name, shapely.from_wkb(wkb)) for code, name, wkb in outlines]
    if not shapes:
        return f'<svg id="admin-grid-map" width="{width}" height="{height}"></svg>'
    min_x, min_y, max_x, max_y = shapely.total_bounds([s for _, _, s in shapes])
    squeeze = math.cos(math.radians((min_y + max_y) / 2))
    span_x = max((max_x - min_x) * squeeze, 1e-9)
    span_y = max(max_y - min_y, 1e-9)
    scale = min((width - 20) / span_x, (height - 20) / span_y)

    def xy(lon: float, lat: float) -> str:
        return f"{10 + (lon - min_x) * squeeze * scale:.1f},{10 + (max_y - lat) * scale:.1f}"

    parts = [
        f'<svg id="admin-grid-map" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" style="background:#f4f6f8;border:1px solid #ccd">'
    ]
    palette = ("#90caf9", "#a5d6a7", "#ffe082", "#ef9a9a", "#ce93d8", "#80cbc4")
    for i, (code, name, shape) in enumerate(shapes):
        polygons = getattr(shape, "geoms", [shape])
        path = " ".join(
            "M" + " L".join(xy(x, y) for x, y in poly.exterior.coords) + " Z" for poly in polygons
        )
        parts.append(
            f'<path d="{path}" fill="{palette[i % len(palette)]}" fill-opacity="0.55" '
            f'stroke="#37474f" stroke-width="1" data-grid="{escape(code)}">'
            f"<title>{escape(code)} {escape(name)}</title></path>"
        )
    parts.append("</svg>")
    return "".join(parts)


@console_page("/admin/grids", roles=ADMIN_ROLES)
def admin_grids(ctx: ConsoleContext) -> None:
    t = ctx.t

    @ui.refreshable
    def overview() -> None:
        with ctx.session() as session:
            grids, _ = areas.list_responsibility_grids(session, limit=500)
            outlines = [
                (code, name, wkb)
                for code, name, wkb in session.execute(
                    select(
                        ResponsibilityGrid.code,
                        ResponsibilityGrid.name,
                        ResponsibilityGrid.geometry,
                    ).order_by(ResponsibilityGrid.code)
                )
                if wkb
            ]
            levels = dict(
                session.execute(select(Area.level, func.count()).group_by(Area.level)).all()
            )
        with ui.row().classes("w-full gap-4 items-start"):
            with ui.card():
                ui.label(t("admin.grids.map")).classes("font-bold")
                ui.html(grid_map_svg(outlines), sanitize=False)
            with ui.card().classes("grow"):
                ui.label(t("admin.grids.areas")).classes("font-bold")
                ui.label(
                    " · ".join(f"{t(f'admin.level.{lv}')}: {n}" for lv, n in sorted(levels.items()))
                ).props('id="admin-area-counts"')
                ui.label(t("admin.grids.responsibility")).classes("font-bold mt-2")
                ui.table(
                    columns=[
                        {
                            "name": "code",
                            "label": t("admin.code"),
                            "field": "code",
                            "align": "left",
                        },
                        {
                            "name": "name",
                            "label": t("admin.name"),
                            "field": "name",
                            "align": "left",
                        },
                        {
                            "name": "officers",
                            "label": t("admin.grids.officers"),
                            "field": "officers",
                        },
                        {"name": "area", "label": t("admin.area_m2"), "field": "area"},
                    ],
                    rows=[
                        {
                            "code": g.code,
                            "name": g.name,
                            "officers": len(g.officers),
                            "area": round(g.area_m2 or 0),
                        }
                        for g in grids
                    ],
                    row_key="code",
                    pagination=10,
                ).classes("w-full").props('dense flat id="admin-grid-table"')

    crs_options = {c.value: t(f"admin.crs.{c.value}") for c in Crs}
    with _page(ctx, "grids"):
        _title(ctx, "admin.grids.title", "grids")
        overview()
        with ui.card().classes("w-full"):
            ui.label(t("admin.grids.import")).classes("font-bold")
            ui.label(t("admin.grids.import_hint")).classes("text-sm text-grey-8")
            crs = ui.select(crs_options, value=Crs.WGS84.value, label=t("admin.grids.crs"))
            crs.classes("w-64").props('id="admin-import-crs"')
            result = ui.label("").props('id="admin-import-result"')

            async def upload(e: events.UploadEventArguments) -> None:
                data = await e.file.read()
                name = e.file.name

                def change(session: Session) -> Any:
                    out = areas.import_areas(
                        session,
                        data=data,
                        filename=name,
                        crs=str(crs.value),
                        level=None,
                        by=ctx.actor,
                        now=ctx.clock.now(),
                    )
                    return out

                out = attempt(ctx, change)
                uploader.reset()
                if out is None:
                    result.set_text("")
                    return
                result.set_text(
                    t("admin.grids.imported").format(
                        created=sum(out.created.values()), updated=sum(out.updated.values())
                    )
                )
                overview.refresh()

            uploader = ui.upload(on_upload=upload, auto_upload=True, max_files=1).props(
                'accept=".geojson,.json,.zip,.gpkg" id="admin-import-upload"'
            )


# --- users --------


@console_page("/admin/users", roles=ADMIN_ROLES)
def admin_users(ctx: ConsoleContext) -> None:
    t = ctx.t
    role_options = {r.value: t(f"admin.role.{r.value}") for r in PERSON_ROLES}
    search = {"text": ""}

    def load() -> list[dict[str, Any]]:
        with ctx.session() as session:
            users = auth.list_users(session, viewer=ctx.actor)
            roles: dict[int, list[str]] = {}
            for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)):
                roles.setdefault(user_id, []).append(role)
            scopes: dict[int, list[str]] = {}
            for user_id, code in session.execute(
                select(UserGridScope.user_id, UserGridScope.grid_code)
            ):
                scopes.setdefault(user_id, []).append(code)
            return [
                {
                    "id": u.id,
                    "username": u.username,
                    "display_name": u.display_name,
                    "roles": sorted(roles.get(u.id, [])),
                    "grids": sorted(scopes.get(u.id, [])),
                    "phone": u.phone or "",
                    "active": u.is_active,
                }
                for u in users
            ]

    @ui.refreshable
    def table() -> None:
        wanted = search["text"].strip().lower()
        rows = [
            {
                **r,
                "roles_text": "、".join(role_options.get(x, x) for x in r["roles"]),
                "grids_text": ", ".join(r["grids"]),
                "active_text": "✓" if r["active"] else "✗",
            }
            for r in load()
            if not wanted or wanted in r["username"] or wanted in r["display_name"].lower()
        ]
        ui.table(
            columns=[
                {
                    "name": "username",
                    "label": t("admin.users.username"),
                    "field": "username",
                    "align": "left",
                    "sortable": True,
                },
                {
                    "name": "display_name",
                    "label": t("admin.users.display_name"),
                    "field": "display_name",
                    "align": "left",
                },
                {
                    "name": "roles",
                    "label": t("admin.users.roles"),
                    "field": "roles_text",
                    "align": "left",
                },
                {
                    "name": "grids",
                    "label": t("admin.users.grids"),
                    "field": "grids_text",
                    "align": "left",
                },
                {"name": "active", "label": t("admin.users.active"), "field": "active_text"},
            ],
            rows=rows,
            row_key="username",
            pagination=15,
        ).classes("w-full").props('dense flat id="admin-user-table"')

    def find(session: Session, username: str) -> User:
        user = auth.find_user(session, username=username.strip().lower())
        if user is None:
            raise Problem(f"No user {username!r}", status=404, code="user_not_found")
        return user

    with _page(ctx, "users"):
        _title(ctx, "admin.users.title", "users")
        with ui.card().classes("w-full"):
            ui.label(t("admin.users.edit")).classes("font-bold")
            with ui.row().classes("items-end gap-4"):
                who = ui.input(t("admin.users.username")).props(
                    'data-field="admin-user-edit-username"'
                )
                roles = ui.select(role_options, multiple=True, label=t("admin.users.roles"))
                roles.classes("w-72").props('use-chips id="admin-user-edit-roles"')

                def save_roles() -> None:
                    def change(session: Session) -> None:
                        auth.update_user(
                            session,
                            user=find(session, who.value),
                            by=ctx.actor,
                            now=ctx.clock.now(),
                            roles=list(roles.value or []),
                        )

                    attempt(ctx, change)
                    table.refresh()

                def set_active(active: bool) -> None:
                    def change(session: Session) -> None:
                        auth.update_user(
                            session,
                            user=find(session, who.value),
                            by=ctx.actor,
                            now=ctx.clock.now(),
                            is_active=active,
                        )

                    attempt(ctx, change)
                    table.refresh()

                ui.button(t("admin.save"), on_click=save_roles).props('id="admin-user-save-roles"')
                ui.button(t("admin.users.disable"), on_click=lambda: set_active(False)).props(
                    'color=negative outline id="admin-user-disable"'
                )
                ui.button(t("admin.users.enable"), on_click=lambda: set_active(True)).props(
                    'outline id="admin-user-enable"'
                )
        with ui.card().classes("w-full"):
            ui.label(t("admin.users.new")).classes("font-bold")
            with ui.row().classes("items-end gap-4"):
                username = ui.input(t("admin.users.username")).props(
                    'data-field="admin-user-new-username"'
                )
                name = ui.input(t("admin.users.display_name")).props(
                    'data-field="admin-user-new-name"'
                )
                password = ui.input(t("admin.users.password"), password=True).props(
                    'data-field="admin-user-new-password"'
                )
                new_roles = ui.select(role_options, multiple=True, label=t("admin.users.roles"))
                new_roles.classes("w-64").props('use-chips id="admin-user-new-roles"')
                grids = ui.input(t("admin.users.grids")).props('data-field="admin-user-new-grids"')
                phone = ui.input(t("admin.users.phone")).props('data-field="admin-user-new-phone"')

                def create() -> None:
                    def change(session: Session) -> None:
                        auth.create_user(
                            session,
                            username=username.value,
                            password=password.value or None,
                            display_name=name.value.strip() or username.value,
                            roles=list(new_roles.value or []),
                            grid_codes=[c.strip() for c in grids.value.split(",") if c.strip()],
                            phone=phone.value.strip() or None,
                            by=ctx.actor,
                            now=ctx.clock.now(),
                        )

                    attempt(ctx, change)
                    table.refresh()

                ui.button(t("admin.create"), on_click=create).props('id="admin-user-create"')
        ui.input(
            t("admin.users.search"),
            on_change=lambda e: (search.update(text=e.value or ""), table.refresh()),
        ).classes("w-72").props('clearable data-field="admin-user-search"')
        table()


# --- catalogue standards --------


@console_page("/admin/catalog", roles=ADMIN_ROLES)
def admin_catalog(ctx: ConsoleContext) -> None:
    t = ctx.t
    unit_options = {u.value: t(f"admin.unit.{u.value}") for u in LimitUnit}
    state: dict[str, str] = {"q": "", "matter": ""}

    @ui.refreshable
    def results() -> None:
        if not state["q"].strip():
            return
        with ctx.session() as session:
            found, _total = catalog.search_entries(session, kind="matter", q=state["q"], size=20)
            rows = [(e.code, e.name) for e in found]
        with ui.row().classes("gap-2").props('id="admin-catalog-results"'):
            for code, name in rows:
                ui.button(f"{code} {name}", on_click=lambda c=code: pick(c)).props(
                    f'outline dense no-caps data-matter="{code}"'
                )

    def pick(code: str) -> None:
        state["matter"] = code
        standards.refresh()

    @ui.refreshable
    def standards() -> None:
        if not state["matter"]:
            return
        try:
            with ctx.session() as session:
                entry = catalog.entry_with_standards(session, kind="matter", code=state["matter"])
                title = f"{entry.code} {entry.name}"
                items = [
                    (
                        s.id,
                        s.variant,
                        float(s.limit_amount),
                        s.limit_unit.value,
                        s.dedupe_radius_m,
                        s.dedupe_window_h,
                        s.is_default,
                        s.responsible_department,
                    )
                    for s in entry.standards
                ]
        except Problem as exc:
            ui.notify(f"{t('admin.failed')}: {refusal(ctx, exc)}", type="negative")
            return
        ui.label(title).classes("text-lg font-bold").props('id="admin-catalog-matter"')
        if not items:
            ui.label(t("admin.catalog.none"))
        for sid, variant, amount, unit, radius, window, default, dept in items:
            with ui.card().classes("w-full").props(f'data-standard="{sid}"'):
                ui.label(
                    f"{variant}"
                    + (f" · {t('admin.catalog.default')}" if default else "")
                    + (f" · {dept}" if dept else "")
                ).classes("font-bold")
                with ui.row().classes("items-end gap-4"):
                    f_amount = ui.number(t("admin.catalog.limit"), value=amount, min=0).props(
                        f'data-field="admin-standard-{sid}-amount"'
                    )
                    f_unit = ui.select(unit_options, value=unit, label=t("admin.catalog.unit"))
                    f_unit.classes("w-40").props(f'id="admin-standard-{sid}-unit"')
                    f_radius = ui.number(t("admin.catalog.dedupe_radius"), value=radius).props(
                        f'data-field="admin-standard-{sid}-radius"'
                    )
                    f_window = ui.number(t("admin.catalog.dedupe_window"), value=window).props(
                        f'data-field="admin-standard-{sid}-window"'
                    )

                    def save(
                        sid: int = sid,
                        f_amount: Any = f_amount,
                        f_unit: Any = f_unit,
                        f_radius: Any = f_radius,
                        f_window: Any = f_window,
                    ) -> None:
                        def change(session: Session) -> None:
                            patch = StandardPatch(
                                limit_amount=f_amount.value,
                                limit_unit=f_unit.value,
                                dedupe_radius_m=_int(f_radius.value),
                                dedupe_window_h=_int(f_window.value),
                            )
                            catalog.update_standard(
                                session,
                                standard_id=sid,
                                changes=patch,
                                by=ctx.actor,
                                now=ctx.clock.now(),
                            )

                        attempt(ctx, change)
                        standards.refresh()

                    ui.button(t("admin.save"), on_click=save).props(
                        f'id="admin-standard-{sid}-save"'
                    )

    def search(text: str) -> None:
        state["q"] = text or ""
        results.refresh()

    with _page(ctx, "catalog"):
        _title(ctx, "admin.catalog.title", "catalog")
        ui.input(t("admin.catalog.search"), on_change=lambda e: search(e.value)).classes(
            "w-96"
        ).props('clearable debounce=300 data-field="admin-catalog-search"')
        results()
        standards()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# --- channel profiles --------


@console_page("/admin/channels", roles=ADMIN_ROLES)
def admin_channels(ctx: ConsoleContext) -> None:
    t = ctx.t
    unit_options = {u.value: t(f"admin.unit.{u.value}") for u in LimitUnit}
    with ctx.session() as session:
        codes = [
            (c.code, c.name if ctx.lang == "zh-CN" else c.name_en)
            for c in channels.list_channels(session)
        ]
    profiles = {
        channels.DEFAULT_PROFILE: t("admin.channels.default"),
        channels.EMERGENCY_PROFILE: t("admin.channels.emergency"),
        **{code: f"{name} ({code})" for code, name in codes},
    }
    wanted = ctx.request.query_params.get("profile", channels.DEFAULT_PROFILE)
    state = {"profile": wanted if wanted in profiles else channels.DEFAULT_PROFILE}

    def unit_text(unit: str) -> str:
        return unit_options.get(unit, unit)

    @ui.refreshable
    def rules() -> None:
        profile = state["profile"]
        with ctx.session() as session:
            own = {
                r.stage: (float(r.amount), r.unit.value, r.note)
                for r in channels.list_rules(session, profile=profile)
            }
            effective: dict[str, tuple[float, str, str]] = {}
            if profile not in (channels.DEFAULT_PROFILE, channels.EMERGENCY_PROFILE):
                limits = channels.effective_limits(session, channel=profile, emergency=False)
                effective = {
                    s: (float(a), LimitUnit(u).value, p) for s, (a, u, p) in limits.items()
                }
        with (
            ui.column()
            .classes("w-full gap-1")
            .props(f'id="admin-sla-rules" data-profile="{profile}"')
        ):
            for stage in SLA_STAGES:
                amount, unit, note = own.get(stage, (None, LimitUnit.WORK_HOUR.value, ""))
                with ui.row().classes("items-end gap-4 w-full").props(f'data-stage="{stage}"'):
                    ui.label(t(f"admin.stage.{stage}")).classes("w-24 font-bold")
                    f_amount = ui.number(t("admin.channels.amount"), value=amount).props(
                        f'data-field="sla-amount-{stage}"'
                    )
                    f_unit = ui.select(unit_options, value=unit, label=t("admin.catalog.unit"))
                    f_unit.classes("w-40").props(f'id="sla-unit-{stage}"')
                    f_note = (
                        ui.input(t("admin.note"), value=note)
                        .classes("w-64")
                        .props(f'data-field="sla-note-{stage}"')
                    )

                    def save(
                        stage: str = stage,
                        f_amount: Any = f_amount,
                        f_unit: Any = f_unit,
                        f_note: Any = f_note,
                    ) -> None:
                        def change(session: Session) -> None:
                            amount = f_amount.value
                            if amount is None:
                                raise Problem("amount is required", status=422, code="bad_amount")
                            channels.put_rule(
                                session,
                                profile=state["profile"],
                                stage=stage,
                                amount=float(amount),
                                unit=LimitUnit(f_unit.value),
                                note=f_note.value or "",
                                by=ctx.actor,
                                now=ctx.clock.now(),
                            )

                        attempt(ctx, change)
                        rules.refresh()

                    ui.button(t("admin.save"), on_click=save).props(f'dense id="sla-save-{stage}"')
                    if stage in own and profile != channels.DEFAULT_PROFILE:

                        def remove(stage: str = stage) -> None:
                            def change(session: Session) -> None:
                                channels.delete_rule(
                                    session,
                                    profile=state["profile"],
                                    stage=stage,
                                    by=ctx.actor,
                                    now=ctx.clock.now(),
                                )

                            attempt(ctx, change)
                            rules.refresh()

                        ui.button(t("admin.delete"), on_click=remove).props(
                            f'dense flat color=negative id="sla-delete-{stage}"'
                        )
                    if stage in effective:
                        a, u, p = effective[stage]
                        ui.label(
                            f"{t('admin.channels.effective')}: {a:g} {unit_text(u)} "
                            f"({t('admin.channels.from')} {profiles.get(p, p)})"
                        ).classes("text-sm text-grey-8").props(f'id="sla-effective-{stage}"')

    def choose(value: str) -> None:
        state["profile"] = value
        rules.refresh()

    with _page(ctx, "channels"):
        _title(ctx, "admin.channels.title", "channels")
        ui.select(
            profiles,
            value=state["profile"],
            label=t("admin.channels.profile"),
            on_change=lambda e: choose(e.value),
        ).classes("w-96").props('id="admin-sla-profile"')
        rules()


# --- working calendar --------


@console_page("/admin/calendar", roles=ADMIN_ROLES)
def admin_calendar(ctx: ConsoleContext) -> None:
    t = ctx.t
    this_year = ctx.clock.now().astimezone(ctx.zone).year
    state = {"year": this_year}

    @ui.refreshable
    def days() -> None:
        year = state["year"]
        with ctx.session() as session:
            cal = calendar.load_calendar(session, ctx.settings)
            special = [
                d
                for d in cal.days(date(year, 1, 1), date(year, 12, 31))
                if d.kind in (DayKind.HOLIDAY, DayKind.MAKE_UP_WORKDAY)
            ]
            overrides = [
                (o.day, o.kind, o.name)
                for o in calendar.list_overrides(
                    session, first=date(year, 1, 1), last=date(year, 12, 31)
                )
            ]
        ui.label(t("admin.calendar.overrides")).classes("font-bold")
        with ui.column().classes("gap-1").props('id="admin-calendar-overrides"'):
            for day, kind, name in overrides:
                with ui.row().classes("items-center gap-4").props(f'data-day="{day.isoformat()}"'):
                    ui.label(day.isoformat())
                    ui.label(t(f"admin.calendar.{kind}"))
                    ui.label(name)

                    def remove(day: date = day) -> None:
                        def change(session: Session) -> None:
                            calendar.delete_override(session, day=day)
                            _audit(
                                ctx,
                                session,
                                "calendar_override.delete",
                                "calendar_override",
                                day.isoformat(),
                                {},
                            )

                        attempt(ctx, change)
                        days.refresh()

                    ui.button(t("admin.delete"), on_click=remove).props("dense flat color=negative")
        ui.label(t("admin.calendar.days")).classes("font-bold mt-2")
        ui.table(
            columns=[
                {
                    "name": "date",
                    "label": t("admin.calendar.date"),
                    "field": "date",
                    "align": "left",
                },
                {
                    "name": "kind",
                    "label": t("admin.calendar.kind"),
                    "field": "kind",
                    "align": "left",
                },
                {"name": "name", "label": t("admin.name"), "field": "name", "align": "left"},
                {
                    "name": "source",
                    "label": t("admin.calendar.source"),
                    "field": "source",
                    "align": "left",
                },
            ],
            rows=[
                {
                    "date": d.day.isoformat(),
                    "kind": t(
                        "admin.calendar.holiday"
                        if d.kind is DayKind.HOLIDAY
                        else "admin.calendar.workday"
                    ),
                    "name": d.name or "",
                    "source": t(
                        "admin.calendar.local"
                        if d.source.value == "override"
                        else "admin.calendar.builtin"
                    ),
                }
                for d in special
            ],
            row_key="date",
            pagination=12,
        ).classes("w-full").props('dense flat id="admin-calendar-days"')

    def set_year(value: Any) -> None:
        state["year"] = int(value or this_year)
        days.refresh()

    with _page(ctx, "calendar"):
        _title(ctx, "admin.calendar.title", "calendar")
        ui.number(
            t("admin.calendar.year"),
            value=this_year,
            min=2000,
            max=2100,
            on_change=lambda e: set_year(e.value),
        ).props('data-field="admin-calendar-year"')
        with ui.card().classes("w-full"):
            ui.label(t("admin.calendar.add")).classes("font-bold")
            with ui.row().classes("items-end gap-4"):
                day = ui.input(t("admin.calendar.date"), placeholder="2027-10-09").props(
                    'data-field="admin-calendar-new-day"'
                )
                kind = (
                    ui.select(
                        {
                            OverrideKind.HOLIDAY.value: t("admin.calendar.holiday"),
                            OverrideKind.WORKDAY.value: t("admin.calendar.workday"),
                        },
                        value=OverrideKind.WORKDAY.value,
                        label=t("admin.calendar.kind"),
                    )
                    .classes("w-48")
                    .props('id="admin-calendar-new-kind"')
                )
                name = ui.input(t("admin.name")).props('data-field="admin-calendar-new-name"')

                def add() -> None:
                    def change(session: Session) -> None:
                        try:
                            parsed = date.fromisoformat((day.value or "").strip())
                        except ValueError as exc:
                            raise Problem(
                                f"Not a date: {day.value!r}", status=422, code="bad_date"
                            ) from exc
                        if not (name.value or "").strip():
                            raise Problem("A name is required", status=422, code="name_required")
                        calendar.create_override(
                            session,
                            day=parsed,
                            kind=OverrideKind(kind.value),
                            name=name.value.strip(),
                            by=ctx.actor,
                            now=ctx.clock.now(),
                        )
                        _audit(
                            ctx,
                            session,
                            "calendar_override.create",
                            "calendar_override",
                            parsed.isoformat(),
                            {"kind": kind.value, "name": name.value},
                        )

                    attempt(ctx, change)
                    days.refresh()

                ui.button(t("admin.create"), on_click=add).props('id="admin-calendar-add"')
        days()


# --- devices --------


@console_page("/admin/devices", roles=ADMIN_ROLES)
def admin_devices(ctx: ConsoleContext) -> None:
    t = ctx.t

    @ui.refreshable
    def table() -> None:
        with ctx.session() as session:
            found = workforce.list_devices(
                session, now=ctx.clock.now(), offline_after_s=ctx.settings.device_offline_after_s
            )
            users = dict(session.execute(select(User.id, User.username)).all())
            rows = [
                {
                    "id": d.id,
                    "identifier": d.identifier,
                    "kind": d.kind.value,
                    "name": d.name,
                    "user": users.get(d.user_id, "") if d.user_id else (d.vehicle_plate or ""),
                    "last_fix": d.last_fix_at.astimezone(ctx.zone).strftime("%m-%d %H:%M")
                    if d.last_fix_at
                    else "",
                    "key": "✓" if d.api_key_id else "",
                }
                for d in found
            ]
        ui.table(
            columns=[
                {
                    "name": "identifier",
                    "label": t("admin.devices.identifier"),
                    "field": "identifier",
                    "align": "left",
                    "sortable": True,
                },
                {
                    "name": "kind",
                    "label": t("admin.devices.kind"),
                    "field": "kind",
                    "align": "left",
                },
                {"name": "name", "label": t("admin.name"), "field": "name", "align": "left"},
                {
                    "name": "user",
                    "label": t("admin.devices.user"),
                    "field": "user",
                    "align": "left",
                },
                {"name": "last_fix", "label": t("admin.devices.last_fix"), "field": "last_fix"},
                {"name": "key", "label": "API", "field": "key"},
            ],
            rows=rows,
            row_key="identifier",
            pagination=15,
        ).classes("w-full").props('dense flat id="admin-device-table"')

    def device(session: Session, identifier: str) -> Device:
        found = workforce.device_by_identifier(session, identifier=identifier.strip())
        if found is None:
            raise Problem(f"No device {identifier!r}", status=404, code="device_not_found")
        return found

    with _page(ctx, "devices"):
        _title(ctx, "admin.devices.title", "devices")
        with ui.card().classes("w-full"):
            with ui.row().classes("items-end gap-4"):
                ident = ui.input(t("admin.devices.identifier")).props(
                    'data-field="admin-device-identifier"'
                )
                officer = ui.input(t("admin.devices.officer")).props(
                    'data-field="admin-device-officer"'
                )

                def bind(unbind: bool = False) -> None:
                    def change(session: Session) -> None:
                        target = device(session, ident.value or "")
                        user_id = None
                        if not unbind:
                            user = auth.find_user(session, username=(officer.value or "").strip())
                            if user is None:
                                raise Problem(
                                    f"No user {officer.value!r}", status=404, code="user_not_found"
                                )
                            user_id = user.id
                        workforce.update_device(
                            session,
                            device=target,
                            changes={"user_id": user_id},
                            by=ctx.actor,
                            now=ctx.clock.now(),
                        )

                    attempt(ctx, change)
                    table.refresh()

                def issue() -> None:
                    def change(session: Session) -> str:
                        _, plain = workforce.issue_device_key(
                            session,
                            device=device(session, ident.value or ""),
                            by=ctx.actor,
                            now=ctx.clock.now(),
                        )
                        return plain

                    plain = attempt(ctx, change)
                    if plain is not None:
                        key_label.set_text(f"{t('admin.devices.key_issued')} {plain}")
                    table.refresh()

                ui.button(t("admin.devices.bind"), on_click=lambda: bind()).props(
                    'id="admin-device-bind"'
                )
                ui.button(t("admin.devices.unbind"), on_click=lambda: bind(True)).props(
                    'outline id="admin-device-unbind"'
                )
                ui.button(t("admin.devices.issue_key"), on_click=issue).props(
                    'color=secondary id="admin-device-issue-key"'
                )
            key_label = ui.label("").classes("font-mono text-sm").props('id="admin-device-key"')
        table()
