"""Follow-up (回访) of cases from citizen-facing channels, and what a rating does to the case.

When a case from a citizen-facing channel (the channel's ``citizen_facing`` flag: citizen page,
Open311, 12345, 民心桥, 书记信箱) closes, a follow-up is due. The complainant rates the result on
the citizen page, or an operator records the rating after a call (电话回访). Each rating is one
timeline row. The rules:

- satisfied (满意) or basically satisfied (基本满意): the case stays closed;
- the first unsatisfied (不满意) reopens it (不满意重办): back to ``registered`` with fresh clocks;
- a later unsatisfied does not reopen it again (the issue: "reopens the case once"): the closed
  case is flagged supervised (督办) and an alert goes to the shift leaders, who decide whether to
  reopen it themselves.

The follow-up row of a closure is created by whichever comes first: the periodic job
(``followup_job``, safe in any number of processes: the (case, round) key decides) or the first
rating (``ensure``). A job rather than a CaseClosed subscriber: events are delivered after the
commit and lost with the process, while a closed case without its row is found on the next pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from urbanops.alerts.models import AlertKind
from urbanops.alerts.service import raise_alert
from urbanops.cases import service, timeline
from urbanops.cases.events import CaseEvent
from urbanops.cases.followup_models import Followup, Outcome, Rating, RatingMethod
from urbanops.cases.models import Case, CaseReport, CaseState
from urbanops.catalog import channels
from urbanops.kit.actor import Actor, Role
from urbanops.kit.clock import Clock
from urbanops.kit.db import unit_of_work
from urbanops.kit.errors import Conflict, InvalidInput
from urbanops.kit.events import publish

#: The follow-up rules' signature on the reopen and supervise steps they cause.
FOLLOWUP = Actor(kind="system", id=None, name="回访", roles=frozenset({Role.ADMIN}))
REOPEN_REASON = "不满意重办"
SUPERVISE_REASON = "回访再次不满意，转值班长督办"
#: The public wording of a rating row (shown on the citizen page, as ``cases.public`` allows).
RATING_WORDING: dict[Rating, str] = {
    Rating.SATISFIED: "回访评价：满意",
    Rating.BASICALLY_SATISFIED: "回访评价：基本满意",
    Rating.UNSATISFIED: "回访评价：不满意",
}
ALERT_KIND = AlertKind.FOLLOWUP_UNSATISFIED
BATCH = 500
COMMENT_MAX = 1000


@dataclass(frozen=True, kw_only=True)
class FollowupRated(CaseEvent):
    """A complainant rated a closure (for the statistics and the console)."""

    name = "FollowupRated"
    round: int
    rating: str
    method: str
    outcome: str


def citizen_facing(session: Session) -> frozenset[str]:
    """Codes of the channels whose complainants get a follow-up (cached reference)."""
    infos = channels.reference(session).channels.values()
    return frozenset(c.code for c in infos if c.citizen_facing)


def current_round(case: Case) -> int:
    """The closure a follow-up rates now: 1 for the first, one more after each reopening."""
    return case.reopen_count + 1


def facing_channel(session: Session, case: Case) -> str | None:
    """The citizen-facing channel the case answers to: its own, else that of a merged report."""
    codes = citizen_facing(session)
    if case.channel in codes:
        return case.channel
    query = (
        select(CaseReport.channel)
        .where(CaseReport.case_id == case.id, CaseReport.channel.in_(codes))
        .order_by(CaseReport.reported_at, CaseReport.id)
    )
    return session.scalars(query).first()


def is_due(session: Session, case: Case) -> bool:
    """Whether a rating of ``case`` may be given now: closed, citizen-facing, not yet rated."""
    if case.state is not CaseState.CLOSED or facing_channel(session, case) is None:
        return False
    found = _row(session, case_id=case.id, round_=current_round(case))
    return found is None or found.rating is None


def for_case(session: Session, *, case_id: int) -> Sequence[Followup]:
    """Every follow-up of a case, first closure first."""
    query = select(Followup).where(Followup.case_id == case_id).order_by(Followup.round)
    return session.scalars(query).all()


def _row(session: Session, *, case_id: int, round_: int) -> Followup | None:
    query = select(Followup).where(Followup.case_id == case_id, Followup.round == round_)
    return session.scalars(query).first()


# --- opening follow-ups -------------------------------------------------------------------------


def ensure(session: Session, *, case: Case, channel: str, now: datetime) -> Followup:
    """The follow-up of the case's current closure, created if none exists yet."""
    return _open(session, case=case, channel=channel, now=now)[0]


