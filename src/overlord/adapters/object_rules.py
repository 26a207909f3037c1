"""The object rules every ObjectStore adapter checks alike: bucket names, prefixes, data.

One definition, shared by the memory, local and S3 stores (no adapter family imports another),
so what one accepts the others accept, and a bad name is refused before a backend is touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from overlord.domain.errors import InvalidInput, InvalidName
from overlord.domain.names import slug, validate_object_key


def check_bucket(name: object) -> str:
    """A bucket name is a slug of 3-63 characters: valid on S3 and never a path."""
    return slug("bucket", name, 3, 63)


def check_prefixes(prefixes: Iterable[object]) -> tuple[str, ...]:
    """Public-read prefixes, sorted and deduplicated; each a folder such as 'public/'."""
    checked: set[str] = set()
    for prefix in prefixes:
        if (
            not isinstance(prefix, str)
            or not prefix.endswith("/")
            or any(c in prefix for c in "*?")
        ):
            raise InvalidName(f"invalid public prefix {prefix!r}: a folder such as 'public/'")
        validate_object_key(prefix[:-1])
        checked.add(prefix)
    return tuple(sorted(checked))


def check_data(data: object) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"object data must be bytes, got {type(data).__name__}")
    return bytes(data)
