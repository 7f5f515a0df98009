"""Faults and bad input: a database restart, a full evidence store, a fuzzed API."""
