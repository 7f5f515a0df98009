"""The public face of a case (公开信息): what a citizen, Open311 or FixMyStreet may see of it.

Contract (used by the Open311 facade and the citizen page):

- ``public_status(case) -> "open" | "closed"``: GeoReport v2's two statuses.
- ``fms_status(case) -> str``: FixMyStreet's extended status, as FixMyStreet reads it on the wire
  (``FmsStatus``: open, investigating, action_scheduled, in_progress, fixed, closed, duplicate,
  not_councils_responsibility, no_further_action, internal_referral).
- ``public_case(session, case, *, base_url) -> PublicCase`` and ``public_cases`` for many at once
  (a fixed number of queries, whatever the count).
- ``public_media_url(session, evidence, *, base_url) -> str``: an unguessable address of a
  public-able photo, served by ``GET /media/{token}`` (``urbanops.open311.api``).

What is public, and what never is:

- never personal data: no complainant name, phone, e-mail or caller number, and no officer's
  name; phone numbers, e-mail addresses and ID-card numbers in free text (a description, an
  address, a note) are masked, and so is any name or number of the case's own complainants;
- never the cases of letters: a 信访 (petition), a 书记信箱 letter or a transfer letter (转办函)
  is answered in writing to its sender, and its content can identify him; ``is_published`` is
  false for them and no public answer lists or shows them;
- never internal reasons: a timeline row is public only through a fixed public wording of its
  action (``PUBLIC_WORDING``), or when its ``data`` marks it ``{"public": true}`` (then its
  ``note`` is shown, masked as above);
- media: photos only (jpeg, png, gif, webp, heic/heif, avif) of the phases before (处置前, which
  includes the reporter's own photo), after (处置后) and check (核查). Videos (body cameras film
  people) and documents (letters, complainants' papers) are never public, nor anything of the
  phase ``other``. The address is ``/media/<evidence id>-<HMAC>``: the HMAC-SHA256 of the
  evidence's id and content hash under ``settings.secret_key``, so it needs no table and cannot
  be guessed; changing the secret key withdraws every address handed out.

``expected_at`` is the case's whole-case deadline (``close_by``) where its channel sets one, else
the deadline of the stage running now (``due_at``); none once the case is closed, rejected or
suspended (挂账: its clocks are paused). ``agency_responsible`` is the handling unit (处置单位) of
the case standard the case was registered under, else of the matter's default standard.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.cases.models import (
    Case,
    CaseReport,
    CaseState,
    Evidence,
    EvidencePhase,
    TimelineEntry,
)
from urbanops.catalog.models import CaseStandard, CatalogEntry
from urbanops.config import get_settings


class PublicStatus(StrEnum):
    """GeoReport v2 statuses."""

    OPEN = "open"
    CLOSED = "closed"


class FmsStatus(StrEnum):
    """FixMyStreet's extended statuses, spelt as its Open311 client reads them."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    ACTION_SCHEDULED = "action_scheduled"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    CLOSED = "closed"
    DUPLICATE = "duplicate"
    NOT_RESPONSIBLE = "not_councils_responsibility"
    NO_FURTHER_ACTION = "no_further_action"
    INTERNAL_REFERRAL = "internal_referral"


CLOSED_STATES = frozenset({CaseState.CLOSED, CaseState.REJECTED})
#: Channels whose cases are never published (letters answered in writing to their senders).
UNPUBLISHED_CHANNELS = frozenset({"petition", "secretary_mailbox", "transfer_letter"})
MERGED_PREFIX = "merged into"  # the rejection reason ``cases.service.merge`` writes

