"""The national catalogue (GB/T 47678.5-2026): components (部件), matters (事项), standards."""
