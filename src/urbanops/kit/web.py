"""Web plumbing shared by every router: dependencies, and errors answered as problem+json."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from urbanops.config import Settings
from urbanops.kit.clock import Clock
from urbanops.kit.db import WRITE_OPTIONS
from urbanops.kit.errors import PROBLEM_JSON, Problem

log = logging.getLogger(__name__)

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """The request owns the transaction: services flush, the request commits at its end."""
    factory = request.app.state.sessionmaker
    session: Session = (
        factory()
        if request.method in READ_ONLY_METHODS
        else factory(execution_options=WRITE_OPTIONS)
    )
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the commit happens before the answer leaves (an acknowledged write is durable).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    headers = {}
    if problem.status == 503:
        headers["Retry-After"] = "5"
    return JSONResponse(
        problem.to_dict(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers or None,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as ``application/problem+json`` with a stable ``code``."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        problem = Problem(
            "The request does not match the expected shape",
            status=422,
            code="invalid_input",
            title="The input is not valid",
            errors=errors,
        )
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else None
        problem = Problem(detail, status=exc.status_code, code=code, title=code.replace("_", " "))
        response = problem_response(problem, request)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        problem = Problem(
            "The database is not reachable; retry shortly",
            status=503,
            code="database_unavailable",
            title="Service temporarily unavailable",
        )
        return problem_response(problem, request)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # A value the database cannot hold: an id past 64 bits (SQLite's driver raises
        # OverflowError, PostgreSQL 22003), a string past its column (22001 on PostgreSQL only).
        # The request's transaction is rolled back; the client has to send something else.
        log.warning("value refused by the database: %s", exc)
        problem = Problem(
            "A value is out of the range the database can store",
            status=422,
            code="value_out_of_range",
            title="The input is not valid",
        )
        return problem_response(problem, request)

    # Unreachable or gone (OperationalError), a connection already closed (InterfaceError), or no
    # connection free in the pool in time (TimeoutError): the client should retry, not see a 500.
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _db_down)


class RequestLimit:
    """Admit at most ``limit`` HTTP requests at once; the rest wait in line (ASGI middleware).

    Sync endpoints and sync dependencies each borrow a worker thread, one after the other, and a
    request keeps its transaction (and its row locks) between those turns. Unbounded, 50 clients
    can fill every worker thread with requests waiting for a lock or a connection while the
    request that holds it waits for a thread to commit: a deadlock until the pool times out.
    Keeping ``limit`` below both the thread count and the connection pool makes that impossible.
    Paths in ``exempt`` pass freely: a stream (``/api/events``) lasts as long as its client and
    waits on nothing but news, so under the limit a few open consoles would starve the API.
    """

    def __init__(self, app: ASGIApp, *, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:  # a test client may change loops
            self._loop, self._semaphore = loop, asyncio.Semaphore(self.limit)
        return self._semaphore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        async with self._gate():
            await self.app(scope, receive, send)
