"""The marketplace connector's jobs: submit a product feed, then check how it was processed.

There is no retailer to talk to from the samples, so ``submit-feed`` validates the items and
builds the feed document the retailer would receive — its id is a digest of the document, so
resubmitting the same items names the same feed — and ``check-feed-status`` reports the sample
retailer's answer: every well-formed feed is processed at once, unless the payload says it is
still processing (``"processing": true``, for trying out polls), in which case the check ends
"not done yet" and its schedule keeps polling.

    OVERLORD_PAYLOAD='{"items": [{"sku": "A-1", "price": 9.5, "quantity": 3}]}' \\
        python -m overlord.samples.marketplace submit-feed
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Mapping
from typing import Any

from overlord.job import JobContext
from overlord.samples import SampleError, run

MAX_ITEMS_PER_FEED = 5000  # the connector's seeded default setting
_FEED_ID = re.compile(r"feed-[0-9a-f]{20}")


def _item(index: int, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise SampleError(f"items[{index}] must be an object")
    sku, price, quantity = item.get("sku"), item.get("price", 0), item.get("quantity", 0)
    if not isinstance(sku, str) or not sku.strip():
        raise SampleError(f"items[{index}] needs a sku")
    if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
        raise SampleError(f"items[{index}] ({sku}): price must be a number >= 0")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise SampleError(f"items[{index}] ({sku}): quantity must be an integer >= 0")
    return {"sku": sku, "price": price, "quantity": quantity}


def feed_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The feed the retailer receives, with an id derived from its content."""
    body = {"feed_type": "PRODUCT", "items": sorted(items, key=lambda i: i["sku"])}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return {"feed_id": f"feed-{hashlib.sha256(text.encode()).hexdigest()[:20]}", **body}


def submit_feed(job: JobContext) -> None:
    raw = job.payload.get("items")
    if not isinstance(raw, list):
        raise SampleError("the payload needs items: a list of {sku, price, quantity}")
    if len(raw) > MAX_ITEMS_PER_FEED:
        raise SampleError(f"{len(raw)} items is more than {MAX_ITEMS_PER_FEED} per feed")
    items = [_item(i, item) for i, item in enumerate(raw)]
    skus = [item["sku"] for item in items]
    duplicates = sorted({sku for sku in skus if skus.count(sku) > 1})
    if duplicates:
        raise SampleError(f"sku {duplicates[0]!r} appears more than once")
    if not items:
        job.progress("no items: nothing to submit")
        return
    job.progress(f"validated {len(items)} item(s)")
    feed = feed_document(items)
    size = len(json.dumps(feed).encode())
    job.progress(json.dumps({"feed_id": feed["feed_id"], "items": len(items), "bytes": size}))
    job.progress(f"submitted feed {feed['feed_id']}")


def check_feed_status(job: JobContext) -> None:
    feed_id = job.payload.get("feed_id")
    if feed_id is None:
        job.progress("no feed_id in the payload: nothing to check")
        return
    if not isinstance(feed_id, str) or not _FEED_ID.fullmatch(feed_id):
        raise SampleError(f"{feed_id!r} is not a feed id (feed- and 20 hex digits)")
    job.progress(f"checking feed {feed_id}")
    if job.payload.get("processing") is True:
        job.not_done_yet(f"feed {feed_id} is still processing")
    job.progress(json.dumps({"feed_id": feed_id, "status": "DONE"}))


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    commands = {"submit-feed": submit_feed, "check-feed-status": check_feed_status}
    return run("overlord.samples.marketplace", commands, argv, environ)


if __name__ == "__main__":
    sys.exit(main())
