"""Raise, resolve, acknowledge and list alerts; services flush, the caller commits.

Any module raises into one store: ``raise_alert(session, kind=..., at=..., title=...)``. A
``dedupe_key`` names the news (``left_grid:<officer id>``, ``device_offline:<device id>``): while
an alert with that key is open, raising it again stores nothing and answers None, also when two
processes raise it at the same moment (the partial unique index decides: the loser's INSERT
does nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from urbanops.alerts.events import AlertAcknowledged, AlertRaised, AlertResolved
from urbanops.alerts.models import CONDITION_KINDS, Alert, AlertKind, Severity
from urbanops.kit import events
from urbanops.kit.actor import Actor
from urbanops.kit.errors import NotFound

TITLE_MAX = 200
KEY_MAX = 128
KIND_MAX = 32


def raise_alert(
    session: Session,
    *,
    kind: AlertKind | str,
    at: datetime,
    title: str,
    severity: Severity | str = Severity.WARNING,
    officer_id: int | None = None,
    user_id: int | None = None,
    device_id: int | None = None,
    case_id: int | None = None,
    grid_code: str | None = None,
    to_role: str | None = None,
    to_user_id: int | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Alert | None:
    """Store an alert and announce it (AlertRaised); None when one with its key is still open."""
    kind, severity = str(kind), Severity(severity).value
    if not 0 < len(kind) <= KIND_MAX:
        raise ValueError(f"an alert kind has 1 to {KIND_MAX} characters: {kind!r}")
    if dedupe_key is not None:
        if not 0 < len(dedupe_key) <= KEY_MAX:
            raise ValueError(f"a dedupe key has 1 to {KEY_MAX} characters: {dedupe_key!r}")
        if open_alert(session, dedupe_key=dedupe_key) is not None:
            return None
    values = {
        "kind": kind, "severity": severity, "at": at, "officer_id": officer_id,
        "user_id": user_id, "device_id": device_id, "case_id": case_id, "grid_code": grid_code,
        "to_role": to_role, "to_user_id": to_user_id, "title": title[:TITLE_MAX], "data": data,
        "dedupe_key": dedupe_key,
    }  # fmt: skip
    alert = session.scalars(_insert(session, values).returning(Alert)).first()
    if alert is None:  # a racing process inserted the same open key first
        return None
    events.publish(
        session,
        AlertRaised(
            at=at, alert_id=alert.id, kind=kind, severity=severity, title=alert.title,
            officer_id=officer_id, user_id=user_id, device_id=device_id, case_id=case_id,
            grid_code=grid_code, to_role=to_role, to_user_id=to_user_id,
        ),
    )  # fmt: skip
    return alert


def _insert(session: Session, values: dict[str, Any]) -> Any:
    """INSERT that does nothing (answers no row) where the key's open alert already exists.

    No savepoint is needed: the partial unique index is the conflict target on both databases,
    and on PostgreSQL a concurrent inserter of the same key waits for the first to commit.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Alert).values(values)
    if values["dedupe_key"] is None:
        return statement
    return statement.on_conflict_do_nothing(
        index_elements=[Alert.dedupe_key],
        index_where=Alert.dedupe_key.is_not(None) & Alert.resolved_at.is_(None),
    )


def open_alert(session: Session, *, dedupe_key: str) -> Alert | None:
    """The open alert with ``dedupe_key``, if any."""
    return session.scalar(
        select(Alert).where(Alert.dedupe_key == dedupe_key, Alert.resolved_at.is_(None))
    )


def resolve(session: Session, *, dedupe_key: str, at: datetime) -> Alert | None:
    """End the open alert with ``dedupe_key`` (its condition is over); None when none was open."""
    alert = open_alert(session, dedupe_key=dedupe_key)
    if alert is None or not _close(session, alert, at=at):
        return None
    return alert


