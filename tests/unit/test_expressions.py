"""Schedule expressions and timezones pass here exactly when EventBridge Scheduler takes them.

Every field of a cron expression is read in full (ranges, names, steps, ``?``, ``L``, ``W``,
``#``), so an expression EventBridge would refuse is refused when a template is parsed, before
provisioning writes anything.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidTemplate
from overlord.domain.expressions import (
    at_time,
    rate_interval,
    validate_schedule_expression,
    validate_timezone,
)

SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@given(value=st.integers(1, 999_999), unit=st.sampled_from(sorted(SECONDS)))
def test_every_well_formed_rate_is_accepted_with_its_interval(value: int, unit: str) -> None:
    expression = f"rate({value} {unit}{'' if value == 1 else 's'})"
    validate_schedule_expression(expression)
    assert rate_interval(expression) == timedelta(seconds=value * SECONDS[unit])


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(0 minutes)", "at least 1"),
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(-1 minutes)", "expected"),
        ("rate(1.5 hours)", "expected"),
        ("rate(5 seconds)", "expected"),
        ("rate(5  minutes)", "expected"),
        ("RATE(5 minutes)", "expected"),
        ("rate(1000000 minutes)", "expected"),
        ("rate(\u0663 minutes)", "expected"),  # Arabic-Indic 3: \d would take it, AWS does not
        ("rate(5 minutes)\n", "expected"),
        ("", "expected"),
    ],
)
def test_malformed_rates_are_refused_with_a_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidTemplate, match=reason):
        validate_schedule_expression(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 6 ? * MON *)",
        "cron(0/20 9 ? * MON-FRI *)",
        "cron(0 12 1 * ? *)",
        "cron(15 10 ? * 6L 2026-2030)",
        "cron(0 8 ? * 2#1 *)",
        "cron(0 0 LW * ? *)",
        "cron(0 18 L * ? *)",
        "cron(0 9 15W * ? *)",
        "cron(0 9 ? * L *)",
        "cron(0 9 ? * FRIL *)",
        "cron(0 9 ? * MON#2 *)",
        "cron(*/5 * * * ? *)",
        "cron(5-50/5 0-23/6 1-31/2 JAN-DEC/3 ? 1970-2199/10)",
        "cron(0 0 1 jan ? *)",
        "cron(59 23 31 12 ? 2199)",
        "cron(0 0 ? * SUN,SAT *)",
    ],
)
def test_eventbridge_cron_expressions_are_accepted_and_have_no_rate(expression: str) -> None:
    validate_schedule_expression(expression)
    assert rate_interval(expression) is None
    assert at_time(expression) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0 6 * * ?)", "6 fields"),
        ("cron(0 6 * * ? * *)", "6 fields"),
        ("cron(0  6 ? * MON *)", "6 fields"),
        ("cron()", "6 fields"),
        ("cron(0 6 * * MON *)", "must be '?'"),
        ("cron(0 6 1 * MON *)", "must be '?'"),
        ("cron(0 6 ? * ? *)", "must be '?'"),
        ("cron(0 6 * * * *)", "must be '?'"),
        ("0 6 * * *", "expected"),
        ("cron(0 6 ? * MON *", "expected"),
        ("cron(99 99 * * ? *)", "minutes value '99' is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours value '24' is outside 0-23"),
        ("cron(0 0 32 * ? *)", "day-of-month value '32' is outside 1-31"),
        ("cron(0 0 0 * ? *)", "day-of-month value '0' is outside 1-31"),
        ("cron(0 0 * 13 ? *)", "month value '13' is outside 1-12 or JAN-DEC"),
        ("cron(0 0 * FOO ? *)", "month value 'FOO' is not one of 1-12 or JAN-DEC"),
        ("cron(0 0 * MON ? *)", "month value 'MON' is not one of"),
        ("cron(0 0 ? * 8 *)", "day-of-week value '8' is outside 1-7 or SUN-SAT"),
        ("cron(0 0 ? * 0 *)", "day-of-week value '0' is outside"),
        ("cron(0 0 ? * JAN *)", "day-of-week value 'JAN' is not one of"),
        ("cron(0 0 * * ? 1969)", "year value '1969' is outside 1970-2199"),
        ("cron(0 0 * * ? 2200)", "year value '2200' is outside 1970-2199"),
        ("cron(ABC 0 * * ? *)", "minutes value 'ABC' is not one of 0-59"),
        ("cron(30-10 0 * * ? *)", "minutes range '30-10' is empty"),
        ("cron(0 0 * JUN-MAY ? *)", "month range 'JUN-MAY' is empty"),
        ("cron(0/0 * * * ? *)", "minutes step '0' is outside 1-59"),
        ("cron(0/60 * * * ? *)", "minutes step '60' is outside 1-59"),
        ("cron(0 0 ? * MON/2 *)", "day-of-week takes no '/' steps"),
        ("cron(? 0 * * ? *)", "cannot read minutes '?'"),
        ("cron(0 0 * ? ? *)", "cannot read month '?'"),
        ("cron(1,,2 0 * * ? *)", "cannot read minutes ''"),
        ("cron(*-5 0 * * ? *)", "cannot read minutes '*-5'"),
        ("cron(0 6 ? * MON$ *)", "cannot read day-of-week 'MON$'"),
        ("cron(\u0661 0 * * ? *)", "cannot read minutes"),  # Arabic-Indic 1
        ("cron(0 0 1,L * ? *)", "stand alone"),
        ("cron(0 0 ? * L,2 *)", "stand alone"),
        ("cron(0 0 ? * MON#1,WED#2 *)", "stand alone"),
        ("cron(0 0 L-2 * ? *)", "cannot read day-of-month 'L-2'"),
        ("cron(0 0 W * ? *)", "cannot read day-of-month 'W'"),
        ("cron(0 0 32W * ? *)", "day-of-month value '32' is outside 1-31"),
        ("cron(0 0 ? * 2#6 *)", "a 1st to a 5th"),
        ("cron(0 0 ? * 2#0 *)", "a 1st to a 5th"),
        ("cron(0 0 ? * 8L *)", "day-of-week value '8' is outside"),
        ("cron(0 0 L * * *)", "must be '?'"),
    ],
)
def test_malformed_crons_are_refused_naming_the_field_and_why(expression: str, reason: str) -> None:
    with pytest.raises(InvalidTemplate, match=re.escape(reason)):
        validate_schedule_expression(expression)


def test_a_cron_refusal_quotes_the_whole_expression() -> None:
    with pytest.raises(InvalidTemplate) as caught:
        validate_schedule_expression("cron(99 99 * * ? *)")

    assert caught.value.message == (
        "expression 'cron(99 99 * * ? *)': minutes value '99' is outside 0-59"
    )


@pytest.mark.parametrize(
    ("expression", "wall"),
    [
        ("at(2026-03-01T09:30:00)", datetime(2026, 3, 1, 9, 30)),
        ("at(2024-02-29T23:59:59)", datetime(2024, 2, 29, 23, 59, 59)),
    ],
)
def test_one_time_at_expressions_are_accepted_with_their_wall_time(
    expression: str, wall: datetime
) -> None:
    validate_schedule_expression(expression)
    assert at_time(expression) == wall
    assert rate_interval(expression) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("at(2026-02-30T09:30:00)", "day is out of range for month"),
        ("at(2025-02-29T00:00:00)", "day is out of range for month"),
        ("at(2026-13-01T00:00:00)", "month must be in 1..12"),
        ("at(2026-03-01T24:00:00)", "hour must be in 0..23"),
        ("at(2026-03-01T09:60:00)", "minute must be in 0..59"),
        ("at(2026-03-01 09:30:00)", "expected"),
        ("at(2026-3-1T09:30:00)", "expected"),
        ("at(2026-03-01T09:30)", "expected"),
        ("at(2026-03-01T09:30:00Z)", "expected"),
        ("at(2026-03-01T09:30:00)\n", "expected"),
    ],
)
def test_malformed_at_expressions_are_refused_with_a_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidTemplate, match=re.escape(reason)):
        validate_schedule_expression(expression)


@given(st.text(max_size=40))
def test_any_text_is_either_an_expression_or_refused_as_invalid_template(text: str) -> None:
    try:
        validate_schedule_expression(text)
    except InvalidTemplate:
        return
    assert text.startswith(("rate(", "cron(", "at("))
    assert text.endswith(")")


CRON_SYMBOLS = ["*", "?", "L", "W", "#", "/", "-", ",", "0", "1", "5", "7", "31", "MON", "JAN"]
cron_fields = st.lists(st.sampled_from(CRON_SYMBOLS), min_size=1, max_size=3).map("".join)


@given(st.lists(cron_fields, min_size=6, max_size=6))
def test_any_cron_built_from_cron_symbols_is_read_or_refused_as_invalid_template(
    fields: list[str],
) -> None:
    try:
        validate_schedule_expression(f"cron({' '.join(fields)})")
    except InvalidTemplate:
        pass


@pytest.mark.parametrize("name", ["UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata"])
def test_iana_timezones_are_accepted(name: str) -> None:
    validate_timezone(name)


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus_Mons", "", "../etc/passwd", "/etc/localtime", "America/", "America", "\x00"],
)
def test_unknown_or_path_like_timezones_are_refused(name: str) -> None:
    with pytest.raises(InvalidTemplate, match="not an IANA timezone"):
        validate_timezone(name)


@given(st.text(max_size=300))
def test_any_text_is_either_a_timezone_or_refused_as_invalid_template(text: str) -> None:
    try:
        validate_timezone(text)
    except InvalidTemplate:
        pass
