"""Evidence (证据材料): photos, videos and documents on a case or on one step of its timeline.

Files live under the evidence root, content-addressed by SHA-256 (``root/ab/cd/<sha256>``), written
atomically and durably, and verified against their hash on every read. Type and size are judged
from the bytes, never from the name. See docs/decisions/0004-evidence-store.md.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.cases import timeline
from urbanops.cases.models import Case, Evidence, EvidencePhase, TimelineEntry
from urbanops.kit.actor import Actor
from urbanops.kit.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from urbanops.config import Settings

log = logging.getLogger(__name__)

MiB = 1024 * 1024
CHUNK = MiB
HEAD_BYTES = 64
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
# errno values that mean "the disk cannot take this file" (not a bug, not the client's fault).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"


#: Largest file accepted per kind, in bytes.
LIMITS: dict[EvidenceKind, int] = {
    EvidenceKind.PHOTO: 20 * MiB,
    EvidenceKind.VIDEO: 500 * MiB,
    EvidenceKind.DOCUMENT: 50 * MiB,
}


@dataclass(frozen=True)
class FileType:
    """A type we accept: its media type, kind, and the declared types and extensions that fit it."""

    media_type: str
    kind: EvidenceKind
    aliases: frozenset[str]
    extensions: frozenset[str]


def _type(media_type: str, kind: EvidenceKind, aliases: str, extensions: str) -> FileType:
    return FileType(
        media_type, kind, frozenset({media_type, *aliases.split()}), frozenset(extensions.split())
    )


_ISO_VIDEO = "video/mp4 video/quicktime video/3gpp video/3gpp2 video/x-m4v"
_ISO_VIDEO_EXT = ".mp4 .m4v .mov .3gp .3g2"
_HEIF = "image/heic image/heif image/heic-sequence image/heif-sequence"
_OOXML = "application/zip application/x-zip-compressed"
TYPES: dict[str, FileType] = {
    t.media_type: t
    for t in (
        _type("image/jpeg", EvidenceKind.PHOTO, "image/jpg image/pjpeg", ".jpg .jpeg .jpe .jfif"),
        _type("image/png", EvidenceKind.PHOTO, "", ".png"),
        _type("image/gif", EvidenceKind.PHOTO, "", ".gif"),
        _type("image/webp", EvidenceKind.PHOTO, "", ".webp"),
        _type("image/heic", EvidenceKind.PHOTO, _HEIF, ".heic .heif .hif"),
        _type("image/heif", EvidenceKind.PHOTO, _HEIF, ".heic .heif .hif"),
        _type("image/avif", EvidenceKind.PHOTO, "", ".avif"),
        _type("video/mp4", EvidenceKind.VIDEO, _ISO_VIDEO, _ISO_VIDEO_EXT),
        _type("video/quicktime", EvidenceKind.VIDEO, _ISO_VIDEO, _ISO_VIDEO_EXT),
        _type("video/3gpp", EvidenceKind.VIDEO, _ISO_VIDEO, _ISO_VIDEO_EXT),
        _type("video/x-msvideo", EvidenceKind.VIDEO, "video/avi video/msvideo", ".avi"),
        _type("application/pdf", EvidenceKind.DOCUMENT, "application/x-pdf", ".pdf"),
        _type(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            EvidenceKind.DOCUMENT,
            _OOXML,
            ".docx",
        ),
        _type(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            EvidenceKind.DOCUMENT,
            _OOXML,
            ".xlsx",
        ),
        _type(
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            EvidenceKind.DOCUMENT,
            _OOXML,
            ".pptx",
        ),
        _type("application/msword", EvidenceKind.DOCUMENT, "", ".doc"),
        _type("application/vnd.ms-excel", EvidenceKind.DOCUMENT, "", ".xls"),
    )
}
_ZIP_CANDIDATE = "application/zip"  # decided after the whole file is in: which OOXML, if any
_OLE_CANDIDATE = "application/x-ole-storage"  # .doc or .xls: the declaration decides
_OOXML_PARTS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_HEIF_BRANDS = {"heic", "heix", "hevc", "hevx", "heim", "heis"}
_HEIF_GENERIC_BRANDS = {"mif1", "msf1", "mif2"}
_AVIF_BRANDS = {"avif", "avis"}
_3GP_BRANDS = {"3gp4", "3gp5", "3gp6", "3gp7", "3ge6", "3ge7", "3gg6", "3g2a", "3g2b", "3g2c"}


def media_kind(media_type: str) -> EvidenceKind:
    """Photo, video or document, from a stored media type."""
    return TYPES[media_type].kind if media_type in TYPES else EvidenceKind.DOCUMENT


def sniff(head: bytes) -> str | None:
    """The media type the first bytes announce (magic numbers), or None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return _ZIP_CANDIDATE
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _OLE_CANDIDATE
    return None


