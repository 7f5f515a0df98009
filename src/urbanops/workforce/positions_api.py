"""Position ingestion over HTTP: OsmAnd (Traccar Client), JSON batches, the officer's browser.

OsmAnd (``/osmand``, any method) is the protocol as Traccar Client and many trackers speak it:
query or form keys, or the JSON body of Traccar Client ≥ 9; the device is known by its
identifier alone (no credential: that is the protocol — anyone who knows an IMEI can post
positions for it, so expose the port only where devices reach it). Traccar's port is 5055 and
its clients post to ``/``: run ``urbanops serve --port 5055`` behind nginx with
``location = / { proxy_pass http://127.0.0.1:8000/osmand; }`` on that port, or point the client
at ``http://host/osmand``. A single fix is acknowledged once buffered (see ``positions``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

import numpy as np
import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from urbanops.auth.deps import CurrentActor, require
from urbanops.kit.actor import Actor, Role
from urbanops.kit.db import unit_of_work
from urbanops.kit.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
)
from urbanops.kit.events import publish
from urbanops.kit.web import ClockDep, SessionDep, get_session
from urbanops.workforce import positions as svc
from urbanops.workforce.models import Device, DeviceKind
from urbanops.workforce.positions_models import position_latest_table
from urbanops.workforce.service import DeviceBound

MAX_BATCH = 10_000
MAX_BODY = 16 * 1024 * 1024
#: Reasons that make a single fix a 4xx answer; the others (filtered fixes) answer 200.
REFUSED = {"invalid_coordinates", "invalid_time", "future_time", "invalid_number"}
_OSMAND_KNOWN = {"id", "deviceid", "timestamp", "lat", "lon", "location", "valid", "speed",
                 "bearing", "heading", "altitude", "accuracy", "batt"}  # fmt: skip
_ingest_lock = threading.Lock()


def ingest_of(app: FastAPI) -> svc.PositionIngest:
    """The app's ingest (buffer, filter state, latest positions), made on first use."""
    ingest: svc.PositionIngest | None = getattr(app.state, "positions", None)
    if ingest is None:
        with _ingest_lock:
            ingest = getattr(app.state, "positions", None)
            if ingest is None:
                ingest = svc.PositionIngest(limits=svc.Limits.from_settings(app.state.settings))
                app.state.positions = ingest
    return ingest


@asynccontextmanager
async def _lifespan(app: FastAPI) -> Any:
    """Run the writer thread while the app serves, unless its period is 0 (tests flush)."""
    ingest = ingest_of(app)
    enabled = app.state.settings.position_flush_interval_s > 0

    def scope() -> AbstractContextManager[Session]:
        return unit_of_work(app.state.sessionmaker)

    if enabled:
        ingest.start(scope)
    try:
        yield
    finally:
        if enabled:
            await run_in_threadpool(ingest.stop, scope)


router = APIRouter(tags=["positions"], lifespan=_lifespan)


def _session_scope(request: Request, *, write: bool = False) -> AbstractContextManager[Session]:
    """A session from the app's session provider (honouring an override of ``get_session``)."""
    provider = request.app.dependency_overrides.get(get_session)
    if provider is not None:
        return contextmanager(provider)()
    return unit_of_work(request.app.state.sessionmaker, write=write)


def _lookup(request: Request, identifier: str) -> svc.DeviceRef | None:
    with _session_scope(request) as session:
        return ingest_of(request.app).load_device(session, identifier)


# --- OsmAnd ----------------------------------------------------------------------------------


OSMAND_PATH = "/osmand"


