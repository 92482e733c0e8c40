"""Kodeord's built-in plugins. Each is an ordinary pluggy plugin, listed in ``DEFAULT_PLUGINS``."""
