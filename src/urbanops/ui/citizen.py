"""The citizen's pages (市民端): ``/citizen`` to report, ``/citizen/track`` to follow and rate.

Server-rendered in the citizen's language; the small scripts in ``static/citizen.js`` call the
citizen API (``/api/citizen``) to send a report and a rating. The tracking page renders the case
on the server, so it shows on the slowest phone without waiting for a script.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from urbanops.cases.followup import RATING_WORDING
from urbanops.cases.followup_models import Rating
from urbanops.cases.public import PUBLIC_WORDING
from urbanops.citizen import service
from urbanops.citizen.api import CitizenCase, LimitsDep, client_address, follow_view
from urbanops.kit.errors import NotFound
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep
from urbanops.ui import messages
from urbanops.ui.web import page_language, render

router = APIRouter(include_in_schema=False)

#: Messages the page scripts need (the rest is rendered on the server).
SCRIPT_PREFIXES = ("citizen.", "error.", "fms.", "status.", "rating.")


def matter_choices(lang: str) -> list[tuple[str, str]]:
    """(value, plain label) of the problems a citizen picks from, "other" last."""
    codes = [*service.COMMON_MATTERS, service.OTHER]
    return [(code, messages.t(f"matter.{code}", lang)) for code in codes]


def _note_text(text: str, lang: str) -> str:
    """A public step's wording in ``lang`` (the registry words them in Chinese)."""
    if lang == messages.ZH:
        return text
    for action, wording in PUBLIC_WORDING.items():
        if text == wording:
            return messages.t(f"note.{action}", lang)
    for rating, wording in RATING_WORDING.items():
        if text == wording:
            return messages.t(f"note.followup.{rating.value}", lang)
    return text


def _local(zone: ZoneInfo) -> Any:
    def fmt(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""

    return fmt


@router.get("/citizen", response_class=HTMLResponse)
def report_page(request: Request) -> HTMLResponse:
    """The report form: kind of problem, description, photos, position, optional contact."""
    lang, remember = page_language(request)
    context = {
        "matters": matter_choices(lang),
        "max_photos": service.MAX_PHOTOS,
        "script_messages": messages.subset(lang, SCRIPT_PREFIXES),
        "page": "report",
    }
    return render(request, "citizen/report.html", context, lang=lang, remember=remember)


@router.get("/citizen/track", response_class=HTMLResponse)
def track_page(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    limits: LimitsDep,
    tracking_id: Annotated[str | None, Query(alias="id", max_length=64)] = None,
) -> HTMLResponse:
    """The case of a tracking id (status, steps, photos, rating when due), or the look-up form."""
    lang, remember = page_language(request)
    case: CitizenCase | None = None
    not_found = False
    if tracking_id:
        limits.lookups.hit(client_address(request), clock.now())
        try:
            case = follow_view(session, request, service.track(session, tracking_id=tracking_id))
        except NotFound:
            not_found = True
    context = {
        "tracking_id": tracking_id or "",
        "case": case,
        "not_found": not_found,
        "note_text": lambda text: _note_text(text, lang),
        "local": _local(ZoneInfo(settings.timezone)),
        "ratings": [r.value for r in Rating],
        "script_messages": messages.subset(lang, SCRIPT_PREFIXES),
        "page": "track",
    }
    return render(
        request, "citizen/track.html", context, lang=lang, remember=remember,
        status_code=404 if not_found else 200,
    )  # fmt: skip