#: Open states → FixMyStreet. A case waiting for 立案 is "open" (or "investigating" once 核实
#: began); registered and dispatched is "action_scheduled"; an officer at work until 结案 is
#: "in_progress"; 挂账 keeps "action_scheduled" (the work is planned, its clock paused).
_FMS_OF_OPEN_STATE: dict[CaseState, FmsStatus] = {
    CaseState.REPORTED: FmsStatus.OPEN,
    CaseState.REGISTERED: FmsStatus.ACTION_SCHEDULED,
    CaseState.DISPATCHED: FmsStatus.ACTION_SCHEDULED,
    CaseState.ACCEPTED: FmsStatus.IN_PROGRESS,
    CaseState.HANDLED: FmsStatus.IN_PROGRESS,
    CaseState.CHECKED: FmsStatus.IN_PROGRESS,
    CaseState.SUSPENDED: FmsStatus.ACTION_SCHEDULED,
}

#: The public wording of timeline actions (and only these, plus rows marked public).
PUBLIC_WORDING: dict[str, str] = {
    "report": "已收到您的反映，等待受理",
    "merge_report": "又收到一次同一问题的反映，合并办理",
    "verify": "正在核实",
    "register": "已立案，等待派遣",
    "reject": "经核实，不予立案",
    "merged": "与同一问题的另一案件合并办理",
    "dispatch": "已派遣执法队员处置",
    "redispatch": "已改派执法队员处置",
    "accept": "执法队员已签收，正在处置",
    "handle": "已处置，等待核查",
    "check": "核查通过，等待结案",
    "rework": "核查未通过，重新处置",
    "close": "已办结",
    "suspend": "暂缓处置",
    "resume": "恢复办理",
    "reopen": "重新办理",
}

#: Actions without a wording whose rows are public when marked so (their note is the text).
PUBLIC_NOTE_ACTIONS = frozenset({"note", "public_note", "open311_update"})

#: Photo types a public page may show; everything else stays inside.
PUBLIC_PHOTO_TYPES: dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
}
PUBLIC_PHASES = frozenset({EvidencePhase.BEFORE, EvidencePhase.AFTER, EvidencePhase.CHECK})
MEDIA_PATH = "/media/"
_MAC_BYTES = 18  # 144 bits, 24 characters of base64url

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")
MASK = "***"


@dataclass(frozen=True)
class PublicNote:
    """One public step of a case: when, what the public is told, the status it left behind."""

    update_id: str  # the timeline row's id: stable, unique, ordered
    at: datetime
    status: str  # public status after the step
    fms_status: str
    text: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PublicCase:
    """A case as anyone may see it (no personal data, no internal reasons)."""

    number: str  # 案件编号: the public id (Open311 service_request_id)
    status: str  # open | closed
    fms_status: str
    matter_code: str  # Open311 service_code
    matter_name: str
    description: str
    address: str | None
    lon: float
    lat: float
    requested_at: datetime
    updated_at: datetime  # the last public step (the closing one once closed)
    expected_at: datetime | None
    agency_responsible: str | None
    unit_grid_code: str | None  # the place's grid (Open311 address_id)
    notes: list[PublicNote]
    report_photo_urls: list[str]  # photos of the problem (处置前)
    after_photo_urls: list[str]  # photos of the result (处置后 and 核查)

    @property
    def status_notes(self) -> str | None:
        """What the last public step says."""
        return self.notes[-1].text if self.notes else None

    @property
    def media_url(self) -> str | None:
        """One photo for a one-photo answer: the problem's first, else the result's."""
        photos = self.report_photo_urls or self.after_photo_urls
        return photos[0] if photos else None


# --- statuses ---------------------------------------------------------------------------------


def is_published(case: Case) -> bool:
    """Whether the public may see this case at all (not a letter's case)."""
    return case.channel not in UNPUBLISHED_CHANNELS


def public_status(case: Case) -> str:
    """``closed`` once closed (结案) or rejected (不予立案 / merged); else ``open``."""
    return state_status(case.state)


def state_status(state: CaseState) -> str:
    """The public status of a case in ``state``."""
    return (PublicStatus.CLOSED if state in CLOSED_STATES else PublicStatus.OPEN).value


