"""The bank-reports connector's cleaner for FFIEC Call Report bulk files, and its layout rule.

The FFIEC publishes a quarter's Call Reports as one zip of tab-separated ``.txt`` files: the
bank directory (``FFIEC CDR Call Bulk POR 03312026.txt``) and one file per schedule
(``FFIEC CDR Call Schedule RC 03312026.txt``), a wide schedule split in parts
(``FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt``, ``(2 of 2)``). `call_file` reads such a
name: the table it feeds (``call_{schedule}``), the part, and the reporting period. Gathering
uploads every part of a schedule into one folder named after the table, and the ``call-reports``
cleaner turns that folder into one frame:

- the text is latin-1 (``AÑASCO``, ``MAYAGÜEZ``), with CRLF lines; blank lines are skipped;
- a schedule file has two header rows, item codes and then captions; columns are named by the
  lower-cased item code (``rcfd2170``). The bank directory has one row of captions, and its
  columns are the snake-cased captions (``financial_institution_name``);
- the trailing tab of every line makes an empty last column, which is dropped;
- strings are quoted and numbers not; a column of integers is ``Int64`` (64-bit, so amounts
  beyond 2^31 fit), of decimals ``Float64``, anything else ``string``. Numbers with a leading
  zero (``01001``) are identifiers and stay text, as do item codes starting ``TEXT`` and the
  directory's codes, zip codes and routing numbers, so their type does not depend on the rows
  of one quarter;
- blank cells are NULL; exact duplicate rows are dropped, and two different rows for one bank
  are refused;
- the parts of a schedule are joined on ``IDRSSD``, and every frame gets ``reporting_period``
  (a ``datetime.date``, from the file name). The key is (``idrssd``, ``reporting_period``).

pandas is imported inside the cleaner only, so the layout rule is free to import anywhere.

>>> call_file("FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt")
CallFile(schedule='RCB', period=datetime.date(2026, 3, 31), part=1, parts=2)
>>> call_file("FFIEC CDR Call Bulk POR 03312026.txt").table
'call_por'
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from attrs import frozen

from overlord.cleaners import CleanerContext, CleanerFile, cleaner, file_name, open_file
from overlord.domain.datasets import check_identifier
from overlord.domain.errors import InvalidInput, InvalidName

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KEY", "CallFile", "call_file", "clean_call_reports"]

KEY = ("idrssd", "reporting_period")
DIRECTORY = "POR"
ENCODING = "latin-1"

_NAME = re.compile(
    r"FFIEC CDR Call (?:Bulk (?P<directory>POR)|Schedule (?P<schedule>[A-Z][A-Z0-9]{0,15})) "
    r"(?P<month>\d{2})(?P<day>\d{2})(?P<year>\d{4})"
    r"(?:\((?P<part>[1-9][0-9]?) of (?P<parts>[1-9][0-9]?)\))?\.txt"
)
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_INT64 = (-(2**63), 2**63 - 1)
# Directory captions naming codes: text whatever digits a quarter's rows happen to hold.
_CODE_CAPTION = re.compile(r"zip|routing|aba|code|type|docket|charter|certificate|number")


@frozen
class CallFile:
    """What a bulk file's name says: the schedule (``POR`` for the bank directory), the
    reporting period, and which part of how many (1 of 1 for a file in one piece)."""

    schedule: str
    period: date
    part: int = 1
    parts: int = 1

    @property
    def table(self) -> str:
        """The table (and the raw folder) the file feeds: ``call_rcb``."""
        return f"call_{self.schedule.lower()}"

    @property
    def is_directory(self) -> bool:
        return self.schedule == DIRECTORY

    @property
    def file_name(self) -> str:
        """The name the FFIEC gives this file; `call_file` reads it back to this value."""
        kind = "Bulk" if self.is_directory else "Schedule"
        part = f"({self.part} of {self.parts})" if self.parts > 1 else ""
        p = self.period  # not strftime: "%Y" leaves years before 1000 unpadded
        return (
            f"FFIEC CDR Call {kind} {self.schedule} {p.month:02d}{p.day:02d}{p.year:04d}{part}.txt"
        )


def call_file(name: str) -> CallFile:
    """Read a bulk file's name; `InvalidName` for anything else (a readme, a renamed file).

    >>> call_file("readme.txt")
    Traceback (most recent call last):
    ...
    overlord.domain.errors.InvalidName: 'readme.txt' is not an FFIEC Call Report bulk file: ...
    """
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    shown = f"{str(name)[:80]!r} is not an FFIEC Call Report bulk file"
    if not match:
        raise InvalidName(
            f"{shown}: expected 'FFIEC CDR Call Schedule RC 03312026.txt', "
            "'FFIEC CDR Call Schedule RCB 03312026(1 of 2).txt' or "
            "'FFIEC CDR Call Bulk POR 03312026.txt'"
        )
    schedule = match["directory"] or match["schedule"]
    if match["schedule"] == DIRECTORY:
        raise InvalidName(f"{shown}: the bank directory is 'FFIEC CDR Call Bulk POR ...'")
    try:
        period = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        raise InvalidName(
            f"{shown}: {match['month']}{match['day']}{match['year']} is not a date (MMDDYYYY)"
        ) from None
    part, parts = int(match["part"] or 1), int(match["parts"] or 1)
    if match["part"] is not None and not 1 <= part <= parts >= 2:  # "(1 of 1)" reads two ways
        raise InvalidName(f"{shown}: part {part} of {parts}")
    return CallFile(schedule, period, part, parts)


@cleaner("call-reports")
def clean_call_reports(files: Sequence[CleanerFile], context: CleanerContext) -> pd.DataFrame:
    """One folder of bulk files (one schedule of one period, all its parts) as one frame."""
    named = sorted(((call_file(file_name(f)), f) for f in files), key=lambda pair: pair[0].part)
    if not named:
        raise InvalidInput("the folder holds no FFIEC Call Report file")
    first = named[0][0]
    for found, _ in named:
        if (found.schedule, found.period) != (first.schedule, first.period):
            raise InvalidInput(
                f"one folder holds one schedule of one period: {first.file_name!r} and "
                f"{found.file_name!r} cannot be cleaned together"
            )
    parts = [found.part for found, _ in named]
    if parts != list(range(1, first.parts + 1)) or {f.parts for f, _ in named} != {first.parts}:
        raise InvalidInput(
            f"{first.table} for {first.period}: expected parts 1 to {first.parts} once each, "
            f"got {', '.join(found.file_name for found, _ in named)}"
        )
    if context.table != first.table:
        context.logger.warning("the files of %s are loaded into %s", first.table, context.table)
    frames = [_read(found, file) for found, file in named]
    joined = frames[0]
    for frame in frames[1:]:
        shared = (set(joined.columns) & set(frame.columns)) - {"idrssd"}
        if shared:
            raise InvalidInput(f"{first.table}: parts repeat columns {sorted(shared)}")
        joined = joined.merge(frame, on="idrssd", how="outer", sort=True)
    joined = joined.sort_values("idrssd", ignore_index=True)
    joined.insert(1, "reporting_period", _dates(first.period, len(joined)))
    context.logger.info(
        "cleaned %d file(s) of %s: %d rows, %d columns", len(frames), first.table, *joined.shape
    )
    return joined


def _dates(period: date, rows: int) -> Any:
    import pandas as pd

    return pd.Series([period] * rows, dtype="object")


def _read(found: CallFile, file: CleanerFile) -> pd.DataFrame:
    import pandas as pd

    with open_file(file) as stream:
        text = stream.read().decode(ENCODING)
    where = found.file_name
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    lines = [row for row in (tuple(cell.strip() for cell in row) for row in reader) if any(row)]
    if not lines:
        raise InvalidInput(f"{where}: the file is empty")
    header, rows = lines[0], lines[1:]
    if not found.is_directory and rows and not _INTEGER.fullmatch(rows[0][0]):
        rows = rows[1:]  # the captions under a schedule's item codes
    rows = list(dict.fromkeys(rows))  # exact duplicates dropped, the first one kept
    width = len(header)
    for number, row in enumerate(rows, 1):
        if len(row) > width and any(row[width:]):
            raise InvalidInput(f"{where}: data row {number} has more cells than the header")
    columns: dict[str, Any] = {}
    for index, caption in enumerate(header):
        values = [row[index] if index < len(row) and row[index] else None for row in rows]
        if not caption:
            if any(v is not None for v in values):
                raise InvalidInput(f"{where}: column {index + 1} has values but no name")
            continue  # the empty column after every line's trailing tab
        name = caption.lower() if not found.is_directory or caption == "IDRSSD" else snake(caption)
        check_identifier(f"{where}: column", name)
        if name in columns or name == "reporting_period":
            raise InvalidInput(f"{where}: two columns are named {name!r}")
        text_only = (
            caption.upper().startswith("TEXT")
            if not found.is_directory
            else name != "idrssd" and bool(_CODE_CAPTION.search(name))
        )
        columns[name] = _column(where, name, values, text_only=text_only)
    if "idrssd" not in columns:
        raise InvalidInput(f"{where}: no IDRSSD column")
    frame = pd.DataFrame(columns)
    if frame["idrssd"].isna().any():
        raise InvalidInput(f"{where}: a row has no IDRSSD")
    repeated = frame["idrssd"][frame["idrssd"].duplicated()]
    if len(repeated):
        shown = ", ".join(str(v) for v in repeated.unique()[:5])
        raise InvalidInput(f"{where}: different rows for the same IDRSSD {shown}")
    return frame


def _column(where: str, name: str, values: list[str | None], *, text_only: bool) -> Any:
    import pandas as pd

    given = [v for v in values if v is not None]
    if name == "idrssd":
        if not all(_INTEGER.fullmatch(v) for v in given):
            raise InvalidInput(f"{where}: IDRSSD values must be integers")
        text_only = False
    if text_only:
        return pd.array(values, dtype="string")
    if all(_INTEGER.fullmatch(v) for v in given):
        numbers = [None if v is None else int(v) for v in values]
        if all(_INT64[0] <= n <= _INT64[1] for n in numbers if n is not None):
            return pd.array(numbers, dtype="Int64")
    elif all(_INTEGER.fullmatch(v) or _DECIMAL.fullmatch(v) for v in given):
        return pd.array([None if v is None else float(v) for v in values], dtype="Float64")
    return pd.array(values, dtype="string")


def snake(caption: str) -> str:
    """A caption as a column name.

    >>> snake("Last Date/Time Submission Updated On")
    'last_date_time_submission_updated_on'
    """
    return re.sub(r"[^a-z0-9]+", "_", caption.lower()).strip("_")