def _close(session: Session, alert: Alert, *, at: datetime) -> bool:
    """Set ``resolved_at`` unless another transaction did first; announce it when this one won."""
    statement = (
        update(Alert)
        .where(Alert.id == alert.id, Alert.resolved_at.is_(None))
        .values(resolved_at=at)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(alert, "resolved_at", at)
    events.publish(session, AlertResolved(at=at, alert_id=alert.id, kind=alert.kind))
    return True


def get_alert(session: Session, *, alert_id: int) -> Alert:
    """The alert with ``alert_id``, or a 404 problem."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}", code="alert_not_found")
    return alert


def acknowledge(session: Session, *, alert_id: int, by: Actor, at: datetime) -> Alert:
    """A person has seen the alert (已确认); kinds with no watched condition end with it.

    Acknowledging twice keeps the first acknowledgement.
    """
    alert = get_alert(session, alert_id=alert_id)
    statement = (
        update(Alert)
        .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=at, acknowledged_by=by.ref)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(alert)
        return alert
    set_committed_value(alert, "acknowledged_at", at)
    set_committed_value(alert, "acknowledged_by", by.ref)
    events.publish(session, AlertAcknowledged(at=at, alert_id=alert.id, kind=alert.kind, by=by.ref))
    if alert.kind not in CONDITION_KINDS and alert.resolved_at is None:
        _close(session, alert, at=at)
    return alert


@dataclass(frozen=True, kw_only=True)
class AlertFilter:
    """What ``list_alerts`` narrows by; None means any."""

    open_only: bool = False
    unacknowledged: bool = False
    kind: Sequence[str] | None = None
    officer_id: int | None = None
    device_id: int | None = None
    case_id: int | None = None
    since: datetime | None = None
    grid_codes: frozenset[str] | None = None  # a scoped viewer's grids


def list_alerts(
    session: Session,
    *,
    open_only: bool = False,
    kind: AlertKind | str | Sequence[str] | None = None,
    officer_id: int | None = None,
    case_id: int | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
    device_id: int | None = None,
    unacknowledged: bool = False,
    grid_codes: frozenset[str] | None = None,
) -> tuple[list[Alert], int]:
    """A page of alerts, newest first, and how many match in all."""
    kinds = [kind] if isinstance(kind, str) else None if kind is None else list(kind)
    where = _conditions(
        AlertFilter(
            open_only=open_only, unacknowledged=unacknowledged, kind=kinds,
            officer_id=officer_id, device_id=device_id, case_id=case_id, since=since,
            grid_codes=grid_codes,
        )
    )  # fmt: skip
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    rows = session.scalars(
        select(Alert).where(*where).order_by(Alert.at.desc(), Alert.id.desc()).limit(limit)
        .offset(offset)
    ).all()  # fmt: skip
    return list(rows), total


def _conditions(f: AlertFilter) -> list[Any]:
    where: list[Any] = []
    if f.open_only:
        where.append(Alert.resolved_at.is_(None))
    if f.unacknowledged:
        where.append(Alert.acknowledged_at.is_(None))
    if f.kind:
        where.append(Alert.kind.in_([str(k) for k in f.kind]))
    if f.officer_id is not None:
        where.append(Alert.officer_id == f.officer_id)
    if f.device_id is not None:
        where.append(Alert.device_id == f.device_id)
    if f.case_id is not None:
        where.append(Alert.case_id == f.case_id)
    if f.since is not None:
        where.append(Alert.at >= f.since)
    if f.grid_codes is not None:
        where.append(Alert.grid_code.in_(sorted(f.grid_codes)))
    return where


def open_keys(session: Session, *, kind: AlertKind, prefix: str) -> set[str]:
    """Dedupe keys of the open alerts of one kind that start with ``prefix`` (watchers' memory)."""
    keys = session.scalars(
        select(Alert.dedupe_key).where(
            Alert.kind == kind.value,
            Alert.resolved_at.is_(None),
            Alert.dedupe_key.like(f"{prefix}%"),
        )
    )
    return {key for key in keys if key is not None}
