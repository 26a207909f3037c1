"""The local profile's state folder, checked before any adapter writes under it.

Every local adapter creates its own folder under ``OVERLORD_HOME`` on first use, so a home that
is a file, or sits where nothing can be created, would otherwise surface as whichever
``OSError`` the first adapter happened to hit, after other work had begun.
"""

from __future__ import annotations

import os
from pathlib import Path

from overlord.domain.errors import InvalidInput


def usable_home(home: Path) -> Path:
    """``home`` if it is, or can become, a writable folder; InvalidInput naming it otherwise.
    Nothing is created here: a read-only command leaves no folder behind."""
    path = home.absolute()
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing == path and not path.is_dir():
        raise InvalidInput(f"OVERLORD_HOME {home}: not a folder")
    if not existing.is_dir():
        raise InvalidInput(f"OVERLORD_HOME {home}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput(f"OVERLORD_HOME {home}: {existing} is not writable")
    return home