@router.get(OSMAND_PATH, operation_id="osmand_get")
@router.post(OSMAND_PATH, operation_id="osmand_post")
@router.put(OSMAND_PATH, operation_id="osmand_put")
async def osmand(request: Request) -> Response:
    """OsmAnd / Traccar Client position (query, form or JSON); 200 once buffered."""
    ingest = ingest_of(request.app)
    now = request.app.state.clock.now()
    body = await request.body() if request.method != "GET" else b""
    is_json = request.headers.get("content-type", "").startswith("application/json")
    if is_json:
        payload = _json_object(body)
        identifier = str(payload.get("device_id") or "")
    else:
        params = dict(request.query_params)
        if body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        identifier = params.get("id") or params.get("deviceid") or ""
    if not identifier:
        raise BadRequest("Name the device with id= or deviceid=", code="device_id_missing")
    ref = ingest.cached_device(identifier) or await run_in_threadpool(_lookup, request, identifier)
    if ref is None:
        raise Problem(f"No device {identifier!r}", status=404 if is_json else 400,
                      code="unknown_device", title="Unknown device")  # fmt: skip
    fix: svc.Fix | svc.FixError | None
    try:
        fix = (
            _json_fix(payload, ref, ingest, now) if is_json else _form_fix(params, ref, ingest, now)
        )
    except svc.FixError as exc:
        fix = exc
    alarm = _alarm_in(payload if is_json else params)
    if alarm is not None:  # before buffering: a failure answers 500, so the device sends again
        await run_in_threadpool(_raise_alarm, request, ingest, ref, alarm, fix, now)
    if fix is None:
        return Response(status_code=200, headers={"X-Fix-Dropped": "not_valid"})
    rejections = _submit(ingest, [fix], now)
    if not rejections:
        return Response(status_code=200)
    reason = rejections[0]
    if reason.reason in REFUSED:
        status = 422 if is_json else 400
        raise Problem(reason.detail, status=status, code=reason.reason, title="Fix refused")
    return Response(status_code=200, headers={"X-Fix-Dropped": reason.reason})


class OsmandFastPath:
    """ASGI middleware: the everyday OsmAnd fix answered before the router.

    Routing and dependency solving cost this app several times the work of taking a fix (the
    router tries each of its routes in turn), and trackers send a fix every few seconds each. The
    everyday case — query or form keys, a device already cached, no alarm — is read, filtered
    and buffered here with the route's own functions (``_form_fix``, ``PositionIngest.submit``);
    anything else (a JSON body, an unknown or uncached device, an alarm, a fix refused with a
    4xx, a full buffer) goes on to the ``/osmand`` route unchanged, which answers it as before.
    Nothing here waits on the database, so it needs no place under ``RequestLimit``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != OSMAND_PATH
            or scope["method"] not in ("GET", "POST", "PUT")
            or _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        if scope["method"] != "GET":
            body = await _read_body(receive)
            receive = _replay(body, receive)
        dropped = _take_osmand_fix(scope["app"], scope["query_string"], body)
        if dropped is None:
            await self.app(scope, receive, send)
            return
        headers = [(b"content-length", b"0")]
        if dropped:
            headers.append((b"x-fix-dropped", dropped.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _take_osmand_fix(app: FastAPI, query: bytes, body: bytes) -> str | None:
    """Buffer an everyday OsmAnd fix: "" when taken, the reason when filtered out (both 200),
    None when the ``/osmand`` route must answer."""
    ingest: svc.PositionIngest | None = getattr(app.state, "positions", None)
    if ingest is None:
        return None
    params = _form_params(query.decode("latin-1"))  # as Starlette reads a query string
    if body:
        params.update(_form_params(body.decode("utf-8", "replace")))
    identifier = params.get("id") or params.get("deviceid")
    ref = ingest.cached_device(identifier) if identifier else None
    if ref is None or "alarm" in params:
        return None
    now = app.state.clock.now()
    try:
        fix = _form_fix(params, ref, ingest, now)
        if fix is None:
            return "not_valid"
        rejections = ingest.submit([fix], now=now)
    except (svc.FixError, svc.BufferFull):
        return None
    if not rejections:
        return ""
    if rejections[0].reason in REFUSED:  # from the future: the filter kept nothing of it
        return None
    return rejections[0].reason


def _form_params(text: str) -> dict[str, str]:
    """``dict(parse_qsl(text, keep_blank_values=True))``, quicker when nothing is escaped."""
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    params = {}
    for part in text.split("&"):
        if part:
            key, _, value = part.partition("=")
            params[key] = value
    return params


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.startswith(b"application/json"))
    return False


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` over again, for the app behind."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _alarm_in(raw: dict[str, Any]) -> str | None:
    """Traccar's ``alarm`` key (``sos`` …): a query/form key, or in the JSON body, its location
    or the location's extras."""
    location = raw.get("location")
    location = location if isinstance(location, dict) else {}
    extras = location.get("extras")
    extras = extras if isinstance(extras, dict) else {}
    for value in (raw.get("alarm"), location.get("alarm"), extras.get("alarm")):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def _raise_alarm(
    request: Request,
    ingest: svc.PositionIngest,
    ref: svc.DeviceRef,
    kind: str,
    fix: svc.Fix | svc.FixError | None,
    now: Any,
) -> None:
    """Hand a device's alarm to the ingest's alarm hooks in a transaction of its own."""
    if not ingest.alarm_hooks:
        return
    with _session_scope(request, write=True) as session:
        ingest.raise_alarm(session, _alarm(ingest, ref, kind, fix, now, "osmand"))