def fms_status(case: Case) -> str:
    """FixMyStreet's extended status of the case as it stands."""
    return fms_status_in(case, case.state)


def fms_status_in(case: Case, state: CaseState, *, verified: bool | None = None) -> str:
    """FixMyStreet's status of ``case`` when it was in ``state`` (for the steps of its history).

    ``verified``: whether 核实 had begun by then (default: whether it has now).
    """
    if state is CaseState.CLOSED:
        return FmsStatus.FIXED.value  # 结案 follows a passed 核查: the problem is fixed
    if state is CaseState.REJECTED:
        reason = case.rejection_reason or ""
        if reason.startswith(MERGED_PREFIX):
            return FmsStatus.DUPLICATE.value
        if not case.inside_jurisdiction:
            return FmsStatus.NOT_RESPONSIBLE.value
        return FmsStatus.CLOSED.value
    if verified is None:
        verified = case.verified_at is not None
    if state is CaseState.REPORTED and verified:
        return FmsStatus.INVESTIGATING.value
    return _FMS_OF_OPEN_STATE[state].value


def expected_at(case: Case) -> datetime | None:
    """When the case should be done: ``close_by``, else the running stage's ``due_at``."""
    if case.state in CLOSED_STATES or case.state is CaseState.SUSPENDED:
        return None
    return case.close_by or case.due_at


# --- masking -------------------------------------------------------------------------------------


def redact(text: str | None, known: Iterable[str] = ()) -> str | None:
    """``text`` with phone numbers, e-mail addresses, ID-card numbers and ``known`` masked."""
    if text is None:
        return None
    for value in sorted({k.strip() for k in known if k and len(k.strip()) >= 2}, key=len)[::-1]:
        text = text.replace(value, MASK)
    for pattern in (_EMAIL, _ID_CARD, _MOBILE, _LANDLINE):
        text = pattern.sub(MASK, text)
    return text


def _personal_values(reports: Sequence[CaseReport]) -> set[str]:
    values: set[str] = set()
    for r in reports:
        values.update(v for v in (r.complainant_name, r.complainant_phone, r.caller_number) if v)
        if r.complainant_name:  # "first last" as sent, and the name written without the space
            values.add(r.complainant_name.replace(" ", ""))
            values.update(r.complainant_name.split())
        for key in ("email", "first_name", "last_name", "phone", "account_id", "device_id"):
            value = (r.extra or {}).get(key)
            if isinstance(value, str) and value:
                values.add(value)
    return values


# --- media ---------------------------------------------------------------------------------------


def is_public_media(evidence: Evidence) -> bool:
    """A photo of the problem, the result or the check; never a video or a document."""
    return evidence.media_type in PUBLIC_PHOTO_TYPES and evidence.phase in PUBLIC_PHASES


def media_token(evidence: Evidence, *, secret_key: str | None = None) -> str:
    """``<id>-<mac>``: the evidence id and an HMAC of its id and content hash."""
    return f"{evidence.id}-{_mac(evidence.id, evidence.sha256, secret_key)}"


def public_media_url(
    session: Session, evidence: Evidence, *, base_url: str, secret_key: str | None = None
) -> str:
    """The public address of a public-able photo (``ValueError`` for anything else).

    ``secret_key`` defaults to the process settings' key; pass the app's when it has its own.
    """
    if not is_public_media(evidence):
        raise ValueError(f"evidence {evidence.id} is not public-able")
    extension = PUBLIC_PHOTO_TYPES[evidence.media_type]
    token = media_token(evidence, secret_key=secret_key)
    return f"{base_url.rstrip('/')}{MEDIA_PATH}{token}{extension}"


