"""The job image's Dockerfile agrees with the project: the extras it installs exist and provide
every library the connectors' commands import, the Debian packages it installs are Debian's and
hold the browser paths the scraper starts, the commands the bundled connectors run are modules
``python -m`` can run, and jobs do not run as root.

Nothing here builds the image (no Docker daemon or base image is reachable from these machines);
what can be checked without one is checked against this machine: Debian 12, as the image.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

from overlord.adapters.selenium.scraper import CHROMEDRIVER, CHROMIUM
from overlord.container import Container
from overlord.domain.lambda_package import DeclaredRequirement, distribution_name
from overlord.settings import Settings
from tests.import_graph import module_file, reachable

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "job-image" / "Dockerfile"
SOURCE = ROOT / "src"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def run_lines() -> list[list[str]]:
    """Each RUN's commands (split at ``&&``) as words."""
    commands = []
    for word, rest in instructions():
        if word == "RUN":
            commands += [shlex.split(part) for part in rest.split("&&")]
    return commands


def apt_packages() -> list[str]:
    [install] = [c for c in run_lines() if c[:2] == ["apt-get", "install"]]
    return [word for word in install[2:] if not word.startswith("-")]


def image_extras() -> set[str]:
    [install] = [c for c in run_lines() if c[:2] == ["pip", "install"]]
    [target] = [word for word in install if word.startswith(".[")]
    return set(target[2:-1].split(","))


def pyproject() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def debian_release() -> str:
    fields = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if line
    )
    return fields.get("VERSION_CODENAME", "").strip('"')


def test_the_image_is_a_python_slim_image_on_the_debian_release_the_tests_run_on() -> None:
    [(_, base)] = [i for i in instructions() if i[0] == "FROM"]
    [version] = [rest for word, rest in instructions() if word == "ARG"]

    assert base == "python:${PYTHON_VERSION}-slim-bookworm"
    assert version == "PYTHON_VERSION=3.11"
    assert debian_release() == "bookworm"


def test_the_debian_packages_exist_and_hold_the_browser_the_scraper_starts() -> None:
    packages = apt_packages()
    # The image's packages are looked up in this machine's apt, which must be the image's
    # release for the answer to mean anything about the image.
    assert debian_release() == "bookworm", "apt here is not the job image's Debian release"

    unknown = [
        name
        for name in packages
        if subprocess.run(["apt-cache", "show", name], capture_output=True).returncode != 0
    ]
    owners = {
        path: subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
        for path in (CHROMIUM, CHROMEDRIVER, "/usr/bin/tini")
        if Path(path).exists()
    }

    assert {"chromium", "chromium-driver"} <= set(packages)
    assert unknown == []
    # what the scraper starts belongs to a package the image installs (where it is installed
    # here; the selenium tests need the browser, so it is)
    assert [path for path, owner in owners.items() if owner.split(":")[0] not in packages] == [], (
        owners
    )
    assert ("ENTRYPOINT", '["/usr/bin/tini", "--"]') in instructions()
    assert "tini" in packages


def test_the_extras_exist_and_provide_every_library_the_connectors_commands_import() -> None:
    project = pyproject()
    extras, core = project["optional-dependencies"], project["dependencies"]
    assert isinstance(extras, dict)
    assert isinstance(core, list)
    chosen = image_extras()
    installed = _closure([*core, *(r for e in sorted(chosen & set(extras)) for r in extras[e])])
    providers = importlib.metadata.packages_distributions()
    imported: dict[str, set[str]] = {}
    for module in command_modules():
        _, libraries = reachable(SOURCE, module)
        for library in libraries:
            imported.setdefault(library, set()).add(module)

    missing = {
        library: sorted(modules)
        for library, modules in imported.items()
        if not {distribution_name(d) for d in providers.get(library, [library])} & installed
    }
    assert chosen <= set(extras)
    assert missing == {}
    assert {"aws", "data", "sql", "scrape"} <= chosen


def _closure(requirements: list[str]) -> set[str]:
    """The distributions installing ``requirements`` installs, read from this environment's
    metadata (markers are not evaluated: a superset)."""
    todo = [DeclaredRequirement.parse(r).name for r in requirements]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            required = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [
            parsed.name
            for parsed in map(DeclaredRequirement.parse, required)
            if parsed.extra is None
        ]
    return seen


def command_modules() -> set[str]:
    """The modules the bundled connectors' job types run with ``python -m``."""
    catalog = Container.from_settings(Settings(profile="memory")).catalog()
    modules = set()
    for entry in catalog.entries():
        for job_type in entry.template.job_types:
            command = list(job_type.command)
            assert command[:2] == ["python", "-m"], (entry.template.name, command)
            modules.add(command[2])
    return modules


def test_every_bundled_connectors_command_is_a_module_python_m_runs() -> None:
    modules = command_modules()
    runnable = {}
    for module in modules:
        path = module_file(SOURCE, module)
        if path is not None and path.name == "__init__.py":
            path = path.with_name("__main__.py")
        source = path.read_text() if path is not None and path.is_file() else ""
        runnable[module] = 'if __name__ == "__main__":' in source or path.name == "__main__.py"

    assert "overlord.stages" in modules
    assert runnable == dict.fromkeys(modules, True)


def test_jobs_run_as_a_user_of_their_own_with_overlord_installed_for_it() -> None:
    steps = instructions()
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    runs = [i for i, (word, _) in enumerate(steps) if word == "RUN"]

    assert users
    assert steps[users[-1]][1] not in ("root", "0")
    assert max(runs) < users[-1]  # nothing after it runs as root
    copied = [path for word, rest in steps if word == "COPY" for path in rest.split()[:-1]]
    kept = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert set(copied) <= kept  # the build context holds what the image copies
    assert all((ROOT / source).exists() for source in copied)
    assert ("CMD", '["python", "-m", "overlord.stages"]') in steps
