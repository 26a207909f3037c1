"""`dev.py test` sets up a fresh machine: it installs the Debian packages the tests drive."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = load_dev()


def tools(*names: str) -> object:
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_every_package_the_tests_drive_is_missing_on_a_machine_with_only_python() -> None:
    assert dev.missing_packages(present=lambda path: False) == [
        "chromium",
        "chromium-driver",
        "postgresql",
    ]


def test_nothing_is_installed_when_every_package_is_present() -> None:
    assert dev.missing_packages(present=lambda path: True) == []


def test_only_the_missing_package_is_installed() -> None:
    missing = dev.missing_packages(present=lambda path: "chromedriver" not in path)
    assert missing == ["chromium-driver"]


def test_root_installs_with_apt_get_directly() -> None:
    commands = dev.install_commands(["chromium"], is_root=True, which=tools("apt-get", "sudo"))
    assert commands[0] == ["apt-get", "update", "-qq"]
    assert commands[1][-1] == "chromium"
    assert commands[1][:2] == ["env", "DEBIAN_FRONTEND=noninteractive"]


def test_a_user_installs_through_sudo_which_never_waits_for_a_password_unattended() -> None:
    commands = dev.install_commands(["postgresql"], is_root=False, which=tools("apt-get", "sudo"))
    assert all(command[:2] == ["sudo", "-n"] for command in commands)
    on_terminal = dev.install_commands(
        ["postgresql"], is_root=False, which=tools("apt-get", "sudo"), interactive=True
    )
    assert all(command[0] == "sudo" and command[1] != "-n" for command in on_terminal)


@pytest.mark.parametrize(
    ("is_root", "found", "says"),
    [
        (False, ("apt-get",), "run as root or install sudo"),
        (True, (), "apt-get is not here"),
    ],
)
def test_a_machine_that_cannot_install_gets_one_line_naming_the_packages(
    is_root: bool, found: tuple[str, ...], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        dev.install_commands(["chromium", "postgresql"], is_root=is_root, which=tools(*found))
    message = str(exited.value.code)
    assert message.startswith("error: ")
    assert "chromium, postgresql" in message
    assert says in message
    assert "\n" not in message