def stripped_photo(path: Path, *, sha256: str, media_type: str, cache_dir: Path) -> Path:
    """The photo as it goes public: pixels only, without EXIF/XMP (the phone, its owner's
    position and serial numbers stay in the evidence store). Written once per photo under
    ``cache_dir``; HEIC is never public because Pillow here cannot rewrite it."""
    extension = PUBLIC_PHOTO_TYPES[media_type]
    target = cache_dir / f"{sha256}{extension}"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with Image.open(path) as original:
        image = ImageOps.exif_transpose(original)
        fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}.get(media_type, "WEBP")
        partial = cache_dir / f".{sha256}.{os.getpid()}.partial"
        save: dict[str, Any] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
        image.save(partial, format=fmt, **save)
    os.replace(partial, target)
    return target


def evidence_for_token(
    session: Session, token: str, *, secret_key: str | None = None
) -> Evidence | None:
    """The public-able evidence a media token names, or None (unknown, forged or not public)."""
    stem = token.split(".", 1)[0]
    ident, _, mac = stem.partition("-")
    if not ident.isdigit() or len(ident) > 19 or not mac:
        return None
    evidence = session.get(Evidence, int(ident))
    if evidence is None or not is_public_media(evidence):
        return None
    expected = _mac(evidence.id, evidence.sha256, secret_key)
    return evidence if hmac.compare_digest(expected, mac) else None


