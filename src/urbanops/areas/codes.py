"""Area codes: the 15-digit unit-grid code (单元网格标识码) and its 6/9/12-digit prefixes.

Structure (GB/T 30428.1, DB11/T 2157-2023, GB/T 47678.3): 6 digits district (GB/T 2260)
+ 3 street (街道/镇/乡, 001–399 by the 民政 statistical rule) + 3 community (社区/村)
+ 3 unit-grid serial. Each level's code is its parent's code plus one segment.
"""

from __future__ import annotations

import re
from enum import StrEnum

from urbanops.kit.errors import InvalidInput


class AreaLevel(StrEnum):
    """The four levels of the hierarchy, from the largest: 区 → 街道 → 社区 → 单元网格."""

    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    UNIT_GRID = "unit_grid"


LEVEL_BY_LENGTH: dict[int, AreaLevel] = {
    6: AreaLevel.DISTRICT,
    9: AreaLevel.STREET,
    12: AreaLevel.COMMUNITY,
    15: AreaLevel.UNIT_GRID,
}
LENGTH_BY_LEVEL: dict[AreaLevel, int] = {level: n for n, level in LEVEL_BY_LENGTH.items()}
PARENT_LEVEL: dict[AreaLevel, AreaLevel | None] = {
    AreaLevel.DISTRICT: None,
    AreaLevel.STREET: AreaLevel.DISTRICT,
    AreaLevel.COMMUNITY: AreaLevel.STREET,
    AreaLevel.UNIT_GRID: AreaLevel.COMMUNITY,
}
RESPONSIBILITY_CODE = re.compile(r"^(\d{9})-(\d{2,3})$")


def _refuse(code: str, reason: str) -> InvalidInput:
    return InvalidInput(f"Area code {code!r} is not valid: {reason}", code="invalid_grid_code")


def level_of(code: str) -> AreaLevel:
    """The level a well-formed code belongs to, or a 422 problem ``invalid_grid_code``."""
    validate_code(code)
    return LEVEL_BY_LENGTH[len(code)]


def parent_code_of(code: str) -> str | None:
    """The parent's code (the code minus its last segment); None for a district."""
    return code[:-3] if len(code) > 6 else None


def validate_code(code: str) -> str:
    """Check a district/street/community/unit-grid code segment by segment; answer it unchanged."""
    if not code.isascii() or not code.isdigit():
        raise _refuse(code, "only the digits 0-9 are allowed")
    if len(code) not in LEVEL_BY_LENGTH:
        raise _refuse(code, f"it has {len(code)} digits; expected 6, 9, 12 or 15 (unit grid: 15)")
    if code[:2] == "00" or code[4:6] == "00":
        raise _refuse(code, "the first 6 digits are not a district-level division code")
    if len(code) >= 9 and not 1 <= int(code[6:9]) <= 399:
        raise _refuse(code, "the street segment (digits 7-9) must be 001-399")
    if len(code) >= 12 and code[9:12] == "000":
        raise _refuse(code, "the community segment (digits 10-12) must not be 000")
    if len(code) == 15 and code[12:15] == "000":
        raise _refuse(code, "the unit-grid serial (digits 13-15) must not be 000")
    return code


def validate_child(code: str, *, parent_code: str | None) -> AreaLevel:
    """Check ``code`` and that it extends ``parent_code`` by exactly one segment."""
    level = level_of(code)
    expected = parent_code_of(code)
    if parent_code != expected:
        raise _refuse(code, f"its parent must be {expected!r}, not {parent_code!r}")
    return level


def validate_responsibility_code(code: str, *, street_code: str) -> str:
    """A responsibility-grid (责任网格) code: the street's 9 digits, a dash, a 2-3 digit serial."""
    match = RESPONSIBILITY_CODE.match(code)
    if match is None:
        raise InvalidInput(
            f"Responsibility grid code {code!r} must look like '{street_code}-01'",
            code="invalid_responsibility_grid_code",
        )
    if match.group(1) != street_code:
        raise InvalidInput(
            f"Responsibility grid code {code!r} must start with its street's code {street_code}",
            code="invalid_responsibility_grid_code",
        )
    return code
