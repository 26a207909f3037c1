"""A mongomock client whose every operation runs under one lock, as a server applies it atomically.

A MongoDB server applies each single-document write atomically; mongomock checks an update's
filter and then modifies the document in two unlocked steps, so racing threads lose
compare-and-set increments on it (seen as ``{'n': 134} == {'n': 200}`` in the contract suite).
That is a flaw of the stand-in, not of the adapter, so the tests give mongomock the atomicity the
adapter relies on, as ``tests/moto_endpoint.py`` does for moto's DynamoDB: every call on the
client, a database, a collection or a cursor (and every step of iterating a cursor) holds the
same lock. The adapter still sees pymongo's API and mongomock's answers unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
from mongomock.collection import Collection, Cursor
from mongomock.command_cursor import CommandCursor
from mongomock.database import Database

_WRAPPED = (mongomock.MongoClient, Database, Collection, Cursor, CommandCursor)


class Serial:
    """A proxy over a mongomock object; attributes that are mongomock objects are proxied too."""

    def __init__(self, target: Any, lock: threading.RLock) -> None:
        self._target = target
        self._lock = lock

    def _wrap(self, value: Any) -> Any:
        return Serial(value, self._lock) if isinstance(value, _WRAPPED) else value

    def _call(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return self._wrap(method(*args, **kwargs))

        return locked

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            value = getattr(self._target, name)
        if isinstance(value, _WRAPPED) or not callable(value):
            return self._wrap(value)
        return self._call(value)

    def __getitem__(self, key: Any) -> Any:
        with self._lock:
            return self._wrap(self._target[key])

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            iterator = iter(self._target)
        while True:
            with self._lock:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
            yield self._wrap(item)


def serial_client() -> Any:
    """A new in-process mongomock client, serialised like a server's single-document writes."""
    return Serial(mongomock.MongoClient(), threading.RLock())
