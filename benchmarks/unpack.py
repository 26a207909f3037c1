"""What the checks of `unpack` cost over ``zipfile.ZipFile.extractall``, on a 2,000-file zip.

Why: `overlord.adapters.archives.unpack` judges every member from the headers, streams it in
64 KiB chunks while counting and hashing (SHA-256) it, writes into a hidden sibling folder and
renames it into place. ``extractall`` does none of that, so it is the floor: the ratio is what
safety and the per-file hashes cost on a bulk regulatory download shaped like FFIEC's (many
tab-separated text files of a few to a few hundred KiB, deflated).

Baseline: ``extractall`` of the same zip into a fresh folder, measured in the same run,
alternating with `unpack` so that both see the same page cache. Each takes the best of
``--rounds``.

    python benchmarks/unpack.py                  # 2,000 files, about 58 MiB uncompressed
    python benchmarks/unpack.py --files 200 --rounds 3
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from overlord.adapters.archives import unpack


def build(archive: Path, files: int) -> int:
    rng = random.Random(11)
    total = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(files):
            rows = rng.randint(10, 2000)
            lines = [
                f"{rng.randint(10**5, 10**7)}\t{rng.randint(0, 10**9)}\t{rng.random():.6f}\tUSD"
                for _ in range(rows)
            ]
            body = ("IDRSSD\tRCON2170\tRATIO\tCCY\n" + "\n".join(lines)).encode()
            total += len(body)
            zf.writestr(f"FFIEC CDR Call Schedule {i // 100:02d}/part {i:04d}.txt", body)
    return total


def timed(run: Callable[[Path], object], target: Path) -> float:
    start = time.perf_counter()
    run(target)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="overlord-unpack-bench-") as tmp:
        work = Path(tmp)
        archive = work / "bulk.zip"
        size = build(archive, args.files)
        zipped = archive.stat().st_size

        def with_extractall(target: Path) -> None:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)

        def with_unpack(target: Path) -> None:
            unpack(archive, target)

        baseline = unpack_time = float("inf")
        for _ in range(args.rounds):  # alternate, so neither runs only on a warm cache
            baseline = min(baseline, timed(with_extractall, work / "extracted"))
            unpack_time = min(unpack_time, timed(with_unpack, work / "unpacked"))

    mib = size / (1 << 20)
    print(
        f"{args.files} files, {mib:.1f} MiB uncompressed in a {zipped / (1 << 20):.1f} MiB zip; "
        f"best of {args.rounds}"
    )
    print(f"{'what':<28}{'seconds':>9}{'MiB/s':>9}{'vs extractall':>15}")
    for name, seconds in (("ZipFile.extractall", baseline), ("unpack", unpack_time)):
        print(f"{name:<28}{seconds:>9.3f}{mib / seconds:>9.0f}{seconds / baseline:>14.2f}x")
    print("baseline: zipfile.ZipFile.extractall of the same zip, same run; ratio is time over it")


if __name__ == "__main__":
    main()