def _alarm(
    ingest: svc.PositionIngest,
    ref: svc.DeviceRef,
    kind: str,
    fix: svc.Fix | svc.FixError | None,
    now: Any,
    source: str,
) -> svc.Alarm:
    """The alarm where its fix is, else where the device was last known to be."""
    where = fix if isinstance(fix, svc.Fix) else ingest.latest(ref.id)
    lon, lat = (None, None) if where is None else (where.lon, where.lat)
    return svc.Alarm(device_id=ref.id, user_id=ref.user_id, kind=kind, at=now, lon=lon, lat=lat,
                     source=source)  # fmt: skip


def _json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. orjson reads it in a third of the standard library's time;
    what orjson refuses and the standard library reads (``NaN``, integers beyond 64 bits, lone
    surrogates, UTF-16) is read by the latter, so every body gets the answer it always got."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise BadRequest("The body is not JSON", code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object", code="invalid_input")
    return payload


def _submit(
    ingest: svc.PositionIngest, fixes: list[svc.Fix | svc.FixError], now: Any
) -> list[svc.Rejection]:
    try:
        return ingest.submit(fixes, now=now)
    except svc.BufferFull as exc:
        raise _buffer_full() from exc


def _buffer_full() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Positions are arriving faster than they can be written; retry shortly",
        code="position_buffer_full",
    )


def _form_fix(
    params: dict[str, str], ref: svc.DeviceRef, ingest: svc.PositionIngest, now: Any
) -> svc.Fix | None:
    """A fix from OsmAnd query/form keys; None when the device marks it not valid."""
    if params.get("valid", "true").lower() in ("false", "0"):
        return None
    lat: Any = params.get("lat")
    lon: Any = params.get("lon")
    if "location" in params and (lat is None or lon is None):
        lat, _, lon = params["location"].partition(",")
    if lat is None or lon is None:
        lat, lon = _previous_location(ingest, ref)
    x, y = svc.coordinates(lat, lon)
    speed = svc.number(params.get("speed"), "speed")
    factor = svc.SPEED_TO_MPS[ingest.limits.osmand_speed_unit]
    attributes = {k: _attribute(v) for k, v in params.items() if k not in _OSMAND_KNOWN}
    return svc.Fix(
        device=ref,
        at=svc.parse_time(params.get("timestamp"), now=now),
        received_at=now,
        lon=x,
        lat=y,
        source="osmand",
        speed_mps=None if speed is None else speed * factor,
        course=svc.number(params.get("bearing") or params.get("heading"), "bearing"),
        altitude=svc.number(params.get("altitude"), "altitude"),
        accuracy_m=svc.number(params.get("accuracy"), "accuracy"),
        battery=svc.number(params.get("batt"), "batt"),
        attributes=attributes or None,
    )


