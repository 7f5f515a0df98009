"""Authentication and authorisation dependencies for every router.

Contract used by all modules:
- ``CurrentActor``: the authenticated principal (bearer token, session cookie or API key);
  401 problem when none.
- ``require(*roles)``: a dependency answering the Actor when it holds one of ``roles``
  (admin always passes), else a 403 problem.
- ``require_grid(actor, grid_code)``: 403 problem when the grid is outside the actor's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from urbanops.kit.actor import Actor, Role
from urbanops.kit.errors import Forbidden, Unauthorized
from urbanops.kit.web import ClockDep, SessionDep


def current_actor(request: Request, session: SessionDep, clock: ClockDep) -> Actor:
    """The principal behind the request (认证), or a 401 problem."""
    from urbanops.auth import service

    actor = service.authenticate_request(session, request=request, now=clock.now())
    if actor is None:
        raise Unauthorized("Sign in, or send a bearer token or an API key")
    return actor


def optional_actor(request: Request, session: SessionDep, clock: ClockDep) -> Actor | None:
    """The principal behind the request, or None for an anonymous one (public pages)."""
    from urbanops.auth import service

    return service.authenticate_request(session, request=request, now=clock.now())


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def require(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that lets through only actors with one of ``roles`` (or admin)."""

    def _check(actor: CurrentActor) -> Actor:
        if Role.ADMIN in actor.roles or actor.has(*roles):
            return actor
        raise Forbidden(
            "Your role does not allow this action",
            required_roles=[r.value for r in roles],
        )

    return _check


def require_grid(actor: Actor, grid_code: str | None) -> None:
    """Refuse (403) an action on a grid outside the actor's scope (a squad leader's 责任网格)."""
    if not actor.may_see_grid(grid_code):
        raise Forbidden(
            "This grid is outside your area of responsibility",
            code="grid_out_of_scope",
            grid_code=grid_code,
        )
