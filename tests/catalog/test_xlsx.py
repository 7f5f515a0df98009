"""Case standards travel as an Excel sheet with Chinese headers and come back unchanged."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from urbanops.catalog import service, xlsx
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import InvalidInput, UnsupportedMediaType

ADMIN = Actor(kind="user", id=3, name="管理员", roles=frozenset({Role.ADMIN}))


def _snapshot(db: Session) -> list[tuple[Any, ...]]:
    return [
        (
            s.matter.code, s.variant, s.registration_condition, s.closure_condition,
            s.limit_amount, s.limit_unit, s.handling_unit, s.responsible_department, s.is_default,
        )
        for s in service.list_standards(db)
    ]  # fmt: skip


def _sheet(*rows: list[Any], headers: tuple[str, ...] = xlsx.HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _row(code: Any = "09005", variant: str = "夜间外摆", **over: Any) -> list[Any]:
    cells = {
        "事项代码": code, "事项名称": "", "情形": variant, "立案条件": "夜间超出门线摆放桌椅",
        "结案条件": "桌椅已收回门线以内", "处置时限": 1, "时限单位": "紧急工作时",
        "处置单位": "街道综合行政执法队", "主管部门": "区城市管理和综合执法局", "默认": "否",
    } | over  # fmt: skip
    return [cells[h] for h in xlsx.HEADERS]


def test_export_has_chinese_headers_and_every_standard(db: Session) -> None:
    sheet = load_workbook(io.BytesIO(xlsx.export_standards(db))).active
    assert sheet is not None and sheet.title == "处置标准"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == xlsx.HEADERS
    assert len(rows) - 1 == len(service.list_standards(db))
    shopfront = next(r for r in rows if r[0] == "09005")
    assert shopfront[1:3] == ("店外经营", "一般情形")
    assert shopfront[5:7] == (2, "紧急工作时") and shopfront[9] == "是"


def test_exported_sheet_imports_back_unchanged(db: Session, clock: ManualClock) -> None:
    before = _snapshot(db)
    report = xlsx.import_standards(db, content=xlsx.export_standards(db), by=ADMIN, now=clock.now())
    assert (report.created, report.updated) == (0, len(before))
    assert _snapshot(db) == before
    assert {s.updated_by for s in service.list_standards(db)} == {"user:3"}


def test_edited_sheet_updates_limits_and_adds_a_default_variant(
    db: Session, clock: ManualClock
) -> None:
    book = load_workbook(io.BytesIO(xlsx.export_standards(db)))
    sheet = book.active
    assert sheet is not None
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == "09010":
            row[5].value, row[6].value = 3.5, "工作日"
        if row[0].value == "09005":
            row[9].value = "否"
    sheet.append(_row(9005, 默认="是"))  # Excel turned the code into a number
    out = io.BytesIO()
    book.save(out)
    report = xlsx.import_standards(db, content=out.getvalue(), by=ADMIN, now=clock.now())
    assert report.created == 1
    bikes = service.standard_for(db, kind="matter", code="09010")
    assert bikes is not None
    assert (bikes.limit_amount, bikes.limit_unit) == (Decimal("3.5"), LimitUnit.WORK_DAY)
    night = service.standard_for(db, kind="matter", code="09005")
    assert night is not None and night.variant == "夜间外摆" and night.created_by == "user:3"
    assert len([s for s in service.list_standards(db, matter_code="09005") if s.is_default]) == 1


def test_sheet_with_bad_rows_is_refused_with_reasons_and_writes_nothing(
    db: Session, clock: ManualClock
) -> None:
    before = _snapshot(db)
    content = _sheet(
        _row("09006", "一般情形", 处置时限=9),
        _row("99999"),
        _row("09005", "负数", 处置时限=-1),
        _row("09005", "单位", 时限单位="小时"),
        _row("09005", "零", 处置时限=0),
        _row("09006", "一般情形"),
    )
    with pytest.raises(InvalidInput) as caught:
        xlsx.import_standards(db, content=content, by=ADMIN, now=clock.now())
    problem = caught.value
    assert problem.code == "xlsx_rows_invalid"
    errors = {e["row"]: e["reasons"] for e in problem.extra["errors"]}
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "unknown matter code 99999" in errors[3]
    assert any("处置时限" in r for r in errors[4] + errors[6])
    assert any("时限单位" in r for r in errors[5])
    assert any("row 2" in r for r in errors[7])
    assert _snapshot(db) == before


def test_sheet_without_the_expected_columns_is_refused(db: Session, clock: ManualClock) -> None:
    content = _sheet(["09005", "x"], headers=("事项代码", "名称"))
    with pytest.raises(InvalidInput) as caught:
        xlsx.import_standards(db, content=content, by=ADMIN, now=clock.now())
    assert caught.value.code == "xlsx_missing_columns"
    assert "处置时限" in caught.value.extra["missing"]


@pytest.mark.parametrize(
    "content",
    [b"matter,variant\n09005,x\n", b"", b"PK\x05\x06" + b"\0" * 18],
)
def test_a_file_that_is_not_xlsx_is_unsupported(content: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        xlsx.require_xlsx(content)


def test_a_zip_that_is_not_a_workbook_is_unsupported() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedMediaType):
        xlsx.require_xlsx(out.getvalue())
