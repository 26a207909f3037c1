"""Bundled sample connector templates (TOML package data), read by the local template loader."""