def _sniff_iso_bmff(head: bytes) -> str | None:
    """HEIF photo or MP4 / MOV / 3GP video, from the ``ftyp`` box's brands."""
    size = int.from_bytes(head[:4], "big")
    box = head[8 : min(max(size, 16), len(head))]
    brands = {box[i : i + 4].decode("latin-1") for i in range(0, len(box) - 3, 4) if i != 4}
    major = box[:4].decode("latin-1")
    if major in _HEIF_BRANDS or (major in _HEIF_GENERIC_BRANDS and brands & _HEIF_BRANDS):
        return "image/heic"
    if major in _AVIF_BRANDS or (major in _HEIF_GENERIC_BRANDS and brands & _AVIF_BRANDS):
        return "image/avif"
    if major in _HEIF_GENERIC_BRANDS:
        return "image/heif"
    if major == "qt  ":
        return "video/quicktime"
    if major in _3GP_BRANDS:
        return "video/3gpp"
    return "video/mp4"  # isom, iso2..9, mp41, mp42, avc1, M4V, dash, …: the ISO family


def _refine(candidate: str, path: Path, declared: str, extension: str) -> str:
    """Decide a ZIP's OOXML type from its parts, and an OLE file's from its declaration."""
    if candidate == _OLE_CANDIDATE:
        for media_type in ("application/msword", "application/vnd.ms-excel"):
            if declared == media_type or extension in TYPES[media_type].extensions:
                return media_type
        raise _unsupported("an OLE compound file that is not declared as .doc or .xls", declared)
    if candidate != _ZIP_CANDIDATE:
        return candidate
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unsupported("a damaged ZIP archive", declared) from exc
    if "[Content_Types].xml" in names:
        for prefix, media_type in _OOXML_PARTS.items():
            if any(n.startswith(prefix) for n in names):
                return media_type
    raise _unsupported("a ZIP archive that is not a Word, Excel or PowerPoint file", declared)


def _unsupported(what: str, declared: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file's bytes are {what}; accepted are photos (JPEG, PNG, WebP, HEIC, GIF), videos "
        "(MP4, MOV, 3GP, AVI) and documents (PDF, Word, Excel)",
        code="unsupported_type",
        declared_type=declared or None,
    )


def check_declaration(media_type: str, *, declared: str, extension: str) -> None:
    """Refuse (415 ``type_mismatch``) a declared type or a file extension that the bytes belie."""
    file_type = TYPES[media_type]
    if declared not in GENERIC_TYPES and declared not in file_type.aliases:
        raise _mismatch(media_type, declared=declared, extension=extension)
    if extension and extension not in file_type.extensions:
        raise _mismatch(media_type, declared=declared, extension=extension)


def _mismatch(media_type: str, *, declared: str, extension: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"The file's bytes are {media_type}, not what its name or declared type says",
        code="type_mismatch",
        detected_type=media_type,
        declared_type=declared or None,
        extension=extension or None,
    )


# ---- the store ----------------------------------------------------------------------------------


class StoreFull(Problem):
    status, code, title = 507, "evidence_store_full", "The evidence store is full"


@dataclass
class Staged:
    """A file received into the store's incoming area, hashed and sized, not yet in place."""

    path: Path
    sha256: str
    size: int
    head: bytes


