"""Intake (受理登记): an operator types a complaint from the phone, a petition or a letter.

Made for the keyboard: Tab goes from field to field in the order a call is taken, Enter saves.
The matter is found by name, keyword, code or pinyin initials (``zdjy`` → 占道经营); the place
by a grid, community or landmark name, or a click on the small map. Before saving, the page shows
the open cases of the same matter nearby, found by the very rule intake applies
(``cases.duplicates``), and says which case the report would join. Saving goes through
``cases.service.report`` with the operator as the sender; then the new case's page opens.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from nicegui import ui
from pydantic import ValidationError
from pypinyin import Style, lazy_pinyin
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.areas import service as areas
from urbanops.areas.codes import AreaLevel
from urbanops.areas.models import Area, ResponsibilityGrid
from urbanops.cases import duplicates
from urbanops.cases import service as cases
from urbanops.cases.schemas import ReportIn
from urbanops.catalog import channels
from urbanops.catalog.models import CatalogEntry
from urbanops.catalog.service import default_standard
from urbanops.citizen.streetmap import street_map
from urbanops.kit.errors import Problem
from urbanops.ui import messages
from urbanops.ui.console.shell import INTAKE_ROLES, ConsoleContext, console_page, inside
from urbanops.video.models import Camera

#: The channels a person at the command centre types in (the others arrive by machine or app).
INTAKE_CHANNELS: tuple[str, ...] = (
    "hotline_12345",
    "petition",
    "secretary_mailbox",
    "transfer_letter",
    "minxinqiao",
)
#: The metadata each channel brings, in the order it is asked for (its required fields too).
CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "hotline_12345": ("caller_number", "complainant_name", "complainant_phone", "source_ref"),
    "petition": ("letter_number", "complainant_name", "complainant_phone"),
    "secretary_mailbox": ("letter_number", "complainant_name", "complainant_phone"),
    "transfer_letter": ("letter_number", "source_ref"),
    "minxinqiao": ("complainant_name", "complainant_phone", "source_ref"),
}
MAX_MATCHES = 8
MAP_WIDTH = 460


# --- matters by name, keyword, code or pinyin initials ------------------------------------------


def initials(text: str) -> str:
    """Pinyin initials of Chinese text, lower case (``占道经营`` → ``zdjy``); other text kept."""
    return "".join(p[:1] for p in lazy_pinyin(text, style=Style.FIRST_LETTER)).lower()


@dataclass(frozen=True)
class MatterChoice:
    """A matter as the search sees it: its names and their pinyin initials."""

    code: str
    name: str
    major_name: str
    keywords: tuple[str, ...]
    name_initials: str
    keyword_initials: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    def rank(self, query: str) -> int | None:
        """How well ``query`` (stripped, lower case) matches: lower is better, None not at all."""
        if self.code == query:
            return 0
        if self.code.startswith(query):
            return 1
        if self.name.startswith(query):
            return 2
        if self.name_initials.startswith(query):
            return 3
        if query in self.name:
            return 4
        if any(query in k for k in self.keywords):
            return 5
        if query in self.name_initials or any(k.startswith(query) for k in self.keyword_initials):
            return 6
        return None


_MATTERS: dict[str, tuple[MatterChoice, ...]] = {}


def matter_choices(session: Session) -> tuple[MatterChoice, ...]:
    """Every matter of the catalogue with its initials (built once per database: the catalogue
    is the national standard's, inserted by a migration and never edited)."""
    key = str(session.get_bind().engine.url)
    found = _MATTERS.get(key)
    if found is None:
        rows = session.scalars(
            select(CatalogEntry).where(CatalogEntry.kind == "matter").order_by(CatalogEntry.code)
        )
        found = _MATTERS[key] = tuple(_choice(e) for e in rows)
    return found


def _choice(entry: CatalogEntry) -> MatterChoice:
    keywords = tuple(k for k in (entry.keywords or "").split("|") if k and k != entry.name)
    return MatterChoice(
        entry.code, entry.name, entry.major_name, keywords, initials(entry.name),
        tuple(initials(k) for k in keywords),
    )  # fmt: skip


def search_matters(
    choices: Sequence[MatterChoice], query: str, *, limit: int = MAX_MATCHES
) -> list[MatterChoice]:
    """The best matches of ``query`` (name, keyword, code or pinyin initials), best first."""
    text = query.strip().lower()
    if not text:
        return []
    ranked = [(r, c.code, c) for c in choices if (r := c.rank(text)) is not None]
    return [c for _, _, c in sorted(ranked, key=lambda t: (t[0], t[1]))[:limit]]


# --- places: grids, communities and landmarks -----------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A named point to put a report at: a grid's or community's centre, or a landmark."""

    name: str
    lon: float
    lat: float
    kind: str  # grid, community, landmark
    name_initials: str = ""

    def rank(self, query: str) -> int | None:
        if self.name.startswith(query):
            return 0
        if self.name_initials.startswith(query):
            return 1
        if query in self.name:
            return 2
        if query in self.name_initials:
            return 3
        return None


def places(session: Session) -> list[Place]:
    """The street's gazetteer: responsibility grids, communities and the cameras' landmarks."""
    found: list[Place] = []
    for grid in session.scalars(select(ResponsibilityGrid).order_by(ResponsibilityGrid.code)):
        if grid.centre_lon is not None and grid.centre_lat is not None:
            found.append(Place(grid.name, grid.centre_lon, grid.centre_lat, "grid"))
    query = select(Area).where(Area.level == AreaLevel.COMMUNITY.value).order_by(Area.code)
    for area in session.scalars(query):
        if area.centre_lon is not None and area.centre_lat is not None:
            found.append(Place(area.name, area.centre_lon, area.centre_lat, "community"))
    for camera in session.scalars(select(Camera).order_by(Camera.code)):
        found.append(Place(camera.name, camera.lon, camera.lat, "landmark"))
    return [Place(p.name, p.lon, p.lat, p.kind, initials(p.name)) for p in found]


def search_places(found: Iterable[Place], query: str, *, limit: int = MAX_MATCHES) -> list[Place]:
    text = query.strip().lower()
    if not text:
        return []
    ranked = [(r, n, p) for n, p in enumerate(found) if (r := p.rank(text)) is not None]
    return [p for _, _, p in sorted(ranked, key=lambda t: (t[0], t[1]))[:limit]]


# --- the small map (SVG drawn here: no tiles, nothing fetched from outside) ---------------------


@dataclass
class MiniMap:
    """The street's grids as an SVG picture, and the conversion between pixels and lon/lat."""

    bbox: tuple[float, float, float, float]
    outlines: list[tuple[str, list[list[list[float]]]]]
    width: int = MAP_WIDTH
    height: int = field(init=False)

    def __post_init__(self) -> None:
        lon0, lat0, lon1, lat1 = self.bbox
        self._kx = math.cos(math.radians((lat0 + lat1) / 2))
        span_x = max((lon1 - lon0) * self._kx, 1e-9)
        self.height = max(120, round(self.width * (lat1 - lat0) / span_x))

    @classmethod
    def of(
        cls, session: Session, *, width: int = MAP_WIDTH, around: tuple[float, float] | None = None
    ) -> MiniMap:
        """The street's map; ``around`` a point, the box also holds that point."""
        shapes = street_map(session)
        bbox = shapes["bbox"] or [113.9, 22.5, 114.2, 22.8]
        lon0, lat0, lon1, lat1 = bbox
        if around is not None:
            lon0, lat0 = min(lon0, around[0]), min(lat0, around[1])
            lon1, lat1 = max(lon1, around[0]), max(lat1, around[1])
        pad_x, pad_y = (lon1 - lon0) * 0.03 or 0.01, (lat1 - lat0) * 0.03 or 0.01
        outlines = [(g["name"], g["rings"]) for g in shapes["grids"]]
        box = (lon0 - pad_x, lat0 - pad_y, lon1 + pad_x, lat1 + pad_y)
        return cls(box, outlines, width)

    def to_px(self, lon: float, lat: float) -> tuple[float, float]:
        lon0, lat0, lon1, lat1 = self.bbox
        return (
            (lon - lon0) / (lon1 - lon0) * self.width,
            (lat1 - lat) / (lat1 - lat0) * self.height,
        )

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        lon0, lat0, lon1, lat1 = self.bbox
        return (
            round(lon0 + x / self.width * (lon1 - lon0), 6),
            round(lat1 - y / self.height * (lat1 - lat0), 6),
        )

    def svg(self, marks: Iterable[tuple[float, float, str, str]] = ()) -> str:
        """The outlines and ``marks`` (lon, lat, colour, title) as SVG overlay content."""
        parts = [f'<rect width="{self.width}" height="{self.height}" fill="#eef2f5"/>']
        for name, rings in self.outlines:
            for ring in rings:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (self.to_px(*p) for p in ring))
                parts.append(
                    f'<polygon points="{points}" fill="#dfe8ef" stroke="#7a8fa3" '
                    f'stroke-width="0.8"><title>{escape(name)}</title></polygon>'
                )
        for lon, lat, colour, title in marks:
            x, y = self.to_px(lon, lat)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{escape(colour)}" '
                f'stroke="white" stroke-width="2"><title>{escape(title)}</title></circle>'
            )
        return "".join(parts)


