"""The bank-reports connector's jobs: gather a quarter's bulk report files, process its folders.

The real jobs scrape a regulator's download page in a browser and load cleaned tables into a
database; that engine comes later and the samples have no network. So these say precisely what
they would fetch, upload and load, after validating the payload as the real jobs will.

    OVERLORD_PAYLOAD='{"report": "call-reports", "period": "2025Q4"}' \\
        python -m overlord.samples.bank_reports gather
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from overlord.job import JobContext
from overlord.samples import SampleError, run

SOURCE = "https://cdr.ffiec.gov/public/PWS/DownloadBulkData.aspx"
_SLUG = re.compile(r"[a-z][a-z0-9-]{1,62}")
_PERIOD = re.compile(r"(\d{4})Q([1-4])")


def _last_quarter() -> str:
    today = datetime.now(UTC)
    quarter = (today.month - 1) // 3
    return f"{today.year - 1}Q4" if quarter == 0 else f"{today.year}Q{quarter}"


def gather(job: JobContext) -> None:
    report = job.payload.get("report", "call-reports")
    period = job.payload.get("period") or _last_quarter()
    if not isinstance(report, str) or not _SLUG.fullmatch(report):
        raise SampleError(f"report {report!r} is not a slug (lowercase, digits, hyphens)")
    if not isinstance(period, str) or not _PERIOD.fullmatch(period):
        raise SampleError(f"period {period!r} is not a quarter such as 2025Q4")
    job.progress(f"would fetch the {report} bulk zip for {period} from {SOURCE}")
    job.progress(f"would unpack it and upload one folder per table under raw/{report}/{period}/")
    job.progress("nothing was downloaded: the samples have no network")


def table_for(folder: str) -> str:
    """The table a raw folder feeds: its last path segment, as an identifier."""
    return folder.rstrip("/").rsplit("/", 1)[-1].replace("-", "_")


def process(job: JobContext) -> None:
    folders = job.payload.get("folders")
    if not isinstance(folders, list) or not folders:
        raise SampleError("the payload needs folders: a non-empty list of raw/ folder keys")
    for folder in folders:
        if (
            not isinstance(folder, str)
            or not folder.startswith("raw/")
            or ".." in folder.split("/")
            or not table_for(folder)
        ):
            raise SampleError(f"{folder!r} is not a folder under raw/")
    for folder in folders:
        job.progress(f"would clean {folder} and load it into table {table_for(folder)}")
    job.progress(
        f"{len(folders)} folder(s) planned; nothing was loaded: the samples have no database"
    )


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    return run(
        "overlord.samples.bank_reports", {"gather": gather, "process": process}, argv, environ
    )


if __name__ == "__main__":
    sys.exit(main())
