"""REST routes of evidence: upload a file to a case, list a case's files, read one back verified."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from urbanops.auth.deps import require, require_grid
from urbanops.cases import evidence as service
from urbanops.cases.models import Case, Evidence, EvidencePhase
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import NotFound
from urbanops.kit.web import ClockDep, SessionDep, SettingsDep

router = APIRouter(tags=["evidence"])

_STAFF = (Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER, Role.SQUAD_LEADER)
_FIELD = (Role.GRID_OFFICER, Role.DEVICE, Role.INTEGRATION)
Uploader = Annotated[Actor, Depends(require(*_STAFF, *_FIELD))]
Reader = Annotated[Actor, Depends(require(*_STAFF, *_FIELD, Role.LEADER, Role.LEGAL_REVIEWER))]


class EvidenceOut(BaseModel):
    """One file on a case, as the list and the upload answer show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    case_id: int
    timeline_entry_id: int | None
    phase: EvidencePhase
    kind: service.EvidenceKind
    sha256: str
    size: int
    media_type: str
    filename: str | None
    taken_at: datetime | None
    taken_lon: float | None
    taken_lat: float | None
    created_at: datetime
    created_by: str
    content_url: str


def evidence_out(evidence: Evidence) -> EvidenceOut:
    """The row, its kind and where to read its bytes."""
    return EvidenceOut.model_validate(
        {
            **{c: getattr(evidence, c) for c in EvidenceOut.model_fields if hasattr(evidence, c)},
            "kind": service.media_kind(evidence.media_type),
            "content_url": (f"/api/cases/{evidence.case_id}/evidence/{evidence.id}/content"),
        }
    )


def evidence_store(request: Request) -> service.EvidenceStore:
    """The store under the configured evidence root, with its reserve of free space."""
    return service.EvidenceStore.for_settings(request.app.state.settings)


StoreDep = Annotated[service.EvidenceStore, Depends(evidence_store)]


def _case_in_scope(session: Session, actor: Actor, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"No case {case_id}", code="case_not_found")
    require_grid(actor, case.responsibility_grid_code)
    return case


@router.post(
    "/api/cases/{case_id}/evidence",
    status_code=201,
    operation_id="attach_evidence",
    responses={413: {"description": "too large"}, 415: {"description": "wrong type"}},
)
def attach_evidence(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    store: StoreDep,
    by: Uploader,
    case_id: int,
    file: Annotated[UploadFile, File(description="photo, video or document")],
    phase: Annotated[EvidencePhase, Form()],
    timeline_entry_id: Annotated[int | None, Form()] = None,
) -> EvidenceOut:
    """Attach a file to a case or to one step of it (处置前/处置后/核查 photos and documents)."""
    _case_in_scope(session, by, case_id)
    upload = service.Upload(
        stream=file.file, filename=file.filename, declared_type=file.content_type
    )
    evidence = service.attach(
        session,
        store=store,
        case_id=case_id,
        upload=upload,
        phase=phase,
        by=by,
        now=clock.now(),
        timeline_entry_id=timeline_entry_id,
        local_tz=ZoneInfo(settings.timezone),
    )
    return evidence_out(evidence)


@router.get("/api/cases/{case_id}/evidence", operation_id="list_evidence")
def list_evidence(session: SessionDep, by: Reader, case_id: int) -> list[EvidenceOut]:
    """The case's files in the order they arrived, with hash, size, type and EXIF facts."""
    _case_in_scope(session, by, case_id)
    return [evidence_out(e) for e in service.list_for_case(session, case_id=case_id)]


@router.get(
    "/api/cases/{case_id}/evidence/{evidence_id}/content",
    operation_id="read_evidence",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_evidence(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    by: Reader,
    case_id: int,
    evidence_id: int,
) -> Response:
    """The file's bytes, verified against their SHA-256 first (409 when altered)."""
    _case_in_scope(session, by, case_id)
    etag = f'"{service.get(session, case_id=case_id, evidence_id=evidence_id).sha256}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    evidence, path = service.read(session, store=store, case_id=case_id, evidence_id=evidence_id)
    name = evidence.filename or evidence.sha256
    return FileResponse(
        path,
        media_type=evidence.media_type,
        headers={
            "ETag": etag,
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
        },
    )