# --- the page -----------------------------------------------------------------------------------


@dataclass
class IntakeForm:
    """What the operator has entered so far (one per page view)."""

    channel: str = INTAKE_CHANNELS[0]
    emergency: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    matter: MatterChoice | None = None
    matter_matches: list[MatterChoice] = field(default_factory=list)
    matter_cursor: int = 0
    description: str = ""
    place_query: str = ""
    place_matches: list[Place] = field(default_factory=list)
    place_cursor: int = 0
    address: str = ""
    point: tuple[float, float] | None = None
    idempotency_key: str = field(default_factory=lambda: f"console-{uuid.uuid4()}")

    def report(self) -> ReportIn:
        """The report to send (pydantic checks it as the API would)."""
        assert self.matter is not None and self.point is not None
        wanted = set(CHANNEL_FIELDS.get(self.channel, ()))
        values = {k: v.strip() or None for k, v in self.fields.items() if k in wanted}
        return ReportIn(
            channel=self.channel, matter_code=self.matter.code, description=self.description,
            lon=self.point[0], lat=self.point[1], address=self.address.strip() or None,
            is_emergency=self.emergency, idempotency_key=self.idempotency_key, **values,
        )  # fmt: skip


@dataclass(frozen=True)
class DuplicateHint:
    """An open case of the same matter near the point, and whether the report would join it."""

    case_id: int
    number: str
    state: str
    description: str
    distance_m: float
    joins: bool


