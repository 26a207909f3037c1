"""Bulk S3 transfers on aioboto3: many requests in flight from one thread, bounded by a semaphore.

Kept apart from `object_store` so that aioboto3 (~280 ms to import) loads only when a bulk call
is made, and so that callers already inside an event loop (a notebook, an async handler) still
get a blocking call: the coroutine then runs in a worker thread with its own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import frozen

from overlord.adapters.aws.clients import MAX_RETRIES

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client as AsyncS3Client

T = TypeVar("T")
Call = Callable[["AsyncS3Client", str], Awaitable[None]]


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion, in a worker thread when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@frozen
class AsyncTarget:
    """Where the async client connects: the same place as the adapter's boto3 client."""

    region: str | None
    profile: str | None = None
    endpoint_url: str | None = None


async def for_each_key(
    target: AsyncTarget,
    keys: list[str],
    call: Call,
    *,
    concurrency: int,
    translate: Callable[[BaseException, str], BaseException],
) -> None:
    """Apply ``call`` to every key with at most ``concurrency`` requests in flight.

    Every key is attempted; the first failure (translated to a domain error) is raised after
    the others finished, so a bulk put never leaves requests running behind the caller's back.
    """
    if not keys:
        return
    import aioboto3
    from aiobotocore.config import AioConfig

    limit = max(1, concurrency)
    config = AioConfig(
        retries={"mode": "standard", "max_attempts": MAX_RETRIES}, max_pool_connections=limit
    )
    semaphore = asyncio.Semaphore(limit)

    async def one(s3: AsyncS3Client, key: str) -> None:
        async with semaphore:
            try:
                await call(s3, key)
            except Exception as exc:
                raise translate(exc, f"transfer {key}") from exc

    session = aioboto3.Session(profile_name=target.profile)
    async with session.client(
        "s3", region_name=target.region, endpoint_url=target.endpoint_url, config=config
    ) as s3:
        results = await asyncio.gather(*(one(s3, key) for key in keys), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
