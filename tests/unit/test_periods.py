"""Reporting periods: read from a site's option texts, asked for as ISO dates, newest by date."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidInput, InvalidTemplate, NotFound
from overlord.domain.fetched import FetchedFile
from overlord.domain.periods import (
    check_period_format,
    choose_period,
    parse_iso_period,
    read_period,
)

FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%B %d, %Y", "%Y%m%d"]
periods = st.sets(st.dates(date(1990, 1, 1), date(2100, 12, 31)), min_size=1, max_size=12)


@given(periods, st.sampled_from(FORMATS), st.randoms(use_true_random=False))
def test_the_newest_period_is_chosen_by_date_whatever_the_pages_order(
    offered: set[date], fmt: str, shuffle: random.Random
) -> None:
    texts = ["-- Select a period --", *(d.strftime(fmt) for d in offered)]
    shuffle.shuffle(texts)

    index, period = choose_period(texts, fmt, None, offered_by="page")

    assert period == max(offered)
    assert texts[index] == max(offered).strftime(fmt)


@given(periods, st.sampled_from(FORMATS), st.data())
def test_a_period_asked_for_is_chosen_when_offered(
    offered: set[date], fmt: str, data: st.DataObject
) -> None:
    texts = sorted(d.strftime(fmt) for d in offered)
    wanted = data.draw(st.sampled_from(sorted(offered)))

    index, period = choose_period(texts, fmt, wanted, offered_by="page")

    assert (texts[index], period) == (wanted.strftime(fmt), wanted)


@given(periods, st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_a_period_not_offered_is_not_found_naming_the_newest_offered(
    offered: set[date], wanted: date
) -> None:
    offered.discard(wanted)
    texts = [d.strftime("%m/%d/%Y") for d in offered]
    newest = ", ".join(d.isoformat() for d in sorted(offered, reverse=True)[:5])

    if not offered:
        with pytest.raises(NotFound, match="no option reads as a period"):
            choose_period(texts, "%m/%d/%Y", wanted, offered_by="page")
        return
    with pytest.raises(NotFound) as missing:
        choose_period(texts, "%m/%d/%Y", wanted, offered_by="page")
    assert missing.value.message == (
        f"page: period {wanted.isoformat()} is not offered; the newest offered are {newest}"
    )


def test_options_that_name_no_period_are_passed_over_and_a_list_of_none_is_not_found() -> None:
    assert read_period(" 03/31/2026 ", "%m/%d/%Y") == date(2026, 3, 31)
    assert read_period("Select", "%m/%d/%Y") is None
    with pytest.raises(NotFound, match=r"offered: 'Select', 'Q1 2026'"):
        choose_period(["Select", "Q1 2026"], "%m/%d/%Y", None, offered_by="page")


@pytest.mark.parametrize("text", ["2026-3-31", "20260331", "2026-02-30", "2026-03-31T00:00", 7])
def test_a_period_is_asked_for_as_an_exact_iso_date(text: object) -> None:
    with pytest.raises(InvalidInput, match="expected an ISO date YYYY-MM-DD"):
        parse_iso_period(text)


@pytest.mark.parametrize("fmt", ["period", "%H:%M", "%Y %", "%m/%d/%Y%"])
def test_a_format_that_names_no_date_or_cannot_be_read_back_is_refused(fmt: str) -> None:
    with pytest.raises(InvalidTemplate, match="format"):
        check_period_format(fmt)


def test_a_fetched_file_carries_an_iso_period_or_none() -> None:
    digest = "0" * 64
    assert FetchedFile("a.zip", Path("a.zip"), 1, digest).period is None
    assert FetchedFile("a.zip", Path("a.zip"), 1, digest, "2026-03-31").period == "2026-03-31"
    with pytest.raises(InvalidInput, match="period '03/31/2026'"):
        FetchedFile("a.zip", Path("a.zip"), 1, digest, "03/31/2026")