def _open(session: Session, *, case: Case, channel: str, now: datetime) -> tuple[Followup, bool]:
    """The follow-up of the current closure, and whether this call created it."""
    round_ = current_round(case)
    found = _row(session, case_id=case.id, round_=round_)
    if found is not None:
        return found, False
    row = Followup(
        case_id=case.id, round=round_, channel=channel,
        closed_at=case.closed_at or now, created_at=now,
    )  # fmt: skip
    try:
        with session.begin_nested():  # another process may open the same one first
            session.add(row)
    except IntegrityError:
        found = _row(session, case_id=case.id, round_=round_)
        if found is None:
            raise
        return found, False
    return row, True


def _missing() -> ColumnElement[bool]:
    """No follow-up row yet for the case's current closure."""
    return ~exists().where(Followup.case_id == Case.id, Followup.round == Case.reopen_count + 1)


def open_due(session: Session, *, now: datetime, batch: int = BATCH) -> int:
    """Open the follow-ups of closed citizen-facing cases that have none yet; how many opened."""
    codes = citizen_facing(session)
    if not codes:
        return 0
    from_citizen = exists().where(CaseReport.case_id == Case.id, CaseReport.channel.in_(codes))
    query = (
        select(Case)
        .where(Case.state == CaseState.CLOSED, from_citizen, _missing())
        .order_by(Case.closed_at, Case.id)
        .limit(batch)
    )
    opened = 0
    for case in session.scalars(query).all():
        channel = facing_channel(session, case)
        if channel is not None:
            opened += _open(session, case=case, channel=channel, now=now)[1]
    return opened


def followup_job(factory: sessionmaker[Session], clock: Clock) -> int:
    """The periodic job (``kit.jobs``): open every follow-up that is due."""
    with unit_of_work(factory) as session:
        return open_due(session, now=clock.now())


# --- rating -------------------------------------------------------------------------------------


def rate(
    session: Session,
    *,
    case_id: int,
    rating: Rating,
    method: RatingMethod,
    by: Actor,
    now: datetime,
    comment: str | None = None,
) -> Followup:
    """Record the rating of the case's current closure and apply its consequence.

    409 ``followup_not_applicable`` for a case of a channel without follow-up, 409
    ``followup_not_due`` while the case is not closed, 409 ``already_rated`` for a second rating
    of the same closure.
    """
    comment = _clean_comment(comment)
    case = service.get_case(session, case_id=case_id)
    channel = facing_channel(session, case)
    if channel is None:
        raise Conflict(
            f"Cases of the channel {case.channel} get no follow-up (回访)",
            code="followup_not_applicable",
            channel=case.channel,
        )
    if case.state is not CaseState.CLOSED:
        raise Conflict(
            f"The case is {case.state.value}; it is rated once it is closed",
            code="followup_not_due",
            state=case.state.value,
        )
    row = ensure(session, case=case, channel=channel, now=now)
    earlier_unsatisfied = _unsatisfied_before(session, case_id=case.id, round_=row.round)
    outcome = _outcome(rating, earlier_unsatisfied)
    _claim(session, row, rating=rating, method=method, by=by, now=now, comment=comment,
           outcome=outcome)  # fmt: skip
    timeline.record(
        session, case, by=by, action="followup", at=now, note=RATING_WORDING[rating],
        data={"public": True, "rating": rating.value, "method": method.value, "round": row.round,
              "outcome": outcome.value, "comment": comment},
    )  # fmt: skip
    _apply(session, case, row, outcome=outcome, now=now)
    publish(
        session,
        FollowupRated(
            at=now, case_id=case.id, number=case.number, state=case.state.value, round=row.round,
            rating=rating.value, method=method.value, outcome=outcome.value,
        ),
    )  # fmt: skip
    return row


def _clean_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise InvalidInput(
            f"A comment has at most {COMMENT_MAX} characters", code="comment_too_long"
        )
    return text or None