def duplicate_hints(
    session: Session, *, matter_code: str, lon: float, lat: float, at: datetime
) -> list[DuplicateHint]:
    """Open cases the report would duplicate, by the rule and radius intake itself applies."""
    standard = default_standard(session, code=matter_code)
    probe = duplicates.Probe(
        matter_code, lon, lat, at,
        standard.dedupe_radius_m if standard else duplicates.DEFAULT_RADIUS_M,
        standard.dedupe_window_h if standard else duplicates.DEFAULT_WINDOW_H,
    )  # fmt: skip
    near = duplicates.open_cases_near(session, [probe]).get(probe, [])
    twin = duplicates.nearest(probe, near)
    hints = [
        DuplicateHint(
            c.id,
            c.number,
            c.state.value,
            c.description,
            duplicates.distance_m(lon, lat, c.lon, c.lat),
            c is twin,
        )
        for c in near
        if duplicates.nearest(probe, [c]) is not None
    ]
    return sorted(hints, key=lambda h: (not h.joins, h.distance_m))


def problem_text(exc: Problem, lang: str) -> str:
    """A service's refusal in the user's language (its English detail when no message has it)."""
    text = messages.problem_text(exc.code, exc.detail or exc.title, lang, area="case")
    if text in (exc.detail, exc.title):  # no message of ours: "not done" and the service's words
        return messages.t("case.error.generic", lang).format(detail=text)
    return text