def _json_fix(
    payload: dict[str, Any], ref: svc.DeviceRef, ingest: svc.PositionIngest, now: Any
) -> svc.Fix:
    """A fix from Traccar Client's JSON body (speed in m/s, battery level 0–1)."""
    location = payload.get("location")
    if not isinstance(location, dict):
        raise svc.FixError("invalid_coordinates", "location is missing")
    coords: dict[str, Any] = location.get("coords") or {}
    if not isinstance(coords, dict):
        raise svc.FixError("invalid_coordinates", "location.coords is not an object")
    lat, lon = coords.get("latitude"), coords.get("longitude")
    if lat is None or lon is None:
        lat, lon = _previous_location(ingest, ref)
    x, y = svc.coordinates(lat, lon)
    battery = location.get("battery")
    battery = battery if isinstance(battery, dict) else {}
    level = svc.number(battery.get("level"), "battery.level")
    attributes = {
        k: location[k]
        for k in ("is_moving", "odometer", "event", "activity", "extras", "mock")
        if k in location
    }
    if "is_charging" in battery:
        attributes["charge"] = battery["is_charging"]
    return svc.Fix(
        device=ref,
        at=svc.parse_time(location.get("timestamp"), now=now),
        received_at=now,
        lon=x,
        lat=y,
        source="osmand",
        speed_mps=_non_negative(svc.number(coords.get("speed"), "speed")),
        course=_non_negative(svc.number(coords.get("heading"), "heading")),
        altitude=svc.number(coords.get("altitude"), "altitude"),
        accuracy_m=_non_negative(svc.number(coords.get("accuracy"), "accuracy")),
        battery=None if level is None or level < 0 else round(level * 100, 1),
        attributes=attributes or None,
    )


def _previous_location(ingest: svc.PositionIngest, ref: svc.DeviceRef) -> tuple[float, float]:
    """Traccar reuses the last known location when a message has none."""
    last = ingest.latest(ref.id)
    if last is None:
        raise svc.FixError("invalid_coordinates", "no location given and none known before")
    return last.lat, last.lon


def _non_negative(value: float | None) -> float | None:
    return None if value is None or value < 0 else value  # -1 means "unknown" on phones


def _attribute(value: str) -> Any:
    """Other OsmAnd keys become attributes: boolean, number or text."""
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    try:
        number = float(value)
    except ValueError:
        return value
    if not (number == number and abs(number) != float("inf")):
        return value
    return int(number) if number.is_integer() and "." not in value else number


# --- JSON batches ----------------------------------------------------------------------------


class RejectedOut(BaseModel):
    index: int
    reason: str
    detail: str


class BatchOut(BaseModel):
    accepted: int
    rejected: list[RejectedOut]


PlatformActor = Annotated[Actor, Depends(require(Role.INTEGRATION, Role.DEVICE))]


