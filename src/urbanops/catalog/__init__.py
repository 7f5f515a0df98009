"""The national catalogue of components (部件) and matters (事项), GB/T 47678.5-2026, and case standards."""
