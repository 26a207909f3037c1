"""The ``overlord`` command (Typer + Rich): tables for people, ``--output json`` for scripts.

Kept empty so that importing the package (``python -m overlord.entrypoints.cli``) costs nothing
beyond what the invoked command needs; `overlord.entrypoints.cli.app` holds the app and `main`.
"""