def _unsatisfied_before(session: Session, *, case_id: int, round_: int) -> int:
    query = select(func.count()).where(
        Followup.case_id == case_id,
        Followup.round < round_,
        Followup.rating == Rating.UNSATISFIED,
    )
    return session.scalar(query) or 0


def _outcome(rating: Rating, earlier_unsatisfied: int) -> Outcome:
    if rating is not Rating.UNSATISFIED:
        return Outcome.NONE
    return Outcome.REOPENED if earlier_unsatisfied == 0 else Outcome.SUPERVISED


def _claim(
    session: Session,
    row: Followup,
    *,
    rating: Rating,
    method: RatingMethod,
    by: Actor,
    now: datetime,
    comment: str | None,
    outcome: Outcome,
) -> None:
    """Write the rating if nobody rated this closure meanwhile (one conditional UPDATE)."""
    values: dict[str, Any] = {
        "rating": rating, "method": method, "rated_at": now, "rated_by": by.ref,
        "rated_by_name": by.name[:64], "comment": comment, "outcome": outcome,
    }  # fmt: skip
    statement = (
        update(Followup)
        .where(Followup.id == row.id, Followup.rating.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This closure of the case is already rated", code="already_rated")
    for key, value in values.items():
        set_committed_value(row, key, value)


def _apply(session: Session, case: Case, row: Followup, *, outcome: Outcome, now: datetime) -> None:
    """Reopen after the first unsatisfied rating; supervision, not a reopening, after another."""
    if outcome is Outcome.NONE:
        return
    note = f"第{row.round}次回访不满意"
    if outcome is Outcome.REOPENED:
        service.act(session, case_id=case.id, action="reopen", by=FOLLOWUP, now=now,
                    reason=REOPEN_REASON, note=note)  # fmt: skip
    else:
        service.act(session, case_id=case.id, action="supervise", by=FOLLOWUP, now=now,
                    reason=SUPERVISE_REASON, note=note)  # fmt: skip
        raise_alert(
            session, kind=ALERT_KIND, at=now, severity="warning", case_id=case.id,
            grid_code=case.responsibility_grid_code, to_role=Role.SHIFT_LEADER.value,
            title=f"案件 {case.number} 回访再次不满意，请督办",
            data={"round": row.round, "number": case.number},
            dedupe_key=f"{ALERT_KIND}:{case.id}:{row.round}",
        )  # fmt: skip


# --- the operators' queue and the statistics ----------------------------------------------------


@dataclass(frozen=True)
class PendingPage:
    """One page of follow-ups waiting for a rating, oldest closure first, and how many wait."""

    items: list[tuple[Followup, Case]]
    total: int


def pending(session: Session, *, page: int = 1, size: int = 50) -> PendingPage:
    """Follow-ups still to rate (of closures that stand: the case is closed in that round)."""
    if page < 1 or not 1 <= size <= 500:
        raise InvalidInput("page ≥ 1 and 1 ≤ size ≤ 500", code="invalid_page")
    condition = and_(
        Followup.rating.is_(None),
        Case.state == CaseState.CLOSED,
        Followup.round == Case.reopen_count + 1,
    )
    base = select(Followup, Case).join(Case, Case.id == Followup.case_id).where(condition)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(Followup.closed_at, Followup.id).offset((page - 1) * size).limit(size)
    ).all()
    return PendingPage(items=[(f, c) for f, c in rows], total=total)


def rating_counts(
    session: Session,
    *,
    rated_from: datetime | None = None,
    rated_to: datetime | None = None,
    channel: str | None = None,
) -> dict[Rating, int]:
    """How many ratings of each kind were given in ``[rated_from, rated_to)`` (for statistics)."""
    query = select(Followup.rating, func.count()).where(Followup.rating.is_not(None))
    if rated_from is not None:
        query = query.where(Followup.rated_at >= rated_from)
    if rated_to is not None:
        query = query.where(Followup.rated_at < rated_to)
    if channel is not None:
        query = query.where(Followup.channel == channel)
    found = {rating: n for rating, n in session.execute(query.group_by(Followup.rating))}
    return {r: int(found.get(r, 0)) for r in Rating}
