"""REST routes for an officer's track and patrol statistics of one day (巡查轨迹)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from urbanops.areas import service as areas_service
from urbanops.auth.deps import CurrentActor
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import Forbidden
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep
from urbanops.workforce import tracks

router = APIRouter(tags=["workforce"])

#: Roles that may read any officer's track (a squad leader only within his grids).
READERS = (Role.SHIFT_LEADER, Role.DISPATCHER, Role.SQUAD_LEADER, Role.LEADER, Role.ADMIN)
Day = Annotated[date | None, Query(description="local day (Asia/Shanghai), default today")]
Buffer = Annotated[
    float, Query(gt=0, le=500, description="coverage: distance from the track that counts, m")
]
MaxGap = Annotated[
    int, Query(ge=10, le=3600, description="a silence longer than this splits the track, s")
]


def _check_reader(session: Session, actor: Actor, user_id: int) -> None:
    """The officer himself, or a role that reads tracks (within its grids), else 403."""
    if actor.kind == "user" and actor.id == user_id:
        return
    if not actor.has(*READERS):
        raise Forbidden(
            "Only the officer and his leaders may read this track", code="track_not_yours"
        )
    if actor.grid_scope is not None:
        grids = areas_service.grids_of_officer(session, user_id=user_id)
        if not any(actor.may_see_grid(code) for code in grids):
            raise Forbidden(
                "This officer works outside your area of responsibility",
                code="grid_out_of_scope",
            )


def _load(
    session: Session, actor: Actor, *, user_id: int, day: date, tz: ZoneInfo, device_id: int | None
) -> tracks.OfficerDay:
    _check_reader(session, actor, user_id)
    return tracks.officer_day(session, user_id=user_id, day=day, tz=tz, device_id=device_id)


@router.get("/api/officers/{user_id}/track", operation_id="officer_track", response_model=None)
def officer_track(
    user_id: int,
    session: SessionDep,
    actor: CurrentActor,
    clock: ClockDep,
    settings: SettingsDep,
    date: Day = None,
    format: Literal["geojson", "gpx"] = "geojson",
    device_id: int | None = None,
    coverage_buffer_m: Buffer = 30.0,
    max_gap_s: MaxGap = 300,
) -> dict[str, Any] | Response:
    """The officer's track of a day as a GeoJSON Feature (with statistics) or a GPX 1.1 file."""
    tz = ZoneInfo(settings.timezone)
    day = date or clock.now().astimezone(tz).date()
    found = _load(session, actor, user_id=user_id, day=day, tz=tz, device_id=device_id)
    rules = tracks.TrackRules(
        coverage_buffer_m=coverage_buffer_m, max_gap=timedelta(seconds=max_gap_s)
    )
    if format == "gpx":
        body = tracks.track_gpx(
            found.fixes, name=f"{found.name} {day.isoformat()}", rules=rules, created_at=clock.now()
        )
        filename = f"track-{user_id}-{day.isoformat()}.gpx"
        return Response(
            content=body,
            media_type="application/gpx+xml",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    stats = tracks.patrol_stats(found.fixes, rules=rules, grid=found.grid)
    return tracks.track_geojson(found.fixes, rules=rules, stats=stats, properties=_identity(found))


@router.get("/api/officers/{user_id}/patrol-stats", operation_id="officer_patrol_stats")
def officer_patrol_stats(
    user_id: int,
    session: SessionDep,
    actor: CurrentActor,
    clock: ClockDep,
    settings: SettingsDep,
    date: Day = None,
    device_id: int | None = None,
    coverage_buffer_m: Buffer = 30.0,
    max_gap_s: MaxGap = 300,
) -> dict[str, Any]:
    """Distance, moving time, stops, grids visited and own-grid coverage of a day (巡查统计)."""
    tz = ZoneInfo(settings.timezone)
    day = date or clock.now().astimezone(tz).date()
    found = _load(session, actor, user_id=user_id, day=day, tz=tz, device_id=device_id)
    rules = tracks.TrackRules(
        coverage_buffer_m=coverage_buffer_m, max_gap=timedelta(seconds=max_gap_s)
    )
    stats = tracks.patrol_stats(found.fixes, rules=rules, grid=found.grid)
    return {**_identity(found), **stats.as_dict()}


def _identity(found: tracks.OfficerDay) -> dict[str, Any]:
    """Whose track, which day and which device."""
    return {
        "user_id": found.user_id,
        "name": found.name,
        "date": found.day.isoformat(),
        "device_id": found.device_id,
    }
