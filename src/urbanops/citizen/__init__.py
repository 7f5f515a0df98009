"""The citizen's door (市民上报): report from a phone, follow the case by a tracking id, rate it."""
