"""The demo street is built once per test session; tests ask for it by name."""

from __future__ import annotations

import pytest

from urbanops.demo.geometry import DemoStreet, build_guanhu


@pytest.fixture(scope="session")
def guanhu() -> DemoStreet:
    """The demo street 观湖 as `make run` builds it."""
    return build_guanhu()
