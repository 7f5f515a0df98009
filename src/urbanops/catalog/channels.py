"""Intake channels (受理渠道) and their SLA profiles: shipped defaults and the service over them.

Every report comes through one door (``cases.service.report``) and names its channel. A channel
says whether its reports need 核实 (on-site verification) before 立案, whether a citizen waits for
an answer (回访 later), whether its reports are emergencies by default, and which report fields it
cannot do without. Time limits are data in ``sla_rule``, one row per (profile, stage); a profile is
a channel's code, ``default`` or ``emergency``. ``stage_limit`` resolves a stage's limit: the
``emergency`` profile first for an emergency, then the channel's own rule, then ``default``; no
rule at all means "not timed here" (``handle`` → the matter's case standard, ``close`` → no
whole-case deadline).

Decisions on the shipped defaults (a team edits them; they are not law):

- 核实 before 立案 for every report from outside the team (12345, 信访, 民心桥, 书记信箱, transfer
  letters, citizens, Open311): nobody of ours has seen the scene. None for a grid officer's own
  report, for video patrol (the operator saw it) or for an AI alarm (the frame is the evidence and
  the five-minute clock leaves no time for it).
- Citizen-facing (回访): citizen, Open311, 12345, 民心桥, 书记信箱. A 信访 is answered by a written
  信访处理意见书 (domain-standards §2.6), tracked through its own 60-day rule instead.
- 12345: the handling unit contacts the complainant within 24 hours (Shenzhen 接诉即办, §3.5); the
  finish comes from the matter's limit, so the profile has no ``close`` rule.
- 信访: acceptance decided within 15 days, answer within 60 days of acceptance (信访工作条例 2022,
  art. 22 and 34), both in natural days.
- 民心桥 and 书记信箱: the 12345 contact rule (24 hours) is ASSUMED; no published rule was found.
- emergency: respond within 5 minutes, handle within 10 (§3.6), continuous time (紧急工作时).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from urbanops.auth.service import audit
from urbanops.catalog.channel_models import SLA_STAGES, Channel, SlaRule
from urbanops.kit import revision
from urbanops.kit.actor import Actor
from urbanops.kit.calendar import LimitUnit
from urbanops.kit.errors import Conflict, InvalidInput, NotFound

DEFAULT_PROFILE = "default"
EMERGENCY_PROFILE = "emergency"

#: Report fields (names of ``cases.schemas.ReportIn``) that a channel may make mandatory.
METADATA_FIELDS = (
    "complainant_name",
    "complainant_phone",
    "caller_number",
    "letter_number",
    "source_ref",
    "address",
)
#: Of those, the ones that are personal data (个人信息): shown only to those who need them.
PERSONAL_FIELDS = ("complainant_name", "complainant_phone", "caller_number")

U, WH, ND = LimitUnit.URGENT_HOUR, LimitUnit.WORK_HOUR, LimitUnit.NATURAL_DAY


@dataclass(frozen=True)
class ChannelDefault:
    """One shipped channel: code, names, flags and required report fields."""

    code: str
    name: str
    name_en: str
    requires_verification: bool
    citizen_facing: bool
    required_fields: tuple[str, ...]
    emergency_by_default: bool = False
    note: str = ""


DEFAULT_CHANNELS: tuple[ChannelDefault, ...] = (
    ChannelDefault("video_patrol", "视频巡查", "Video patrol", False, False, ()),
    ChannelDefault("grid_report", "巡查上报", "Grid officer's report", False, False, ()),
    ChannelDefault(
        "hotline_12345",
        "12345热线",
        "Hotline 12345",
        True,
        True,
        ("caller_number",),
        note="电话投诉; contact the complainant within 24 h",
    ),
    ChannelDefault(
        "petition",
        "信访",
        "Petition",
        True,
        False,
        ("letter_number", "complainant_name"),
        note="信访工作条例 2022: accept within 15 days, answer within 60",
    ),
    ChannelDefault(
        "minxinqiao",
        "民心桥",
        "Minxinqiao radio programme",
        True,
        True,
        (),
        note="Shenzhen radio call-in programme; 24 h contact rule assumed",
    ),
    ChannelDefault(
        "secretary_mailbox",
        "书记信箱",
        "Secretary's mailbox",
        True,
        True,
        ("letter_number",),
        note="24 h contact rule assumed",
    ),
    ChannelDefault(
        "transfer_letter",
        "转办函",
        "Transfer letter from another department",
        True,
        False,
        ("letter_number", "source_ref"),
    ),
    ChannelDefault("citizen", "市民上报", "Citizen web or app", True, True, ()),
    ChannelDefault(
        "ai_alarm",
        "AI视频告警",
        "AI video alarm",
        False,
        False,
        ("source_ref",),
        emergency_by_default=True,
        note="respond within 5 minutes, handle within 10",
    ),
    ChannelDefault("open311", "Open311接口", "Open311", True, True, ("source_ref",)),
)

#: Shipped SLA rules: (profile, stage, amount, unit, note).
DEFAULT_SLA_RULES: tuple[tuple[str, str, float, LimitUnit, str], ...] = (
    (DEFAULT_PROFILE, "verify", 2, WH, "核实 within 2 working hours"),
    (DEFAULT_PROFILE, "register", 1, WH, "立案 decision within 1 working hour"),
    (DEFAULT_PROFILE, "dispatch", 0.5, WH, "派遣 within half a working hour"),
    (DEFAULT_PROFILE, "respond", 1, WH, "officer accepts within 1 working hour"),
    (DEFAULT_PROFILE, "check", 2, WH, "核查 within 2 working hours"),
    ("hotline_12345", "contact", 24, U, "接诉即办: contact the complainant within 24 hours"),
    ("petition", "register", 15, ND, "信访工作条例 art. 22: accept or route within 15 days"),
    ("petition", "close", 60, ND, "信访工作条例 art. 34: answer within 60 days of acceptance"),
    (EMERGENCY_PROFILE, "respond", 5 / 60, U, "respond within 5 minutes"),
    (EMERGENCY_PROFILE, "handle", 10 / 60, U, "handle within 10 minutes"),
    ("minxinqiao", "contact", 24, U, "assumed: same as 12345"),
    ("secretary_mailbox", "contact", 24, U, "assumed: same as 12345"),
)


def default_channel_rows(*, by: str, at: datetime) -> list[dict[str, Any]]:
    """The shipped channels as plain rows (for the migration's bulk insert)."""
    return [
        {
            "code": c.code,
            "name": c.name,
            "name_en": c.name_en,
            "requires_verification": c.requires_verification,
            "citizen_facing": c.citizen_facing,
            "emergency_by_default": c.emergency_by_default,
            "required_fields": list(c.required_fields),
            "active": True,
            "sort_order": (i + 1) * 10,
            "note": c.note,
            "created_at": at,
            "created_by": by,
        }
        for i, c in enumerate(DEFAULT_CHANNELS)
    ]


def default_sla_rows(*, by: str, at: datetime) -> list[dict[str, Any]]:
    """The shipped SLA rules as plain rows (for the migration's bulk insert)."""
    return [
        {
            "profile": profile,
            "stage": stage,
            "amount": float(amount),
            "unit": unit.value,
            "note": note,
            "created_at": at,
            "created_by": by,
        }
        for profile, stage, amount, unit, note in DEFAULT_SLA_RULES
    ]


# -- the cached reference (what intake reads on every report) ---------------------------------


@dataclass(frozen=True)
class ChannelInfo:
    """What intake needs of a channel, detached from any session (held in the process cache)."""

    code: str
    active: bool
    requires_verification: bool
    citizen_facing: bool
    emergency_by_default: bool
    required_fields: tuple[str, ...]


@dataclass(frozen=True)
class ChannelReference:
    """Every channel by code and every SLA rule by (profile, stage), at one revision."""

    channels: dict[str, ChannelInfo]
    rules: dict[tuple[str, str], tuple[float, LimitUnit]]


def _info(c: Channel) -> ChannelInfo:
    return ChannelInfo(
        c.code, c.active, c.requires_verification, c.citizen_facing,
        c.emergency_by_default, tuple(c.required_fields or ()),
    )  # fmt: skip


def _load_reference(session: Session) -> ChannelReference:
    """Read every channel and SLA rule (two queries)."""
    infos = {c.code: _info(c) for c in session.scalars(select(Channel))}
    rules = {
        (r.profile, r.stage): (float(r.amount), LimitUnit(r.unit))
        for r in session.scalars(select(SlaRule))
    }
    return ChannelReference(infos, rules)


_reference: revision.RevisionCache[ChannelReference] = revision.RevisionCache(
    revision.CHANNELS, _load_reference
)


def reference(session: Session) -> ChannelReference:
    """Channels and SLA rules from the process cache, reloaded when a write changed them."""
    return _reference.get(session)


def channel_info(session: Session, *, code: str) -> ChannelInfo | None:
    """The cached view of the channel with ``code``, active or not, or None."""
    return reference(session).channels.get(code)


def _changed(session: Session, now: datetime) -> None:
    """Tell every process that channels or SLA rules changed (same transaction as the write)."""
    revision.mark_changed(session, kind=revision.CHANNELS, now=now)


# -- channels ---------------------------------------------------------------------------------


def get_channel(session: Session, *, code: str) -> Channel | None:
    """The channel with ``code``, active or not, or None."""
    found: Channel | None = session.scalars(select(Channel).where(Channel.code == code)).first()
    return found


def require_channel(session: Session, *, code: str) -> Channel:
    """The channel with ``code``, or 404."""
    channel = get_channel(session, code=code)
    if channel is None:
        raise NotFound(f"No intake channel with code {code!r}", code="channel_not_found")
    return channel


def list_channels(session: Session, *, active_only: bool = False) -> Sequence[Channel]:
    """Every channel in display order."""
    query = select(Channel).order_by(Channel.sort_order, Channel.code)
    if active_only:
        query = query.where(Channel.active.is_(True))
    return session.scalars(query).all()


def update_channel(
    session: Session, *, code: str, changes: dict[str, Any], by: Actor, now: datetime
) -> Channel:
    """Change a channel's names, flags or required fields; the row records who and when."""
    channel = require_channel(session, code=code)
    nulls = sorted(name for name, value in changes.items() if value is None)
    if nulls:
        raise InvalidInput(
            "These fields cannot be null: " + ", ".join(nulls),
            code="null_not_allowed",
            fields=nulls,
        )
    if "required_fields" in changes:
        changes = {**changes, "required_fields": check_required_fields(changes["required_fields"])}
    for name, value in changes.items():
        setattr(channel, name, value)
    channel.stamp_updated(by.ref, now)
    session.flush()
    _changed(session, now)
    return channel


def check_required_fields(fields: Sequence[str]) -> list[str]:
    """``fields`` if each is a known report metadata field named once, else 422."""
    unknown = sorted({f for f in fields if f not in METADATA_FIELDS})
    if unknown:
        raise InvalidInput(
            "Unknown report fields: " + ", ".join(unknown),
            code="unknown_report_field",
            fields=unknown,
            allowed=list(METADATA_FIELDS),
        )
    if len(set(fields)) != len(fields):
        raise InvalidInput("A required field is named twice", code="duplicate_report_field")
    return list(fields)


def missing_fields(channel: Channel | ChannelInfo, values: dict[str, Any]) -> list[str]:
    """The channel's required fields that ``values`` leaves empty (None or blank)."""
    return [
        name
        for name in channel.required_fields
        if values.get(name) is None or str(values.get(name)).strip() == ""
    ]


# -- SLA rules --------------------------------------------------------------------------------


def stage_limit(
    session: Session, *, channel: str, stage: str, emergency: bool
) -> tuple[float, LimitUnit] | None:
    """A stage's limit: the emergency profile (if emergency), then the channel's, then default."""
    rules = reference(session).rules
    for profile in profile_chain(channel=channel, emergency=emergency):
        found = rules.get((profile, stage))
        if found is not None:
            return found
    return None


def profile_chain(*, channel: str, emergency: bool) -> list[str]:
    """The profiles consulted for a report, most specific first."""
    chain = [EMERGENCY_PROFILE] if emergency else []
    return [*chain, channel, DEFAULT_PROFILE]


def effective_limits(
    session: Session, *, channel: str, emergency: bool
) -> dict[str, tuple[float, LimitUnit, str]]:
    """Every timed stage of a report on ``channel``: amount, unit and the profile that set it."""
    profiles = profile_chain(channel=channel, emergency=emergency)
    rules = session.scalars(select(SlaRule).where(SlaRule.profile.in_(profiles))).all()
    rank = {p: i for i, p in enumerate(profiles)}
    chosen: dict[str, SlaRule] = {}
    for rule in sorted(rules, key=lambda r: rank[r.profile], reverse=True):
        chosen[rule.stage] = rule
    return {
        s: (float(chosen[s].amount), LimitUnit(chosen[s].unit), chosen[s].profile)
        for s in SLA_STAGES
        if s in chosen
    }


def list_rules(session: Session, *, profile: str | None = None) -> Sequence[SlaRule]:
    """SLA rules, optionally of one profile, by profile then stage order."""
    query = select(SlaRule)
    if profile is not None:
        query = query.where(SlaRule.profile == profile)
    rules = session.scalars(query).all()
    return sorted(rules, key=lambda r: (r.profile, SLA_STAGES.index(r.stage)))


def get_rule(session: Session, *, profile: str, stage: str) -> SlaRule | None:
    """The rule of ``stage`` in ``profile``, or None."""
    query = select(SlaRule).where(SlaRule.profile == profile, SlaRule.stage == stage)
    found: SlaRule | None = session.scalars(query).first()
    return found


def put_rule(
    session: Session,
    *,
    profile: str,
    stage: str,
    amount: float,
    unit: LimitUnit,
    note: str = "",
    by: Actor,
    now: datetime,
) -> tuple[SlaRule, bool]:
    """Create or replace a rule; answers the rule and whether it was created."""
    check_profile(session, profile=profile)
    check_stage(stage)
    check_amount(amount)
    rule = get_rule(session, profile=profile, stage=stage)
    created = rule is None
    if rule is None:
        rule = SlaRule(profile=profile, stage=stage)
        rule.stamp_created(by.ref, now)
        session.add(rule)
    else:
        rule.stamp_updated(by.ref, now)
    rule.amount, rule.unit, rule.note = float(amount), LimitUnit(unit), note
    session.flush()
    _changed(session, now)
    audit(
        session, actor=by, action="sla_rule.put", entity="sla_rule", entity_id=rule.id, now=now,
        detail={"profile": profile, "stage": stage, "amount": float(amount),
                "unit": LimitUnit(unit).value},
    )  # fmt: skip
    return rule, created


def delete_rule(session: Session, *, profile: str, stage: str, by: Actor, now: datetime) -> None:
    """Remove a rule so the next profile in the chain applies; ``default`` rules stay (409)."""
    if profile == DEFAULT_PROFILE:
        raise Conflict(
            "A rule of the default profile cannot be deleted; change it instead",
            code="default_rule_protected",
        )
    rule = get_rule(session, profile=profile, stage=stage)
    if rule is None:
        raise NotFound(f"No SLA rule for {profile}/{stage}", code="sla_rule_not_found")
    session.delete(rule)
    session.flush()
    _changed(session, now)
    audit(
        session, actor=by, action="sla_rule.delete", entity="sla_rule", entity_id=None, now=now,
        detail={"profile": profile, "stage": stage},
    )  # fmt: skip


def check_profile(session: Session, *, profile: str) -> None:
    """422 unless ``profile`` is ``default``, ``emergency`` or a channel's code."""
    if profile in (DEFAULT_PROFILE, EMERGENCY_PROFILE) or get_channel(session, code=profile):
        return
    raise InvalidInput(
        f"Unknown SLA profile {profile!r}: use default, emergency or a channel code",
        code="unknown_sla_profile",
    )


def check_stage(stage: str) -> None:
    """422 unless ``stage`` is one of ``SLA_STAGES``."""
    if stage not in SLA_STAGES:
        raise InvalidInput(
            f"Unknown stage {stage!r}", code="unknown_sla_stage", allowed=list(SLA_STAGES)
        )


def check_amount(amount: float) -> None:
    """422 unless ``amount`` is a finite number above zero."""
    if not (isinstance(amount, int | float) and 0 < amount < float("inf")):
        raise InvalidInput(f"amount must be a number above 0, not {amount}", code="bad_amount")
