"""Cleaners: the registry (decorator, entry points, unknown names), the FFIEC file-name layout
rule, and the bundled call-reports cleaner over small but faithful bulk files."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from datetime import date
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import overlord
import overlord.cleaners as cleaners
from overlord.adapters.memory.table_sink import MemoryTableSink
from overlord.cleaners import CleanerContext, CleanerRegistry, default_registry
from overlord.domain.errors import InvalidInput, InvalidName, NotFound
from overlord.samples.call_reports import KEY, CallFile, call_file, clean_call_reports

PERIOD = "03312026"
POR = f"FFIEC CDR Call Bulk POR {PERIOD}.txt"
RC = f"FFIEC CDR Call Schedule RC {PERIOD}.txt"
RCB1 = f"FFIEC CDR Call Schedule RCB {PERIOD}(1 of 2).txt"
RCB2 = f"FFIEC CDR Call Schedule RCB {PERIOD}(2 of 2).txt"


def bulk(*lines: str) -> bytes:
    """A bulk file as the FFIEC writes it: latin-1, CRLF, a tab after every line's last cell,
    and blank lines at the end."""
    return "".join(f"{line}\t\r\n" for line in lines).encode("latin-1") + b"\r\n\r\n"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def context(table: str) -> CleanerContext:
    return CleanerContext(dataset="call-reports", period="2026Q1", table=table)


def columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    return {name: [None if pd.isna(v) else v for v in frame[name].tolist()] for name in frame}


POR_LINES = (
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


def test_the_bank_directory_keeps_identifiers_as_text_and_names_columns_by_caption(
    tmp_path: Path,
) -> None:
    frame = clean_call_reports([write(tmp_path, POR, bulk(*POR_LINES))], context("call_por"))

    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "idrssd": "Int64",
        "reporting_period": "object",
        "fdic_certificate_number": "string",
        "primary_aba_routing_number": "string",
        "financial_institution_name": "string",
        "financial_institution_city": "string",
        "financial_institution_state": "string",
        "financial_institution_zip_code": "string",
        "financial_institution_filing_type": "string",
        "last_date_time_submission_updated_on": "string",
    }
    assert columns(frame) == {
        "idrssd": [37, 940311, 2942690],  # sorted by the key; the duplicate row dropped
        "reporting_period": [date(2026, 3, 31)] * 3,
        "fdic_certificate_number": ["10057", "31653", None],
        "primary_aba_routing_number": ["061107146", "021502011", "221571415"],
        "financial_institution_name": [
            "BANK OF HANCOCK COUNTY",
            "BANCO POPULAR DE PUERTO RICO",
            "FIRSTBANK PUERTO RICO",
        ],
        "financial_institution_city": ["SPARTA", "AÑASCO", "MAYAGÜEZ"],
        "financial_institution_state": ["GA", "PR", "PR"],
        "financial_institution_zip_code": ["31087", "00610", "00680"],
        "financial_institution_filing_type": ["051", "031", "041"],
        "last_date_time_submission_updated_on": [
            "2026-04-28T08:00:00",
            "2026-04-29T10:15:00",
            None,
        ],
    }


RC_LINES = (
    '"IDRSSD"\t"RCFD2170"\t"RCON2170"\t"RCON3210"\t"RCFD7204"\t"TEXTB557"\t"RCON9999"',
    '\t"TOTAL ASSETS"\t"TOTAL ASSETS"\t"TOTAL BANK EQUITY CAPITAL"\t"LEVERAGE RATIO"\t'
    '"NAME OF CONTACT"\t"REPORT DATE"',
    '480228\t3180606000\t\t-1234\t9.87\t"JOSÉ PEÑA"\t20260331',
    "852218\t123456789012\t98765\t0\t\t\t20260331",
    "852218\t123456789012\t98765\t0\t\t\t20260331",
    '37\t\t250123\t31000\t12.5\t"12"\t20260331',
)


def test_a_schedule_has_item_code_columns_typed_by_their_values(tmp_path: Path) -> None:
    frame = clean_call_reports([write(tmp_path, RC, bulk(*RC_LINES))], context("call_rc"))

    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        "idrssd": "Int64",
        "reporting_period": "object",
        "rcfd2170": "Int64",
        "rcon2170": "Int64",
        "rcon3210": "Int64",
        "rcfd7204": "Float64",
        "textb557": "string",  # a TEXT item is text, even when it holds digits
        "rcon9999": "Int64",
    }
    assert columns(frame) == {
        "idrssd": [37, 480228, 852218],
        "reporting_period": [date(2026, 3, 31)] * 3,
        "rcfd2170": [None, 3180606000, 123456789012],  # beyond 2^31
        "rcon2170": [250123, None, 98765],
        "rcon3210": [31000, -1234, 0],
        "rcfd7204": [12.5, 9.87, None],
        "textb557": ["12", "JOSÉ PEÑA", None],
        "rcon9999": [20260331] * 3,
    }
    assert type(frame["reporting_period"][0]) is date


def test_the_parts_of_a_schedule_are_joined_on_idrssd(tmp_path: Path) -> None:
    part1 = bulk(
        '"IDRSSD"\t"RCFD1754"\t"RCON1754"',
        '\t"HELD-TO-MATURITY SECURITIES"\t"HELD-TO-MATURITY SECURITIES"',
        "480228\t5000000000\t",
        "37\t\t1200",
    )
    part2 = bulk('"IDRSSD"\t"RCFD1773"', '\t"AVAILABLE-FOR-SALE SECURITIES"', "37\t800")
    files = [write(tmp_path, RCB2, part2), write(tmp_path, RCB1, part1)]  # any order

    frame = clean_call_reports(files, context("call_rcb"))

    assert list(frame.columns) == ["idrssd", "reporting_period", "rcfd1754", "rcon1754", "rcfd1773"]
    assert {str(dtype) for name, dtype in frame.dtypes.items() if name != "reporting_period"} == {
        "Int64"
    }
    assert columns(frame) == {
        "idrssd": [37, 480228],
        "reporting_period": [date(2026, 3, 31)] * 2,
        "rcfd1754": [None, 5000000000],
        "rcon1754": [1200, None],
        "rcfd1773": [800, None],  # a bank missing from part 2
    }


def test_named_streams_clean_like_paths_and_the_frame_loads_by_its_key(tmp_path: Path) -> None:
    stream = io.BytesIO(bulk(*RC_LINES))
    stream.name = f"raw/call-reports/2026Q1/call_rc/{RC}"
    from_stream = clean_call_reports([stream], context("call_rc"))
    from_path = clean_call_reports([str(write(tmp_path, RC, bulk(*RC_LINES)))], context("call_rc"))
    pd.testing.assert_frame_equal(from_stream, from_path)

    sink = MemoryTableSink()
    sink.load("call_rc", from_stream, key=KEY, load_id="call_rc:1")
    rows = sink.read("call_rc")
    assert [(r["idrssd"], r["reporting_period"], r["rcfd2170"]) for r in rows] == [
        (37, date(2026, 3, 31), None),
        (480228, date(2026, 3, 31), 3180606000),
        (852218, date(2026, 3, 31), 123456789012),
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([RCB1], "expected parts 1 to 2 once each"),
        ([RCB1, RCB1], "expected parts 1 to 2 once each"),
        ([RC, POR], "one folder holds one schedule of one period"),
        ([RC, RC.replace("0331", "0630")], "one folder holds one schedule of one period"),
        (["readme.txt"], "is not an FFIEC Call Report bulk file"),
        ([], "no FFIEC Call Report file"),
    ],
)
def test_a_folder_that_is_not_one_whole_schedule_is_refused(
    tmp_path: Path, names: list[str], message: str
) -> None:
    files = [write(tmp_path, name, bulk(*RC_LINES)) for name in names]
    with pytest.raises(InvalidInput, match=message):
        clean_call_reports(files, context("call_rc"))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (('"IDRSSD"\t"RCFD2170"', '\t"TOTAL"', "37\t1", "37\t2"), "different rows .* IDRSSD 37"),
        (('"RCFD2170"', '"TOTAL"', "1"), "no IDRSSD column"),
        (('"IDRSSD"\t"RCFD2170"\t"rcfd2170"', '\t"A"\t"B"', "37\t1\t2"), "two columns"),
        (('"IDRSSD"\t"RCFD2170"', '\t"TOTAL"', "37\t1\t5"), "column 3 has values but no name"),
        (('"IDRSSD"\t"RCFD2170"', '\t"TOTAL"', "\t1"), "a row has no IDRSSD"),
        ((), "the file is empty"),
    ],
)
def test_a_malformed_file_is_refused_with_what_is_wrong(
    tmp_path: Path, lines: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        clean_call_reports([write(tmp_path, RC, bulk(*lines))], context("call_rc"))


def test_a_stream_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has no name"):
        clean_call_reports([io.BytesIO(bulk(*RC_LINES))], context("call_rc"))


# The layout rule.


@pytest.mark.parametrize(
    ("name", "expected", "table"),
    [
        (POR, CallFile("POR", date(2026, 3, 31)), "call_por"),
        (RC, CallFile("RC", date(2026, 3, 31)), "call_rc"),
        (RCB1, CallFile("RCB", date(2026, 3, 31), 1, 2), "call_rcb"),
        (RCB2, CallFile("RCB", date(2026, 3, 31), 2, 2), "call_rcb"),
        ("FFIEC CDR Call Schedule RI 12312025.txt", CallFile("RI", date(2025, 12, 31)), "call_ri"),
    ],
)
def test_a_bulk_file_name_gives_its_table_part_and_period(
    name: str, expected: CallFile, table: str
) -> None:
    assert call_file(name) == expected
    assert expected.table == table
    assert expected.file_name == name


@pytest.mark.parametrize(
    "name",
    [
        "Readme.txt",
        "FFIEC CDR Call Schedule RC 02302026.txt",  # no 30 February
        "FFIEC CDR Call Schedule RC 2026-03-31.txt",
        "FFIEC CDR Call Schedule RCB 03312026(3 of 2).txt",
        "FFIEC CDR Call Schedule RCB 03312026(1 of 1).txt",
        "FFIEC CDR Call Schedule RCB 03312026(01 of 2).txt",
        "FFIEC CDR Call Schedule POR 03312026.txt",
        "FFIEC CDR Call Schedule rc 03312026.txt",
        "FFIEC CDR Call Schedule RC 03312026.TXT",
        "FFIEC CDR Call Schedule RC 03312026.txt.zip",
    ],
)
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="is not an FFIEC Call Report bulk file"):
        call_file(name)


_NAMES = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda schedule, month, day, year, part: (
            f"FFIEC CDR Call {schedule} {month:02d}{day:02d}{year:04d}{part}.txt"
        ),
        st.sampled_from(["Bulk POR", "Schedule RC", "Schedule RCCI", "Schedule POR", "Bulk RC"]),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 9999),
        st.sampled_from(["", "(1 of 2)", "(2 of 2)", "(3 of 2)", "(1 of 1)", "(0 of 3)"]),
    ),
)


@given(_NAMES)
def test_a_name_is_read_back_to_itself_or_refused(name: str) -> None:
    try:
        found = call_file(name)
    except InvalidName:
        return
    assert found.file_name == name
    assert found.table == f"call_{found.schedule.lower()}"


@given(
    st.builds(
        lambda schedule, period, parts, part: CallFile(schedule, period, min(part, parts), parts),
        st.one_of(st.just("POR"), st.from_regex(r"R[A-Z0-9]{0,15}", fullmatch=True)),
        st.dates(min_value=date(1, 1, 1)),
        st.integers(1, 99),
        st.integers(1, 99),
    )
)
def test_a_file_name_reads_back_to_its_call_file(found: CallFile) -> None:
    assert call_file(found.file_name) == found


# The registry.


def test_the_decorator_registers_a_cleaner_in_the_default_registry() -> None:
    assert overlord.cleaner is cleaners.cleaner

    @overlord.cleaner("test-cleaner-decorated")
    def decorated(files: object, context: CleanerContext) -> pd.DataFrame:
        return pd.DataFrame()

    assert default_registry().get("test-cleaner-decorated") is decorated
    assert default_registry().get("call-reports") is clean_call_reports
    assert {"call-reports", "test-cleaner-decorated"} <= set(default_registry().names())


def test_an_unknown_name_is_not_found_and_names_the_known_ones() -> None:
    registry = CleanerRegistry()
    with pytest.raises(NotFound, match=r"no cleaner 'nope' is registered \(registered: call-"):
        registry.get("nope")
    with pytest.raises(NotFound, match=r"\(registered: none\)"):
        CleanerRegistry(installed=False).get("call-reports")


def test_a_taken_name_is_refused_to_another_function() -> None:
    registry = CleanerRegistry(installed=False)
    registry.register("orders", clean_call_reports)
    registry.register("orders", clean_call_reports)  # the same function again is harmless
    with pytest.raises(
        InvalidInput, match=r"already registered by overlord\.samples\.call_reports"
    ):
        registry.register("orders", lambda files, context: None)
    with pytest.raises(InvalidInput, match="not callable"):
        registry.register("other", "clean")  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        registry.register("Not A Slug", clean_call_reports)


def test_installed_packages_add_cleaners_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme_cleaners.py").write_text(
        textwrap.dedent(
            """
            import overlord

            def orders(files, context):
                return None

            @overlord.cleaner("acme-decorated")
            def decorated(files, context):
                return None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    group = cleaners.ENTRY_POINT_GROUP
    points = [
        EntryPoint(name="acme-orders", value="acme_cleaners:orders", group=group),
        EntryPoint(name="acme", value="acme_cleaners", group=group),
        EntryPoint(name="broken", value="acme_missing:clean", group=group),
    ]
    asked: list[str] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        asked.append(group)
        return points

    # The default registry loads its entry points once per process; load it now, so that
    # whichever test ran first in this worker, only `registry` asks the fake below.
    default_registry().names()
    monkeypatch.setattr(cleaners, "entry_points", fake_entry_points)
    registry = CleanerRegistry()

    assert registry.get("acme-orders").__name__ == "orders"
    assert asked == ["overlord.cleaners"]
    assert "acme-decorated" in default_registry().names()  # its module's decorator ran
    assert "call-reports" in registry.names()
    with pytest.raises(NotFound, match=r"could not load: broken \(acme_missing:clean\)"):
        registry.get("acme-missing")
    assert asked == ["overlord.cleaners"]  # loaded once


def test_importing_overlord_imports_no_pandas() -> None:
    code = (
        "import sys, overlord, overlord.cleaners, overlord.samples.call_reports\n"
        "overlord.cleaner\n"
        "overlord.cleaners.default_registry().names()\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
