"""``overlord template``: the template ``deploy`` would deploy, printed or written, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overlord.container import platform_template
from tests.e2e.conftest import run_in_process


def test_the_template_printed_is_the_one_deployed_for_the_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OVERLORD_NAMESPACE", "acme")

    outcome = run_in_process("template")

    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(outcome.stdout) == platform_template("acme", "dynamodb")


def test_the_document_store_comes_from_the_option_then_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OVERLORD_DOCUMENT_STORE", "mongo")
    target = tmp_path / "platform.json"

    from_settings = run_in_process("template", "--output-file", str(target))
    written = json.loads(target.read_text())
    chosen = run_in_process("-o", "json", "template", "--document-store", "dynamodb")

    assert from_settings.exit_code == 0
    assert from_settings.stdout == f"wrote {target}: {len(written['Resources'])} resources\n"
    assert written == platform_template("overlord", "mongo")
    assert json.loads(chosen.stdout) == platform_template("overlord", "dynamodb")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--document-store", "sqlite"),
            "error: --document-store must be dynamodb or mongo, not 'sqlite'",
        ),
        (
            ("--output-file", "/nonexistent/dir/t.json"),
            "error: cannot write /nonexistent/dir/t.json: No such file or directory",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], error: str) -> None:
    outcome = run_in_process("template", *args)

    assert outcome.exit_code == 2
    assert outcome.error_lines == [error]
    assert outcome.stdout == ""


def test_a_namespace_no_bucket_could_carry_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERLORD_NAMESPACE", "Acme")

    outcome = run_in_process("template")

    assert outcome.exit_code == 1  # a setting is the operator's to fix
    [line] = outcome.error_lines
    assert line.startswith("error: OVERLORD_NAMESPACE: invalid namespace name 'Acme'")
