"""The command-centre console (指挥中心): NiceGUI pages mounted on the app at ``/console``.

NiceGUI keeps one application per process, so the console mounts once: the first app of the
process that asks for it gets it (``urbanops serve`` and ``urbanops demo`` have only one). The
test suite's in-process apps leave it out (``Settings.console_on``); the console's tests run a
real server process.
"""

from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI

from urbanops.ui.console import shell

log = logging.getLogger(__name__)

MOUNT_PATH = shell.MOUNT_PATH
#: The modules whose ``@console_page`` functions make up the console, imported when it mounts.
PAGES = (
    "urbanops.ui.console.home",
    "urbanops.ui.console.intake",
    "urbanops.ui.console.case",
    "urbanops.ui.console.board",
    "urbanops.ui.console.admin",
)


def mount_console(app: FastAPI) -> bool:
    """Serve the console from ``app`` at ``/console``; False if this process already does."""
    if shell.STATE.app is not None:
        log.warning("the console is already mounted in this process; not mounting it again")
        return False
    from nicegui import ui

    for module in PAGES:
        importlib.import_module(module)
    shell.STATE.app = app
    ui.run_with(
        app,
        mount_path=MOUNT_PATH,
        title="urbanops",
        language="zh-CN",
        storage_secret=app.state.settings.secret_key,
        show_welcome_message=False,
        reconnect_timeout=10.0,
        favicon="🚨",
    )
    return True
