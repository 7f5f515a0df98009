"""The one table of allowed transitions (流转规则) and the roles allowed to make each.

Every change of a case goes through ``require``: an action not allowed in the current state, or
not allowed to the actor's role, is refused here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from urbanops.cases.models import CaseState as S
from urbanops.cases.models import Stage
from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import Conflict, Forbidden, InvalidInput

STAFF = frozenset({Role.OPERATOR, Role.SHIFT_LEADER, Role.DISPATCHER})
FIELD = frozenset({Role.GRID_OFFICER, Role.SQUAD_LEADER})
SYSTEM_ROLES = frozenset({Role.ADMIN})


@dataclass(frozen=True)
class Transition:
    """``action`` moves a case from any of ``sources`` to ``target`` (None keeps the state)."""

    action: str
    sources: frozenset[S]
    target: S | None
    roles: frozenset[Role]
    reason_required: bool = False
    stage: Stage | None = None  # the clock that starts on arrival (None: stop / keep the clock)
    label: str = ""


def _t(
    action: str,
    sources: set[S],
    target: S | None,
    roles: frozenset[Role],
    *,
    reason: bool = False,
    stage: Stage | None = None,
    label: str,
) -> Transition:
    return Transition(action, frozenset(sources), target, roles, reason, stage, label)


OPEN = {S.REPORTED, S.REGISTERED, S.DISPATCHED, S.ACCEPTED, S.HANDLED, S.CHECKED}

#: 回退: one step back, reason mandatory.
RETURN_TO: dict[S, S] = {
    S.REGISTERED: S.REPORTED,
    S.DISPATCHED: S.REGISTERED,
    S.ACCEPTED: S.DISPATCHED,
    S.HANDLED: S.ACCEPTED,
    S.CHECKED: S.HANDLED,
}

TRANSITIONS: tuple[Transition, ...] = (
    _t("verify", {S.REPORTED}, None, FIELD | STAFF, stage=Stage.REGISTER, label="核实"),
    _t("register", {S.REPORTED}, S.REGISTERED, frozenset({Role.OPERATOR, Role.SHIFT_LEADER}),
       stage=Stage.DISPATCH, label="立案"),
    _t("reject", {S.REPORTED}, S.REJECTED, frozenset({Role.OPERATOR, Role.SHIFT_LEADER}),
       reason=True, label="不予立案"),
    _t("dispatch", {S.REGISTERED}, S.DISPATCHED, STAFF, stage=Stage.RESPOND, label="派遣"),
    _t("redispatch", {S.DISPATCHED}, S.DISPATCHED, STAFF, stage=Stage.RESPOND, label="改派"),
    _t("accept", {S.DISPATCHED}, S.ACCEPTED, FIELD, stage=Stage.HANDLE, label="签收"),
    _t("handle", {S.ACCEPTED}, S.HANDLED, FIELD, stage=Stage.CHECK, label="处置反馈"),
    _t("check", {S.HANDLED}, S.CHECKED, STAFF | FIELD, stage=Stage.CLOSE, label="核查通过"),
    _t("rework", {S.HANDLED, S.CHECKED}, S.DISPATCHED, STAFF | FIELD, reason=True,
       stage=Stage.RESPOND, label="返工"),
    _t("close", {S.CHECKED}, S.CLOSED, frozenset({Role.SHIFT_LEADER}), label="结案"),
    _t("return", set(RETURN_TO), None, STAFF | FIELD, reason=True, label="回退"),
    _t("request_suspension", OPEN, None, STAFF | FIELD, reason=True, label="申请挂账"),
    _t("suspend", OPEN, S.SUSPENDED, frozenset({Role.SHIFT_LEADER}), reason=True, label="挂账"),
    _t("resume", {S.SUSPENDED}, None, frozenset({Role.SHIFT_LEADER}), label="恢复"),
    _t("supervise", OPEN | {S.SUSPENDED, S.CLOSED}, None,
       frozenset({Role.SHIFT_LEADER, Role.LEADER, Role.SQUAD_LEADER}), reason=True, label="督办"),
    _t("reopen", {S.CLOSED}, S.REGISTERED, frozenset({Role.SHIFT_LEADER, Role.OPERATOR}),
       reason=True, stage=Stage.DISPATCH, label="重办"),
    _t("contact", OPEN, None, STAFF | FIELD, label="联系诉求人"),
    _t("note", OPEN | {S.SUSPENDED, S.CLOSED, S.REJECTED}, None, STAFF | FIELD | {Role.LEADER},
       label="备注"),
)  # fmt: skip

BY_ACTION: dict[str, Transition] = {t.action: t for t in TRANSITIONS}


def allowed_actions(state: S, actor: Actor | None = None, *, verified: bool = False) -> list[str]:
    """Actions possible in ``state`` (for ``actor``'s roles when given), in table order.

    ``verified``: the report was already checked on the spot (核实), so it is not offered again.
    """
    return [
        t.action
        for t in TRANSITIONS
        if state in t.sources
        and (actor is None or _role_ok(t, actor))
        and not (verified and t.action == "verify")
    ]


def _role_ok(t: Transition, actor: Actor) -> bool:
    return Role.ADMIN in actor.roles or actor.has(*t.roles)


def require(action: str, state: S, actor: Actor, *, reason: str | None = None) -> Transition:
    """The transition for ``action`` from ``state``; 409 (listing what is allowed) or 403 if not."""
    t = BY_ACTION.get(action)
    if t is None or state not in t.sources:
        raise Conflict(
            f"'{action}' is not allowed while the case is {state.value}",
            code="transition_not_allowed",
            state=state.value,
            allowed=allowed_actions(state, actor),
        )
    if not _role_ok(t, actor):
        raise Forbidden(
            f"Your role may not '{action}' a case",
            code="role_not_allowed",
            required_roles=sorted(r.value for r in t.roles),
        )
    if t.reason_required and not (reason and reason.strip()):
        raise InvalidInput(f"'{action}' needs a reason", code="reason_required")
    return t
