"""Dispatch: recommendation, assignment, the 5/10-minute mechanism."""
