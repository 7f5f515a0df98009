"""The operator's home (指挥调度): the live map, the queue of cases, the alerts."""

from __future__ import annotations

from nicegui import ui

from urbanops.ui.console.shell import HOME_ROLES, ConsoleContext, console_page


@console_page("/", roles=HOME_ROLES)
def home(ctx: ConsoleContext) -> None:
    ui.label(ctx.t("console.nav.home")).classes("text-xl").props('id="home-title"')
