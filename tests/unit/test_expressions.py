"""Schedule expressions and timezones pass here exactly when EventBridge Scheduler takes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overlord.domain.errors import InvalidTemplate
from overlord.domain.expressions import (
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
    ],
)
def test_eventbridge_cron_expressions_are_accepted_and_have_no_rate(expression: str) -> None:
    validate_schedule_expression(expression)
    assert rate_interval(expression) is None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0 6 * * ?)", "6 fields"),
        ("cron(0 6 * * ? * *)", "6 fields"),
        ("cron(0 6 * * MON *)", "must be '?'"),
        ("cron(0 6 1 * MON *)", "must be '?'"),
        ("cron()", "expected"),
        ("0 6 * * *", "expected"),
        ("cron(0 6 ? * MON$ *)", "6 fields"),
        ("cron(0  6 ? * MON *)", "6 fields"),
    ],
)
def test_malformed_crons_are_refused_with_a_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidTemplate, match=reason):
        validate_schedule_expression(expression)


@given(st.text(max_size=40))
def test_any_text_is_either_an_expression_or_refused_as_invalid_template(text: str) -> None:
    try:
        validate_schedule_expression(text)
    except InvalidTemplate:
        return
    assert text.startswith(("rate(", "cron("))
    assert text.endswith(")")


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
