"""Removing cases that a test committed for real, with every row that points at them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

import urbanops.models  # noqa: F401 - every table known to the metadata
from urbanops.cases.models import Case
from urbanops.kit.db import Base


def delete_cases(session: Session, case_ids: Any) -> None:
    """Delete the cases ``case_ids`` (a list or a subquery) and every row with their ``case_id``
    (timeline, reports, evidence rows, alerts, dispatch offers, follow-ups …), so a later test
    that gets the same id on SQLite sees nothing of them."""
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != Case.__tablename__ and "case_id" in table.c:
            session.execute(delete(table).where(table.c.case_id.in_(case_ids)))
    session.execute(delete(Case).where(Case.id.in_(case_ids)))
