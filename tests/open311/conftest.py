"""Open311 fixtures: demo people, an integration key, and a real HTTP server holding photos."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.orm import Session

from tests.cases.conftest import people
from tests.cases.evidence_files import jpeg
from urbanops.auth import service as auth_service
from urbanops.kit.actor import SYSTEM, Role
from urbanops.kit.clock import ManualClock

__all__ = ["people"]

V2 = "/open311/v2"


@pytest.fixture
def api_key(db: Session, clock: ManualClock) -> str:
    """A FixMyStreet installation's integration key (committed, as a key issued earlier is)."""
    _, key = auth_service.create_api_key(
        db, name="FixMyStreet Longhua", principal_kind="integration", roles=[Role.INTEGRATION],
        by=SYSTEM, now=clock.now(),
    )  # fmt: skip
    db.commit()
    return key


@dataclass(frozen=True)
class PhotoServer:
    """A local web server: ``/photo.jpg``, ``/page.html``, ``/moved``, ``/huge.jpg``, 404s."""

    base_url: str
    photo: bytes
    hits: list[str]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture
def photo_server() -> Iterator[PhotoServer]:
    photo = jpeg(taken="2026:11:26 08:30:00", gps=(114.0423, 22.7056))  # a phone's EXIF
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            if self.path == "/photo.jpg":
                self._send(200, "image/jpeg", photo)
            elif self.path == "/page.html":
                self._send(200, "text/html", b"<html><body>not a photo</body></html>")
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/photo.jpg")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/huge.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(64 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(photo)
            else:
                self._send(404, "text/plain", b"no such file")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PhotoServer(f"http://127.0.0.1:{server.server_address[1]}", photo, hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