class EvidenceStore:
    """Content-addressed files under ``root``: ``root/ab/cd/<sha256>``, verified on read.

    ``min_free_bytes`` is kept free on the root's disk: a file is refused (507) when less is free
    before it is written or would be once it is.
    """

    def __init__(self, root: Path, *, chunk_size: int = CHUNK, min_free_bytes: int = 0) -> None:
        self.root = Path(root)
        self.chunk_size = chunk_size
        self.min_free_bytes = min_free_bytes
        self.incoming = self.root / ".incoming"

    @classmethod
    def for_settings(cls, settings: Settings) -> EvidenceStore:
        """The store at the configured root, with the configured reserve of free space."""
        return cls(settings.evidence_root, min_free_bytes=settings.evidence_min_free_bytes)

    def path_of(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if not SHA256_RE.match(sha256):
            raise InvalidInput("Not a SHA-256 hex digest", code="invalid_sha256")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def files(self) -> list[Path]:
        """Every regular file under the root, incoming ones included (for audits and tests)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    @contextlib.contextmanager
    def receive(self, stream: BinaryIO, *, head: bytes = b"", max_bytes: int) -> Iterator[Staged]:
        """Copy ``head`` + ``stream`` to an incoming file, hashing as it goes; removed on exit.

        Stops reading past ``max_bytes`` (413 ``too_large``); a full disk, or one that has less
        than the reserve free before the file or after it, answers 507.
        """
        self._check_reserve()
        fd, name = self._open_incoming()
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = self._copy(head, stream, out, max_bytes)
                out.flush()
                os.fsync(out.fileno())
            self._check_reserve()  # the staged file counts: putting it in place takes no more
            yield Staged(path=path, sha256=digest, size=size, head=head)
        except OSError as exc:
            raise _os_problem(exc) from exc
        finally:
            path.unlink(missing_ok=True)

    def _check_reserve(self) -> None:
        """507 when the root's disk has less than ``min_free_bytes`` free."""
        if not self.min_free_bytes:
            return
        existing = next(p for p in (self.root, *self.root.parents) if p.exists())
        free = shutil.disk_usage(existing).free
        if free < self.min_free_bytes:
            log.error("evidence store below its reserve: %d bytes free of %d kept", free,
                      self.min_free_bytes)  # fmt: skip
            raise StoreFull("The evidence store is short of space; the file was not kept")

    def _open_incoming(self) -> tuple[int, str]:
        try:
            self.incoming.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=self.incoming, prefix="up-")
        except OSError as exc:
            raise _os_problem(exc) from exc

    def _copy(
        self, head: bytes, stream: BinaryIO, out: BinaryIO, max_bytes: int
    ) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        chunk = head or stream.read(self.chunk_size)
        while chunk:
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"The file is larger than the {max_bytes // MiB} MiB allowed for its kind",
                    code="too_large",
                    max_bytes=max_bytes,
                )
            digest.update(chunk)
            out.write(chunk)
            chunk = stream.read(self.chunk_size)
        return digest.hexdigest(), size

    def commit(self, staged: Staged) -> bool:
        """Move a staged file into place (atomic, durable); False when the blob was there."""
        target = self.path_of(staged.sha256)
        if target.exists() and self._digest(target) == staged.sha256:
            return False  # same bytes already stored: one blob serves every upload of them
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, target)
            _fsync_dir(target.parent)
            _fsync_dir(target.parent.parent)
            _fsync_dir(self.root)
        except OSError as exc:
            raise _os_problem(exc) from exc
        return True

    def verify(self, sha256: str, *, size: int | None = None) -> Path:
        """The blob's path once its bytes hash to ``sha256``; else a 409 problem."""
        path = self.path_of(sha256)
        if not path.is_file():
            raise _missing(sha256)
        if (size is not None and path.stat().st_size != size) or self._digest(path) != sha256:
            raise _corrupted(sha256)
        return path

    def open(self, sha256: str) -> bytes:
        """The blob's bytes, verified against the hash they were stored under."""
        path = self.path_of(sha256)
        if not path.is_file():
            raise _missing(sha256)
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise _corrupted(sha256)
        return data

    def _digest(self, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(self.chunk_size):
                digest.update(chunk)
        return digest.hexdigest()


def _missing(sha256: str) -> Conflict:
    log.error("evidence blob %s is missing", sha256)
    return Conflict(
        "The evidence file is missing from the store", code="evidence_missing", sha256=sha256
    )


def _corrupted(sha256: str) -> Conflict:
    log.error("evidence blob %s does not match its hash", sha256)
    return Conflict(
        "The stored file no longer matches its SHA-256; it was altered or damaged",
        code="evidence_corrupted",
        sha256=sha256,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_problem(exc: OSError) -> Exception:
    """A full disk is a 507 problem; any other OS error stays what it is (a bug or an outage)."""
    if exc.errno in FULL_ERRNOS:
        log.error("evidence store full: %s", exc)
        return StoreFull("The evidence store has no space left; the file was not kept")
    return exc


# ---- EXIF ---------------------------------------------------------------------------------------

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_EXIF_ERRORS = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    SyntaxError,
)


@dataclass(frozen=True)
class PhotoFacts:
    """What a photo says about itself: when (UTC) and where (WGS84) it was taken, if it says."""

    taken_at: datetime | None = None
    lon: float | None = None
    lat: float | None = None


def read_exif(path: Path, *, local_tz: ZoneInfo) -> PhotoFacts:
    """The EXIF capture time and GPS position of a photo; empty facts when absent or unreadable."""
    from PIL import Image

    try:  # Pillow reads only the header here, never the pixels
        with Image.open(path) as image:
            exif = image.getexif()
            taken = _taken_at(exif.get_ifd(_EXIF_IFD), local_tz)
            lon, lat = _position(exif.get_ifd(_GPS_IFD))
    except (
        *_EXIF_ERRORS,
        Image.DecompressionBombError,
    ) as exc:  # a photo with broken EXIF is still a photo
        log.info("EXIF not readable in %s: %s", path.name, exc)
        return PhotoFacts()
    return PhotoFacts(taken_at=taken, lon=lon, lat=lat)


def _taken_at(ifd: dict[int, Any], local_tz: ZoneInfo) -> datetime | None:
    """DateTimeOriginal in its OffsetTimeOriginal, else in the local time zone, as UTC."""
    raw = _text(ifd.get(_DATETIME_ORIGINAL))
    if not raw:
        return None
    try:
        local = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other placeholders
    offset = _offset(_text(ifd.get(_OFFSET_TIME_ORIGINAL)))
    return local.replace(tzinfo=offset or local_tz).astimezone(UTC)


def _offset(raw: str | None) -> timezone | None:
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", raw or "")
    if not match:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    return timezone(timedelta(minutes=-minutes if match[1] == "-" else minutes))


def _position(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    """Decimal WGS84 longitude and latitude from the GPS IFD (degrees, minutes, seconds)."""
    if _GPS_LAT not in gps or _GPS_LON not in gps:
        return None, None
    lat = _degrees(gps[_GPS_LAT]) * (-1 if _text(gps.get(_GPS_LAT_REF)) == "S" else 1)
    lon = _degrees(gps[_GPS_LON]) * (-1 if _text(gps.get(_GPS_LON_REF)) == "W" else 1)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None  # out of range, or the 0/0 a phone writes without a fix
    return round(lon, 7), round(lat, 7)


def _degrees(dms: Any) -> float:
    d, m, s = (float(v) for v in dms)
    return d + m / 60 + s / 3600


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ").strip() if isinstance(value, str) else None


# ---- the service --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file as it arrives: its bytes, and what the sender says it is."""

    stream: BinaryIO
    filename: str | None = None
    declared_type: str | None = None


def attach(
    session: Session,
    *,
    store: EvidenceStore,
    case_id: int,
    upload: Upload,
    phase: EvidencePhase,
    by: Actor,
    now: datetime,
    timeline_entry_id: int | None = None,
    local_tz: ZoneInfo = ZoneInfo("Asia/Shanghai"),
) -> Evidence:
    """Store a file on a case (or one of its steps) and add its row and a timeline row.

    The blob is in place before the row is added; a refused file leaves no row and no blob.
    """
    case = _case(session, case_id)
    _check_step(session, case_id=case_id, timeline_entry_id=timeline_entry_id)
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    filename = clean_filename(upload.filename)
    extension = os.path.splitext(filename or "")[1].lower()
    head = upload.stream.read(HEAD_BYTES)
    candidate = sniff(head)
    if candidate is None:
        raise _unsupported("of no accepted type", declared)
    kind = TYPES[candidate].kind if candidate in TYPES else EvidenceKind.DOCUMENT
    if candidate in TYPES:
        check_declaration(candidate, declared=declared, extension=extension)
    with store.receive(upload.stream, head=head, max_bytes=LIMITS[kind]) as staged:
        media_type = _refine(candidate, staged.path, declared, extension)
        check_declaration(media_type, declared=declared, extension=extension)
        facts = _facts(staged.path, media_type, local_tz)
        store.commit(staged)
    evidence = Evidence(
        case_id=case.id,
        timeline_entry_id=timeline_entry_id,
        phase=phase,
        sha256=staged.sha256,
        size=staged.size,
        media_type=media_type,
        filename=filename,
        taken_at=facts.taken_at,
        taken_lon=facts.lon,
        taken_lat=facts.lat,
        created_at=now,
        created_by=by.ref,
    )
    session.add(evidence)
    session.flush()
    _record(session, case, evidence, by=by, now=now)
    return evidence


def _facts(path: Path, media_type: str, local_tz: ZoneInfo) -> PhotoFacts:
    """EXIF facts of the photo types Pillow reads; nothing for the others."""
    if media_type in ("image/jpeg", "image/png", "image/webp"):
        return read_exif(path, local_tz=local_tz)
    return PhotoFacts()


def _record(session: Session, case: Case, evidence: Evidence, *, by: Actor, now: datetime) -> None:
    timeline.record(
        session,
        case,
        by=by,
        action="evidence",
        at=now,
        note=evidence.filename or evidence.sha256[:12],
        data={
            "evidence_id": evidence.id,
            "sha256": evidence.sha256,
            "media_type": evidence.media_type,
            "size": evidence.size,
            "phase": evidence.phase.value,
            "timeline_entry_id": evidence.timeline_entry_id,
        },
    )


def clean_filename(name: str | None) -> str | None:
    """The file's base name without directories or control characters, at most 256 characters."""
    if not name:
        return None
    base = re.sub(r"[\x00-\x1f\x7f]", "", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not base or base in (".", ".."):
        return None
    if len(base) > 256:
        stem, ext = os.path.splitext(base)
        base = stem[: 256 - len(ext[:16])] + ext[:16]
    return base


def _case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"No case {case_id}", code="case_not_found")
    return case


def _check_step(session: Session, *, case_id: int, timeline_entry_id: int | None) -> None:
    """A file may hang on one step of the case's own timeline, and no other."""
    if timeline_entry_id is None:
        return
    entry = session.get(TimelineEntry, timeline_entry_id)
    if entry is None or entry.case_id != case_id:
        raise InvalidInput(
            f"Timeline entry {timeline_entry_id} is not a step of case {case_id}",
            code="timeline_entry_not_on_case",
        )


def list_for_case(session: Session, *, case_id: int) -> Sequence[Evidence]:
    """The case's evidence in the order it arrived (404 for an unknown case)."""
    _case(session, case_id)
    query = select(Evidence).where(Evidence.case_id == case_id)
    return session.scalars(query.order_by(Evidence.created_at, Evidence.id)).all()


def get(session: Session, *, case_id: int, evidence_id: int) -> Evidence:
    """One evidence row of a case (404 when it is not on that case)."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.case_id != case_id:
        raise NotFound(f"No evidence {evidence_id} on case {case_id}", code="evidence_not_found")
    return evidence


def read(
    session: Session, *, store: EvidenceStore, case_id: int, evidence_id: int
) -> tuple[Evidence, Path]:
    """An evidence row and the path of its file, verified against its SHA-256 (409 if not)."""
    evidence = get(session, case_id=case_id, evidence_id=evidence_id)
    return evidence, store.verify(evidence.sha256, size=evidence.size)
