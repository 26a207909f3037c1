"""What `upload_period` costs over a plain copy, for one 2,000-file folder of a period.

Why: the upload stage re-hashes every file as it reads it (a file changed since the unpack is
refused), reads the stored manifest, uploads in bounded batches through `ObjectStore.put_many`
and writes the manifest last. The floor is a copy that does none of that:

- local object store vs ``shutil.copytree`` of the same folder into a fresh one (target
  <= 1.2x). `LocalObjectStore` writes each object to a temporary file, fsyncs it and renames it
  into place (a reader never sees half an object); ``copytree`` does not fsync, so the ratio
  includes the price of that durability.
- S3 on a moto server in its own process (`moto_process`) vs raw boto3 ``put_object`` calls on
  16 threads (target <= 1.1x). moto's CPU per PUT dominates both, so the ratio says how much
  the stage adds to the requests, not what S3 would sustain.

Each figure is the best of ``--rounds``, alternating with its baseline in the same run so both
see the same page cache and the same server; printed beside it as a ratio.

    python benchmarks/dataset_upload.py            # 2,000 files of 16 KiB, 3 rounds
    python benchmarks/dataset_upload.py --quick    # 200 files, 1 round
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from moto_process import start_moto

from overlord.domain.archives import ExtractedFile
from overlord.domain.infrastructure import BucketSpec
from overlord.ports.object_store import ObjectStore
from overlord.services.dataset_upload import upload_period

CONCURRENCY = 16
FILE_SIZE = 16 * 1024


def make_folder(root: Path, count: int) -> list[ExtractedFile]:
    folder = root / "unpacked"
    folder.mkdir()
    files = []
    for i in range(count):
        name = f"part-{i:05d}.txt"
        body = os.urandom(FILE_SIZE // 2).hex().encode()
        (folder / name).write_bytes(body)
        files.append(
            ExtractedFile(name, folder / name, len(body), hashlib.sha256(body).hexdigest())
        )
    return files


buckets: list[str] = []  # made before each timed run: the figures time uploads, not buckets


def fresh_bucket(store: ObjectStore) -> None:
    name = f"bench-{uuid.uuid4().hex[:16]}"
    store.ensure_bucket(BucketSpec(name))
    buckets.append(name)


def best(rounds: int, run: Callable[[], None], store: ObjectStore | None = None) -> float:
    times = []
    for _ in range(rounds):
        if store is not None:
            fresh_bucket(store)
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def upload(store: ObjectStore, files: list[ExtractedFile]) -> Callable[[], None]:
    def run() -> None:
        bucket = buckets.pop()
        report = upload_period(
            store, bucket, "bench", "2026Q1", files, lambda _: "table", concurrency=CONCURRENCY
        )
        if len(report.written[0].files) != len(files):
            raise SystemExit("not every file was uploaded")

    return run


def copytree(source: Path, scratch: Path) -> Callable[[], None]:
    def run() -> None:
        shutil.copytree(source, scratch / uuid.uuid4().hex)

    return run


def durable_copytree(source: Path, scratch: Path) -> Callable[[], None]:
    """``copytree``, then what the store adds for durability: an ``fsync`` of every copied file
    on `CONCURRENCY` threads (concurrent ones share journal commits) and one of the folder."""

    def run() -> None:
        target = scratch / uuid.uuid4().hex
        shutil.copytree(source, target)

        def sync(path: Path) -> None:
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(sync, list(target.iterdir())))
        sync(target)

    return run


def raw_puts(files: list[ExtractedFile]) -> Callable[[], None]:
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", config=Config(max_pool_connections=CONCURRENCY, retries={"mode": "standard"})
    )

    def run() -> None:
        bucket = buckets.pop()

        def put(file: ExtractedFile) -> None:
            key = f"raw/bench/2026Q1/table/{file.name}"
            s3.put_object(Bucket=bucket, Key=key, Body=file.path.read_bytes())

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(put, files))

    return run


def line(name: str, seconds: float, baseline: float, target: float) -> str:
    ratio = seconds / baseline
    verdict = "within" if ratio <= target else "over"
    return f"{name:<44}{seconds:>8.3f}s{baseline:>9.3f}s{ratio:>7.2f}x  ({verdict} {target}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 files, one round")
    parser.add_argument("--local-only", action="store_true", help="skip S3 on moto")
    args = parser.parse_args()
    count, rounds = (200, 1) if args.quick else (args.files, args.rounds)
    from overlord.adapters.local.object_store import LocalObjectStore

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        files = make_folder(root, count)
        scratch = root / "copies"
        scratch.mkdir()
        local = LocalObjectStore(root / "objects")
        local_figure = local_floor = durable_floor = float("inf")
        for _ in range(rounds):
            local_floor = min(local_floor, best(1, copytree(root / "unpacked", scratch)))
            durable_floor = min(
                durable_floor, best(1, durable_copytree(root / "unpacked", scratch))
            )
            local_figure = min(local_figure, best(1, upload(local, files), local))
        raw_floor = s3_figure = float("nan")
        if not args.local_only:
            raw_floor, s3_figure = s3_figures(files, rounds)
    print(f"one folder of {count} files of {FILE_SIZE // 1024} KiB; best of {rounds} round(s)")
    print(f"{'upload_period to':<44}{'seconds':>9}{'baseline':>10}{'ratio':>8}")
    print(line("local object store vs shutil.copytree", local_figure, local_floor, 1.2))
    print(line("local object store vs copytree + fsyncs", local_figure, durable_floor, 1.2))
    print(line("  (copytree + fsyncs vs copytree)", durable_floor, local_floor, 1.2))
    if not args.local_only:
        print(
            line(f"moto S3 vs boto3 put_object x {CONCURRENCY} threads", s3_figure, raw_floor, 1.1)
        )


def s3_figures(files: list[ExtractedFile], rounds: int) -> tuple[float, float]:
    """The best raw PUTs and the best upload to S3 on a moto server of its own."""
    from overlord.adapters.aws.object_store import S3ObjectStore

    server = start_moto()
    try:
        s3_store = S3ObjectStore()
        fresh_bucket(s3_store)
        upload(s3_store, files[:5])()  # warm imports and connections up
        raw = raw_puts(files)
        raw_floor = s3_figure = float("inf")
        for _ in range(rounds):
            raw_floor = min(raw_floor, best(1, raw, s3_store))
            s3_figure = min(s3_figure, best(1, upload(s3_store, files), s3_store))
    finally:
        server.terminate()
        server.join(timeout=10)
    return raw_floor, s3_figure


if __name__ == "__main__":
    main()
