"""Real files for the evidence tests: JPEGs with EXIF (Pillow), a PNG, an XLSX, a tiny disk."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

MiB = 1024 * 1024


def jpeg(
    *,
    taken: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    colour: tuple[int, int, int] = (200, 30, 30),
) -> bytes:
    """A small real JPEG; with EXIF DateTimeOriginal / OffsetTimeOriginal / GPS when given."""
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[0x9003] = taken
    if offset:
        exif.get_ifd(0x8769)[0x9011] = offset
    if gps:
        lon, lat = gps
        info = exif.get_ifd(0x8825)
        info[1], info[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        info[3], info[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 128, 0)).save(buf, "PNG")
    return buf.getvalue()


def xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"] = "整改台账"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def padded(data: bytes, size: int) -> bytes:
    """``data`` followed by zeros up to ``size`` bytes (the magic number still says what it is)."""
    return data + b"\0" * (size - len(data))


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "128k") -> Iterator[bool]:
    """Mount a tmpfs of ``size`` at ``path`` when this process may (root); yields whether it did."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", str(path)], check=True)
