"""Browser tests here share one live street and one Chromium per module (tests.support.browser)."""

from tests.support.browser import browser, street

__all__ = ["browser", "street"]
