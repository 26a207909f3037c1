"""Settings the CLI cannot work with end it before anything is written, in one line naming the
variable, file key or folder at fault: exit 1 for a setting's value (the configuration is at
fault, no other arguments can help), 2 for a home folder (which ``--home`` may have named)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import run_in_process, tree


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("OVERLORD_PROFILE", "prod", "error: OVERLORD_PROFILE: must be one of local, memory, aws"),
        (
            "OVERLORD_MAX_PAYLOAD_BYTES",
            "-5",
            "error: OVERLORD_MAX_PAYLOAD_BYTES: must be a whole number of bytes above 0, not '-5'",
        ),
    ],
)
def test_a_bad_variable_is_named_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, line: str
) -> None:
    monkeypatch.setenv(variable, value)

    done = run_in_process("--home", str(tmp_path / "home"), "tenants", "init", "acme", "weather")

    assert done.exit_code == 1
    [error] = done.error_lines
    assert error.startswith(line)
    assert tree(tmp_path) == {}


def test_a_bad_file_setting_is_named_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "overlord.toml").write_text('batch_subnets = ["a", 1]\n', encoding="utf-8")

    done = run_in_process("--home", str(tmp_path / "home"), "tenants", "init", "acme", "weather")

    assert done.exit_code == 1
    assert done.error_lines == [
        "error: overlord.toml: batch_subnets: must be comma-separated text or a list of text, "
        "not ['a', 1]"
    ]
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(
    ("home", "fault"), [("state", "not a folder"), ("state/h", "is not a folder")]
)
def test_a_home_that_cannot_be_a_folder_is_refused_before_any_write(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, home: str, fault: str
) -> None:
    (tmp_path / "state").write_text("a file where the state folder should be\n")
    monkeypatch.setenv("OVERLORD_HOME", str(tmp_path / home))
    before = tree(tmp_path)

    done = run_in_process("tenants", "init", "acme", "weather")

    assert done.exit_code == 2
    [error] = done.error_lines
    assert error.startswith(f"error: OVERLORD_HOME {tmp_path / home}: ")
    assert error.endswith(fault)
    assert tree(tmp_path) == before


def test_a_home_that_does_not_exist_yet_is_made_by_the_first_write(tmp_path: Path) -> None:
    home = tmp_path / "new" / "state"

    listed = run_in_process("--home", str(home), "tenants", "list")
    made = run_in_process("--home", str(home), "tenants", "init", "acme", "weather")

    assert (listed.exit_code, made.exit_code) == (0, 0)
    assert (home / "documents").is_dir()
