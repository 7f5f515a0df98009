"""The evidence store, type sniffing and EXIF reading, on real files (no database)."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.cases.evidence_files import MiB, jpeg, padded, png, xlsx
from urbanops.cases.evidence import (
    EvidenceStore,
    _refine,
    check_declaration,
    read_exif,
    sniff,
)
from urbanops.kit.errors import Problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _put(store: EvidenceStore, data: bytes, max_bytes: int = 20 * MiB) -> tuple[str, bool]:
    with store.receive(io.BytesIO(data), max_bytes=max_bytes) as staged:
        created = store.commit(staged)
    return staged.sha256, created


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\0\0\0\0" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0" * 32


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
        (b"GIF89a\x10\0\x10\0", "image/gif"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\0\0\0AVI LIST", "video/x-msvideo"),
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"mif1"), "image/heif"),
        (_ftyp(b"isom", b"isom", b"iso2", b"mp41"), "video/mp4"),
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (_ftyp(b"3gp4", b"3gp4", b"isom"), "video/3gpp"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "application/pdf"),
        (b"hello, this is a plain text note", None),
        (b"", None),
    ],
)
def test_the_bytes_not_the_name_say_what_a_file_is(head: bytes, media_type: str | None) -> None:
    assert sniff(head[:64]) == media_type


def test_an_excel_workbook_is_told_from_a_plain_zip(tmp_path: Path) -> None:
    book = tmp_path / "ledger"
    book.write_bytes(xlsx())
    assert sniff(book.read_bytes()[:64]) == "application/zip"
    assert _refine("application/zip", book, "", "").endswith("spreadsheetml.sheet")
    archive = tmp_path / "plain.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", root_dir=tmp_path, base_dir="ledger")
    with pytest.raises(Problem) as refused:
        _refine("application/zip", archive, "application/zip", ".zip")
    assert (refused.value.status, refused.value.code) == (415, "unsupported_type")


@pytest.mark.parametrize(
    ("declared", "name_ext"),
    [("application/pdf", ""), ("", ".pdf"), ("image/jpeg", ".png"), ("text/plain", "")],
)
def test_a_png_that_claims_to_be_something_else_is_a_mismatch(declared: str, name_ext: str) -> None:
    with pytest.raises(Problem) as refused:
        check_declaration("image/png", declared=declared, extension=name_ext)
    assert (refused.value.status, refused.value.code) == (415, "type_mismatch")


def test_honest_and_silent_declarations_pass() -> None:
    check_declaration("image/jpeg", declared="image/jpeg", extension=".jpg")
    check_declaration("image/jpeg", declared="application/octet-stream", extension="")
    check_declaration("video/quicktime", declared="video/quicktime", extension=".mov")
    check_declaration("image/heic", declared="image/heif", extension=".heic")


def test_a_file_lands_at_its_content_address_and_reads_back(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    data = jpeg()
    sha, created = _put(store, data)
    assert created and sha == hashlib.sha256(data).hexdigest()
    assert store.path_of(sha) == tmp_path / sha[:2] / sha[2:4] / sha
    assert store.open(sha) == data
    assert store.verify(sha, size=len(data)) == store.path_of(sha)
    assert store.files() == [store.path_of(sha)]  # the incoming file is gone


def test_the_same_bytes_twice_are_one_blob(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    first, created_first = _put(store, jpeg())
    second, created_second = _put(store, jpeg())
    assert first == second and created_first and not created_second
    assert len(store.files()) == 1


def test_a_damaged_blob_is_repaired_by_the_next_upload_of_its_bytes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path)
    data = jpeg()
    sha, _ = _put(store, data)
    store.path_of(sha).write_bytes(b"bit rot")
    assert _put(store, data) == (sha, True)
    assert store.open(sha) == data


@pytest.mark.parametrize("tamper", ["flip", "truncate", "delete"])
def test_a_tampered_blob_is_refused_on_read(tmp_path: Path, tamper: str) -> None:
    store = EvidenceStore(tmp_path)
    data = jpeg()
    sha, _ = _put(store, data)
    path = store.path_of(sha)
    if tamper == "flip":
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    elif tamper == "truncate":
        path.write_bytes(data[:100])
    else:
        path.unlink()
    expected = "evidence_missing" if tamper == "delete" else "evidence_corrupted"
    for read in (lambda: store.open(sha), lambda: store.verify(sha, size=len(data))):
        with pytest.raises(Problem) as refused:
            read()
        assert (refused.value.status, refused.value.code) == (409, expected)


class CountingReader(io.BytesIO):
    """A real stream that remembers how many bytes were asked of it."""

    taken = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def test_a_file_over_the_limit_stops_being_read_and_leaves_nothing(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, chunk_size=64 * 1024)
    stream = CountingReader(padded(jpeg(), 8 * MiB))
    with pytest.raises(Problem) as refused, store.receive(stream, max_bytes=1 * MiB):
        pytest.fail("a file over the limit was staged")
    assert (refused.value.status, refused.value.code) == (413, "too_large")
    assert stream.taken <= 1 * MiB + 64 * 1024
    assert store.files() == []


def test_a_bad_hash_is_not_a_path(tmp_path: Path) -> None:
    with pytest.raises(Problem) as refused:
        EvidenceStore(tmp_path).path_of("../../etc/passwd")
    assert refused.value.status == 422


def test_exif_time_with_its_offset_and_gps_position(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg(taken="2026:11:26 08:30:15", offset="+08:00", gps=(114.0173, 22.7085)))
    facts = read_exif(photo, local_tz=SHANGHAI)
    assert facts.taken_at == datetime(2026, 11, 26, 0, 30, 15, tzinfo=UTC)
    assert facts.lon == pytest.approx(114.0173, abs=1e-6)
    assert facts.lat == pytest.approx(22.7085, abs=1e-6)


def test_exif_time_without_offset_is_read_as_beijing_time(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg(taken="2026:11:26 08:30:15"))
    facts = read_exif(photo, local_tz=SHANGHAI)
    assert facts.taken_at == datetime(2026, 11, 26, 0, 30, 15, tzinfo=UTC)
    assert (facts.lon, facts.lat) == (None, None)


def test_southern_and_western_positions_are_negative(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg(taken="2026:01:02 03:04:05", offset="-03:00", gps=(-43.2, -22.9)))
    facts = read_exif(photo, local_tz=SHANGHAI)
    assert facts.taken_at == datetime(2026, 1, 2, 6, 4, 5, tzinfo=UTC)
    assert facts.lon == pytest.approx(-43.2, abs=1e-6)
    assert facts.lat == pytest.approx(-22.9, abs=1e-6)


def test_photos_without_exif_or_with_placeholder_time_have_no_facts(tmp_path: Path) -> None:
    for name, data in (("plain.jpg", jpeg()), ("zero.jpg", jpeg(taken="0000:00:00 00:00:00"))):
        (tmp_path / name).write_bytes(data)
        facts = read_exif(tmp_path / name, local_tz=SHANGHAI)
        assert (facts.taken_at, facts.lon, facts.lat) == (None, None, None)
    (tmp_path / "a.png").write_bytes(png())
    assert read_exif(tmp_path / "a.png", local_tz=SHANGHAI).taken_at is None


_FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import io, subprocess, sys
    from pathlib import Path
    root = Path(sys.argv[1])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(root)], check=True)
    from urbanops.cases.evidence import EvidenceStore
    from urbanops.kit.errors import Problem
    store = EvidenceStore(root)
    try:
        with store.receive(io.BytesIO(b"\\xff\\xd8\\xff" + b"x" * (1 << 20)), max_bytes=1 << 24):
            print("STAGED")
    except Problem as exc:
        print("PROBLEM", exc.status, exc.code)
    print("FILES", len(store.files()))
    """
)


def test_a_full_disk_answers_507_and_leaves_no_file(tmp_path: Path) -> None:
    """On a real 128 KiB tmpfs (a private mount namespace), writing 1 MiB fails with ENOSPC."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("util-linux unshare is not installed")
    root = tmp_path / "tiny"
    root.mkdir()
    run = subprocess.run(
        [
            unshare,
            "--user",
            "--map-root-user",
            "--mount",
            sys.executable,
            "-c",
            _FULL_DISK_SCRIPT,
            str(root),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if "Operation not permitted" in run.stderr or "unshare failed" in run.stderr:
        pytest.skip(f"no private mount namespace here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["PROBLEM 507 evidence_store_full", "FILES 0"]
