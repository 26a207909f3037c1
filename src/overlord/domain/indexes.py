"""An index of a document collection: what every DocumentStore adapter creates alike.

Its own module so that reading and writing documents (every Lambda's path) does not import the
connector templates that declare collections.
"""

from __future__ import annotations

from attrs import frozen


@frozen
class IndexSpec:
    fields: tuple[str, ...]
    unique: bool = False

    @property
    def name(self) -> str:
        return ("ux_" if self.unique else "ix_") + "__".join(self.fields)
