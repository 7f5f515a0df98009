"""The field force: officers, devices and, later, positions and tracks."""
