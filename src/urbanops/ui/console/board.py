"""The leaders' board (领导看板): counts, today against earlier days, trends, indicators.

The figures come from ``board_data`` (SQL aggregates, no loop over cases), read in a worker
thread so a slow database never stalls the page's event loop, and read once for all the boards of
the process that redraw together (``SharedFigures``). The page redraws when news of a
case arrives on the event bus (a flag the committing thread sets; a one-second timer on the
page's loop notices it) and at least every ``REFRESH_S`` seconds, because lights turn red by
the clock alone. ``?screen=1`` is the big-screen mode (大屏): no header, large type, the same
live figures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from nicegui import run, ui

from urbanops.cases import events as case_events
from urbanops.kit.events import bus
from urbanops.ui.console import board_data
from urbanops.ui.console.shell import BOARD_ROLES, ConsoleContext, console_page
from urbanops.ui.web import static_url

#: Longest time between two redraws without news.
REFRESH_S = 15.0
#: Case news that changes the board's figures.
NEWS = (
    case_events.CaseReported.name,
    case_events.CaseRegistered.name,
    case_events.CaseDispatched.name,
    case_events.CaseHandled.name,
    case_events.CaseChecked.name,
    case_events.CaseClosed.name,
    case_events.CaseReturned.name,
    case_events.DeadlineMissed.name,
)
WINDOWS = {0: "board.window.today", 7: "board.window.7", 30: "board.window.30"}
#: Boards of the process redrawing within this many seconds of each other share one reading.
SHARE_S = 2.0
LIGHT_COLOURS = {"green": "#21ba45", "yellow": "#f2c037", "red": "#c10015", "none": "#9e9e9e"}


class SharedFigures:
    """The figures of each period, read once for every open board of the process.

    Big screens and leaders' desks show the same board; each redraws on the same news. The first
    to ask after news (or after ``SHARE_S``) reads the database, under the period's lock; the
    others asking meanwhile get that reading instead of running the same queries again.
    ``changed`` is called for each piece of news: a reading begun before it is not reused.
    """

    def __init__(self, *, share_s: float = SHARE_S) -> None:
        self.share_s = share_s
        self.generation = 0
        self.readings = 0  # how many times the database was read (diagnostics and tests)
        self._guard = threading.Lock()
        self._locks: dict[int, threading.Lock] = {}
        self._found: dict[int, tuple[int, float, dict[str, Any]]] = {}

    def changed(self) -> None:
        with self._guard:
            self.generation += 1

    def get(self, days: int, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._guard:
            generation = self.generation
            lock = self._locks.setdefault(days, threading.Lock())
        with lock:
            found = self._found.get(days)
            if (
                found is not None
                and found[0] >= generation
                and time.monotonic() - found[1] < self.share_s
            ):
                return found[2]
            data = read()
            self.readings += 1
            self._found[days] = (generation, time.monotonic(), data)
            return data


SHARED = SharedFigures()


class _Board:
    """One open board: its elements, the period shown, and whether news is waiting."""

    def __init__(self, ctx: ConsoleContext, *, screen: bool) -> None:
        self.ctx = ctx
        self.screen = screen
        self.days = 0
        self.dirty = True  # set from the committing thread; read on the page's loop
        self.loaded_at = 0.0
        self.busy = False
        self.values: dict[str, ui.label] = {}
        self.notes: dict[str, ui.label] = {}
        self.charts: dict[str, ui.echart] = {}
        self.chips: ui.row | None = None
        self.updated: ui.label | None = None

    # --- data --------

    def _load(self) -> dict[str, Any]:
        ctx, days = self.ctx, self.days

        def read() -> dict[str, Any]:
            return board_data.board_concurrently(
                ctx.session, now=ctx.clock.now(), zone=ctx.zone, days=days
            )

        return SHARED.get(days, read)

    def news(self, _event: object) -> None:
        """A case changed somewhere: redraw at the next tick (called in the committing thread)."""
        SHARED.changed()
        self.dirty = True

    async def tick(self) -> None:
        if self.busy:
            return
        if not self.dirty and time.monotonic() - self.loaded_at < REFRESH_S:
            return
        self.busy, self.dirty = True, False
        try:
            data = await run.io_bound(self._load)
            if data is None:  # the server is shutting down
                return
            self.loaded_at = time.monotonic()
            self.draw(data)
        finally:
            self.busy = False

    async def set_days(self, days: int) -> None:
        self.days, self.dirty = days, True
        await self.tick()

    # --- labels --------

    def _name(self, data: dict[str, Any], kind: str, code: str) -> str:
        if code == board_data.NO_GRID:
            return self.ctx.t("board.outside")
        pair = data["names"][kind].get(code)
        if pair is None:
            return code
        return pair[0] if self.ctx.lang == "zh-CN" else pair[1]

    def _rate(self, value: float | None) -> str:
        return self.ctx.t("board.no_data") if value is None else f"{value:.1f}%"

    def _duration(self, seconds: float | None) -> str:
        if seconds is None:
            return self.ctx.t("board.no_data")
        if seconds < 600:
            return f"{seconds / 60:.1f} {self.ctx.t('board.minutes')}"
        if seconds < 3600:
            return f"{seconds / 60:.0f} {self.ctx.t('board.minutes')}"
        return f"{seconds / 3600:.1f} {self.ctx.t('board.hours')}"

    # --- drawing --------

    def build(self) -> None:
        t = self.ctx.t
        with ui.row().classes("w-full items-center gap-4"):
            ui.label(t("board.title")).classes("board-title text-2xl font-bold").props(
                'id="board-title"'
            )
            ui.space()
            ui.toggle(
                {days: t(key) for days, key in WINDOWS.items()},
                value=0,
                on_change=lambda e: self.set_days(int(e.value)),
            ).props('id="board-window" no-caps')
            self.updated = ui.label("").classes("text-sm text-grey-7").props('id="board-updated"')
            if self.screen:
                ui.link(t("board.screen.exit"), "/board").props('id="board-screen-exit"')
            else:
                ui.link(t("board.screen"), "/board?screen=1").props('id="board-screen-link"')
        with ui.row().classes("w-full gap-4 board-kpis"):
            self._kpi("reported-today", "board.reported_today", compare=True)
            self._kpi("closed-today", "board.closed_today", compare=True)
            self._kpi("unfinished", "board.unfinished")
            self._kpi("overdue", "board.overdue", colour="text-red-9")
            self._kpi("on-time-rate", "board.on_time_rate")
            self._kpi("rework-rate", "board.rework_rate")
            self._kpi("mean-handle", "board.mean_handle")
            self._kpi("mean-close", "board.mean_close")
        self.notes["indicators"] = (
            ui.label("").classes("text-sm text-grey-7").props('id="board-indicator-basis"')
        )
        with ui.grid(columns=3).classes("w-full gap-4 board-charts"):
            self.charts["trend"] = self._chart("trend", "board.trend", span=2)
            self.charts["lights"] = self._chart("lights", "board.by_light")
            self.charts["channel"] = self._chart("channel", "board.by_channel")
            self.charts["matter"] = self._chart("matter", "board.by_matter")
            self.charts["grid"] = self._chart("grid", "board.by_grid")
        self.chips = ui.row().classes("w-full gap-2").props('id="board-channel-counts"')

    def _kpi(self, key: str, title: str, *, compare: bool = False, colour: str = "") -> None:
        with ui.card().classes("board-kpi min-w-36 items-start gap-0").props(f'id="kpi-{key}"'):
            ui.label(self.ctx.t(title)).classes("text-sm text-grey-8 board-kpi-title")
            value = ui.label("…").classes(f"text-3xl font-bold board-kpi-value {colour}")
            self.values[key] = value.props(f'id="board-{key}"')
            if compare:
                self.notes[key] = (
                    ui.label("").classes("text-xs text-grey-7").props(f'id="board-{key}-compare"')
                )

    def _chart(self, key: str, title: str, *, span: int = 1) -> ui.echart:
        card = ui.card().classes("w-full board-chart")
        if span > 1:
            card.classes(f"col-span-{span}")
        with card:
            ui.label(self.ctx.t(title)).classes("text-base font-bold board-chart-title")
            chart = ui.echart({"series": []}).classes("w-full h-64 board-chart-body")
            chart.props(f'id="board-chart-{key}"')
        return chart

    def draw(self, data: dict[str, Any]) -> None:
        t = self.ctx.t
        compare = data["compare"]
        lights = data["lights"]
        ind = data["indicators"]
        self.values["reported-today"].set_text(str(compare["reported"]["today"]))
        self.values["closed-today"].set_text(str(compare["closed"]["today"]))
        self.values["unfinished"].set_text(str(sum(lights.values())))
        self.values["overdue"].set_text(str(lights["red"]))
        self.values["on-time-rate"].set_text(self._rate(ind["on_time_rate"]))
        self.values["rework-rate"].set_text(self._rate(ind["rework_rate"]))
        self.values["mean-handle"].set_text(self._duration(ind["mean_handle_s"]))
        self.values["mean-close"].set_text(self._duration(ind["mean_close_s"]))
        for key in ("reported", "closed"):
            c = compare[key]
            self.notes[f"{key}-today"].set_text(
                f"{t('board.avg7')} {c['avg7']:g} · {t('board.avg30')} {c['avg30']:g}"
            )
        self.notes["indicators"].set_text(
            t("board.indicators")
            + ": "
            + t("board.indicator_basis").format(
                due=ind["due"], on_time=ind["on_time"], reworks=ind["reworks"]
            )
            + f" · {t('board.closure_rate')} {self._rate(ind['closure_rate'])}"
        )
        if self.updated is not None:
            now = self.ctx.clock.now().astimezone(self.ctx.zone)
            self.updated.set_text(f"{t('board.updated')} {now:%H:%M:%S}")
        self._draw_trend(data)
        self._draw_lights(lights)
        self._draw_bars(data)

    def _text_style(self) -> dict[str, Any]:
        if self.screen:
            return {"fontSize": 18, "color": "#e8eef8"}
        return {"fontSize": 12}

    def _draw_trend(self, data: dict[str, Any]) -> None:
        trend = data["trend"]
        t = self.ctx.t
        self._set(
            "trend",
            {
                "tooltip": {"trigger": "axis"},
                "legend": {
                    "data": [t("board.series.reported"), t("board.series.closed")],
                    "top": 0,
                    "textStyle": self._text_style(),
                },
                "grid": {"left": 40, "right": 16, "top": 36, "bottom": 28},
                "xAxis": {
                    "type": "category",
                    "data": [d[5:] for d in trend["days"]],
                    "axisLabel": self._text_style(),
                },
                "yAxis": {"type": "value", "minInterval": 1, "axisLabel": self._text_style()},
                "series": [
                    {
                        "name": t("board.series.reported"),
                        "type": "line",
                        "smooth": True,
                        "data": trend["reported"],
                    },
                    {
                        "name": t("board.series.closed"),
                        "type": "line",
                        "smooth": True,
                        "data": trend["closed"],
                    },
                ],
            },
        )

    def _draw_lights(self, lights: dict[str, int]) -> None:
        t = self.ctx.t
        self._set(
            "lights",
            {
                "tooltip": {"trigger": "item"},
                "series": [
                    {
                        "type": "pie",
                        "radius": ["40%", "70%"],
                        "label": {"formatter": "{b}: {c}", **self._text_style()},
                        "data": [
                            {
                                "name": t(f"board.light.{k}"),
                                "value": n,
                                "itemStyle": {"color": LIGHT_COLOURS[k]},
                            }
                            for k, n in lights.items()
                            if n
                        ],
                    }
                ],
            },
        )

    def _draw_bars(self, data: dict[str, Any]) -> None:
        t = self.ctx.t
        for key, kind in (("channel", "by_channel"), ("matter", "by_matter")):
            counts: dict[str, int] = dict(data[kind])
            labels = [self._name(data, key, code) for code in counts]
            values = list(counts.values())
            if key == "matter" and data["other_matters"]:
                labels.append(t("board.other_matters"))
                values.append(data["other_matters"])
            self._set(key, self._bar(labels, [(t("board.series.reported"), values)]))
        grids = sorted({*data["by_grid"], *data["open_by_grid"]})
        self._set(
            "grid",
            self._bar(
                [self._name(data, "grid", g) for g in grids],
                [
                    (t("board.series.reported"), [data["by_grid"].get(g, 0) for g in grids]),
                    (t("board.series.open"), [data["open_by_grid"].get(g, 0) for g in grids]),
                ],
            ),
        )
        if self.chips is not None:
            self.chips.clear()
            with self.chips:
                for code, n in data["by_channel"].items():
                    ui.chip(f"{self._name(data, 'channel', code)} {n}").props(
                        f'outline dense data-channel="{code}" data-count="{n}"'
                    )

    def _bar(self, labels: list[str], series: list[tuple[str, list[int]]]) -> dict[str, Any]:
        return {
            "tooltip": {"trigger": "axis"},
            "legend": {"show": len(series) > 1, "top": 0, "textStyle": self._text_style()},
            "grid": {"left": 8, "right": 24, "top": 28, "bottom": 8, "containLabel": True},
            "xAxis": {"type": "value", "minInterval": 1, "axisLabel": self._text_style()},
            "yAxis": {
                "type": "category",
                "data": labels,
                "inverse": True,
                "axisLabel": self._text_style(),
            },
            "series": [{"name": name, "type": "bar", "data": values} for name, values in series],
        }

    def _set(self, key: str, options: dict[str, Any]) -> None:
        chart = self.charts[key]
        chart.options.clear()
        chart.options.update(options, animation=False)  # a redraw every few seconds: no replays
        chart.update()


def _hide_header() -> None:
    """Big-screen mode: close the frame's title bar (the layout then gives its room back)."""
    for element in ui.context.client.layout.default_slot.children:
        if isinstance(element, ui.header):
            element.set_value(False)


@console_page("/board", roles=BOARD_ROLES)
def board(ctx: ConsoleContext) -> None:
    screen = ctx.request.query_params.get("screen") == "1"
    ui.add_head_html(f'<link rel="stylesheet" href="{static_url("console-board.css")}">')
    if screen:
        _hide_header()
        ui.query("body").classes(add="board-screen", remove="bg-grey-1")
    page = _Board(ctx, screen=screen)
    with (
        ui.column()
        .classes("w-full p-4 gap-4 board-page")
        .props(f'id="board" data-screen="{int(screen)}"')
    ):
        page.build()
    unsubscribe = [bus.subscribe(name, page.news, remote=True) for name in NEWS]

    def _leave() -> None:
        for off in unsubscribe:
            off()

    ui.context.client.on_delete(_leave)
    ui.timer(1.0, page.tick)
