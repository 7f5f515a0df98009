"""urbanops: command platform for a street-level urban-management team (城管执法队)."""

__version__ = "0.1.0"
