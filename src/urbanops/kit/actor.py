"""Who is acting: every write records its actor (person, device, integration or system)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Roles of the command platform, each with its Chinese name in ``ROLE_NAMES``."""

    OPERATOR = "operator"
    SHIFT_LEADER = "shift_leader"
    DISPATCHER = "dispatcher"
    GRID_OFFICER = "grid_officer"
    SQUAD_LEADER = "squad_leader"
    LEGAL_REVIEWER = "legal_reviewer"
    LEADER = "leader"
    ADMIN = "admin"
    INTEGRATION = "integration"
    DEVICE = "device"


ROLE_NAMES: dict[Role, str] = {
    Role.OPERATOR: "受理员",
    Role.SHIFT_LEADER: "值班长",
    Role.DISPATCHER: "派遣员",
    Role.GRID_OFFICER: "网格员",
    Role.SQUAD_LEADER: "中队长",
    Role.LEGAL_REVIEWER: "法制审核员",
    Role.LEADER: "领导",
    Role.ADMIN: "系统管理员",
    Role.INTEGRATION: "外部系统",
    Role.DEVICE: "设备",
}


@dataclass(frozen=True)
class Actor:
    """The principal behind a request or a job.

    ``grid_scope`` is None for roles that see everything, else the responsibility-grid codes the
    actor may act on (a squad leader sees his grids).
    """

    kind: str  # "user" | "device" | "integration" | "system"
    id: int | None
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    grid_scope: frozenset[str] | None = None
    #: For a device principal: the device it speaks for (e.g. a body camera's serial), if bound.
    device_ref: str | None = None

    @property
    def ref(self) -> str:
        """A stable text reference stored in ``created_by`` / audit rows, e.g. ``user:12``."""
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def may_see_grid(self, grid_code: str | None) -> bool:
        return self.grid_scope is None or (grid_code is not None and grid_code in self.grid_scope)


SYSTEM = Actor(kind="system", id=None, name="系统", roles=frozenset({Role.ADMIN}))
