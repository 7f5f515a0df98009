"""Cameras (视频监控), video patrol rounds and device commands."""
