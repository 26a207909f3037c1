"""Reporting periods as bulk-download sites list them, and which one a fetch gathers.

Sites offer periods as the visible text of ``<option>`` elements (``03/31/2026``), in whatever
order their HTML happens to have; jobs name a period as an ISO date (``2026-03-31``). Reading
both as dates in one place means "the newest period" is decided by the calendar rather than by
the page's order, and an unknown period is refused naming what the site does offer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from overlord.domain.errors import InvalidInput, InvalidTemplate, NotFound

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_DIRECTIVES = re.compile(r"%[YymbBdjUWGVu]")
_SAMPLE = date(2026, 12, 31)  # a month-end with two-digit month and day, as periods often are
SHOWN = 5  # how many periods or options an error message lists


def parse_iso_period(text: object) -> date:
    """``text`` as a date if it is exactly ``YYYY-MM-DD``, else `InvalidInput`.

    >>> parse_iso_period("2026-03-31")
    datetime.date(2026, 3, 31)
    """
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInput(f"period {str(text)[:40]!r}: expected an ISO date YYYY-MM-DD")


def check_period_format(fmt: str) -> None:
    """Refuse a format that names no date or that `datetime.strptime` cannot read back."""
    if not _DATE_DIRECTIVES.search(fmt):
        raise InvalidTemplate(f"format {fmt[:40]!r}: expected a strptime date format like %m/%d/%Y")
    try:
        datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError as exc:
        raise InvalidTemplate(f"format {fmt[:40]!r}: {exc}") from None


def read_period(text: str, fmt: str) -> date | None:
    """The period an option's visible text names, or None for "Select a period" and the like."""
    try:
        return datetime.strptime(text.strip(), fmt).date()
    except ValueError:
        return None


def choose_period(
    offered: Sequence[str], fmt: str, wanted: date | None, *, offered_by: str
) -> tuple[int, date]:
    """The index among ``offered`` of the ``wanted`` period, or of the newest one if None.

    >>> choose_period(["Select", "12/31/2025", "03/31/2026"], "%m/%d/%Y", None, offered_by="x")
    (2, datetime.date(2026, 3, 31))
    """
    periods = [(i, d) for i, text in enumerate(offered) if (d := read_period(text, fmt))]
    if not periods:
        shown = ", ".join(repr(t[:40]) for t in offered[:SHOWN]) or "none"
        raise NotFound(f"{offered_by}: no option reads as a period in {fmt!r}; offered: {shown}")
    if wanted is None:
        return max(periods, key=lambda p: p[1])
    for index, period in periods:
        if period == wanted:
            return index, period
    newest = sorted({d for _, d in periods}, reverse=True)[:SHOWN]
    raise NotFound(
        f"{offered_by}: period {wanted.isoformat()} is not offered; the newest offered are "
        + ", ".join(d.isoformat() for d in newest)
    )
