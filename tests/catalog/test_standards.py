"""Case standards (处置标准): the shipped defaults, and editing them as an administrator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.catalog.test_catalogue import COMMON_MATTERS, FIVE_NO_MATTERS
from urbanops.catalog import service
from urbanops.catalog.models import CaseStandard, CatalogEntry
from urbanops.catalog.schemas import StandardCreate, StandardPatch
from urbanops.kit.actor import Actor, Role
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.clock import ManualClock
from urbanops.kit.errors import Conflict, InvalidInput, NotFound

ADMIN = Actor(kind="user", id=7, name="管理员", roles=frozenset({Role.ADMIN}))


def _new_standard(
    code: str = "09009", variant: str = "一般情形", **extra: object
) -> StandardCreate:
    fields: dict[str, object] = {
        "matter_code": code,
        "variant": variant,
        "registration_condition": "机动车停放在人行道上，妨碍通行",
        "closure_condition": "车辆已驶离或已贴单告知",
        "limit_amount": Decimal("2"),
        "limit_unit": LimitUnit.WORK_HOUR,
        "handling_unit": "街道综合行政执法队",
        "responsible_department": "交警大队",
    }
    return StandardCreate.model_validate(fields | extra)


def _defaults_of(db: Session, code: str) -> list[CaseStandard]:
    return [s for s in service.list_standards(db, matter_code=code) if s.is_default]


@pytest.mark.parametrize("code", FIVE_NO_MATTERS)
def test_every_five_no_matter_has_a_default_standard_with_a_positive_limit(
    db: Session, code: str
) -> None:
    standard = service.standard_for(db, kind="matter", code=code)
    assert standard is not None and standard.is_default
    assert standard.limit_amount > 0
    assert standard.registration_condition and standard.closure_condition


def test_every_flagged_five_no_matter_in_the_table_has_a_default(db: Session) -> None:
    flagged = db.scalars(select(CatalogEntry.code).where(CatalogEntry.wuwu.is_not(None))).all()
    assert flagged
    assert all(service.standard_for(db, kind="matter", code=c) for c in flagged)


@pytest.mark.parametrize("code", COMMON_MATTERS)
def test_every_common_street_matter_ships_with_exactly_one_default(db: Session, code: str) -> None:
    assert len(_defaults_of(db, code)) == 1


def test_shopfront_trading_is_handled_within_two_continuous_hours(db: Session) -> None:
    standard = service.standard_for(db, kind="matter", code="09005")
    assert standard is not None
    assert (standard.limit_amount, standard.limit_unit) == (Decimal("2"), LimitUnit.URGENT_HOUR)
    assert standard.matter.name == "店外经营"


def test_illegal_building_has_urgent_and_formed_variants(db: Session) -> None:
    building = service.standard_for(db, kind="matter", code="06001")
    formed = service.standard_for(db, kind="matter", code="06001", variant="已形成")
    assert building is not None and building.variant == "正在建设"
    assert building.limit_unit == LimitUnit.URGENT_HOUR
    assert formed is not None and not formed.is_default
    assert (formed.limit_amount, formed.limit_unit) == (Decimal("15"), LimitUnit.NATURAL_DAY)


def test_components_and_unknown_variants_have_no_standard(db: Session) -> None:
    assert service.standard_for(db, kind="component", code="01040") is None
    assert service.standard_for(db, kind="matter", code="09005", variant="不存在") is None
    assert service.standard_for(db, kind="matter", code="10002") is None


def test_first_standard_of_a_matter_becomes_its_default_and_records_the_actor(
    db: Session, clock: ManualClock
) -> None:
    standard = service.create_standard(db, data=_new_standard(), by=ADMIN, now=clock.now())
    assert standard.is_default
    assert (standard.created_by, standard.created_at) == ("user:7", clock.now())
    assert service.standard_for(db, kind="matter", code="09009") is standard


def test_making_a_variant_default_takes_the_flag_from_the_old_one(
    db: Session, clock: ManualClock
) -> None:
    new = service.create_standard(
        db, data=_new_standard("09006", "夜间", is_default=True), by=ADMIN, now=clock.now()
    )
    assert [s.id for s in _defaults_of(db, "09006")] == [new.id]
    clock.advance(timedelta(hours=1))
    old = service.standard_for(db, kind="matter", code="09006", variant="一般情形")
    assert old is not None
    service.update_standard(
        db, standard_id=old.id, changes=StandardPatch(is_default=True), by=ADMIN, now=clock.now()
    )
    db.refresh(new)
    assert [s.id for s in _defaults_of(db, "09006")] == [old.id]
    assert (old.updated_by, old.updated_at) == ("user:7", clock.now())


def test_clearing_the_default_hands_it_to_another_variant(db: Session, clock: ManualClock) -> None:
    default = service.standard_for(db, kind="matter", code="07003")
    assert default is not None
    service.update_standard(
        db, standard_id=default.id, changes=StandardPatch(is_default=False), by=ADMIN,
        now=clock.now(),
    )  # fmt: skip
    remaining = _defaults_of(db, "07003")
    assert len(remaining) == 1 and remaining[0].variant == "立柱、墙体、楼顶广告"


def test_deleting_the_default_promotes_the_other_variant(db: Session, clock: ManualClock) -> None:
    default = service.standard_for(db, kind="matter", code="06001")
    assert default is not None
    service.delete_standard(db, standard_id=default.id, by=ADMIN, now=clock.now())
    left = service.list_standards(db, matter_code="06001")
    assert [(s.variant, s.is_default) for s in left] == [("已形成", True)]


def test_a_second_standard_with_the_same_situation_is_a_conflict(
    db: Session, clock: ManualClock
) -> None:
    with pytest.raises(Conflict):
        service.create_standard(db, data=_new_standard("09005"), by=ADMIN, now=clock.now())
    other = service.standard_for(db, kind="matter", code="06001", variant="已形成")
    assert other is not None
    with pytest.raises(Conflict):
        service.update_standard(
            db, standard_id=other.id, changes=StandardPatch(variant="正在建设"), by=ADMIN,
            now=clock.now(),
        )  # fmt: skip


def test_standard_for_an_unknown_matter_is_refused(db: Session, clock: ManualClock) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.create_standard(db, data=_new_standard("09007"), by=ADMIN, now=clock.now())
    assert caught.value.code == "unknown_matter"
    count = db.scalar(select(func.count()).select_from(CaseStandard))
    assert count == len(service.list_standards(db))


def test_patch_cannot_null_a_required_field(db: Session, clock: ManualClock) -> None:
    standard = service.standard_for(db, kind="matter", code="09001")
    assert standard is not None
    with pytest.raises(InvalidInput) as caught:
        service.update_standard(
            db, standard_id=standard.id, changes=StandardPatch(limit_amount=None), by=ADMIN,
            now=clock.now(),
        )  # fmt: skip
    assert caught.value.code == "null_not_allowed"


def test_missing_standard_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        service.get_standard(db, standard_id=987_654)
