"""Helpers shared by tests that need more than one process: real servers, scratch databases."""
