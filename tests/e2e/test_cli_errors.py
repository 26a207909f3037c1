"""How the CLI fails: exit 2 and one line for anything the caller can fix, 1 for the rest, and
never a traceback unless asked for with OVERLORD_DEBUG=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, run_in_process, run_subprocess, tree

HOSTILE = ["../x", "$where", "ACME", "\u0430cme", "", "ab", "acme/../../etc", "acme\n", "x" * 33]
HOSTILE_IDS = ["dotdot", "dollar", "upper", "cyrillic-a", "empty", "short", "slash", "nl", "long"]


def commands_with(name: str) -> list[list[str]]:
    return [
        ["tenants", "init", name, "weather"],
        ["tenants", "init", "acme", name],
        ["tenants", "init", name, "weather", "--plan"],
        ["tenants", "show", name],
        ["tenants", "delete", name, "--purge", "--yes"],
        ["connectors", "show", name],
    ]


@pytest.mark.parametrize("name", HOSTILE, ids=HOSTILE_IDS)
def test_a_hostile_name_is_refused_in_one_line_and_creates_nothing(
    cli: Cli, home: Path, name: str
) -> None:
    for args in commands_with(name):
        done = cli(*args)

        assert done.exit_code == 2, args
        assert len(done.error_lines) == 1, (args, done.stderr)
        assert done.error_lines[0].startswith("error: ")
        assert "Traceback" not in done.stderr
        assert done.stdout == ""
    assert tree(home) == {}


def test_hostile_names_leave_a_provisioned_home_exactly_as_it_was(cli: Cli, home: Path) -> None:
    cli("tenants", "init", "acme", "weather")
    before = tree(home)

    for name in HOSTILE:
        for args in commands_with(name):
            assert cli(*args).exit_code == 2

    assert tree(home) == before


def test_the_cyrillic_look_alike_is_not_acme(cli: Cli) -> None:
    cli("tenants", "init", "acme", "weather")

    done = cli("tenants", "delete", "\u0430cme", "--yes")

    assert done.exit_code == 2
    assert "invalid tenant name" in done.stderr
    assert cli("tenants", "show", "acme").exit_code == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["tenants", "init"], "error: Missing argument"),
        (["tenants", "init", "acme"], "error: Missing argument"),
        (["tenants", "show", "acme", "extra"], "error: Got unexpected extra argument"),
        (["--output", "yaml", "tenants", "list"], "error: Invalid value for '--output'"),
        (["--profile", "gcp", "tenants", "list"], "error: Invalid value for '--profile'"),
        (["tenants", "list", "--bogus"], "error: No such option: --bogus"),
        (["nosuch"], "error: No such command 'nosuch'"),
        (["tenants", "nosuch"], "error: No such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_without_the_usage_block(
    home: Path, args: list[str], says: str
) -> None:
    done = run_in_process("--home", str(home), *args)

    assert done.exit_code == 2
    assert len(done.error_lines) == 1, done.stderr
    assert done.error_lines[0].startswith(says)
    assert "Usage" not in done.stdout + done.stderr
    assert tree(home) == {}


@pytest.mark.parametrize(
    "args", [["--help"], ["tenants", "--help"], ["tenants", "init", "--help"], [], ["connectors"]]
)
def test_help_is_printed_with_exit_zero(args: list[str]) -> None:
    done = run_in_process(*args)

    assert (done.exit_code, done.stderr) == (0, "")
    assert "Usage" in done.stdout


def test_a_backend_failure_is_one_line_and_exit_one(home: Path) -> None:
    (home / "documents").mkdir(parents=True)
    (home / "documents" / "overlord_platform.sqlite3").write_bytes(b"not a database" * 100)

    done = run_subprocess(home, "tenants", "list")

    assert done.exit_code == 1
    assert len(done.error_lines) == 1, done.stderr
    assert done.error_lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr


def _explode(*_: object, **__: object) -> None:
    raise RuntimeError("the disk\nis on fire")


def test_an_unexpected_error_is_one_line_and_exit_one(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("overlord.services.tenants.TenantService.list", _explode)

    done = cli("tenants", "list")

    assert done.exit_code == 1
    assert done.error_lines == ["error: unexpected RuntimeError: the disk is on fire"]


def test_overlord_debug_adds_the_traceback_to_an_unexpected_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("overlord.services.tenants.TenantService.list", _explode)
    monkeypatch.setenv("OVERLORD_DEBUG", "1")

    done = cli("tenants", "list")

    assert done.exit_code == 1
    assert done.error_lines[0] == "error: unexpected RuntimeError: the disk is on fire"
    assert "Traceback (most recent call last)" in done.stderr
    assert "_explode" in done.stderr


def _interrupt(*_: object, **__: object) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_exits_130_without_a_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("overlord.services.tenants.TenantService.list", _interrupt)

    done = cli("tenants", "list")

    assert done.exit_code == 130
    assert "Traceback" not in done.stderr


def test_overlord_debug_keeps_bad_input_to_one_line(home: Path) -> None:
    done = run_subprocess(home, "tenants", "show", "ACME", OVERLORD_DEBUG="1")

    assert done.exit_code == 2
    assert len(done.error_lines) == 1
    assert "Traceback" not in done.stderr


def test_a_bad_settings_file_is_a_misconfiguration_one_line_and_exit_one(
    home: Path, tmp_path: Path
) -> None:
    config = tmp_path / "overlord.toml"
    config.write_text("profile = \n", encoding="utf-8")

    done = run_subprocess(home, "tenants", "list", OVERLORD_CONFIG=str(config))

    assert done.exit_code == 1
    assert len(done.error_lines) == 1
    assert done.error_lines[0].startswith(f"error: {config}: not valid TOML")
    assert "Traceback" not in done.stderr


def test_a_setting_the_chosen_backend_needs_but_lacks_is_named_with_exit_one(home: Path) -> None:
    done = run_subprocess(
        home, "tenants", "list", OVERLORD_PROFILE="local", OVERLORD_DOCUMENT_STORE="mongo"
    )

    assert done.exit_code == 1
    assert done.error_lines == [
        "error: OVERLORD_MONGO_URI is required when OVERLORD_DOCUMENT_STORE=mongo"
    ]
