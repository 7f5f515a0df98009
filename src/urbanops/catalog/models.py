"""Tables (filled in by its module)."""
