"""Taskbot as a Slack app (Bolt AsyncApp): HTTP mode or Socket Mode, on the shared core."""