@router.post("/api/positions/batch", response_model=BatchOut, operation_id="post_position_batch")
async def post_batch(
    request: Request, actor: PlatformActor, session: SessionDep, clock: ClockDep
) -> BatchOut:
    """Fixes from a device platform: ``{"fixes": [{device, at, lat, lon, …}]}`` (批量上报)."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise PayloadTooLarge(f"At most {MAX_BODY} bytes per batch", code="batch_too_large")
    payload = _json_object(await request.body())
    fixes = payload.get("fixes")
    if not isinstance(fixes, list):
        raise InvalidInput('The body is {"fixes": [...]}', code="invalid_input")
    if len(fixes) > MAX_BATCH:
        raise PayloadTooLarge(f"At most {MAX_BATCH} fixes per batch", code="batch_too_large")
    if actor.kind == "device" and not actor.device_ref:
        raise Forbidden("This device key is bound to no device", code="device_key_unbound")
    ingest, now = ingest_of(request.app), clock.now()
    block, checked = await run_in_threadpool(_batch_block, session, ingest, actor, fixes, now)
    if ingest.alarm_hooks:
        await run_in_threadpool(_batch_alarms, session, ingest, list(checked.values()), now)
    try:
        rejections = ingest.submit_block(block, now=now)
    except svc.BufferFull as exc:
        raise _buffer_full() from exc
    rejections += [
        svc.Rejection(i, f.reason, f.detail)
        for i, f in checked.items()
        if isinstance(f, svc.FixError)
    ]
    rejections.sort(key=lambda r: r.index)
    return BatchOut(
        accepted=len(fixes) - len(rejections),
        rejected=[RejectedOut(index=r.index, reason=r.reason, detail=r.detail) for r in rejections],
    )


_NOT_AN_OBJECT: dict[str, Any] = {}
_NO_DEVICE = -1


def _batch_block(
    session: Session, ingest: svc.PositionIngest, actor: Actor, items: list[Any], now: Any
) -> tuple[svc.FixBlock, dict[int, svc.Fix | svc.FixError]]:
    """Check a batch column by column: the block of its fixes, and what ``_batch_fix`` made of
    the items (by index) that are not plainly good, which it checks one by one and explains.

    Plainly good: an object naming a known device (that the key may post for), plain numbers
    in range, a time ``time_column`` reads, attributes an object or absent, and no alarm.
    """
    n = len(items)
    rows, odd = items, np.zeros(n, dtype=bool)
    if set(map(type, items)) != {dict}:
        rows = [item if type(item) is dict else _NOT_AN_OBJECT for item in items]
        odd |= np.fromiter((type(item) is not dict for item in items), bool, n)
    default = actor.device_ref
    names = [row.get("device") or default for row in rows]
    allowed = {name for name in names if type(name) is str and name}
    if actor.kind == "device":
        allowed &= {default}
    devices = ingest.devices(session, allowed)
    refs = [devices.get(name) if type(name) is str else None for name in names]
    device_id = np.fromiter((_NO_DEVICE if r is None else r.id for r in refs), np.int64, n)
    user_id = np.fromiter((-1 if r is None or r.user_id is None else r.user_id for r in refs),
                          np.int64, n)  # fmt: skip
    odd |= device_id == _NO_DEVICE
    lat, odd_lat = svc.float_column([row.get("lat") for row in rows])
    lon, odd_lon = svc.float_column([row.get("lon") for row in rows])
    odd |= odd_lat | odd_lon | ~(np.abs(lat) <= 90.0) | ~(np.abs(lon) <= 180.0)  # NaN: missing
    numbers = {}
    for name in ("speed_mps", "course", "altitude", "accuracy_m", "battery"):
        numbers[name], odd_number = svc.float_column([row.get(name) for row in rows])
        odd |= odd_number
    at_us, odd_at = svc.time_column([row.get("at") for row in rows], now=now)
    odd |= odd_at
    attributes = [row.get("attributes") for row in rows]
    if not set(map(type, attributes)) <= {dict, type(None)}:
        odd |= np.fromiter((not (a is None or type(a) is dict) for a in attributes), bool, n)
    alarms = [row.get("alarm") for row in rows]
    if alarms.count(None) != n:  # an alarm goes to the alerts one by one
        odd |= np.fromiter((a is not None for a in alarms), bool, n)

    good = np.flatnonzero(~odd)
    block = svc.FixBlock(
        index=good,
        device_id=device_id[good],
        user_id=user_id[good],
        at_us=at_us[good],
        received_us=np.full(len(good), svc.to_us(now), dtype=np.int64),
        lon=lon[good],
        lat=lat[good],
        **{name: column[good] for name, column in numbers.items()},
        source=svc.object_column(["batch"] * len(good)),
        attributes=svc.object_column([attributes[i] for i in good.tolist()]),
        unit_grid_code=svc.object_column([None] * len(good)),
    )
    checked: dict[int, svc.Fix | svc.FixError] = {}
    for i in np.flatnonzero(odd).tolist():
        try:
            checked[i] = _batch_fix(session, ingest, actor, items[i], now, devices)
        except svc.FixError as exc:
            checked[i] = exc
    slow = {i: fix for i, fix in checked.items() if isinstance(fix, svc.Fix)}
    if slow:
        extra = svc.FixBlock.from_fixes(list(slow.values()), index=list(slow))
        block = svc.FixBlock.concat([block, extra])
    return block, checked


def _batch_alarms(
    session: Session, ingest: svc.PositionIngest, checked: list[svc.Fix | svc.FixError], now: Any
) -> None:
    """Raise the alarms some fixes of a batch carry (``"alarm": "sos"``), in the request."""
    for fix in checked:
        kind = fix.attributes.get("alarm") if isinstance(fix, svc.Fix) and fix.attributes else None
        if isinstance(kind, str) and isinstance(fix, svc.Fix):
            alarm = svc.Alarm(device_id=fix.device_id, user_id=fix.user_id, kind=kind, at=now,
                              lon=fix.lon, lat=fix.lat, source="batch")  # fmt: skip
            ingest.raise_alarm(session, alarm)


def _batch_fix(
    session: Session,
    ingest: svc.PositionIngest,
    actor: Actor,
    item: Any,
    now: Any,
    devices: dict[str, svc.DeviceRef | None],
) -> svc.Fix:
    if not isinstance(item, dict):
        raise svc.FixError("invalid_fix", "a fix is a JSON object")
    identifier = item.get("device") or actor.device_ref
    if not isinstance(identifier, str) or not identifier:
        raise svc.FixError("device_missing", "name the device (its identifier)")
    if actor.kind == "device" and identifier != actor.device_ref:
        raise svc.FixError("device_not_allowed", "a device key posts its own fixes only")
    if identifier not in devices:
        devices[identifier] = ingest.device(session, identifier)
    ref = devices[identifier]
    if ref is None:
        raise svc.FixError("unknown_device", f"no device {identifier!r}")
    x, y = svc.coordinates(item.get("lat"), item.get("lon"))
    attributes = item.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        raise svc.FixError("invalid_fix", "attributes is a JSON object")
    alarm = item.get("alarm")
    if alarm is not None:
        if not isinstance(alarm, str) or not alarm.strip():
            raise svc.FixError("invalid_fix", "alarm is a text such as 'sos'")
        attributes = {**(attributes or {}), "alarm": alarm.strip().lower()}
    return svc.Fix(
        device=ref,
        at=svc.parse_time(item.get("at"), now=now),
        received_at=now,
        lon=x,
        lat=y,
        source="batch",
        speed_mps=svc.number(item.get("speed_mps"), "speed_mps"),
        course=svc.number(item.get("course"), "course"),
        altitude=svc.number(item.get("altitude"), "altitude"),
        accuracy_m=svc.number(item.get("accuracy_m"), "accuracy_m"),
        battery=svc.number(item.get("battery"), "battery"),
        attributes=attributes,
    )


# --- the officer's browser -------------------------------------------------------------------


class BrowserFixIn(BaseModel):
    """The browser's Geolocation API position (``timestamp`` in epoch milliseconds)."""

    model_config = ConfigDict(extra="forbid")

    #: Both, or (only with an ``alarm``) neither: an SOS goes out even when the phone has no fix.
    lat: float | None = None
    lon: float | None = None
    accuracy: float | None = Field(default=None, ge=0)
    speed: float | None = None
    heading: float | None = None
    altitude: float | None = None
    timestamp: float | None = None
    #: ``sos``: the officer pressed the SOS button of his page (一键报警).
    alarm: Literal["sos"] | None = None

    @model_validator(mode="after")
    def _a_position_or_an_alarm(self) -> BrowserFixIn:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together")
        if self.lat is None and self.alarm is None:
            raise ValueError("a position needs lat and lon (only an alarm may come without)")
        return self


