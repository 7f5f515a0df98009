"""Case standards (处置标准) as an XLSX sheet with Chinese headers: export, all-or-nothing import.

Import upserts by (事项代码, 情形). Every row is checked before anything is written, so a sheet with
one bad row changes nothing and the answer lists each bad row with its reasons.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.catalog import service
from urbanops.catalog.models import CaseStandard, CatalogEntry
from urbanops.catalog.schemas import ImportReport
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import LIMIT_UNIT_NAMES, LimitUnit
from urbanops.kit.errors import InvalidInput, UnsupportedMediaType

SHEET_TITLE = "处置标准"
HEADERS = (
    "事项代码",
    "事项名称",
    "情形",
    "立案条件",
    "结案条件",
    "处置时限",
    "时限单位",
    "处置单位",
    "主管部门",
    "默认",
)
MAX_ROWS = 5000
MAX_LIMIT = Decimal("999999.99")
UNITS_BY_NAME: dict[str, LimitUnit] = {
    **{name: unit for unit, name in LIMIT_UNIT_NAMES.items()},
    **{unit.value: unit for unit in LimitUnit},
}
YES, NO = "是", "否"
FLAGS = {YES: True, NO: False, "": False, "true": True, "false": False, "1": True, "0": False}
TEXT_LIMITS = {"情形": 64, "立案条件": 2000, "结案条件": 2000, "处置单位": 64, "主管部门": 64}


@dataclass(frozen=True)
class SheetRow:
    """One valid row of the sheet, ready to upsert."""

    number: int
    matter: CatalogEntry
    variant: str
    registration_condition: str
    closure_condition: str
    limit_amount: Decimal
    limit_unit: LimitUnit
    handling_unit: str
    responsible_department: str
    is_default: bool


def export_standards(session: Session) -> bytes:
    """Every case standard as one sheet, in the layout that ``import_standards`` reads back."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET_TITLE
    sheet.append(HEADERS)
    for s in service.list_standards(session):
        sheet.append(
            [
                s.matter.code,
                s.matter.name,
                s.variant,
                s.registration_condition,
                s.closure_condition,
                float(s.limit_amount),
                LIMIT_UNIT_NAMES[s.limit_unit],
                s.handling_unit,
                s.responsible_department,
                YES if s.is_default else NO,
            ]
        )
    for row in sheet.iter_rows(min_row=2, max_col=1):
        row[0].number_format = "@"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def import_standards(session: Session, *, content: bytes, by: Actor, now: datetime) -> ImportReport:
    """Upsert the sheet's standards by (事项代码, 情形); any bad row refuses the whole sheet."""
    rows = _read_sheet(content)
    matters = _matters_by_code(session)
    valid, errors = _validate(rows, matters)
    if errors:
        raise InvalidInput(
            f"{len(errors)} row(s) of the sheet are not valid; nothing was imported",
            code="xlsx_rows_invalid",
            errors=errors,
        )
    return _upsert(session, valid, by=by, now=now)


def require_xlsx(content: bytes) -> None:
    """Refuse anything that is not an XLSX: a ZIP holding ``[Content_Types].xml``."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            is_xlsx = "[Content_Types].xml" in archive.namelist()
    except zipfile.BadZipFile:
        is_xlsx = False
    if not is_xlsx:
        raise UnsupportedMediaType("Upload an Excel workbook (.xlsx)", code="not_xlsx")


def _read_sheet(content: bytes) -> list[tuple[int, dict[str, Any]]]:
    """The first sheet's data rows as (row number, {header: value}), blank rows left out."""
    require_xlsx(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        lines = list(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1))
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise InvalidInput("The workbook cannot be read", code="xlsx_unreadable") from exc
    if len(lines) > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS - 1} standards a sheet", code="xlsx_too_many_rows")
    header = [str(v).strip() if v is not None else "" for v in (lines[0] if lines else ())]
    missing = [h for h in HEADERS if h not in header]
    if missing:
        raise InvalidInput(
            "The sheet lacks the columns " + ", ".join(missing),
            code="xlsx_missing_columns",
            missing=missing,
        )
    columns = {h: header.index(h) for h in HEADERS}
    return [
        (number, {h: line[i] if i < len(line) else None for h, i in columns.items()})
        for number, line in enumerate(lines[1:], start=2)
        if any(v not in (None, "") for v in line)
    ]


def _matters_by_code(session: Session) -> dict[str, CatalogEntry]:
    query = select(CatalogEntry).where(CatalogEntry.kind == "matter")
    return {m.code: m for m in session.scalars(query)}


