"""The evidence store full: 507 ``evidence_store_full``, nothing left behind, no row without a file.

The store keeps ``evidence_min_free_bytes`` free on its disk (the database and the logs often
share it): a file is refused when less is free before it is written, or would be once it is. A
disk that fills up for real (ENOSPC) answers the same 507; that path is tested on a real tmpfs in
tests/cases/test_evidence.py and test_evidence_store.py. Here: uploads through the evidence API
and the citizen's report, on SQLite and PostgreSQL, and after every refusal each evidence row of
the test's cases still points at a file that is there and hashes right.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.evidence_files import MiB, jpeg, padded, tiny_disk
from tests.cases.test_evidence import counts, make_case, upload
from tests.citizen.support import photo, report_fields, send_report
from urbanops.cases.evidence import EvidenceStore
from urbanops.cases.models import Case, Evidence
from urbanops.config import Settings
from urbanops.kit.actor import Role
from urbanops.kit.clock import ManualClock

GRID_01 = "440309001-01"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def officer(auth_headers: Headers) -> dict[str, str]:
    return auth_headers(Role.GRID_OFFICER, grid_codes=[GRID_01])


def _free(path: Path) -> int:
    existing = next(p for p in (path, *path.parents) if p.exists())
    return shutil.disk_usage(existing).free


def _assert_507(answer: Any) -> None:
    assert answer.status_code == 507, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "evidence_store_full"


def _assert_every_row_has_its_file(db: Session, settings: Settings, case_ids: list[int]) -> None:
    """No evidence row of these cases points at a missing or altered file."""
    store = EvidenceStore(settings.evidence_root)
    for row in db.scalars(select(Evidence).where(Evidence.case_id.in_(case_ids))):
        store.verify(row.sha256, size=row.size)  # 409 evidence_missing / _corrupted otherwise


def test_a_store_below_its_reserve_answers_507_and_keeps_neither_file_nor_row(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    settings: Settings,
) -> None:
    case = make_case(db, clock)
    kept = upload(client, case.id, jpeg(colour=(1, 2, 3)), officer)
    assert kept.status_code == 201, kept.text
    store = EvidenceStore(settings.evidence_root)
    files_before = store.files()

    settings.evidence_min_free_bytes = _free(settings.evidence_root) + 1024 * MiB
    _assert_507(upload(client, case.id, jpeg(colour=(4, 5, 6)), officer))
    assert store.files() == files_before  # nothing staged left behind, nothing new in place
    assert counts(db, case.id) == (1, 1)  # the first file's row and timeline step only
    _assert_every_row_has_its_file(db, settings, [case.id])

    settings.evidence_min_free_bytes = 0  # space again: the same upload goes through
    assert upload(client, case.id, jpeg(colour=(4, 5, 6)), officer).status_code == 201
    assert counts(db, case.id) == (2, 2)
    _assert_every_row_has_its_file(db, settings, [case.id])


@contextlib.contextmanager
def _disk_with(settings: Settings, free: int) -> Iterator[int]:
    """The evidence root on a disk with about ``free`` bytes free: a tmpfs of that size where
    this process may mount one (root), else the real disk; yields the bytes free now."""
    with tiny_disk(settings.evidence_root, size=str(free)):
        yield _free(settings.evidence_root)


def test_a_file_that_would_leave_less_than_the_reserve_is_refused_after_it_is_received(
    client: TestClient,
    db: Session,
    clock: ManualClock,
    officer: dict[str, str],
    settings: Settings,
) -> None:
    """Enough is free before the file, not after it: the staged file is removed, 507."""
    case = make_case(db, clock)
    with _disk_with(settings, 8 * MiB) as free:
        settings.evidence_min_free_bytes = free - 4 * MiB  # room for one 3 MiB photo, not two
        first = upload(client, case.id, padded(jpeg(colour=(9, 9, 9)), 3 * MiB), officer)
        assert first.status_code == 201, first.text
        second = upload(client, case.id, padded(jpeg(colour=(8, 8, 8)), 3 * MiB), officer)
        _assert_507(second)
        store = EvidenceStore(settings.evidence_root)
        assert [p.name for p in store.files()] == [first.json()["sha256"]]
        assert counts(db, case.id) == (1, 1)
        _assert_every_row_has_its_file(db, settings, [case.id])


def test_a_citizen_report_whose_photo_does_not_fit_is_refused_whole(
    client: TestClient, db: Session, settings: Settings
) -> None:
    """The citizen's report and its photos are one unit: no case without its photo."""
    description = "小区门口有人摆摊，证据库满了"
    settings.evidence_min_free_bytes = _free(settings.evidence_root) + 1024 * MiB
    answer = send_report(client, report_fields(description=description), [photo()])
    _assert_507(answer)
    assert db.scalar(select(func.count()).where(Case.description == description)) == 0
    assert EvidenceStore(settings.evidence_root).files() == []

    settings.evidence_min_free_bytes = 0
    again = send_report(client, report_fields(description=description), [photo()])
    assert again.status_code == 201, again.text
    [case_id] = db.scalars(select(Case.id).where(Case.description == description))
    assert counts(db, case_id)[0] == 1
    _assert_every_row_has_its_file(db, settings, [case_id])