class BrowserFixOut(BaseModel):
    accepted: bool
    reason: str | None = None
    device: str


@router.post("/api/positions/me", response_model=BrowserFixOut, operation_id="post_my_position")
def post_my_position(
    body: BrowserFixIn, request: Request, actor: CurrentActor, session: SessionDep, clock: ClockDep
) -> BrowserFixOut:
    """The signed-in officer's own position from his browser (its ``web-<user>`` device)."""
    if actor.kind != "user" or actor.id is None:
        raise Forbidden("Only a signed-in person posts his own position", code="not_a_person")
    ingest, now = ingest_of(request.app), clock.now()
    ref = _browser_device(session, ingest, actor, now)
    if body.lat is None or body.lon is None:  # an SOS from a phone without a fix
        assert body.alarm is not None
        ingest.raise_alarm(session, _alarm(ingest, ref, body.alarm, None, now, "browser"))
        return BrowserFixOut(accepted=False, reason="no_position", device=ref.identifier)
    try:
        x, y = svc.coordinates(body.lat, body.lon)
        fix: svc.Fix | svc.FixError = svc.Fix(
            device=ref, at=svc.parse_time(body.timestamp, now=now), received_at=now, lon=x, lat=y,
            source="browser", speed_mps=_non_negative(body.speed),
            course=_non_negative(body.heading), altitude=body.altitude, accuracy_m=body.accuracy,
            attributes={"alarm": body.alarm} if body.alarm else None,
        )  # fmt: skip
    except svc.FixError as exc:
        fix = exc
    if body.alarm is not None:
        ingest.raise_alarm(session, _alarm(ingest, ref, body.alarm, fix, now, "browser"))
    rejections = _submit(ingest, [fix], now)
    if rejections and rejections[0].reason in REFUSED and body.alarm is None:  # an SOS stays
        raise InvalidInput(rejections[0].detail, code=rejections[0].reason)
    reason = rejections[0].reason if rejections else None
    return BrowserFixOut(accepted=not rejections, reason=reason, device=ref.identifier)


