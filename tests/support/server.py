"""A real ``urbanops serve`` process on a free port, and scratch databases to run it against.

Tests that must see what a real process does (a SIGKILL in the middle of a write, a restart on the
same database) use these instead of the in-process TestClient.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("URBANOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("URBANOPS_REQUIRE_PG") == "1" or os.environ.get("CI") == "true"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One ``urbanops serve`` process on a database: start, wait for /health, SIGKILL, restart.

    The port stays the same across restarts; the server's output goes to a log file in ``workdir``
    (its tail is shown when the server fails to come up).
    """

    database_url: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    startup_timeout_s: float = 30.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self) -> ServerProcess:
        """Start the process and return once /health answers 200."""
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError(f"server already running (pid {self._proc.pid})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "urbanops.cli", "serve", *self._address()],
            cwd=self.workdir,
            env=self._environment(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_healthy()
        return self

    def _address(self) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(self.port)]

    def _environment(self) -> dict[str, str]:
        env = {  # the server is not under test by pytest (NiceGUI changes its ways under it)
            k: v for k, v in os.environ.items() if not k.startswith(("URBANOPS_", "PYTEST_"))
        }
        env.update(
            URBANOPS_MODE="test",
            URBANOPS_DATABASE_URL=self.database_url,
            URBANOPS_EVIDENCE_ROOT=str(self.workdir / "evidence"),
        )
        env.update(self.env)
        return env

    def wait_healthy(self) -> None:
        """Poll /health until it answers 200; fail with the log's tail if the process dies."""
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"server exited while starting:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"server did not answer /health within {self.startup_timeout_s} s:\n{self.log_tail()}"
        )

    def kill(self) -> int | None:
        """SIGKILL the process (no shutdown handlers run) and return its exit status."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
        status = self._proc.wait(timeout=10)
        self._close_log()
        return status

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop the process gracefully (SIGTERM), killing it if it does not exit in time."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return self.kill()
        self._close_log()
        return self._proc.returncode

    def log_tail(self, chars: int = 4000) -> str:
        """The last ``chars`` characters the server wrote."""
        if not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def scratch_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a new, empty database: a SQLite file, or a PostgreSQL database dropped after.

    An unreachable PostgreSQL skips the test, or fails it with ``URBANOPS_REQUIRE_PG=1``.
    """
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    url = make_url(PG_URL)
    name = f"urbanops_s_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # depends on the machine
        admin.dispose()
        message = f"PostgreSQL at {PG_URL} is not reachable: {exc}"
        if REQUIRE_PG:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
