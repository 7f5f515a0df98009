"""Alerts (告警): one store every module raises into; the console shows and sounds them."""