def _browser_device(
    session: Session, ingest: svc.PositionIngest, actor: Actor, now: Any
) -> svc.DeviceRef:
    """The officer's phone, else a ``web-<user id>`` phone device made for his browser."""
    identifier = f"web-{actor.id}"
    phone = session.scalars(
        select(Device.identifier)
        .where(Device.user_id == actor.id, Device.kind == DeviceKind.PHONE)
        .order_by(Device.identifier != identifier, Device.id)
        .limit(1)
    ).first()
    if phone is None:
        device = Device(identifier=identifier, kind=DeviceKind.PHONE,
                        name=f"浏览器定位 {actor.name}"[:100], user_id=actor.id)  # fmt: skip
        device.stamp_created(actor.ref, now)
        session.add(device)
        session.flush()
        if actor.id is not None:
            publish(session, DeviceBound(at=now, device_id=device.id, user_id=actor.id))
        phone = identifier
    ref = ingest.device(session, phone)
    assert ref is not None
    return ref


# --- reading ---------------------------------------------------------------------------------


class LatestOut(BaseModel):
    device_id: int
    user_id: int | None
    at: Any
    lon: float
    lat: float
    speed_mps: float | None
    accuracy_m: float | None
    battery: float | None
    unit_grid_code: str | None
    source: str


Watcher = Annotated[
    Actor,
    Depends(
        require(Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.SQUAD_LEADER, Role.LEADER)
    ),
]


@router.get(
    "/api/positions/latest", response_model=list[LatestOut], operation_id="latest_positions"
)
def latest_positions(actor: Watcher, session: SessionDep) -> Iterator[LatestOut]:
    """The stored latest position of every device (written at each flush)."""
    rows = session.execute(
        select(position_latest_table).order_by(position_latest_table.c.device_id)
    ).mappings()
    return [LatestOut.model_validate(dict(r)) for r in rows]  # type: ignore[return-value]
