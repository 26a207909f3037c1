"""Reading a named secret (an API key), so recipes name credentials instead of holding them."""

from __future__ import annotations

from typing import Protocol


class Secrets(Protocol):
    """Secrets by name; a recipe's ``auth.secret`` is such a name.

    A missing secret raises `NotFound` naming the environment variable or secret it looked
    for — never a value. Values are returned as text and must not be logged by callers.
    """

    def get(self, name: str) -> str:
        """The value of secret ``name`` (a letter, then letters, digits or _)."""
