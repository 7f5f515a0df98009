"""The case page (案件详情): everything about one case, and what the user may do with it now.

Details come from the API's own shaping (``cases.api.case_detail``), so a role that may not see
a complainant's name and number sees them masked here exactly as over REST. The buttons are the
actions ``cases.workflow`` allows the user's roles in the case's state, nothing else: the page
keeps no second copy of the rules, and every action goes through ``cases.service.act`` (dispatch
through ``dispatch.service.assign``), whose refusals appear as notifications. The page follows the
case: a timer looks at its version every two seconds and redraws it when anyone changed it.
Countdowns tick in the browser (``console-case.js``), not over the websocket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from nicegui import run, ui
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas.models import ResponsibilityGrid
from urbanops.auth.models import User
from urbanops.cases import evidence as evidence_service
from urbanops.cases import service as cases
from urbanops.cases import workflow
from urbanops.cases.api import case_detail, sees_personal_data, visible_case
from urbanops.cases.evidence_api import EvidenceOut, evidence_out
from urbanops.cases.models import Case, CaseState, EvidencePhase, Light
from urbanops.cases.schemas import CaseDetail
from urbanops.catalog import channels
from urbanops.catalog.models import CatalogEntry
from urbanops.dispatch import service as dispatch
from urbanops.dispatch.recommend import Ranked
from urbanops.dispatch.wiring import context_of
from urbanops.kit.calendar import load_calendar
from urbanops.kit.errors import Conflict, NotFound, Problem
from urbanops.ui import messages
from urbanops.ui.console.intake import MiniMap, problem_text
from urbanops.ui.console.shell import CASE_ROLES, ConsoleContext, console_page
from urbanops.ui.web import static_url

#: Seconds between two looks at the case's version.
POLL_S = 2.0
#: Every so many polls the recommendations are ranked again (officers move).
SIDE_EVERY = 3
LIGHT_COLOURS = {Light.GREEN: "green", Light.YELLOW: "amber", Light.RED: "red", Light.NONE: "grey"}
#: Dispatch is offered per recommended officer, not as a bare button.
DISPATCH_ACTIONS = frozenset({"dispatch", "redispatch"})
REPORT_FIELDS = ("complainant_name", "complainant_phone", "caller_number", "letter_number",
                 "source_ref")  # fmt: skip
PHASES = (EvidencePhase.BEFORE, EvidencePhase.AFTER, EvidencePhase.CHECK, EvidencePhase.OTHER)


@dataclass
class Snapshot:
    """One look at the case and what surrounds it, read in one transaction."""

    detail: CaseDetail
    matter_name: str
    channel_names: dict[str, str]
    grid_name: str
    officer_name: str
    evidence: list[EvidenceOut]
    ranked: list[Ranked] = field(default_factory=list)
    unavailable: list[dispatch.Unavailable] = field(default_factory=list)
    may_dispatch: bool = False


def version_of(session: Session, case_id: int) -> int | None:
    return session.scalar(select(Case.version).where(Case.id == case_id))


def may_dispatch(state: CaseState, allowed: list[str]) -> bool:
    """Whether the recommendations get dispatch buttons: the table allows the user to dispatch
    (or redispatch) now, or to register a reported case, which ``assign`` does first."""
    if state not in dispatch.DISPATCHABLE:
        return False
    return bool(DISPATCH_ACTIONS & set(allowed)) or (
        state is CaseState.REPORTED and "register" in allowed
    )


def snapshot(ctx: ConsoleContext, session: Session, case_id: int) -> Snapshot:
    """The case as the user may see it, with names, evidence and (if he may) recommendations."""
    case = visible_case(session, case_id=case_id, viewer=ctx.actor)
    now = ctx.clock.now()
    detail = case_detail(
        session, case, viewer=ctx.actor, now=now, calendar=load_calendar(session, ctx.settings)
    )
    matter = session.scalar(
        select(CatalogEntry.name).where(
            CatalogEntry.kind == "matter", CatalogEntry.code == case.matter_code
        )
    )
    names = {
        c.code: (c.name if ctx.lang == messages.ZH else c.name_en)
        for c in channels.list_channels(session)
    }
    grid = None
    if case.responsibility_grid_code:
        grid = session.scalar(
            select(ResponsibilityGrid.name).where(
                ResponsibilityGrid.code == case.responsibility_grid_code
            )
        )
    officer = session.get(User, case.officer_id) if case.officer_id else None
    files = [evidence_out(e) for e in evidence_service.list_for_case(session, case_id=case.id)]
    shot = Snapshot(
        detail=detail, matter_name=matter or "", channel_names=names,
        grid_name=grid or (case.responsibility_grid_code or ""),
        officer_name=officer.display_name if officer else "", evidence=files,
    )  # fmt: skip
    shot.may_dispatch = may_dispatch(case.state, detail.allowed_actions)
    return shot


def recommend(ctx: ConsoleContext, shot: Snapshot) -> None:
    """Fill in the officers ``dispatch.service.recommend`` ranks for the case now."""
    with ctx.session() as session:
        case = cases.get_case(session, case_id=shot.detail.id)
        found = dispatch.recommend(
            session, case=case, now=ctx.clock.now(), context=context_of(ctx.app)
        )
    shot.ranked, shot.unavailable = found.ranked, found.unavailable


class CaseView:
    """The page of one case for one user: draws it, runs its actions, follows its changes."""

    def __init__(self, ctx: ConsoleContext, case_id: int) -> None:
        self.ctx = ctx
        self.case_id = case_id
        self.version: int | None = None
        self.polls = 0
        #: The snapshot the poll read off the page's loop for the next redraw (else read then).
        self._ready: tuple[Snapshot | None] | None = None

    # -- time and words ------------------------------------------------------------------------

    def t(self, key: str) -> str:
        return self.ctx.t(key)

    def when(self, at: datetime | None) -> str:
        return at.astimezone(self.ctx.zone).strftime("%Y-%m-%d %H:%M") if at else "—"

    def action_name(self, action: str) -> str:
        key = f"case.action.{action}"
        text = self.t(key)
        if text != key:
            return text
        known = workflow.BY_ACTION.get(action)
        return known.label if known is not None else action

    # -- reading and acting -------------------------------------------------------------------

    def load(self) -> Snapshot | None:
        try:
            with self.ctx.session() as session:
                shot = snapshot(self.ctx, session, self.case_id)
        except NotFound:
            return None
        self.version = shot.detail.version
        return shot

    def changed(self) -> bool:
        with self.ctx.session() as session:
            return version_of(session, self.case_id) != self.version

    def run(self, work: Callable[[Session], Any], done: str) -> bool:
        """Do ``work`` in a write transaction; tell the user how it went; redraw the page."""
        try:
            with self.ctx.session(write=True) as session:
                work(session)
        except Problem as exc:
            ui.notify(problem_text(exc, self.ctx.lang), type="negative", multi_line=True)
            if isinstance(exc, Conflict):
                self.content.refresh()
            return False
        ui.notify(done, type="positive")
        self.content.refresh()
        return True

    def act(self, action: str, *, reason: str | None = None, note: str | None = None) -> bool:
        version = self.version

        def work(session: Session) -> None:
            cases.act(
                session, case_id=self.case_id, action=action, by=self.ctx.actor,
                now=self.ctx.clock.now(), reason=reason or None, note=note or None,
                expected_version=version, calendar=load_calendar(session, self.ctx.settings),
            )  # fmt: skip

        return self.run(work, self.t("case.done").format(action=self.action_name(action)))

    def dispatch_to(self, user_id: int, name: str) -> None:
        version = self.version

        def work(session: Session) -> None:
            dispatch.assign(
                session, case_id=self.case_id, by=self.ctx.actor, now=self.ctx.clock.now(),
                context=context_of(self.ctx.app), officer_user_id=user_id,
                expected_version=version,
            )  # fmt: skip

        self.run(work, self.t("case.dispatched_to").format(name=name))

    def ask(self, action: str) -> None:
        """A dialog for an action that needs words: its reason (when required) and a note."""
        transition = workflow.BY_ACTION[action]
        with ui.dialog() as dialog, ui.card().classes("w-96"):
            ui.label(self.action_name(action)).classes("text-lg font-bold")
            reason = None
            if transition.reason_required:
                reason = (
                    ui.textarea(self.t("case.reason"))
                    .props('for="action-reason" outlined autogrow')
                    .classes("w-full")
                )
            note = ui.textarea(self.t("case.note")).props('for="action-note" outlined autogrow')
            note.classes("w-full")

            def confirm() -> None:
                text = (reason.value or "").strip() if reason is not None else None
                if reason is not None and not text:
                    ui.notify(self.t("case.reason_required"), type="warning")
                    return
                if self.act(action, reason=text, note=(note.value or "").strip()):
                    dialog.close()

            with ui.row().classes("justify-end w-full"):
                ui.button(self.t("case.cancel"), on_click=dialog.close).props("flat")
                ui.button(self.t("case.confirm"), on_click=confirm).props(
                    'id="action-confirm" color=primary unelevated'
                )
        dialog.open()

    # -- drawing ------------------------------------------------------------------------------

    def build(self) -> None:
        ui.add_head_html(
            f'<link rel="stylesheet" href="{static_url("console-case.css")}">'
            f'<script defer src="{static_url("console-case.js")}"></script>'
        )
        self.content = ui.refreshable(self._content)
        self.side = ui.refreshable(self._side)
        self.content()
        ui.timer(POLL_S, self._follow)

    async def _follow(self) -> None:
        """Every ``POLL_S``: has the case changed? The reads run in a worker thread, so an open
        case page never holds up the other pages this process serves."""
        self.polls += 1
        if await run.io_bound(self.changed):
            self._ready = (await run.io_bound(self.load),)
            self.content.refresh()
        elif self.polls % SIDE_EVERY == 0:
            self.side.refresh()

    def _content(self) -> None:
        ready, self._ready = self._ready, None
        shot = ready[0] if ready is not None else self.load()
        if shot is None:
            ui.label(self.t("case.not_found")).classes("text-xl").props('id="case-not-found"')
            return
        d = shot.detail
        with (
            ui.column()
            .classes("w-full gap-3")
            .props(f'id="case-page" data-state="{d.state.value}" data-version="{d.version}"')
        ):
            self._header(shot)
            with ui.row().classes("w-full gap-4 items-start no-wrap"):
                with ui.column().classes("gap-3").style("flex: 3 1 0; min-width: 0"):
                    self._details(shot)
                    self._actions(shot)
                    self._deadlines(shot)
                    self._timeline(shot)
                    self._evidence(shot)
                with ui.column().classes("gap-3").style("flex: 2 1 0; min-width: 380px"):
                    self.side(shot)

    def _side(self, shot: Snapshot) -> None:
        """The map and the recommendations, redrawn as officers move (``SIDE_EVERY`` polls)."""
        if shot.may_dispatch:
            recommend(self.ctx, shot)
        self._map(shot)
        self._recommendations(shot)

    def _header(self, shot: Snapshot) -> None:
        d = shot.detail
        with ui.row().classes("items-center gap-3"):
            ui.label(d.number).classes("text-xl font-bold").props('id="case-number"')
            ui.badge(self.t(f"case.state.{d.state.value}"), color="primary").props(
                f'id="case-state" data-state="{d.state.value}"'
            )
            ui.badge(self.t(f"case.light.{d.light.value}"), color=LIGHT_COLOURS[d.light]).props(
                f'id="case-light" data-light="{d.light.value}"'
            )
            if d.is_emergency:
                ui.badge(self.t("case.emergency"), color="red")
            if d.supervised:
                ui.badge(self.t("case.supervised"), color="deep-orange")
            if d.suspension_requested:
                ui.badge(self.t("case.suspension_requested"), color="grey")
            if not d.inside_jurisdiction:
                ui.badge(self.t("case.outside"), color="grey")

    def _details(self, shot: Snapshot) -> None:
        d = shot.detail
        with ui.card().classes("w-full"):
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1"):
                for key, value in (
                    ("case.matter", f"{d.matter_code} {shot.matter_name}"),
                    ("case.channel", shot.channel_names.get(d.channel, d.channel)),
                    ("case.reported_at", self.when(d.reported_at)),
                    ("case.address", d.address or f"{d.lon:.6f}, {d.lat:.6f}"),
                    ("case.grid", shot.grid_name),
                    ("case.officer", shot.officer_name or "—"),
                ):
                    ui.label(self.t(key)).classes("text-grey-7 text-sm")
                    ui.label(value).props(f'data-field="{key.removeprefix("case.")}"')
            ui.label(d.description).classes("text-base mt-2").props('id="case-description"')
            ui.separator()
            ui.label(self.t("case.report_count").format(n=len(d.reports))).classes(
                "text-sm text-grey-7"
            )
            for r in d.reports:
                parts = [
                    f"{self.t(f'case.field.{name}')}: {value}"
                    for name in REPORT_FIELDS
                    if (value := getattr(r, name))
                ]
                line = (
                    f"{self.when(r.reported_at)} · {shot.channel_names.get(r.channel, r.channel)}"
                )
                ui.label(" · ".join([line, *parts])).classes("text-sm").props(
                    f'data-report="{r.id}"'
                )
            if not sees_personal_data(self.ctx.actor):
                ui.label(self.t("case.pii_hidden")).classes("text-xs text-grey-7")

    def _actions(self, shot: Snapshot) -> None:
        allowed = [a for a in shot.detail.allowed_actions if a not in DISPATCH_ACTIONS]
        with ui.card().classes("w-full"):
            ui.label(self.t("case.actions")).classes("text-subtitle1 font-bold")
            if not allowed:
                ui.label(self.t("case.actions_none")).classes("text-grey-7 text-sm")
                return
            with ui.row().classes("gap-2").props('id="case-actions"'):
                for action in allowed:
                    transition = workflow.BY_ACTION[action]
                    needs_words = transition.reason_required or action == "note"
                    handler = (
                        (lambda a=action: self.ask(a))
                        if needs_words
                        else (lambda a=action: self.act(a))
                    )
                    ui.button(self.action_name(action), on_click=handler).props(
                        f'id="action-{action}" data-action="{action}" unelevated no-caps '
                        + ("outline" if needs_words else "color=primary")
                    )

    def _deadlines(self, shot: Snapshot) -> None:
        d = shot.detail
        dl = d.deadlines
        left, overdue = self.t("case.left"), self.t("case.overdue")
        rows: list[tuple[str, datetime | None, str]] = []
        if dl.stage is not None and dl.due_at is not None:
            stage = self.t(f"case.stage.{dl.stage.value}")
            rows.append((self.t("case.stage_due").format(stage=stage), dl.due_at, d.light.value))
        if dl.contact_by is not None and dl.contacted_at is None:
            rows.append((self.t("case.contact_by"), dl.contact_by, ""))
        if dl.close_by is not None and d.closed_at is None:
            rows.append((self.t("case.close_by"), dl.close_by, ""))
        with ui.card().classes("w-full"):
            ui.label(self.t("case.deadlines")).classes("text-subtitle1 font-bold")
            if not rows:
                ui.label(self.t("case.no_clock")).classes("text-grey-7 text-sm")
                return
            for label, due, light in rows:
                assert due is not None
                dot = f'<span class="case-light case-light-{light}"></span>' if light else ""
                ui.html(
                    f'<div class="case-deadline">{dot}<b>{escape(label)}</b> '
                    f"{escape(self.when(due))} · "
                    f'<span class="case-countdown" data-due="{due.isoformat()}" '
                    f'data-left="{escape(left)}" data-overdue="{escape(overdue)}"></span></div>',
                    sanitize=False,
                )

    def _timeline(self, shot: Snapshot) -> None:
        with ui.card().classes("w-full"):
            ui.label(self.t("case.timeline")).classes("text-subtitle1 font-bold")
            with ui.column().classes("gap-1 w-full").props('id="case-timeline"'):
                for e in shot.detail.timeline:
                    move = ""
                    if e.from_state and e.to_state and e.from_state != e.to_state:
                        move = (
                            f"{self.t(f'case.state.{e.from_state}')} → "
                            f"{self.t(f'case.state.{e.to_state}')}"
                        )
                    words = " · ".join(x for x in (move, e.reason or "", e.note or "") if x)
                    with (
                        ui.row().classes("gap-3 text-sm no-wrap").props(f'data-action="{e.action}"')
                    ):
                        ui.label(self.when(e.at)).classes("text-grey-7")
                        ui.label(self.action_name(e.action)).classes("font-bold")
                        ui.label(e.actor_name)
                        ui.label(words).classes("text-grey-8")

    def _evidence(self, shot: Snapshot) -> None:
        with ui.card().classes("w-full"):
            ui.label(self.t("case.evidence")).classes("text-subtitle1 font-bold")
            with ui.row().classes("gap-6 items-start").props('id="case-evidence"'):
                for phase in PHASES:
                    files = [f for f in shot.evidence if f.phase is phase]
                    if phase is EvidencePhase.OTHER and not files:
                        continue
                    with ui.column().classes("gap-1").props(f'data-phase="{phase.value}"'):
                        ui.label(self.t(f"case.phase.{phase.value}")).classes("font-bold")
                        if not files:
                            ui.label(self.t("case.evidence_none")).classes("text-grey-7 text-sm")
                        with ui.row().classes("gap-2"):
                            for f in files:
                                ui.html(self._thumbnail(f), sanitize=False)

    @staticmethod
    def _thumbnail(f: EvidenceOut) -> str:
        url = escape(f.content_url)
        if f.kind.value == "photo" or f.media_type.startswith("image/"):
            return (
                f'<a href="{url}" target="_blank"><img class="case-thumb" src="{url}" '
                f'loading="lazy" alt="{escape(f.filename or "")}" '
                f'data-evidence="{f.id}"></a>'
            )
        name = escape(f.filename or f.media_type)
        return f'<a href="{url}" target="_blank" data-evidence="{f.id}">{name}</a>'

    def _map(self, shot: Snapshot) -> None:
        d = shot.detail
        with ui.card().classes("w-full"):
            ui.label(self.t("case.map")).classes("text-subtitle1 font-bold")
            with self.ctx.session() as session:
                mini = MiniMap.of(session, width=380, around=(d.lon, d.lat))
            marks = [(r.candidate.lon, r.candidate.lat, "#1976d2", r.candidate.name)
                     for r in shot.ranked]  # fmt: skip
            marks.append((d.lon, d.lat, "#d32f2f", d.number))
            ui.interactive_image(
                size=(mini.width, mini.height), content=mini.svg(marks), sanitize=False,
                events=[],
            ).props('id="case-map"').classes("border rounded").style(
                f"width: {mini.width}px; height: {mini.height}px"
            )  # fmt: skip

    def _recommendations(self, shot: Snapshot) -> None:
        if not shot.may_dispatch:
            return
        with ui.card().classes("w-full"):
            ui.label(self.t("case.recommend")).classes("text-subtitle1 font-bold")
            if not shot.ranked:
                ui.label(self.t("case.recommend_none")).classes("text-grey-7 text-sm").props(
                    'id="case-recommend-none"'
                )
            with ui.column().classes("gap-1 w-full").props('id="case-recommend"'):
                for r in shot.ranked:
                    c = r.candidate
                    with (
                        ui.row()
                        .classes("items-center gap-2 w-full no-wrap")
                        .props(f'data-user-id="{c.user_id}"')
                    ):
                        ui.label(c.name).classes("font-bold")
                        ui.label(self.t(f"case.tier.{min(r.tier, 2)}")).classes("text-sm")
                        ui.label(
                            self.t("case.eta").format(min=max(1, round(r.eta_s / 60)))
                        ).classes("text-sm").props(f'data-eta-s="{round(r.eta_s)}"')
                        ui.label(self.t("case.distance").format(m=round(r.distance_m))).classes(
                            "text-sm text-grey-7"
                        )
                        ui.space()
                        ui.button(
                            self.t("case.dispatch_to"),
                            on_click=lambda uid=c.user_id, name=c.name: self.dispatch_to(uid, name),
                        ).props(f'id="dispatch-{c.user_id}" color=primary dense unelevated')
            if shot.unavailable:
                with ui.expansion(f"{self.t('case.unavailable')} ({len(shot.unavailable)})"):
                    for u in shot.unavailable:
                        ui.label(f"{u.name} · {u.reason}").classes("text-sm text-grey-8")


@console_page("/cases/{case_id}", roles=CASE_ROLES)
def case_page(ctx: ConsoleContext) -> None:
    """One case: details, deadlines, timeline, evidence, map, recommendations, actions."""
    raw = str(ctx.extra.get("params", {}).get("case_id", ""))
    if not raw.isdigit() or not 1 <= int(raw) < 2**63:
        ui.label(ctx.t("case.not_found")).classes("text-xl").props('id="case-not-found"')
        return
    CaseView(ctx, int(raw)).build()
