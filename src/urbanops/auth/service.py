"""Users, passwords, sessions, tokens and API keys (filled in by the auth work)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from urbanops.kit.actor import Actor


def authenticate_request(session: Session, *, request: Request, now: datetime) -> Actor | None:
    raise NotImplementedError