def _validate(
    rows: list[tuple[int, dict[str, Any]]], matters: dict[str, CatalogEntry]
) -> tuple[list[SheetRow], list[dict[str, Any]]]:
    """Check every row, and the sheet as a whole (no repeated situation, one default a matter)."""
    valid: list[SheetRow] = []
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    defaults: dict[str, int] = {}
    for number, cells in rows:
        reasons = _row_reasons(cells, matters)
        code, variant = _code(cells["事项代码"]), _text(cells["情形"])
        if (code, variant) in seen:
            reasons.append(f"repeats 事项代码 {code} 情形 {variant!r} of row {seen[code, variant]}")
        seen.setdefault((code, variant), number)
        if _flag(cells["默认"]) and code in defaults:
            reasons.append(f"matter {code} is already marked default in row {defaults[code]}")
        if _flag(cells["默认"]):
            defaults.setdefault(code, number)
        if reasons:
            errors.append({"row": number, "reasons": reasons})
        else:
            valid.append(_sheet_row(number, cells, matters))
    return valid, errors


def _row_reasons(cells: dict[str, Any], matters: dict[str, CatalogEntry]) -> list[str]:
    """Why one row cannot be imported; empty when it can."""
    reasons = []
    code = _code(cells["事项代码"])
    if code not in matters:
        reasons.append(f"unknown matter code {code or '(empty)'}")
    amount = _amount(cells["处置时限"])
    if amount is None:
        reasons.append(f"处置时限 must be a number above 0, at most {MAX_LIMIT}, two decimals")
    if _text(cells["时限单位"]) not in UNITS_BY_NAME:
        reasons.append("时限单位 must be one of " + "/".join(LIMIT_UNIT_NAMES.values()))
    if _text(cells["默认"]).lower() not in FLAGS:
        reasons.append(f"默认 must be {YES} or {NO}")
    for header, limit in TEXT_LIMITS.items():
        if not _text(cells[header]):
            reasons.append(f"{header} is empty")
        elif len(_text(cells[header])) > limit:
            reasons.append(f"{header} is longer than {limit} characters")
    return reasons


def _sheet_row(number: int, cells: dict[str, Any], matters: dict[str, CatalogEntry]) -> SheetRow:
    amount = _amount(cells["处置时限"])
    assert amount is not None
    return SheetRow(
        number=number,
        matter=matters[_code(cells["事项代码"])],
        variant=_text(cells["情形"]),
        registration_condition=_text(cells["立案条件"]),
        closure_condition=_text(cells["结案条件"]),
        limit_amount=amount,
        limit_unit=UNITS_BY_NAME[_text(cells["时限单位"])],
        handling_unit=_text(cells["处置单位"]),
        responsible_department=_text(cells["主管部门"]),
        is_default=_flag(cells["默认"]),
    )


def _upsert(session: Session, rows: list[SheetRow], *, by: Actor, now: datetime) -> ImportReport:
    """Write the checked rows; 默认=是 makes a row its matter's default, else the default stays."""
    created = updated = 0
    written: list[tuple[CaseStandard, bool]] = []
    for row in rows:
        standard = service.find_standard(session, matter_id=row.matter.id, variant=row.variant)
        if standard is None:
            standard = CaseStandard(matter=row.matter, variant=row.variant, is_default=False)
            standard.stamp_created(by.ref, now)
            session.add(standard)
            created += 1
        else:
            standard.stamp_updated(by.ref, now)
            updated += 1
        _fill(standard, row)
        written.append((standard, row.is_default))
    session.flush()
    for standard, wanted in written:
        if wanted:
            service.set_default_flag(session, standard=standard, is_default=True)
    for matter_id in {standard.matter_id for standard, _ in written}:
        service.ensure_default(session, matter_id=matter_id)
    service.mark_changed(session, now=now)
    return ImportReport(created=created, updated=updated)


def _fill(standard: CaseStandard, row: SheetRow) -> None:
    standard.registration_condition = row.registration_condition
    standard.closure_condition = row.closure_condition
    standard.limit_amount = row.limit_amount
    standard.limit_unit = row.limit_unit
    standard.handling_unit = row.handling_unit
    standard.responsible_department = row.responsible_department


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _code(value: Any) -> str:
    """A matter code; Excel may have turned 09005 into the number 9005."""
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return f"{int(value):05d}"
    return _text(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return FLAGS.get(_text(value).lower(), False)


def _amount(value: Any) -> Decimal | None:
    """A positive limit with at most two decimals, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 < amount <= MAX_LIMIT:
        return None
    if amount != amount.quantize(Decimal("0.01")):
        return None
    return amount.quantize(Decimal("0.01"))
