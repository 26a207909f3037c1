"""A small Call Report bulk zip, written as the FFIEC writes the real one, for running the
bank-reports connector end to end without the network.

The zip holds what makes the real files hard to load: latin-1 bank names (``AÑASCO``,
``MAYAGÜEZ``), CRLF lines with a tab after the last cell and blank lines at the end, schedules
with two header rows, a schedule in two parts, zip codes and routing numbers with leading
zeros, amounts beyond 2^31, a duplicated row, and a readme that is not data. The bytes are
fixed (fixed member timestamps), so the bundled copy ``call-reports-2026-03-31.zip`` that
``overlord quickstart`` ingests is exactly ``bulk_zip()``; a test keeps the two equal.

    python -m overlord.samples.call_report_bulk call-reports-2026-03-31.zip
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import date

from overlord.samples.call_reports import CallFile

PERIOD = date(2026, 3, 31)
BUNDLED = "call-reports-2026-03-31.zip"

_POR = (
    '"IDRSSD"\t"FDIC Certificate Number"\t"Primary ABA Routing Number"\t'
    '"Financial Institution Name"\t"Financial Institution City"\t"Financial Institution State"\t'
    '"Financial Institution Zip Code"\t"Financial Institution Filing Type"\t'
    '"Last Date/Time Submission Updated On"',
    '940311\t31653\t021502011\t"BANCO POPULAR DE PUERTO RICO"\t"AÑASCO"\t"PR"\t00610\t031\t'
    '"2026-04-29T10:15:00"',
    '2942690\t\t221571415\t"FIRSTBANK PUERTO RICO"\t"MAYAGÜEZ"\t"PR"\t00680\t041\t',
    '37\t10057\t061107146\t"BANK OF HANCOCK COUNTY"\t"SPARTA"\t"GA"\t31087\t051\t'
    '"2026-04-28T08:00:00"',
    '37\t10057\t061107146\t"BANK OF HANCOCK COUNTY"\t"SPARTA"\t"GA"\t31087\t051\t'
    '"2026-04-28T08:00:00"',
)
_RC = (
    '"IDRSSD"\t"RCFD2170"\t"RCON2170"\t"RCON3210"\t"TEXTB557"',
    '\t"TOTAL ASSETS"\t"TOTAL ASSETS"\t"TOTAL BANK EQUITY CAPITAL"\t"NAME OF CONTACT"',
    '940311\t3180606000\t\t-1234\t"JOSÉ PEÑA"',
    "2942690\t123456789012\t98765\t0\t",
    '37\t\t250123\t31000\t"12"',
)
_RCB_1 = (
    '"IDRSSD"\t"RCFD1754"\t"RCFD1771"',
    '\t"HELD-TO-MATURITY SECURITIES"\t"HELD-TO-MATURITY FAIR VALUE"',
    "940311\t5000000000\t4990000000",
    "2942690\t\t",
    "37\t1200\t1180",
)
_RCB_2 = (
    '"IDRSSD"\t"RCFD1772"\t"RCFD1773"',
    '\t"AVAILABLE-FOR-SALE COST"\t"AVAILABLE-FOR-SALE FAIR VALUE"',
    "940311\t700\t690",
    "37\t\t15",
)
_RI = (
    '"IDRSSD"\t"RIAD4340"\t"RIAD4010"',
    '\t"NET INCOME"\t"INTEREST INCOME ON LOANS"',
    "940311\t312000\t-5400",
    "2942690\t87000\t31000",
    "37\t420\t900",
)


def _bulk(lines: tuple[str, ...]) -> bytes:
    return "".join(f"{line}\t\r\n" for line in lines).encode("latin-1") + b"\r\n\r\n"


def members(period: date = PERIOD) -> dict[str, bytes]:
    """The files of the zip by name."""
    schedule = {
        CallFile("POR", period): _POR,
        CallFile("RC", period): _RC,
        CallFile("RCB", period, 1, 2): _RCB_1,
        CallFile("RCB", period, 2, 2): _RCB_2,
        CallFile("RI", period): _RI,
    }
    files = {found.file_name: _bulk(lines) for found, lines in schedule.items()}
    files["Readme.txt"] = b"Call Report bulk data sample for Overlord; not FFIEC data.\r\n"
    return files


def bulk_zip(period: date = PERIOD) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members(period).items():
            info = zipfile.ZipInfo(name, date_time=(2026, 4, 30, 0, 0, 0))
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m overlord.samples.call_report_bulk OUTPUT.zip", file=sys.stderr)
        return 2
    with open(argv[0], "wb") as out:
        out.write(bulk_zip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
