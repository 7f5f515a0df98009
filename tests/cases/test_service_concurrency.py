"""Two dispatchers on one case at once, in two real sessions on committed data: one 409."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.cases.conftest import actor, report_in
from tests.support.cleanup import delete_cases
from urbanops.cases import service
from urbanops.cases.models import CaseState
from urbanops.kit.clock import ManualClock
from urbanops.kit.db import make_sessionmaker
from urbanops.kit.errors import Conflict


@pytest.fixture
def committed_case(db_engine: Engine, clock: ManualClock) -> Iterator[int]:
    """A registered case committed for real; removed afterwards."""
    factory = make_sessionmaker(db_engine)
    with factory.begin() as session:
        by = actor(session, "duty01")
        data = report_in(2, matter_code="07002", description="并发派遣测试")
        case = service.report(session, data=data, by=by, now=clock.now()).case
        service.act(session, case_id=case.id, action="register", by=by, now=clock.now())
        case_id = case.id
    yield case_id
    with factory.begin() as session:
        delete_cases(session, [case_id])


def test_two_sessions_dispatching_the_same_case_one_wins_the_other_gets_409(
    db_engine: Engine, clock: ManualClock, committed_case: int
) -> None:
    factory = make_sessionmaker(db_engine)
    first, second = factory(), factory()
    try:
        officer = actor(first, "gh0301")
        # Both read the registered case before either writes (the references keep it loaded).
        loaded = [service.get_case(s, case_id=committed_case) for s in (first, second)]
        assert [c.state for c in loaded] == [CaseState.REGISTERED] * 2
        by_first, by_second = actor(first, "dispatch01"), actor(second, "op01")
        service.act(
            first, case_id=committed_case, action="dispatch", by=by_first, now=clock.now(),
            officer_id=officer.id,
        )  # fmt: skip
        first.commit()
        with pytest.raises(Conflict) as lost:
            service.act(
                second, case_id=committed_case, action="dispatch", by=by_second,
                now=clock.now(), officer_id=officer.id,
            )  # fmt: skip
        second.rollback()
        assert lost.value.code == "concurrent_update"
        assert lost.value.extra["state"] == "dispatched"
        assert lost.value.extra["version"] == loaded[0].version == 3
    finally:
        first.close()
        second.close()
    with factory() as check:
        case = service.get_case(check, case_id=committed_case)
        assert case.state is CaseState.DISPATCHED and case.officer_id == officer.id
