"""The 15-digit unit-grid code and its prefixes."""

from __future__ import annotations

import pytest

from urbanops.areas.codes import (
    AreaLevel,
    level_of,
    validate_child,
    validate_responsibility_code,
)
from urbanops.kit.errors import InvalidInput


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("440309", AreaLevel.DISTRICT),
        ("440309001", AreaLevel.STREET),
        ("440309001001", AreaLevel.COMMUNITY),
        ("440309001001001", AreaLevel.UNIT_GRID),
    ],
)
def test_code_length_tells_the_level(code: str, level: AreaLevel) -> None:
    assert level_of(code) == level


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("44030900100101", "14 digits"),
        ("44030900100100A", "digits 0-9"),
        ("440309400001001", "001-399"),
        ("440309001000001", "community segment"),
        ("440309001001000", "serial"),
        ("440300001001001", "district-level"),
    ],
)
def test_malformed_grid_code_is_refused_with_the_reason(code: str, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        level_of(code)
    assert caught.value.code == "invalid_grid_code"
    assert why in str(caught.value.detail)


def test_unit_grid_must_extend_its_community_code() -> None:
    assert validate_child("440309001001001", parent_code="440309001001") == AreaLevel.UNIT_GRID
    with pytest.raises(InvalidInput) as caught:
        validate_child("440309001001001", parent_code="440309001002")
    assert caught.value.code == "invalid_grid_code"


def test_responsibility_grid_code_starts_with_its_street() -> None:
    assert validate_responsibility_code("440309001-01", street_code="440309001") == "440309001-01"
    with pytest.raises(InvalidInput) as caught:
        validate_responsibility_code("440309002-01", street_code="440309001")
    assert caught.value.code == "invalid_responsibility_grid_code"