def _validation_text(exc: ValidationError, ctx: ConsoleContext) -> str:
    names = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
    shown = [ctx.t(f"intake.{n}") if f"intake.{n}" != ctx.t(f"intake.{n}") else n for n in names]
    return ctx.t("intake.invalid").format(fields="、".join(shown))


@console_page("/intake", roles=INTAKE_ROLES)
def intake(ctx: ConsoleContext) -> None:
    """The intake form: channel, complainant, matter, description, place, duplicates, save."""
    with ctx.session() as session:
        rows = {c.code: c for c in channels.list_channels(session, active_only=True)}
        channel_names = {
            code: (rows[code].name if ctx.lang == messages.ZH else rows[code].name_en)
            for code in INTAKE_CHANNELS
            if code in rows
        }
        required = {code: tuple(rows[code].required_fields or ()) for code in channel_names}
        matter_list = matter_choices(session)
        gazetteer = places(session)
        mini = MiniMap.of(session)
    form = IntakeForm(channel=next(iter(channel_names), INTAKE_CHANNELS[0]))
    ui.add_head_html(
        "<style>.intake-pick{cursor:pointer}.intake-pick.active{background:#e3f2fd}</style>"
    )

    def located() -> tuple[str, bool] | None:
        if form.point is None:
            return None
        with ctx.session() as session:
            where = areas.locate(session, lon=form.point[0], lat=form.point[1])
        grid = where.responsibility_grid
        return (grid.name if grid is not None else "", where.inside)

    # -- refreshable parts ---------------------------------------------------------------------

    @ui.refreshable
    def channel_fields() -> None:
        needed = required.get(form.channel, ())
        for name in CHANNEL_FIELDS.get(form.channel, ()):
            label = ctx.t(f"intake.{name}")
            if name in needed:
                label += f"（{ctx.t('intake.required')}）" if ctx.lang == messages.ZH else " *"
            box = (
                ui.input(label, value=form.fields.get(name, ""))
                .props(f'for="intake-{name}" outlined dense')
                .classes("w-56")
            )
            box.on_value_change(lambda e, n=name: form.fields.__setitem__(n, e.value or ""))
            box.on("keydown.enter", save)

    @ui.refreshable
    def matter_results() -> None:
        if form.matter is not None:
            ui.label(f"{ctx.t('intake.matter_chosen')}: {form.matter.label}").classes(
                "text-positive font-bold"
            ).props('id="intake-matter-chosen"')
        if not form.matter_matches:
            return
        with (
            ui.list()
            .props("dense bordered separator")
            .classes("w-full")
            .props('id="intake-matter-results"')
        ):
            for n, choice in enumerate(form.matter_matches):
                item = ui.item(on_click=lambda c=choice: pick_matter(c)).classes("intake-pick")
                if n == form.matter_cursor:
                    item.classes("active")
                with item:
                    ui.item_label(f"{choice.label}").props(f'data-code="{choice.code}"')
                    ui.item_label(f"{choice.major_name} · {choice.name_initials}").props("caption")

    @ui.refreshable
    def place_results() -> None:
        if not form.place_query.strip():
            return
        if not form.place_matches:
            ui.label(ctx.t("intake.place_none")).classes("text-grey-7 text-sm")
            return
        with (
            ui.list().props('dense bordered separator id="intake-place-results"').classes("w-full")
        ):
            for n, p in enumerate(form.place_matches):
                item = ui.item(p.name, on_click=lambda p=p: pick_place(p)).classes("intake-pick")
                if n == form.place_cursor:
                    item.classes("active")

    @ui.refreshable
    def point_line() -> None:
        if form.point is None:
            ui.label(ctx.t("intake.point_missing")).classes("text-grey-7").props(
                'id="intake-point"'
            )
            return
        where = located()
        text = f"{ctx.t('intake.point')}: {form.point[0]:.6f}, {form.point[1]:.6f}"
        if where is not None:
            grid, inside_ = where
            text += (
                f" · {ctx.t('intake.grid')}: {grid}" if inside_ else f" · {ctx.t('intake.outside')}"
            )
        ui.label(text).props('id="intake-point"')

    @ui.refreshable
    def duplicate_list() -> None:
        ui.label(ctx.t("intake.duplicates")).classes("text-subtitle1 font-bold")
        if form.matter is None or form.point is None:
            ui.label(ctx.t("intake.duplicates_wait")).classes("text-grey-7 text-sm")
            return
        with ctx.session() as session:
            hints = duplicate_hints(
                session, matter_code=form.matter.code, lon=form.point[0], lat=form.point[1],
                at=ctx.clock.now(),
            )  # fmt: skip
        if not hints:
            ui.label(ctx.t("intake.duplicates_none")).classes("text-grey-7 text-sm").props(
                'id="intake-duplicates-none"'
            )
            return
        with ui.column().classes("gap-1 w-full").props('id="intake-duplicates"'):
            for h in hints:
                with ui.card().classes("w-full p-2" + (" bg-orange-1" if h.joins else "")):
                    if h.joins:
                        ui.label(ctx.t("intake.will_merge").format(number=h.number)).classes(
                            "text-orange-9 font-bold"
                        ).props('data-joins="1"')
                    with ui.row().classes("items-center gap-2"):
                        ui.link(h.number, inside(f"/console/cases/{h.case_id}"), new_tab=True)
                        ui.label(ctx.t(f"case.state.{h.state}")).classes("text-sm")
                        ui.label(ctx.t("intake.metres").format(m=round(h.distance_m))).classes(
                            "text-sm text-grey-8"
                        )
                    ui.label(h.description[:80]).classes("text-sm")

    # -- handlers -------------------------------------------------------------------------------

    def set_channel(code: str) -> None:
        form.channel = code
        channel_fields.refresh()

    def on_matter_query(text: str) -> None:
        form.matter_matches = search_matters(matter_list, text or "")
        form.matter_cursor = 0
        matter_results.refresh()

    def pick_matter(choice: MatterChoice | None = None) -> None:
        if choice is None:
            if not form.matter_matches:
                return
            choice = form.matter_matches[min(form.matter_cursor, len(form.matter_matches) - 1)]
        form.matter = choice
        form.matter_matches = []
        matter_box.value = ""
        matter_results.refresh()
        duplicate_list.refresh()
        description_box.run_method("focus")

    def move(which: str, step: int) -> None:
        if which == "matter" and form.matter_matches:
            form.matter_cursor = (form.matter_cursor + step) % len(form.matter_matches)
            matter_results.refresh()
        elif which == "place" and form.place_matches:
            form.place_cursor = (form.place_cursor + step) % len(form.place_matches)
            place_results.refresh()

    def search_box(
        which: str, on_query: Callable[[str], None], pick: Callable[[], None]
    ) -> ui.input:
        """A search field (matter or place): results as one types, arrows move, Enter picks."""
        box = (
            ui.input(ctx.t(f"intake.{which}"))
            .props(f'for="intake-{which}" outlined dense clearable autocomplete=off')
            .classes("w-full")
        )
        box.on_value_change(lambda e: on_query(e.value))
        box.on("keydown.enter", lambda: pick())
        box.on("keydown.down", lambda: move(which, 1))
        box.on("keydown.up", lambda: move(which, -1))
        return box

    def on_place_query(text: str) -> None:
        form.place_query = text or ""
        form.place_matches = search_places(gazetteer, form.place_query)
        form.place_cursor = 0
        place_results.refresh()

    def pick_place(p: Place | None = None) -> None:
        if p is None:
            if not form.place_matches:
                return
            p = form.place_matches[min(form.place_cursor, len(form.place_matches) - 1)]
        set_point((p.lon, p.lat))
        if not form.address:
            address_box.value = p.name
        form.place_matches, form.place_query = [], ""
        place_box.value = ""
        place_results.refresh()
        address_box.run_method("focus")

    def set_point(point: tuple[float, float]) -> None:
        form.point = point
        picture.content = mini.svg([(point[0], point[1], "#d32f2f", "")])
        point_line.refresh()
        duplicate_list.refresh()

    def on_map(e: Any) -> None:
        set_point(mini.to_lonlat(e.image_x, e.image_y))

    def missing() -> str | None:
        for name in required.get(form.channel, ()):
            if (
                name in CHANNEL_FIELDS.get(form.channel, ())
                and not form.fields.get(name, "").strip()
            ):
                return ctx.t("intake.missing_field").format(field=ctx.t(f"intake.{name}"))
        if form.matter is None:
            return ctx.t("intake.missing_matter")
        if not form.description.strip():
            return ctx.t("intake.missing_description")
        if form.point is None:
            return ctx.t("intake.missing_point")
        return None

    def save() -> None:
        problem = missing()
        if problem is not None:
            ui.notify(problem, type="warning")
            return
        try:
            data = form.report()
        except ValidationError as exc:
            ui.notify(_validation_text(exc, ctx), type="warning")
            return
        try:
            with ctx.session(write=True) as session:
                result = cases.report(session, data=data, by=ctx.actor, now=ctx.clock.now())
                case_id, number = result.case.id, result.case.number
                merged = result.merged
        except Problem as exc:
            ui.notify(problem_text(exc, ctx.lang), type="negative")
            return
        key = "intake.merged" if merged else "intake.saved"
        ui.notify(ctx.t(key).format(number=number), type="positive")
        ui.navigate.to(inside(f"/console/cases/{case_id}"))

    # -- layout (in the order the keyboard goes) ------------------------------------------------

    ui.label(ctx.t("intake.title")).classes("text-xl font-bold").props('id="intake-title"')
    ui.label(ctx.t("intake.hint")).classes("text-sm text-grey-7")
    with ui.row().classes("w-full gap-6 items-start no-wrap"):
        with ui.column().classes("gap-3").style("flex: 1 1 0; min-width: 520px"):
            with ui.row().classes("items-center gap-4"):
                ui.toggle(
                    channel_names, value=form.channel, on_change=lambda e: set_channel(e.value)
                ).props('id="intake-channel" no-caps')
                ui.checkbox(ctx.t("intake.emergency")).bind_value(form, "emergency").props(
                    'id="intake-emergency" color=red'
                )
            with ui.row().classes("gap-3"):
                channel_fields()
            matter_box = search_box("matter", on_matter_query, pick_matter)
            matter_results()
            description_box = (
                ui.textarea(ctx.t("intake.description"))
                .props('for="intake-description" outlined autogrow')
                .classes("w-full")
                .bind_value(form, "description")
            )
            description_box.on("keydown.enter.exact.prevent", save)
            place_box = search_box("place", on_place_query, pick_place)
            place_results()
            address_box = (
                ui.input(ctx.t("intake.address"))
                .props('for="intake-address" outlined dense stack-label')
                .classes("w-full")
                .bind_value(form, "address")
            )
            address_box.on("keydown.enter", save)
            point_line()
            ui.button(ctx.t("intake.save"), on_click=save).props(
                'id="intake-save" color=primary unelevated'
            )
        with ui.column().classes("gap-2").style(f"width: {MAP_WIDTH + 20}px"):
            ui.label(ctx.t("intake.map_hint")).classes("text-sm text-grey-7")
            picture = ui.interactive_image(
                size=(mini.width, mini.height), content=mini.svg(), on_mouse=on_map,
                events=["click"], cross="#1976d2", sanitize=False,
            ).props('id="intake-map"').classes("border rounded").style(
                f"width: {mini.width}px; height: {mini.height}px"
            )  # fmt: skip
            duplicate_list()