def _mac(evidence_id: int, sha256: str, secret_key: str | None) -> str:
    key = (secret_key if secret_key is not None else get_settings().secret_key).encode()
    digest = hmac.new(key, f"urbanops-media:{evidence_id}:{sha256}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:_MAC_BYTES]).decode()


# --- the public case -----------------------------------------------------------------------------


def public_case(
    session: Session, case: Case, *, base_url: str, secret_key: str | None = None
) -> PublicCase:
    """The public view of one case."""
    return public_cases(session, [case], base_url=base_url, secret_key=secret_key)[0]


def public_cases(
    session: Session, cases: Sequence[Case], *, base_url: str, secret_key: str | None = None
) -> list[PublicCase]:
    """The public views of many cases, in their order, in five queries."""
    if not cases:
        return []
    facts = _Facts.load(session, cases)
    return [_build(session, case, facts, base_url, secret_key) for case in cases]


@dataclass
class _Facts:
    """Everything the public views need beyond the cases, fetched once for all of them."""

    rows: dict[int, list[TimelineEntry]]
    evidence: dict[int, list[Evidence]]
    personal: dict[int, set[str]]
    matter_names: dict[str, str]
    agencies: dict[int, str]  # standard id → handling unit
    default_agencies: dict[str, str]  # matter code → its default standard's handling unit

    @classmethod
    def load(cls, session: Session, cases: Sequence[Case]) -> _Facts:
        ids = [c.id for c in cases]
        rows: dict[int, list[TimelineEntry]] = defaultdict(list)
        query = select(TimelineEntry).where(TimelineEntry.case_id.in_(ids))
        for row in session.scalars(query.order_by(TimelineEntry.at, TimelineEntry.id)):
            rows[row.case_id].append(row)
        evidence: dict[int, list[Evidence]] = defaultdict(list)
        query_e = select(Evidence).where(Evidence.case_id.in_(ids))
        for item in session.scalars(query_e.order_by(Evidence.created_at, Evidence.id)):
            if is_public_media(item):
                evidence[item.case_id].append(item)
        reports: dict[int, list[CaseReport]] = defaultdict(list)
        for report in session.scalars(select(CaseReport).where(CaseReport.case_id.in_(ids))):
            reports[report.case_id].append(report)
        codes = {c.matter_code for c in cases}
        names = session.execute(
            select(CatalogEntry.code, CatalogEntry.name).where(
                CatalogEntry.kind == "matter", CatalogEntry.code.in_(codes)
            )
        )
        agencies: dict[int, str] = {}
        defaults: dict[str, str] = {}
        standards = session.execute(
            select(CaseStandard.id, CaseStandard.handling_unit, CaseStandard.is_default,
                   CatalogEntry.code)
            .join(CatalogEntry, CatalogEntry.id == CaseStandard.matter_id)
            .where(CatalogEntry.code.in_(codes), CatalogEntry.kind == "matter")
        )  # fmt: skip
        for standard_id, unit, is_default, code in standards:
            agencies[standard_id] = unit
            if is_default:
                defaults[code] = unit
        return cls(
            rows=rows,
            evidence=evidence,
            personal={i: _personal_values(reports[i]) for i in ids},
            matter_names={code: name for code, name in names},
            agencies=agencies,
            default_agencies=defaults,
        )


def _build(
    session: Session, case: Case, facts: _Facts, base_url: str, secret_key: str | None
) -> PublicCase:
    known = facts.personal.get(case.id, set())
    photos = facts.evidence.get(case.id, [])

    def url(e: Evidence) -> str:
        return public_media_url(session, e, base_url=base_url, secret_key=secret_key)

    notes = _notes(case, facts.rows.get(case.id, []), photos, known, url)
    agency = facts.agencies.get(case.standard_id) if case.standard_id is not None else None
    return PublicCase(
        number=case.number,
        status=public_status(case),
        fms_status=fms_status(case),
        matter_code=case.matter_code,
        matter_name=facts.matter_names.get(case.matter_code, case.matter_code),
        description=redact(case.description, known) or "",
        address=redact(case.address, known),
        lon=case.lon,
        lat=case.lat,
        requested_at=case.reported_at,
        updated_at=notes[-1].at if notes else case.reported_at,
        expected_at=expected_at(case),
        agency_responsible=agency or facts.default_agencies.get(case.matter_code),
        unit_grid_code=case.unit_grid_code,
        notes=notes,
        report_photo_urls=[url(e) for e in photos if e.phase is EvidencePhase.BEFORE],
        after_photo_urls=[url(e) for e in photos if e.phase is not EvidencePhase.BEFORE],
    )


def public_text(row: TimelineEntry, known: Iterable[str] = ()) -> str | None:
    """What the public is told of a timeline row, or None when the row is internal.

    The action's public wording; for a row marked ``{"public": true}`` also its note (or else
    its reason), masked.
    """
    wording = PUBLIC_WORDING.get(row.action)
    if (row.data or {}).get("public") is True:
        said = redact(row.note or row.reason, known)
        if said:
            return f"{wording}：{said}" if wording else said
    return wording


def candidate_actions() -> frozenset[str]:
    """Timeline actions that may be public (a query's first sieve before ``public_text``)."""
    return frozenset(PUBLIC_WORDING) | PUBLIC_NOTE_ACTIONS


def _notes(
    case: Case,
    rows: Sequence[TimelineEntry],
    photos: Sequence[Evidence],
    known: set[str],
    url: Callable[[Evidence], str],
) -> list[PublicNote]:
    """The public steps, each with the photos hung on it; loose result photos go with the
    last 处置 (handle) step, loose report photos with the first step."""
    by_step: dict[int | None, list[Evidence]] = defaultdict(list)
    for photo in photos:
        by_step[photo.timeline_entry_id].append(photo)
    public = [(row, text) for row in rows if (text := public_text(row, known)) is not None]
    handle_ids = [row.id for row, _ in public if row.action == "handle"]
    notes = []
    verified = False
    for i, (row, text) in enumerate(public):
        verified = verified or row.action == "verify"
        media = list(by_step.get(row.id, []))
        loose = by_step.get(None, [])
        if i == 0:
            media += [p for p in loose if p.phase is EvidencePhase.BEFORE]
        if handle_ids and row.id == handle_ids[-1]:
            media += [p for p in loose if p.phase is not EvidencePhase.BEFORE]
        state = CaseState(row.to_state) if row.to_state else case.state
        notes.append(
            PublicNote(
                update_id=str(row.id),
                at=row.at,
                status=state_status(state),
                fms_status=fms_status_in(case, state, verified=verified),
                text=text,
                media_urls=[url(p) for p in media],
            )
        )
    return notes
