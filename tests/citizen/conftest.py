"""The demo street's people as actors (from the case tests), for the follow-up service tests."""

from tests.cases.conftest import people

__all__ = ["people"]
