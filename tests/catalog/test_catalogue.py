"""The national catalogue as every fresh database holds it: entries, search, legacy codes."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from urbanops.catalog import service
from urbanops.catalog.defaults import WuwuGoal
from urbanops.catalog.models import CatalogEntry
from urbanops.kit.db import Base
from urbanops.kit.errors import InvalidInput, NotFound

FIVE_NO_MATTERS = ("09005", "09001", "09006", "06043", "07003", "01040")
COMMON_MATTERS = (
    "09001", "09002", "09004", "09005", "09006", "09010", "09012", "07001", "07002",
    "07003", "07006", "06001", "06007", "06010", "06012", "06036", "06043", "01040",
)  # fmt: skip


def _count(db: Session, kind: str | None = None) -> int:
    query = select(func.count()).select_from(CatalogEntry)
    if kind:
        query = query.where(CatalogEntry.kind == kind)
    return db.scalar(query) or 0


def test_fresh_database_holds_all_403_entries_of_the_2026_catalogue(db: Session) -> None:
    assert _count(db) == 403
    assert _count(db, "component") == 153
    assert _count(db, "matter") == 250


def test_every_entry_is_unique_by_kind_and_code(db: Session) -> None:
    pairs = db.execute(select(CatalogEntry.kind, CatalogEntry.code)).all()
    assert len(set(pairs)) == len(pairs) == 403
    assert all(len(code) == 5 and code.isdigit() for _, code in pairs)


def test_newsstand_matter_is_found_by_the_issues_name_and_belongs_to_its_component(
    db: Session,
) -> None:
    items, total = service.search_entries(db, q="报刊亭异常")
    assert total == 1
    matter = items[0]
    assert (matter.kind, matter.code, matter.component_code) == ("matter", "01040", "01040")
    assert matter.wuwu == WuwuGoal.NO_ILLEGAL_NEWSSTAND
    component = service.get_entry(db, kind="component", code="01040")
    assert component is not None and component.name == "报刊亭" and component.wuwu is None


def test_the_five_no_matters_carry_their_goal(db: Session) -> None:
    goals = {
        code: goal
        for code, goal in db.execute(
            select(CatalogEntry.code, CatalogEntry.wuwu).where(CatalogEntry.wuwu.is_not(None))
        )
    }
    assert set(FIVE_NO_MATTERS) <= set(goals)
    assert goals["09005"] == "无超门线"
    assert goals["09006"] == goals["09001"] == "无乱摆卖"
    assert goals["06043"] == "无伸缩雨棚"
    assert goals["07003"] == "无灯箱广告"
    assert set(goals.values()) == {g.value for g in WuwuGoal}


def test_citizens_may_report_matters_but_not_bare_components(db: Session) -> None:
    public = db.execute(select(CatalogEntry.kind, CatalogEntry.is_public).distinct()).all()
    assert set(public) == {("matter", True), ("component", False)}


def test_street_slang_luanbaimai_finds_street_vending_09006(db: Session) -> None:
    items, _ = service.search_entries(db, q="乱摆卖")
    assert "09006" in [e.code for e in items]


def test_over_the_door_line_finds_shopfront_trading_09005(db: Session) -> None:
    items, _ = service.search_entries(db, q="超门线", kind="matter")
    assert [e.code for e in items] == ["09005"]


def test_search_by_code_prefix_and_major_class_pages_through_results(db: Session) -> None:
    items, total = service.search_entries(db, q="090", kind="matter", page=2, size=5)
    assert total == 21
    assert [e.code for e in items] == ["09006", "09008", "09009", "09010", "09011"]
    _, in_class = service.search_entries(db, major="09", kind="matter")
    assert in_class == 21


def test_search_treats_percent_as_a_literal_character(db: Session) -> None:
    assert service.search_entries(db, q="%")[1] == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [("04-05", "09005"), ("01-36", "06036"), ("02-01", "07001"), ("05-07", "10001")],
)
def test_legacy_event_code_maps_to_its_2026_matter(db: Session, old: str, new: str) -> None:
    assert service.legacy_to_new(old) == new
    assert service.resolve_legacy(db, old=old).code == new
    assert service.new_to_legacy(new) == old


@pytest.mark.parametrize("old", ["01-31", "02-05", "04-07"])
def test_legacy_code_dropped_from_the_2026_list_is_not_found(db: Session, old: str) -> None:
    with pytest.raises(NotFound) as caught:
        service.resolve_legacy(db, old=old)
    assert caught.value.code == "legacy_code_not_in_catalogue"


def test_legacy_emergency_without_successor_is_not_found() -> None:
    with pytest.raises(NotFound):
        service.legacy_to_new("05-01")


@pytest.mark.parametrize("old", ["0405", "06-01", "4-5", "04-5", "abc", "04-05-01", ""])
def test_malformed_legacy_code_is_invalid_input(old: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.legacy_to_new(old)
    assert caught.value.code == "invalid_legacy_code"


def test_catalog_tables_match_their_migration(db: Session) -> None:
    context = MigrationContext.configure(db.connection(), opts={"compare_type": True})
    diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "catalog_entry" in repr(d) or "case_standard" in repr(d)] == []
