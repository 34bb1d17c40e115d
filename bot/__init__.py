"""The runtime edge: CLI, settings, composition root and platform adapters."""
