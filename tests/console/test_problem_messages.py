"""The services' refusals in the console's languages: every code an administration page can
meet has a message in both, and the detail that names the row at fault stays beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from urbanops.ui import messages

SRC = Path(__file__).resolve().parents[2] / "src" / "urbanops"
#: The services the administration pages call (grids, users, catalogue, calendar, devices).
ADMIN_SERVICES = ("areas", "auth", "catalog", "kit", "workforce/service.py")
#: Codes only the HTTP API can produce (a body that is not JSON, a naive timestamp in a query…).
API_ONLY = {"bad_shape", "malformed_json", "naive_datetime", "unknown_event_name",
            "unsupported_media_type"}  # fmt: skip


def _codes() -> set[str]:
    found: set[str] = set()
    for part in ADMIN_SERVICES:
        path = SRC / part
        for file in [path] if path.is_file() else path.rglob("*.py"):
            found |= set(re.findall(r'code="([a-z_]+)"', file.read_text(encoding="utf-8")))
    return found


def test_every_refusal_an_admin_page_can_meet_has_a_message_in_both_languages() -> None:
    codes = _codes() - API_ONLY
    assert len(codes) >= 80
    for lang in messages.LANGUAGES:
        missing = sorted(c for c in codes if f"problem.{c}" not in messages.MESSAGES[lang])
        assert missing == [], lang


@pytest.mark.parametrize(
    ("code", "lang", "expected"),
    [
        ("username_taken", messages.ZH, "用户名已被使用"),
        ("username_taken", messages.EN, "The username is taken"),
        # the detail names the feature at fault: kept beside the message
        ("invalid_geometry", messages.ZH, "网格图形无效（feature 3: Self-intersection）"),
        ("invalid_geometry", messages.EN,
         "A grid's shape is not valid (feature 3: Self-intersection)"),
        # no message of ours: the service's words
        ("something_new", messages.ZH, "feature 3: Self-intersection"),
    ],
)  # fmt: skip
def test_problem_text_translates_by_code(code: str, lang: str, expected: str) -> None:
    assert messages.problem_text(code, "feature 3: Self-intersection", lang) == expected


def test_a_page_s_own_message_comes_before_the_shared_one() -> None:
    assert messages.problem_text("unknown_matter", "x", messages.ZH, area="case") == (
        messages.t("case.error.unknown_matter")
    )
    assert messages.problem_text("unknown_matter", "x", messages.ZH, area="admin") == "没有这个事项"
