"""The local profile's object-created events: `LocalObjectStore` tells ``on_created`` of each
object once it has landed (readable, as S3's notification comes after the write), a put it
refused tells nothing, and `ObjectEvents` passes each on to every subscriber in turn.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from overlord.adapters.local.object_store import LocalObjectStore
from overlord.container import ObjectEvents
from overlord.domain.errors import InvalidName, NotFound
from overlord.domain.infrastructure import BucketSpec


def test_each_object_is_announced_once_it_can_be_read(tmp_path: Path) -> None:
    seen: list[tuple[str, str, bytes]] = []
    store: LocalObjectStore

    def listener(bucket: str, key: str) -> None:
        seen.append((bucket, key, store.get_object(bucket, key)))

    store = LocalObjectStore(tmp_path / "objects", on_created=listener)
    store.ensure_bucket(BucketSpec("acme-data"))

    store.put_object("acme-data", "raw/a/_manifest.json", b"{}")
    store.put_many("acme-data", {"raw/b/1.ndjson": b"1", "raw/b/2.ndjson": b"2"})

    assert sorted(seen) == [
        ("acme-data", "raw/a/_manifest.json", b"{}"),
        ("acme-data", "raw/b/1.ndjson", b"1"),
        ("acme-data", "raw/b/2.ndjson", b"2"),
    ]


def test_a_refused_put_announces_nothing(tmp_path: Path) -> None:
    seen: list[str] = []
    store = LocalObjectStore(tmp_path / "objects", on_created=lambda _, key: seen.append(key))
    store.ensure_bucket(BucketSpec("acme-data"))

    with pytest.raises(NotFound):
        store.put_object("no-such-bucket", "raw/a/_manifest.json", b"{}")
    with pytest.raises(InvalidName):
        store.put_many("acme-data", {"raw/ok.json": b"1", "../escape": b"2"})

    assert seen == []


def test_object_events_reach_every_subscriber_in_the_order_they_subscribed() -> None:
    events = ObjectEvents()
    heard: list[str] = []
    events.subscribe(lambda bucket, key: heard.append(f"first {bucket}/{key}"))
    events.subscribe(lambda bucket, key: heard.append(f"second {bucket}/{key}"))

    events("acme-data", "raw/a/_manifest.json")

    assert heard == [
        "first acme-data/raw/a/_manifest.json",
        "second acme-data/raw/a/_manifest.json",
    ]
