"""Shared plumbing: database, errors, events, clock and calendar, geometry, pagination."""
